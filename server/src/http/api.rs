//! REST routes for what is not live traffic: the caller's account and settings,
//! conversations and history pages, relationships.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;

use super::HttpState;
use super::auth::Authed;
use super::bodies::{
    ConversationBody, ConversationsBody, HistoryBody, MeBody, RelationshipBody, RelationshipsBody,
    ThreadsBody,
};
use super::error::{ApiResult, parse_body};
use super::extract::{Body, Params};
use crate::mentoring::relationships::MentorRequest;
use crate::protocol::client::HistoryQuery;
use crate::protocol::server::{AccountView, Settings};
use crate::protocol::webrtc::IceConfig;

/// The caller's account (as the token names it) and settings.
#[utoipa::path(get, path = "/api/me", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = MeBody)))]
pub async fn me(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<MeBody>> {
    let account = state.mentoring.remember(&principal).await?;
    Ok(Json(MeBody {
        account: AccountView::from(&principal),
        settings: account.settings,
    }))
}

/// Replaces the caller's settings; answers them as saved.
#[utoipa::path(put, path = "/api/me/settings", tag = "account", security(("bearer" = [])),
    request_body = Settings, responses((status = 200, body = Settings)))]
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

/// Every conversation the caller is a member of.
#[utoipa::path(get, path = "/api/conversations", tag = "conversations", security(("bearer" = [])),
    responses((status = 200, body = ConversationsBody)))]
pub async fn conversations(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<ConversationsBody>> {
    let conversations = state.mentoring.conversations(&principal).await?;
    Ok(Json(ConversationsBody { conversations }))
}

/// One conversation as the caller sees it.
#[utoipa::path(get, path = "/api/conversations/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "A conversation id")),
    responses((status = 200, body = ConversationBody)))]
pub async fn conversation(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<ConversationBody>> {
    let conversation = state.mentoring.conversation(&principal, &id).await?;
    Ok(Json(ConversationBody { conversation }))
}

#[derive(Debug, Deserialize)]
pub struct HistoryParams {
    before: Option<u64>,
    after: Option<u64>,
    limit: Option<u32>,
    thread: Option<u64>,
}

/// A page of the conversation's timeline, as the WebSocket `history` frame answers.
#[utoipa::path(get, path = "/api/conversations/{id}/messages", tag = "conversations",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "A conversation id"),
        ("before" = Option<u64>, Query, description = "Events strictly before this seq"),
        ("after" = Option<u64>, Query, description = "Events strictly after this seq"),
        ("limit" = Option<u32>, Query, description = "At most this many events (capped by `history_page_max`)"),
        ("thread" = Option<u64>, Query, description = "Only this thread's root and replies"),
    ),
    responses((status = 200, body = HistoryBody)))]
pub async fn messages(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
    Params(params): Params<HistoryParams>,
) -> ApiResult<Json<HistoryBody>> {
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
    Ok(Json(HistoryBody {
        conversation: ctx.conversation,
        events: page.events,
        has_more: page.has_more,
        truncated: page.truncated,
    }))
}

/// The conversation's threads: each root with its reply count and last reply.
#[utoipa::path(get, path = "/api/conversations/{id}/threads", tag = "conversations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "A conversation id")),
    responses((status = 200, body = ThreadsBody)))]
pub async fn threads(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<ThreadsBody>> {
    let ctx = state.mentoring.member_ctx(&principal.account, &id).await?;
    let threads = state.mentoring.threads(&ctx).await?;
    Ok(Json(ThreadsBody {
        conversation: ctx.conversation,
        threads,
    }))
}

/// Every relationship the caller is party to (or assigned, as a coordinator).
#[utoipa::path(get, path = "/api/relationships", tag = "relationships", security(("bearer" = [])),
    responses((status = 200, body = RelationshipsBody)))]
pub async fn relationships(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<RelationshipsBody>> {
    let relationships = state.mentoring.relationships(&principal).await?;
    Ok(Json(RelationshipsBody { relationships }))
}

/// A mentee asks a mentor (or two) for mentoring.
#[utoipa::path(post, path = "/api/relationships", tag = "relationships", security(("bearer" = [])),
    request_body = MentorRequest, responses((status = 201, body = RelationshipBody)))]
pub async fn request_mentor(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<(axum::http::StatusCode, Json<RelationshipBody>)> {
    let request: MentorRequest = parse_body(&body)?;
    let relationship = state.mentoring.request_mentor(&principal, &request).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(RelationshipBody { relationship }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct IceParams {
    conversation: Option<String>,
}

/// STUN/TURN servers with fresh TURN credentials; relay-only where the caller is
/// pseudonymous in `conversation`.
#[utoipa::path(get, path = "/api/ice-servers", tag = "calls", security(("bearer" = [])),
    params(("conversation" = Option<String>, Query, description = "The conversation the call is in")),
    responses((status = 200, body = IceConfig)))]
pub async fn ice_servers(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Params(params): Params<IceParams>,
) -> ApiResult<Json<IceConfig>> {
    let config = state
        .signalling
        .ice_for(&principal.account, params.conversation.as_deref())
        .await?;
    Ok(Json(config))
}
