//! A minimal blocking HTTP/1.1 client for talking to the local daemon
//! (`status`, `doctor`, `confirm`, tests). Loopback only, short timeouts, `Connection: close`; it is not
//! a general client (the model and runtime clients use reqwest).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot reach {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{addr} answered something that is not HTTP")]
    Malformed { addr: SocketAddr },
}

#[derive(Debug, Clone)]
pub struct ProbeResponse {
    pub status: u16,
    pub body: String,
}

/// The largest response body read; a health answer is a few dozen bytes.
const MAX_RESPONSE: u64 = 1024 * 1024;

/// `GET path` on `addr`, with an optional bearer token.
pub fn get(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    timeout: Duration,
) -> Result<ProbeResponse, ProbeError> {
    request(addr, "GET", path, token, None, &[], timeout)
}

/// `POST path` with a JSON body.
pub fn post_json(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    body: &str,
    timeout: Duration,
) -> Result<ProbeResponse, ProbeError> {
    request(addr, "POST", path, token, Some(body), &[], timeout)
}

/// `POST path` with extra headers (a phone's device id or signal token).
pub fn post_with_headers(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> Result<ProbeResponse, ProbeError> {
    request(addr, "POST", path, None, Some(body), headers, timeout)
}

fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    extra: &[(&str, &str)],
    timeout: Duration,
) -> Result<ProbeResponse, ProbeError> {
    let connect = |source| ProbeError::Connect { addr, source };
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(connect)?;
    stream.set_read_timeout(Some(timeout)).map_err(connect)?;
    stream.set_write_timeout(Some(timeout)).map_err(connect)?;
    let mut auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    for (k, v) in extra {
        auth.push_str(&format!("{k}: {v}\r\n"));
    }
    let content = body
        .map(|b| {
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            )
        })
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{content}Connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).map_err(connect)?;
    if let Some(b) = body {
        stream.write_all(b.as_bytes()).map_err(connect)?;
    }
    let mut raw = Vec::new();
    stream
        .take(MAX_RESPONSE)
        .read_to_end(&mut raw)
        .map_err(connect)?;
    parse(&raw).ok_or(ProbeError::Malformed { addr })
}

fn parse(raw: &[u8]) -> Option<ProbeResponse> {
    let text = std::str::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head
        .lines()
        .next()?
        .strip_prefix("HTTP/1.")?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .replace(' ', "")
            .starts_with("transfer-encoding:chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_string()
    };
    Some(ProbeResponse { status, body })
}

fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size..)?.strip_prefix("\r\n")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_bodies() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        let r = parse(plain).unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "ok"));
        let chunked = b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let r = parse(chunked).unwrap();
        assert_eq!((r.status, r.body.as_str()), (401, "abcde"));
        assert!(parse(b"SSH-2.0-OpenSSH\r\n").is_none());
    }
}
