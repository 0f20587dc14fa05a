//! REST routes of notifications: a device's push subscription and the account's
//! notification preferences.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};

use super::HttpState;
use super::auth::Authed;
use super::error::{ApiResult, parse_body};
use super::extract::Body;
use crate::protocol::notify::{
    NotificationPreferences, PushSubscriptionBody, PushSubscriptionRequest,
};

pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/me/push-subscriptions", post(subscribe))
        .route("/me/push-subscriptions/{id}", delete(unsubscribe))
        .route("/me/notifications", get(preferences).put(put_preferences))
}

/// Saves this device's push subscription (`201`; the same endpoint again: `200`, same id).
#[utoipa::path(post, path = "/api/me/push-subscriptions", tag = "notifications", request_body = PushSubscriptionRequest, responses((status = 201, body = PushSubscriptionBody), (status = 200, body = PushSubscriptionBody, description = "The endpoint was already saved: its id, keys refreshed")), security(("bearer" = [])))]
pub(super) async fn subscribe(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<(StatusCode, Json<PushSubscriptionBody>)> {
    let request: PushSubscriptionRequest = parse_body(&body)?;
    let (saved, created) = state.notifications.subscribe(&principal, &request).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(saved)))
}

/// Removes one of the caller's push subscriptions.
#[utoipa::path(delete, path = "/api/me/push-subscriptions/{id}", tag = "notifications", params(("id" = String, Path, description = "A subscription id")), responses((status = 204, description = "Removed")), security(("bearer" = [])))]
pub(super) async fn unsubscribe(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.notifications.unsubscribe(&principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's notification preferences (the defaults until saved).
#[utoipa::path(get, path = "/api/me/notifications", tag = "notifications", responses((status = 200, body = NotificationPreferences)), security(("bearer" = [])))]
pub(super) async fn preferences(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<NotificationPreferences>> {
    Ok(Json(state.notifications.preferences(&principal).await?))
}

/// Replaces the caller's notification preferences (the whole object); answers them as saved.
#[utoipa::path(put, path = "/api/me/notifications", tag = "notifications", request_body = NotificationPreferences, responses((status = 200, body = NotificationPreferences)), security(("bearer" = [])))]
pub(super) async fn put_preferences(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<Json<NotificationPreferences>> {
    let preferences: NotificationPreferences = parse_body(&body)?;
    Ok(Json(
        state
            .notifications
            .set_preferences(&principal, preferences)
            .await?,
    ))
}
