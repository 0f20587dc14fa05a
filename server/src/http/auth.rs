//! The `Authorization: Bearer <JWT>` extractor for REST routes.

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::HttpState;
use super::error::ApiError;
use crate::auth::Principal;
use crate::protocol::ErrorCode;

/// The verified caller of a REST route. A request that changes something (any method
/// but `GET`/`HEAD`) spends one action of the caller's account budget first.
pub struct Authed(pub Principal);

impl FromRequestParts<HttpState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Unauthorized,
                    "missing `Authorization: Bearer` token",
                )
            })?;
        let principal = state
            .verifier
            .verify(header.trim())
            .await
            .map_err(|error| {
                ApiError::new(
                    ErrorCode::Unauthorized,
                    format!("token refused: {}", error.code()),
                )
            })?;
        if parts.method != Method::GET && parts.method != Method::HEAD {
            state.mentoring.spend(&principal.account).await?;
        }
        Ok(Authed(principal))
    }
}
