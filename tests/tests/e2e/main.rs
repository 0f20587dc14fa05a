//! End-to-end tests: real servers, real WebSocket clients, real WebRTC peers, a real
//! Redis and PostgreSQL. One test binary so the harness is compiled once.
//!
//! Name filters that select a concern: `foundation`, `abuse`, `leak`, `agreement`, `relay`, `node_kill`,
//! `redis_restart`, `oidc`, `notify` (`cargo nextest run -p mentorhub-tests -E 'test(/relay/)'`).

mod abuse;
mod bench_smoke;
mod calls;
mod foundation;
mod mentoring;
mod notify;
mod notify_email;
mod observability;
mod oidc;
mod scale_calls;
mod scale_failures;
mod scale_nodes;
mod sfu;
mod store_conformance;
