//! A minimal blocking HTTP/1.1 client over one keep-alive `TcpStream`, for
//! the load generator and the end-to-end tests (a full HTTP client crate
//! would add more to the build than this file).
//!
//! It speaks only what the server answers: a status line, headers, and a
//! body of `Content-Length` bytes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// An HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text (lossy), for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A connection to one server, reopened after any error.
pub struct Client {
    address: SocketAddr,
    timeout: Duration,
    connection: Option<BufReader<TcpStream>>,
}

impl Client {
    /// A client for `address` whose every request gives up after `timeout`
    /// without an answer.
    pub fn new(address: SocketAddr, timeout: Duration) -> Client {
        Client {
            address,
            timeout,
            connection: None,
        }
    }

    /// The server's address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Sends `method path` with `body` and reads the answer. An error (a
    /// refused connection, a timeout, a malformed answer) closes the
    /// connection; the next request opens a new one.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<Response> {
        let result = self.exchange(method, path, body);
        if result.is_err() {
            self.connection = None;
        }
        result
    }

    fn exchange(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<Response> {
        if self.connection.is_none() {
            let stream = TcpStream::connect_timeout(&self.address, self.timeout)?;
            stream.set_read_timeout(Some(self.timeout))?;
            stream.set_write_timeout(Some(self.timeout))?;
            stream.set_nodelay(true)?;
            self.connection = Some(BufReader::new(stream));
        }
        let reader = self.connection.as_mut().expect("connected above");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
            self.address,
            body.len()
        );
        let stream = reader.get_mut();
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        stream.flush()?;

        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| invalid(format!("bad status line {line:?}")))?;
        let mut length = 0usize;
        let mut close = false;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Err(invalid("connection closed in the headers".to_owned()));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value
                        .parse()
                        .map_err(|_| invalid(format!("bad content-length {value:?}")))?;
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    return Err(invalid(format!("unsupported transfer-encoding {value}")));
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.eq_ignore_ascii_case("close");
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        if close {
            self.connection = None;
        }
        Ok(Response { status, body })
    }
}

fn invalid(reason: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, reason)
}
