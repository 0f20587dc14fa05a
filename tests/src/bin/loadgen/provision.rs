//! Sets up who talks to whom before any traffic, through the real REST API: one
//! account per client (dev login, or a token minted with the nodes' HS256 secret), and
//! per group either a mentoring relationship (two members: the mentee requests, the
//! mentor accepts) or a group room (more members).
//! ws-json peers need nothing: a room is a name.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, bail};
use serde_json::json;

use crate::http::{HttpClient, Refused};
use crate::net::Node;
use crate::proto::{Proto, Target};

/// Clients are numbered; each group (room or pair) is a run of consecutive clients.
#[derive(Clone, Debug)]
pub struct Layout {
    /// (first client, size) per group.
    pub groups: Vec<(u32, u32)>,
}

impl Layout {
    /// `clients` spread over `rooms` as the Node generator does: client i is in room
    /// floor(i·R/C), so rooms differ in size by at most one.
    pub fn rooms(clients: u32, rooms: u32) -> Layout {
        let mut groups: Vec<(u32, u32)> = Vec::with_capacity(rooms as usize);
        for i in 0..clients {
            let room = (i as u64 * rooms as u64 / clients as u64) as usize;
            if room == groups.len() {
                groups.push((i, 0));
            }
            groups[room].1 += 1;
        }
        Layout { groups }
    }

    pub fn clients(&self) -> u32 {
        self.groups.iter().map(|g| g.1).sum()
    }

    /// Group index and (first, size) of every client, in client order.
    pub fn membership(&self) -> Vec<(u32, u32)> {
        self.groups
            .iter()
            .flat_map(|&(first, size)| (0..size).map(move |_| (first, size)))
            .collect()
    }
}

/// What one client needs to connect and talk.
#[derive(Clone, Debug)]
pub struct Seat {
    pub token: Option<String>,
    pub target: Target,
}

/// What a group of clients shares in Mentorhub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupKind {
    /// Accounts only, no conversation (groups of one).
    None,
    /// A mentoring relationship: a mentor and a mentee (groups of two).
    Pair,
    /// A group room: the first client creates and facilitates it, the others join with
    /// single-use invite codes and accept its agreement.
    Room,
}

impl GroupKind {
    /// Idle runs: the natural conversation for a group size.
    pub fn for_size(size: u32) -> GroupKind {
        match size {
            0 | 1 => GroupKind::None,
            2 => GroupKind::Pair,
            _ => GroupKind::Room,
        }
    }
}

pub struct Provisioner {
    pub node: Node,
    pub run: String,
    pub concurrency: usize,
    pub kind: GroupKind,
}

impl Provisioner {
    pub async fn seats(&self, proto: Proto, layout: &Layout) -> anyhow::Result<Vec<Seat>> {
        if proto == Proto::WsJson {
            return Ok(layout
                .membership()
                .into_iter()
                .map(|(first, _)| Seat {
                    token: None,
                    target: Target(format!("room-{first}")),
                })
                .collect());
        }
        let groups = Arc::new(layout.groups.clone());
        let next = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..self.concurrency.max(1) {
            let groups = groups.clone();
            let next = next.clone();
            let node = self.node.clone();
            let run = self.run.clone();
            let kind = self.kind;
            workers.push(tokio::spawn(async move {
                let mut http = HttpClient::new(node.addr);
                let mut done = Vec::new();
                loop {
                    let g = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(first, size)) = groups.get(g) else {
                        break;
                    };
                    let seats = group(&mut http, kind, &run, g, size).await?;
                    done.push((first, seats));
                }
                anyhow::Ok(done)
            }));
        }
        let mut all: Vec<(u32, Vec<Seat>)> = Vec::new();
        for worker in workers {
            all.extend(worker.await??);
        }
        all.sort_by_key(|(first, _)| *first);
        Ok(all.into_iter().flat_map(|(_, seats)| seats).collect())
    }
}

/// Where tokens come from: the server's `--dev` login, or HS256 tokens minted here with
/// the secret the server nodes trust (`MENTORHUB_JWT_HS256_SECRET` in the generator's
/// environment), as an institution's identity provider would. Several nodes share one
/// secret and a `--dev` server refuses a configured key, so two-node runs mint.
/// Lifetime of minted tokens in seconds: an hour, unless a longer run (a soak) needs more.
pub static TOKEN_TTL_SECS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(3600);

