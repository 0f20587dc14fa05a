//! The two wire protocols the generator speaks: Mentorhub's (`hello` with a token,
//! `send` with a client id, `ack` after commit, `message` events) and the peers' small
//! ws-json room protocol (`join`, `msg`), so the Rust floor is measured by this tool too.

use std::borrow::Cow;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

use crate::net::Ws;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Proto {
    /// Mentorhub's own protocol (sign-in, conversations, acks after commit).
    Mentorhub,
    /// The peers' ws-json room protocol (the Rust and Node floors).
    WsJson,
}

/// Where a client's messages go: a Mentorhub conversation or a ws-json room name.
#[derive(Clone, Debug)]
pub struct Target(pub String);

/// The generator's payload: send time (µs on the generator's clock), sender index,
/// sender's message number, padding.
#[derive(Debug, Deserialize, Serialize)]
pub struct Body<'a> {
    pub ts: u64,
    pub c: u32,
    pub n: u32,
    #[serde(borrow)]
    pub p: Cow<'a, str>,
}

/// What a client learns from one incoming text frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A room message: (send time µs, sender index, sender's number).
    Delivery {
        ts: u64,
        c: u32,
        n: u32,
    },
    /// The server committed one of our sends.
    Ack,
    /// An error frame: its code, and how long the server asked us to wait (`rate_limited`).
    Error {
        code: String,
        retry_after_ms: Option<u64>,
    },
    Other,
}

#[derive(Deserialize)]
struct HubFrame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    conversation: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    body: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(default)]
    retry_after_ms: Option<u64>,
}

#[derive(Deserialize)]
struct FloorFrame<'a> {
    #[serde(borrow)]
    t: Cow<'a, str>,
    #[serde(default, borrow)]
    body: Option<Body<'a>>,
}

impl Proto {
    /// The frame that sends `body` to `target`. Mentorhub carries the payload as the
    /// message text (a JSON string). The client id must be new for every send: the knee
    /// reconnects the same accounts for each step and numbers restart, and the server
    /// answers a reused id as a retry (the original ack, no new delivery). Number and
    /// send time together never repeat.
    pub fn send_frame(&self, target: &Target, body: &Body<'_>) -> String {
        let payload = serde_json::to_string(body).unwrap_or_default();
        match self {
            Proto::Mentorhub => serde_json::json!({
                "type": "send",
                "conversation": target.0,
                "client_id": format!("k{}.{}", body.n, body.ts),
                "body": payload,
            })
            .to_string(),
            Proto::WsJson => format!(
                "{{\"t\":\"msg\",\"room\":{},\"body\":{payload}}}",
                serde_json::Value::String(target.0.clone())
            ),
        }
    }

    pub fn parse(&self, target: &Target, text: &str) -> Incoming {
        match self {
            Proto::Mentorhub => {
                let Ok(frame) = serde_json::from_str::<HubFrame<'_>>(text) else {
                    return Incoming::Other;
                };
                match frame.kind.as_ref() {
                    "message" if frame.conversation.as_deref() == Some(target.0.as_str()) => {
                        let Some(body) = frame.body else {
                            return Incoming::Other;
                        };
                        match serde_json::from_str::<Body<'_>>(&body) {
                            Ok(b) => Incoming::Delivery {
                                ts: b.ts,
                                c: b.c,
                                n: b.n,
                            },
                            Err(_) => Incoming::Other,
                        }
                    }
                    "ack" => Incoming::Ack,
                    "error" => Incoming::Error {
                        code: frame.code.unwrap_or_default().into_owned(),
                        retry_after_ms: frame.retry_after_ms,
                    },
                    _ => Incoming::Other,
                }
            }
            Proto::WsJson => match serde_json::from_str::<FloorFrame<'_>>(text) {
                Ok(FloorFrame { t, body: Some(b) }) if t == "msg" => Incoming::Delivery {
                    ts: b.ts,
                    c: b.c,
                    n: b.n,
                },
                _ => Incoming::Other,
            },
        }
    }
}

/// Waits for the next text frame (answering nothing else: tungstenite queues pongs).
async fn next_text(ws: &mut Ws) -> anyhow::Result<String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(Message::Close(frame))) => bail!("closed by the server: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.into()),
            None => bail!("connection ended"),
        }
    }
}

/// Mentorhub: `hello` → `welcome`. Returns the ids of the conversations that are
/// active for this account.
pub async fn hello(ws: &mut Ws, token: &str, wait: Duration) -> anyhow::Result<Vec<String>> {
    let hello = serde_json::json!({ "type": "hello", "token": token }).to_string();
    ws.send(Message::text(hello)).await?;
    let text = timeout(wait, next_text(ws))
        .await
        .context("no welcome in time")??;
    let frame: serde_json::Value = serde_json::from_str(&text)?;
    if frame["type"] != "welcome" {
        bail!(
            "expected welcome, got {} {}",
            frame["type"],
            frame["code"].as_str().unwrap_or("")
        );
    }
    Ok(frame["conversations"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter(|c| c["state"] == "active")
                .filter_map(|c| c["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// ws-json: `join` → `joined`.
pub async fn join(ws: &mut Ws, room: &str, wait: Duration) -> anyhow::Result<()> {
    let join = serde_json::json!({ "t": "join", "room": room }).to_string();
    ws.send(Message::text(join)).await?;
    timeout(wait, async {
        loop {
            let text = next_text(ws).await?;
            let frame: serde_json::Value = serde_json::from_str(&text)?;
            if frame["t"] == "joined" {
                return anyhow::Ok(());
            }
        }
    })
    .await
    .context("no joined in time")?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_body_through_both_protocols() {
        let body = Body {
            ts: 12,
            c: 3,
            n: 7,
            p: "xx".into(),
        };
        let target = Target("c_1".into());
        let sent = Proto::Mentorhub.send_frame(&target, &body);
        let as_event = serde_json::json!({
            "type": "message",
            "conversation": "c_1",
            "seq": 9,
            "body": serde_json::from_str::<serde_json::Value>(&sent).unwrap()["body"],
        })
        .to_string();
        assert_eq!(
            Proto::Mentorhub.parse(&target, &as_event),
            Incoming::Delivery { ts: 12, c: 3, n: 7 }
        );
        let other = Target("c_2".into());
        assert_eq!(Proto::Mentorhub.parse(&other, &as_event), Incoming::Other);
        let floor = Proto::WsJson.send_frame(&Target("r".into()), &body);
        assert_eq!(
            Proto::WsJson.parse(&target, &floor),
            Incoming::Delivery { ts: 12, c: 3, n: 7 }
        );
    }

    #[test]
    fn an_error_frame_carries_the_servers_retry_delay() {
        let target = Target("c_1".into());
        let limited = r#"{"type":"error","ref":"r5","code":"rate_limited","message":"too many frames; retry later","retry_after_ms":29}"#;
        assert_eq!(
            Proto::Mentorhub.parse(&target, limited),
            Incoming::Error {
                code: "rate_limited".into(),
                retry_after_ms: Some(29)
            }
        );
        let other = r#"{"type":"error","ref":"r6","code":"muted","message":"muted"}"#;
        assert_eq!(
            Proto::Mentorhub.parse(&target, other),
            Incoming::Error {
                code: "muted".into(),
                retry_after_ms: None
            }
        );
    }
}
