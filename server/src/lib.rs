//! Mentorhub: a real-time server for electronic mentoring in medical education.
//!
//! Module map (data flows one way: socket → `hub` → `mentoring` / `signalling` →
//! `store` (commit) → `bus` (publish) → every node's `hub` → sockets):
//!
//! | module | owns |
//! |---|---|
//! | [`config`] | typed configuration from CLI, `MENTORHUB_*` env and a TOML file, validated at start-up |
//! | [`auth`] | JWT verification into a [`auth::Principal`]; token minting for `--dev` and operators |
//! | [`ids`] | random, unlinkable id newtypes |
//! | [`crypto`] | encryption of message bodies at rest (XChaCha20-Poly1305, key ids for rotation) |
//! | [`display_name`] | what may be a display name; look-alike names compared by confusable skeleton |
//! | [`protocol`] | every wire frame, error codes and close codes |
//! | [`contract`] | the OpenAPI and AsyncAPI documents' schemas, derived from the types above |
//! | [`error`] | [`error::Refusal`]: the one refusal (stable code + message) REST and the socket answer with |
//! | [`store`] | the [`store::Store`] trait and its SQL implementation (SQLite, PostgreSQL) |
//! | [`bus`] | the [`bus::Bus`] trait: in-process, Redis pub/sub |
//! | [`adapters`] | Redis implementations of the signalling ports (live calls, SFU board) |
//! | [`hub`] | live connections over any frame stream/sink: reader/writer tasks, bounded queues, fan-out, resume |
//! | [`mentoring`] | conversations, messages, relationships, rooms, pseudonyms, safety |
//! | [`notify`] | content-free notifications: rules, the outbox worker, Web Push delivery |
//! | [`signalling`] | calls: life cycle, SDP/ICE relay and sanitising, TURN credentials, embedded TURN |
//! | [`http`] | REST routes, WebSocket upgrade, static client, health, metrics |
//! | [`observability`] | the Prometheus series: catalogue, buckets, scrape-time gauges |
//! | [`outbound`] | the HTTPS client for the key set and push services |
//! | [`log_throttle`] | repeated warnings and errors written once per interval, with a count |
//! | [`app`] | wiring: build from a [`config::Config`], bind, run until shutdown |
//!
//! `protocol`, the hub and the domain modules never import `axum`, `redis` or `sqlx`:
//! only `http` touches the web framework (the hub sees a WebSocket through an adapter
//! to its own frame types, [`hub::transport`]), only `bus::redis` and [`adapters`]
//! Redis, only `store` SQL; `app` names the router it serves. `store` and `bus` import
//! neither the domain (`mentoring`, `signalling`) nor the transport (`hub`, `http`);
//! `tests/layering.rs` reads the `use` lines and holds all of this.

pub mod adapters;
pub mod app;
pub mod auth;
pub mod bus;
pub mod config;
pub mod contract;
pub mod crypto;
pub mod display_name;
pub mod error;
pub mod http;
pub mod hub;
pub mod ids;
pub mod log_throttle;
pub mod mentoring;
pub mod notify;
pub mod observability;
pub mod outbound;
pub mod protocol;
pub mod signalling;
pub mod store;
