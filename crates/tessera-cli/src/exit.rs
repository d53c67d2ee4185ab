//! Documented exit codes and the CLI's error type.

use std::fmt;
use tessera_catalog::CatalogError;

pub const OK: u8 = 0;
pub const INTERNAL: u8 = 1;
pub const USAGE: u8 = 2;
pub const INVALID_INPUT: u8 = 3;
pub const UNKNOWN_ID: u8 = 4;
pub const IO: u8 = 5;

#[derive(Debug)]
pub enum CliError {
    Catalog(CatalogError),
    /// A bad argument value that clap could not catch (e.g. a malformed date).
    Usage(String),
    Internal(String),
}

impl CliError {
    pub fn code(&self) -> u8 {
        match self {
            CliError::Catalog(CatalogError::Io { .. }) => IO,
            CliError::Catalog(CatalogError::Invalid(_)) => INVALID_INPUT,
            CliError::Catalog(CatalogError::UnknownId { .. }) => UNKNOWN_ID,
            CliError::Usage(_) => USAGE,
            CliError::Internal(_) => INTERNAL,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Catalog(e) => write!(f, "{e}"),
            CliError::Usage(m) => write!(f, "{m}"),
            CliError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl From<CatalogError> for CliError {
    fn from(e: CatalogError) -> Self {
        CliError::Catalog(e)
    }
}

pub type Result<T> = std::result::Result<T, CliError>;
