//! A minimal HTTP/1.1 JSON client for the few REST calls the generator makes before
//! any traffic (dev login, relationship request/accept, rooms). Keep-alive, one request
//! at a time per connection, `Content-Length` bodies only (what the server sends).

use std::net::SocketAddr;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct HttpClient {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

/// A non-2xx answer: status and the API's error `code`.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub code: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {} {}", self.status, self.code)
    }
}

impl std::error::Error for Refused {}

impl HttpClient {
    pub fn new(addr: SocketAddr) -> Self {
        HttpClient { addr, stream: None }
    }

    /// Sends one request and returns the parsed JSON body of a 2xx answer; a non-2xx
    /// answer is an error carrying [`Refused`].
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        // One retry on a fresh connection: the server may have closed an idle one.
        match self.try_call(method, path, token, body).await {
            Ok(answer) => answer,
            Err(_) => {
                self.stream = None;
                self.try_call(method, path, token, body)
                    .await
                    .with_context(|| format!("{method} {path}"))?
            }
        }
    }

    /// Outer error: the connection failed (retryable); inner: the answer.
    async fn try_call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<anyhow::Result<Value>> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(BufReader::new(stream));
        }
        let Some(stream) = self.stream.as_mut() else {
            bail!("no connection");
        };
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            self.addr,
            payload.len()
        );
        if let Some(token) = token {
            request.push_str(&format!("authorization: Bearer {token}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&payload);
        stream.get_mut().write_all(request.as_bytes()).await?;

        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            bail!("connection closed");
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("bad status line")?;
        let mut length = None;
        let mut close = false;
        loop {
            line.clear();
            if stream.read_line(&mut line).await? == 0 {
                bail!("connection closed in headers");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close")
            {
                close = true;
            }
        }
        let mut raw = vec![0; length.unwrap_or(0)];
        stream.read_exact(&mut raw).await?;
        if close || length.is_none() {
            self.stream = None;
        }
        let json: Value = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&raw).unwrap_or(Value::Null)
        };
        if (200..300).contains(&status) {
            Ok(Ok(json))
        } else {
            let code = json["code"].as_str().unwrap_or("").to_owned();
            Ok(Err(Refused { status, code }.into()))
        }
    }
}
