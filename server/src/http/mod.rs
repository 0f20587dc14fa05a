//! HTTP: REST routes, the WebSocket upgrade, the static web client, health and
//! metrics. Only this module touches the web framework: the hub gets an upgraded socket
//! through a small adapter ([`socket`]) to its own frame types.

mod api;
mod assets;
mod auth;
mod bodies;
mod client_addr;
mod digest;
mod error;
mod extract;
mod hardening;
pub mod limits;
pub mod listener;
mod mentoring;
mod notify;
pub mod openapi;
mod ops;
mod origin;
mod safety;
mod sfu;
mod socket;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Extension, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::task::TaskTracker;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

pub use client_addr::ForwardedClients;
pub use error::{ApiError, ApiResult};
pub use hardening::HostGuard;
pub use origin::OriginPolicy;

use crate::auth::{Minter, Verifier};
use crate::bus::Bus;
use crate::hub::Hub;
use crate::mentoring::Mentoring;
use crate::protocol::ErrorCode;
use crate::signalling::Signalling;

/// Socket buffer sizes for upgraded connections. Small on purpose: axum's and
/// tungstenite's 128 KiB default read buffer per socket is what makes idle
/// connections expensive (axum#3178, tungstenite-rs#480).
#[derive(Clone, Debug)]
pub struct SocketBuffers {
    pub read: usize,
    pub write: usize,
    pub max_write: usize,
}

#[derive(Clone)]
pub struct HttpState {
    pub hub: Arc<Hub>,
    pub mentoring: Arc<Mentoring>,
    pub signalling: Arc<Signalling>,
    pub bus: Arc<dyn Bus>,
    pub verifier: Verifier,
    pub dev_minter: Option<Arc<Minter>>,
    /// Push subscriptions and notification preferences.
    pub notifications: Arc<crate::notify::service::Notifications>,
    /// Where the web client signs people in (public; served in the server info).
    pub sign_in: Option<bodies::SignInBody>,
    pub origins: OriginPolicy,
    pub buffers: SocketBuffers,
    pub metrics: PrometheusHandle,
    /// Every upgraded socket holds a token so shutdown can wait for them.
    pub sockets: TaskTracker,
}

/// What the router needs beyond the handlers' state: request limits and hardening.
#[derive(Clone)]
pub struct RouterSettings {
    pub web_client_dir: PathBuf,
    pub request_timeout: Duration,
    pub behind_tls: bool,
    pub forwarded: ForwardedClients,
    /// Set when listening on loopback: the `Host` names a request may carry.
    pub host_guard: Option<HostGuard>,
}

pub fn router(state: HttpState, settings: RouterSettings) -> Router {
    let web_client = Arc::new(assets::WebClient::load(
        &settings.web_client_dir,
        &serde_json::to_value(ops::server_info(
            state.dev_minter.is_some(),
            state.sign_in.as_ref(),
            state.notifications.push_info(),
        ))
        .unwrap_or_default(),
    ));
    let mut api = Router::new()
        .route("/info", get(ops::info))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/asyncapi.json", get(openapi::asyncapi_json))
        .route("/me", get(api::me))
        .route("/me/settings", put(api::put_settings))
        .route("/conversations", get(api::conversations))
        .route("/conversations/{id}", get(api::conversation))
        .route("/conversations/{id}/messages", get(api::messages))
        .route("/conversations/{id}/threads", get(api::threads))
        .route(
            "/relationships",
            get(api::relationships).post(api::request_mentor),
        )
        .merge(mentoring::routes())
        .merge(safety::routes())
        .merge(notify::routes())
        .merge(digest::routes())
        .route("/ice-servers", get(api::ice_servers))
        .route("/sfu/turn-credentials", post(sfu::turn_credentials));
    if state.dev_minter.is_some() {
        api = api.route("/dev/login", post(ops::dev_login));
    }
    let api = api
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(64 * 1024))
        // A slowly trickled body holds a connection; a REST call never needs long.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            settings.request_timeout,
        ));
    let mut router = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/ws", get(upgrade))
        .nest("/api", api)
        .fallback_service(web_client.service())
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ));
    let issuer = state.sign_in.as_ref().map(|s| s.issuer.clone());
    for layer in hardening::header_layers(settings.behind_tls, issuer.as_deref()) {
        router = router.layer(layer);
    }
    router = router.layer(axum::middleware::from_fn_with_state(
        settings.forwarded,
        client_addr::cap_forwarded,
    ));
    if let Some(guard) = settings.host_guard {
        router = router.layer(axum::middleware::from_fn_with_state(
            guard,
            hardening::check_host,
        ));
    }
    router.with_state(state)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route",
    )
}

async fn api_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

async fn upgrade(
    State(state): State<HttpState>,
    headers: HeaderMap,
    forwarded_slot: Option<Extension<client_addr::ForwardedSlot>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !state.origins.permits(&headers) {
        return ApiError::new(ErrorCode::Forbidden, "origin not allowed").into_response();
    }
    let max = state.hub.settings().max_frame_bytes;
    let hub = state.hub.clone();
    let token = state.sockets.token();
    upgrade
        .read_buffer_size(state.buffers.read)
        .write_buffer_size(state.buffers.write)
        .max_write_buffer_size(state.buffers.max_write)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            // Boxed before any async layer takes it: a `WebSocket` passed by value is
            // stored in every layer's state for the connection's whole life.
            let socket = Box::new(socket::AxumSocket(socket));
            async move {
                crate::hub::serve_socket(hub, socket).await;
                // A client behind a trusted proxy is counted while its socket is open.
                drop(forwarded_slot);
                drop(token);
            }
        })
}
