//! Health, readiness, metrics and the `--dev` login.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::HttpState;
use super::bodies::{DevLoginBody, InfoBody, ReadyBody, SignInBody};
use super::error::{ApiError, ApiResult, parse_body};
use super::extract::Body;
use crate::auth::Role;
use crate::bus::BusHealth;
use crate::ids::AccountId;
use crate::observability;
use crate::protocol::ErrorCode;

/// The process is up (liveness).
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")))]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Where the node stands: what `/readyz` answers and `/metrics` exports as gauges.
struct Readiness {
    store: String,
    bus: String,
    draining: bool,
}

impl Readiness {
    async fn check(state: &HttpState) -> Readiness {
        let ping = tokio::time::timeout(Duration::from_secs(2), state.mentoring.store().ping());
        let store = match ping.await {
            Ok(Ok(())) => "up".to_owned(),
            Ok(Err(error)) => format!("down: {error}"),
            Err(_) => "down: timeout".to_owned(),
        };
        let bus = match state.bus.health().await {
            BusHealth::Up => "up".to_owned(),
            BusHealth::Down(why) => format!("down: {why}"),
        };
        Readiness {
            store,
            bus,
            draining: state.hub.draining.is_cancelled(),
        }
    }

    fn ready(&self) -> bool {
        self.store == "up" && self.bus == "up" && !self.draining
    }
}

/// The node can serve: its store answers and its bus is connected.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready", body = ReadyBody),
    (status = 503, description = "Not ready (store or bus down, or draining)", body = ReadyBody)))]
pub async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    let readiness = Readiness::check(&state).await;
    let ready = readiness.ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = ReadyBody {
        ready,
        store: readiness.store,
        bus: readiness.bus,
        bus_kind: state.bus.kind().to_owned(),
        draining: readiness.draining,
        connections: state.hub.connections(),
        node: state.mentoring.node().to_string(),
    };
    (status, Json(body))
}

/// Prometheus text format. Gauges that are cheaper to read than to keep current
/// (readiness, process, store pools) are refreshed first.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    let readiness = Readiness::check(&state).await;
    observability::record_readiness(
        readiness.store == "up",
        readiness.bus == "up",
        readiness.draining,
    );
    observability::record_store_usage(&state.mentoring.store().usage());
    observability::sample_process();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
}

/// What a client needs to know before signing in: the protocol version, whether
/// `--dev` sign-in is offered (the web client shows demo accounts only then) and where
/// people sign in at the institution's identity provider.
#[utoipa::path(get, path = "/api/info", tag = "operations", responses((status = 200, body = InfoBody)))]
pub async fn info(State(state): State<HttpState>) -> Json<InfoBody> {
    Json(server_info(
        state.dev_minter.is_some(),
        state.sign_in.as_ref(),
        state.notifications.push_info(),
    ))
}

/// What any visitor may know about this server (`GET /api/info`, and inlined in the
/// web client's page to save a round trip).
pub fn server_info(
    dev: bool,
    sign_in: Option<&SignInBody>,
    push: Option<crate::protocol::notify::PushInfo>,
) -> InfoBody {
    InfoBody {
        protocol: crate::protocol::server::PROTOCOL_VERSION,
        dev,
        sign_in: sign_in.cloned(),
        push,
    }
}

/// Whom to sign in as.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DevLogin {
    /// 1–64 printable characters; the same name signs in as the same account.
    name: String,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    roles: Vec<Role>,
}

/// `--dev` only: a token for any name and role, signed with a per-start secret. The
/// account id is derived from the name so the same name signs in as the same person.
#[utoipa::path(post, path = "/api/dev/login", tag = "operations", request_body = DevLogin,
    responses((status = 200, body = DevLoginBody)))]
pub async fn dev_login(
    State(state): State<HttpState>,
    Body(body): Body,
) -> ApiResult<Json<DevLoginBody>> {
    let Some(minter) = &state.dev_minter else {
        return Err(ApiError::new(ErrorCode::NotFound, "not found"));
    };
    let login: DevLogin = parse_body(&body)?;
    let name = login.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::new(
            ErrorCode::InvalidFrame,
            "name must be 1–64 printable characters",
        ));
    }
    let mut roles = login.roles;
    roles.extend(login.role);
    if roles.is_empty() {
        roles.push(Role::Mentee);
    }
    let slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect();
    let account = AccountId::parse(&format!("dev:{slug}"))
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidFrame, "unusable name"))?;
    let token = minter.mint(&account, name, &roles, Duration::from_secs(12 * 3600));
    // Recorded now, as a first request with the token would, so the account can be
    // named (a mentor requested, say) before it has ever connected.
    let principal =
        state.verifier.verify(&token).await.map_err(|_| {
            ApiError::new(ErrorCode::Internal, "a freshly minted token did not verify")
        })?;
    state.mentoring.remember(&principal).await?;
    Ok(Json(DevLoginBody { token, account }))
}
