//! `POST /api/sfu/turn-credentials`: the TURN REST API that Janus's `turn_rest_api`
//! calls, so the SFU gathers relay candidates on Mentorhub's TURN with fresh
//! credentials. Janus authenticates with the shared Janus secret (`key`, also sent as
//! `api`), in a form body rather than the URL so it never lands in an access log. A wrong
//! key and a server without an SFU get the same `not_found`.

use axum::Json;
use axum::extract::{Form, State};
use serde::Deserialize;

use super::HttpState;
use super::error::{ApiError, ApiResult};
use crate::protocol::ErrorCode;
use crate::signalling::sfu::SfuTurn;

/// Janus's TURN REST request.
#[derive(Deserialize, schemars::JsonSchema)]
pub struct TurnRequest {
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    api: Option<String>,
}

/// TURN credentials for the SFU (Janus's `turn_rest_api`); authenticated by the Janus
/// secret in the form, not by a bearer token.
#[utoipa::path(post, path = "/api/sfu/turn-credentials", tag = "calls",
    request_body(content = TurnRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = SfuTurn)))]
pub async fn turn_credentials(
    State(state): State<HttpState>,
    form: Result<Form<TurnRequest>, axum::extract::rejection::FormRejection>,
) -> ApiResult<Json<SfuTurn>> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such resource");
    let Form(request) =
        form.map_err(|_| ApiError::new(ErrorCode::InvalidJson, "a form-encoded body is required"))?;
    if request.service.as_deref().is_some_and(|s| s != "turn") {
        return Err(not_found());
    }
    let key = request.key.or(request.api).unwrap_or_default();
    let username = request.username.unwrap_or_default();
    state
        .signalling
        .sfu_turn_credentials(&key, &username)
        .map(Json)
        .ok_or_else(not_found)
}