fn minting_secret() -> Option<String> {
    std::env::var("MENTORHUB_JWT_HS256_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
}

async fn login(http: &mut HttpClient, name: &str, role: &str) -> anyhow::Result<(String, String)> {
    let (token, account) = match minting_secret() {
        Some(secret) => {
            let account = format!("bench-{}", name.replace(' ', "-"));
            let mut claims = mentorhub_tests::tokens::claims(&account, name, role);
            claims["exp"] =
                json!(mentorhub_tests::tokens::now() + TOKEN_TTL_SECS.load(Ordering::Relaxed));
            (
                mentorhub_tests::tokens::hs256(secret.as_bytes(), &claims),
                account,
            )
        }
        None => {
            let answer = http
                .call(
                    "POST",
                    "/api/dev/login",
                    None,
                    Some(&json!({ "name": name, "role": role })),
                )
                .await
                .context("dev login (is the server running with --dev? else set MENTORHUB_JWT_HS256_SECRET)")?;
            let token = answer["token"].as_str().context("no token")?.to_owned();
            let account = answer["account"].as_str().context("no account")?.to_owned();
            (token, account)
        }
    };
    // The server learns of an account when it first uses the API (a mentor must be
    // known before a mentee can ask them).
    http.call("GET", "/api/me", Some(&token), None).await?;
    Ok((token, account))
}

async fn group(
    http: &mut HttpClient,
    kind: GroupKind,
    run: &str,
    g: usize,
    size: u32,
) -> anyhow::Result<Vec<Seat>> {
    let name = |pos: u32| format!("lg {run} g{g} m{pos}");
    let seat = |token: String, conversation: &str| Seat {
        token: Some(token),
        target: Target(conversation.to_owned()),
    };
    match (kind, size) {
        (_, 0) => Ok(Vec::new()),
        (GroupKind::None, _) => {
            let mut seats = Vec::new();
            for pos in 0..size {
                let (token, _) = login(http, &name(pos), "mentee").await?;
                seats.push(seat(token, ""));
            }
            Ok(seats)
        }
        (GroupKind::Pair, 2) => {
            let (mentor, mentor_id) = login(http, &name(0), "mentor").await?;
            let (mentee, _) = login(http, &name(1), "mentee").await?;
            let asked = http
                .call(
                    "POST",
                    "/api/relationships",
                    Some(&mentee),
                    Some(&json!({ "mentor": mentor_id })),
                )
                .await?;
            let relationship = &asked["relationship"];
            let id = relationship["id"].as_str().context("no relationship id")?;
            let conversation = relationship["conversation"]
                .as_str()
                .context("no conversation id")?
                .to_owned();
            http.call(
                "POST",
                &format!("/api/relationships/{id}/accept"),
                Some(&mentor),
                None,
            )
            .await?;
            Ok(vec![
                seat(mentor, &conversation),
                seat(mentee, &conversation),
            ])
        }
        (GroupKind::Pair, _) => bail!("a mentoring relationship has two members, not {size}"),
        (GroupKind::Room, _) => room(http, &format!("lg {run} g{g}"), size).await,
    }
}

async fn room(http: &mut HttpClient, stem: &str, size: u32) -> anyhow::Result<Vec<Seat>> {
    let name = |pos: u32| format!("{stem} m{pos}");
    let (host, _) = login(http, &name(0), "mentor").await?;
    let created = http
        .call(
            "POST",
            "/api/rooms",
            Some(&host),
            Some(&json!({
                "title": name(0),
                "kind": "group",
                "agreement": "What is said here stays here.",
                "member_limit": size.max(2),
            })),
        )
        .await
        .map_err(|e| match e.downcast_ref::<Refused>() {
            Some(r) if r.status == 404 || r.status == 405 => {
                anyhow::anyhow!("this server has no rooms API (POST /api/rooms: {r})")
            }
            _ => e,
        })?;
    let summary = &created["conversation"];
    let id = summary["id"].as_str().context("no room id")?.to_owned();
    if summary["agreement_required"] == true {
        http.call(
            "POST",
            &format!("/api/rooms/{id}/agreement"),
            Some(&host),
            None,
        )
        .await?;
    }
    let mut seats = vec![Seat {
        token: Some(host.clone()),
        target: Target(id.clone()),
    }];
    for pos in 1..size {
        let (token, _) = login(http, &name(pos), "mentee").await?;
        let invite = http
            .call(
                "POST",
                &format!("/api/rooms/{id}/invite-codes"),
                Some(&host),
                None,
            )
            .await?;
        let code = invite["invite_code"]["code"]
            .as_str()
            .context("no invite code")?;
        http.call(
            "POST",
            "/api/rooms/join",
            Some(&token),
            Some(&json!({ "code": code })),
        )
        .await?;
        http.call(
            "POST",
            &format!("/api/rooms/{id}/agreement"),
            Some(&token),
            None,
        )
        .await?;
        seats.push(Seat {
            token: Some(token),
            target: Target(id.clone()),
        });
    }
    Ok(seats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_layout_matches_the_node_generator() {
        let l = Layout::rooms(1000, 200);
        assert_eq!(l.groups.len(), 200);
        assert!(l.groups.iter().all(|g| g.1 == 5));
        let l = Layout::rooms(7, 3);
        assert_eq!(l.clients(), 7);
        assert_eq!(l.groups, vec![(0, 3), (3, 2), (5, 2)]);
        assert_eq!(l.membership()[4], (3, 2));
    }
}
