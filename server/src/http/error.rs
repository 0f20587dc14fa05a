//! One error shape for every REST route: `{"error": {"code": "...", "message": "..."}}`
//! with the HTTP status of the code. Codes are the same as over the WebSocket.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::bodies::{ErrorBody, ErrorDetail};
use crate::error::Refusal;
use crate::protocol::ErrorCode;

#[derive(Debug)]
pub struct ApiError(pub Refusal);

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        ApiError(Refusal::new(code, message))
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        ApiError(refusal)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.0.code;
        metrics::counter!("mentorhub_errors_total", "code" => code.as_str()).increment(1);
        let status =
            StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_ms = self
            .0
            .retry_after
            .map(|wait| wait.as_millis().max(1) as u64);
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.0.message.into_owned(),
                retry_after_ms: retry_ms,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(ms) = retry_ms
            && let Ok(value) = axum::http::HeaderValue::from_str(&ms.div_ceil(1000).to_string())
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Parses a JSON request body into `T`, answering in our own error shape (axum's
/// default rejection is plain text).
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    if body.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            "a JSON body is required",
        ));
    }
    // Every body is an object; `[]` or `"x"` is malformed input, not a wrong field.
    if body.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            "the body is not a JSON object",
        ));
    }
    serde_json::from_slice(body).map_err(|error| {
        if error.is_syntax() || error.is_eof() {
            ApiError::new(ErrorCode::InvalidJson, "the body is not valid JSON")
        } else {
            // serde names the field but may quote submitted values: keep only the
            // category so nothing submitted is echoed.
            let detail = if error.to_string().starts_with("missing field") {
                error
                    .to_string()
                    .split(" at line")
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            } else {
                "a field is missing, unknown or has the wrong type".to_owned()
            };
            ApiError::new(ErrorCode::InvalidFrame, detail)
        }
    })
}
