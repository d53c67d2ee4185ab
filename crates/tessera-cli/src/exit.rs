//! Documented exit codes and the CLI's error type.

use std::fmt;
use tessera_catalog::CatalogError;

pub const OK: u8 = 0;
pub const INTERNAL: u8 = 1;
pub const USAGE: u8 = 2;
pub const INVALID_INPUT: u8 = 3;
pub const UNKNOWN_ID: u8 = 4;
pub const IO: u8 = 5;
pub const SERVER_UNREACHABLE: u8 = 6;
pub const SERVER_REFUSED: u8 = 7;

#[derive(Debug)]
pub enum CliError {
    Catalog(CatalogError),
    /// A bad argument value that clap could not catch (e.g. a malformed date).
    Usage(String),
    Internal(String),
    /// An error with the place in an input file that caused it (`file:line`).
    At(String, Box<CliError>),
    /// An invalid input file outside the catalog (a server configuration, a job file).
    Input(String),
    /// The server could not be reached, or could not start.
    Server(String),
    /// The server answered the request with an error (HTTP status, its JSON error).
    Refused(u16, String),
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
            CliError::Input(_) => INVALID_INPUT,
            CliError::Server(_) => SERVER_UNREACHABLE,
            CliError::Refused(..) => SERVER_REFUSED,
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
            CliError::Input(m) | CliError::Server(m) => write!(f, "{m}"),
            CliError::Refused(status, m) => write!(f, "the server refused (HTTP {status}): {m}"),
        }
    }
}

impl From<CatalogError> for CliError {
    fn from(e: CatalogError) -> Self {
        CliError::Catalog(e)
    }
}

pub type Result<T> = std::result::Result<T, CliError>;
