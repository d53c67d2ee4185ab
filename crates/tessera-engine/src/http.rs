//! A small blocking HTTP/1.1 client: plain HTTP, one request per connection. The CLI
//! talks to `tessera server` with it, and the Slurm REST engine to slurmrestd.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a peer may stay silent mid-request.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A response: status and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// The peer could not be reached, or answered something that is not HTTP.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot reach {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("{addr} answered with something that is not HTTP: {message}")]
    Protocol { addr: String, message: String },
}

/// `HOST:PORT` from `http://HOST:PORT` (a trailing slash is fine; no path, no https).
pub fn parse_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("expected http://HOST:PORT (https is not supported by this client)")?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') {
        return Err("expected http://HOST:PORT with no path".into());
    }
    Ok(if rest.contains(':') {
        rest.to_string()
    } else {
        format!("{rest}:80")
    })
}

/// Sends one request and reads the whole answer.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<Response, HttpError> {
    let conn = |source| HttpError::Connect {
        addr: addr.to_string(),
        source,
    };
    let proto = |m: String| HttpError::Protocol {
        addr: addr.to_string(),
        message: m,
    };
    // Bounded waits: an engine that does not answer is unavailable, not a hung server.
    let mut last = None;
    let mut stream = None;
    for a in addr.to_socket_addrs().map_err(conn)? {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let mut s = stream.ok_or_else(|| {
        conn(
            last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address")),
        )
    })?;
    s.set_read_timeout(Some(READ_TIMEOUT)).map_err(conn)?;
    s.set_write_timeout(Some(READ_TIMEOUT)).map_err(conn)?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/json\r\n"
    );
    for (k, v) in headers {
        // A header value cannot carry a line break (it would start a new header).
        if v.contains(['\r', '\n']) || k.contains(['\r', '\n', ':']) {
            return Err(proto(format!("header `{k}` holds a line break")));
        }
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let b = body.unwrap_or("");
    if body.is_some() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", b.len()));
    s.write_all(req.as_bytes()).map_err(conn)?;
    s.write_all(b.as_bytes()).map_err(conn)?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).map_err(conn)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| proto(format!("status line `{}`", line.trim())))?;
    let (mut length, mut chunked) = (None, false);
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(conn)? == 0 {
            break;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                length = v.parse::<usize>().ok();
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let mut raw = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line).map_err(conn)?;
            let n = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| proto(format!("chunk size `{}`", line.trim())))?;
            if n == 0 {
                break;
            }
            let mut chunk = vec![0u8; n];
            r.read_exact(&mut chunk).map_err(conn)?;
            raw.extend_from_slice(&chunk);
            line.clear();
            r.read_line(&mut line).map_err(conn)?;
        }
    } else if let Some(n) = length {
        raw.resize(n, 0);
        r.read_exact(&mut raw).map_err(conn)?;
    } else {
        r.read_to_end(&mut raw).map_err(conn)?;
    }
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&raw).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:8473/").ok().as_deref(),
            Some("127.0.0.1:8473")
        );
        assert_eq!(parse_url("http://host").ok().as_deref(), Some("host:80"));
        assert!(parse_url("https://h:1").is_err());
        assert!(parse_url("http://h:1/api").is_err());
        assert!(parse_url("h:1").is_err());
    }
}
