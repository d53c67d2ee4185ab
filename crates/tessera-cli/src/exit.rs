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
    /// An error with the place in an input file that caused it (`file:line`).
    At(String, Box<CliError>),
}

impl CliError {
    /// Adds the line of `path` where `"needle"` first appears (an id the file names).
    pub fn at(self, path: &str, text: &str, needle: &str) -> CliError {
        let quoted = format!("\"{needle}\"");
        let place = match text.find(&quoted) {
            Some(off) => format!("{path}:{}", text[..off].matches('\n').count() + 1),
            None => path.to_string(),
        };
        CliError::At(place, Box::new(self))
    }
}

impl CliError {
    pub fn code(&self) -> u8 {
        match self {
            CliError::Catalog(CatalogError::Io { .. }) => IO,
            CliError::Catalog(CatalogError::Invalid(_)) => INVALID_INPUT,
            CliError::Catalog(
                CatalogError::UnknownId { .. } | CatalogError::AmbiguousId { .. },
            ) => UNKNOWN_ID,
            CliError::Usage(_) => USAGE,
            CliError::Internal(_) => INTERNAL,
            CliError::At(_, e) => e.code(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Catalog(e) => write!(f, "{e}"),
            CliError::Usage(m) => write!(f, "{m}"),
            CliError::Internal(m) => write!(f, "internal error: {m}"),
            CliError::At(place, e) => write!(f, "{place}: {e}"),
        }
    }
}

impl From<CatalogError> for CliError {
    fn from(e: CatalogError) -> Self {
        CliError::Catalog(e)
    }
}

pub type Result<T> = std::result::Result<T, CliError>;
