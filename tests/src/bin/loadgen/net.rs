//! Where connections come from and go to: server URLs, loopback source addresses (one
//! source IP has ~28k ephemeral ports; 100,000 connections need several), WebSocket
//! handshakes with small buffers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Context, bail};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub type Ws = WebSocketStream<TcpStream>;

/// One server node: its address and WebSocket path.
#[derive(Clone, Debug)]
pub struct Node {
    pub addr: SocketAddr,
    pub ws_path: String,
}

/// Parses `http://host:port`, `ws://host:port/path` (path defaults to `default_path`).
pub async fn parse_node(url: &str, default_path: &str) -> anyhow::Result<Node> {
    let rest = url
        .split_once("://")
        .map(|(scheme, rest)| {
            if !matches!(scheme, "http" | "ws") {
                anyhow::bail!("only http:// and ws:// URLs (loopback benchmarks): {url}");
            }
            Ok(rest)
        })
        .transpose()?
        .unwrap_or(url);
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let path = if path.is_empty() || path == "/" {
        default_path.to_owned()
    } else {
        path.to_owned()
    };
    let addr = tokio::net::lookup_host(host)
        .await
        .with_context(|| format!("resolving {host}"))?
        .find(SocketAddr::is_ipv4)
        .with_context(|| format!("no IPv4 address for {host}"))?;
    Ok(Node {
        addr,
        ws_path: path,
    })
}

/// Source addresses for connection `i`: 127.0.0.1 … 127.0.0.N round-robin when the
/// server is on loopback, else the kernel's choice.
#[derive(Clone, Copy, Debug)]
pub struct Sources {
    pub count: u8,
}

impl Sources {
    pub fn for_connection(&self, i: usize, target: &SocketAddr) -> Option<IpAddr> {
        if self.count <= 1 || !target.ip().is_loopback() {
            return None;
        }
        let last = 1 + (i % self.count as usize) as u8;
        Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
    }
}

pub async fn tcp(target: SocketAddr, source: Option<IpAddr>) -> anyhow::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(ip) = source {
        socket
            .bind(SocketAddr::new(ip, 0))
            .with_context(|| format!("binding {ip}"))?;
    }
    let stream = socket
        .connect(target)
        .await
        .with_context(|| format!("connecting to {target}"))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Client-side WebSocket settings: small buffers so 100,000 client sockets fit too.
pub fn ws_config(read_buffer: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        .write_buffer_size(0)
        .max_write_buffer_size(1 << 20)
        .max_message_size(Some(16 << 20))
        .max_frame_size(Some(16 << 20))
}

pub async fn open_ws(
    node: &Node,
    source: Option<IpAddr>,
    read_buffer: usize,
) -> anyhow::Result<Ws> {
    let stream = tcp(node.addr, source).await?;
    let url = format!("ws://{}{}", node.addr, node.ws_path);
    let (ws, response) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config(read_buffer)))
            .await
            .context("WebSocket handshake")?;
    if response.status().as_u16() != 101 {
        bail!("upgrade refused: {}", response.status());
    }
    Ok(ws)
}
