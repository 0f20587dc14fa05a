//! The e-mail digest's routes: the caller's choice, and the unsubscribe link every
//! digest carries (RFC 8058: a `POST` there turns the digest off without sign-in; a
//! `GET`, which mail scanners send on their own, only shows a page with a button).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use serde::Deserialize;

use super::HttpState;
use super::auth::Authed;
use super::error::{ApiError, ApiResult, parse_body};
use super::extract::{Body, Params};
use crate::mentoring::digest::EmailDigestSettings;
use crate::protocol::ErrorCode;

pub(super) fn routes() -> Router<HttpState> {
    Router::new()
        .route("/me/email-digest", get(choice).put(put_choice))
        .route(
            "/email/unsubscribe",
            get(unsubscribe_page).post(unsubscribe),
        )
}

/// The caller's e-mail digest choice (`off` until chosen).
#[utoipa::path(get, path = "/api/me/email-digest", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = EmailDigestSettings)))]
pub(super) async fn choice(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<EmailDigestSettings>> {
    Ok(Json(state.mentoring.email_digest(&principal).await?))
}

/// Replaces the caller's e-mail digest choice. The digest goes to the `email` of the
/// caller's token (kept while the digest is on, updated as tokens change); an account
/// whose token has none is never e-mailed.
#[utoipa::path(put, path = "/api/me/email-digest", tag = "account", security(("bearer" = [])),
    request_body = EmailDigestSettings, responses((status = 200, body = EmailDigestSettings)))]
pub(super) async fn put_choice(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<Json<EmailDigestSettings>> {
    let settings: EmailDigestSettings = parse_body(&body)?;
    Ok(Json(
        state
            .mentoring
            .put_email_digest(&principal, settings)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
pub(super) struct UnsubscribeParams {
    token: String,
}

/// The token as digests carry it (base64url); anything else is no token.
fn token(params: &UnsubscribeParams) -> Result<&str, ApiError> {
    let token = params.token.as_str();
    let plain = (1..=128).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        Ok(token)
    } else {
        Err(ApiError::new(
            ErrorCode::NotFound,
            "no such unsubscribe link",
        ))
    }
}

/// A page with one button that unsubscribes; opening it changes nothing.
#[utoipa::path(get, path = "/api/email/unsubscribe", tag = "account",
    params(("token" = String, Query, description = "The token of a digest's unsubscribe link")),
    responses((status = 200, description = "A page whose button unsubscribes", content_type = "text/html")))]
pub(super) async fn unsubscribe_page(
    Params(params): Params<UnsubscribeParams>,
) -> ApiResult<Html<String>> {
    let token = token(&params)?;
    Ok(Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>Unsubscribe from Mentorhub e-mails</title></head><body>\
         <h1>Unsubscribe from Mentorhub e-mails</h1>\
         <p>Mentorhub e-mails you about unread messages because you chose so. \
         Press the button to receive no more of them.</p>\
         <form method=\"post\" action=\"/api/email/unsubscribe?token={token}\">\
         <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
         <button type=\"submit\">Unsubscribe</button></form></body></html>"
    )))
}

/// One-click unsubscribe (RFC 8058): turns the digest off, without sign-in.
#[utoipa::path(post, path = "/api/email/unsubscribe", tag = "account",
    params(("token" = String, Query, description = "The token of a digest's unsubscribe link")),
    responses((status = 200, description = "Unsubscribed", content_type = "text/html")))]
pub(super) async fn unsubscribe(
    State(state): State<HttpState>,
    Params(params): Params<UnsubscribeParams>,
) -> ApiResult<Html<&'static str>> {
    let token = token(&params)?;
    if !state.mentoring.unsubscribe_email_digest(token).await? {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "no such unsubscribe link",
        ));
    }
    Ok(Html(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Unsubscribed</title></head><body><h1>Unsubscribed</h1>\
         <p>Mentorhub will e-mail you no more. You can choose e-mails again in the app.</p>\
         </body></html>",
    ))
}
