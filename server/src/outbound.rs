//! The HTTP client for the server's own outbound requests (the identity provider's key
//! set, push services): rustls on the ring provider with the system's root
//! certificates, HTTP/1.1.

use std::sync::Arc;

use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// An outbound client sending bodies of type `B`.
pub type HttpsClient<B> = Client<hyper_rustls::HttpsConnector<HttpConnector>, B>;

/// Builds a client for `https://` and, where the caller has already allowed it (a
/// loopback test endpoint, a provider on a private network), plain `http://`.
pub fn https_client<B>() -> Result<HttpsClient<B>, String>
where
    B: hyper::body::Body + Send,
    B::Data: Send,
{
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(Arc::new(rustls::crypto::ring::default_provider()))
        .map_err(|e| format!("no TLS root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}
