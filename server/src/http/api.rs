//! REST routes for what is not live traffic: the caller's account and settings,
//! conversations and history pages, relationships.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::HttpState;
use super::auth::Authed;
use super::error::{ApiResult, parse_body};
use super::extract::{Body, Params};
use crate::mentoring::relationships::MentorRequest;
use crate::protocol::client::HistoryQuery;
use crate::protocol::server::Settings;

pub async fn me(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<Value>> {
    let account = state.mentoring.remember(&principal).await?;
    Ok(Json(json!({
        "account": {
            "id": principal.account,
            "name": principal.name,
            "roles": principal.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        },
        "settings": account.settings,
    })))
}

pub async fn put_settings(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<Json<Settings>> {
    let settings: Settings = parse_body(&body)?;
    let saved = state
        .mentoring
        .update_settings(&principal, settings)
        .await?;
    Ok(Json(saved))
}

pub async fn conversations(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<Value>> {
    let conversations = state.mentoring.conversations(&principal).await?;
    Ok(Json(json!({ "conversations": conversations })))
}

pub async fn conversation(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let summary = state.mentoring.conversation(&principal, &id).await?;
    Ok(Json(json!({ "conversation": summary })))
}

#[derive(Debug, Deserialize)]
pub struct HistoryParams {
    before: Option<u64>,
    after: Option<u64>,
    limit: Option<u32>,
    thread: Option<u64>,
}

pub async fn messages(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
    Params(params): Params<HistoryParams>,
) -> ApiResult<Json<Value>> {
    let ctx = state.mentoring.member_ctx(&principal.account, &id).await?;
    let query = HistoryQuery {
        reference: None,
        conversation: id,
        before: params.before,
        after: params.after,
        limit: params.limit,
        thread: params.thread,
    };
    let page = state.mentoring.history(&ctx, &query).await?;
    Ok(Json(json!({
        "conversation": ctx.conversation,
        "events": page.events,
        "has_more": page.has_more,
        "truncated": page.truncated,
    })))
}

pub async fn threads(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = state.mentoring.member_ctx(&principal.account, &id).await?;
    let threads = state.mentoring.threads(&ctx).await?;
    Ok(Json(
        json!({ "conversation": ctx.conversation, "threads": threads }),
    ))
}

pub async fn relationships(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<Value>> {
    let relationships = state.mentoring.relationships(&principal).await?;
    Ok(Json(json!({ "relationships": relationships })))
}

pub async fn request_mentor(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    let request: MentorRequest = parse_body(&body)?;
    let relationship = state.mentoring.request_mentor(&principal, &request).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({ "relationship": relationship })),
    ))
}

#[derive(Debug, Deserialize)]
pub struct IceParams {
    conversation: Option<String>,
}

/// STUN/TURN servers with fresh TURN credentials; relay-only where the caller is
/// pseudonymous in `conversation`.
pub async fn ice_servers(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Params(params): Params<IceParams>,
) -> ApiResult<Json<crate::protocol::call::IceConfig>> {
    let config = state
        .signalling
        .ice_for(&principal.account, params.conversation.as_deref())
        .await?;
    Ok(Json(config))
}
