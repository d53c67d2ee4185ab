//! The CLI's client of `tessera server` (`tessera submit`, `jobs`, `job`, `cancel`,
//! `scale`) and the tests': plain HTTP to the server's address (it listens on
//! 127.0.0.1 by default), over [`tessera_engine::http`].

use tessera_engine::http::HttpError;
pub use tessera_engine::http::Response;

/// Client failures: the server could not be reached, or answered something that is
/// not HTTP.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("--server {url}: {message}")]
    Url { url: String, message: String },
    #[error("cannot reach the server at {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("the server at {addr} answered with something that is not HTTP: {message}")]
    Protocol { addr: String, message: String },
}

/// A server address from `http://HOST:PORT` (a trailing slash is fine).
pub fn parse_url(url: &str) -> Result<String, ClientError> {
    tessera_engine::http::parse_url(url).map_err(|message| ClientError::Url {
        url: url.to_string(),
        message,
    })
}

/// Sends one request, with the bearer token if any, and reads the whole answer.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<Response, ClientError> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| ("Authorization", a))
        .into_iter()
        .collect();
    tessera_engine::http::request(addr, method, path, &headers, body).map_err(|e| match e {
        HttpError::Connect { addr, source } => ClientError::Connect { addr, source },
        HttpError::Protocol { addr, message } => ClientError::Protocol { addr, message },
    })
}
