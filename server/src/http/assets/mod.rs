//! The web client's static files, served from memory for slow links.
//!
//! At start-up the folder is read once and its ES modules are packed into one
//! content-hashed script ([`pack`]); the page and the files it links are rewritten to
//! hashed names. Every response carries a strong entity tag (a content hash), so a
//! revalidation is a `304` with no body; hashed names are `immutable` and never
//! revalidated; everything else is `no-cache` (always revalidated, so a deployment is
//! picked up at once). Text is served brotli- or gzip-compressed as the request
//! accepts, each compressed once on first request (not at start-up: a process that
//! never serves the client never pays for it) and then kept; until a file's brotli
//! form is ready, its gzip form is served. No build step: a fresh
//! clone serves the client as it is. Changes to the folder are picked up on restart.

mod encoding;
mod pack;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use bytes::Bytes;

use encoding::Coding;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";
/// Smaller bodies are not worth a compressed variant (headers dominate).
const MIN_COMPRESS_BYTES: usize = 256;

/// The client's files by site path (`/`, `/index.html`, `/css/app.<hash>.css`, …).
pub struct WebClient {
    assets: HashMap<String, Arc<Asset>>,
}

struct Asset {
    content_type: HeaderValue,
    cache_control: &'static str,
    hash: String,
    identity: Bytes,
    compressible: bool,
    /// Brotli and gzip, made on first request; `None` when not smaller than identity.
    brotli: OnceLock<Option<Bytes>>,
    brotli_started: AtomicBool,
    gzip: OnceLock<Option<Bytes>>,
}

impl WebClient {
    /// Reads `dir` and packs it. A missing folder serves nothing (404s); a folder the
    /// pack cannot understand is served file by file; both are logged.
    pub fn load(dir: &Path, server_info: &serde_json::Value) -> WebClient {
        let mut files = BTreeMap::new();
        if let Err(error) = read_tree(dir, "", &mut files) {
            tracing::warn!(dir = %dir.display(), %error, "web client folder not readable: not serving it");
        }
        let mut assets = HashMap::new();
        for (path, body) in &files {
            assets.insert(
                path.clone(),
                Arc::new(Asset::new(path, body.clone(), false)),
            );
        }
        match pack::build(&files, &server_info.to_string()) {
            Ok(derived) => {
                for file in derived {
                    let asset = Arc::new(Asset::new(&file.path, file.body, file.immutable));
                    assets.insert(file.path, asset);
                }
                tracing::debug!(files = files.len(), "web client packed");
            }
            Err(error) if files.is_empty() => drop(error),
            Err(error) => tracing::warn!(%error, "web client served unpacked"),
        }
        if let Some(page) = assets.get("/index.html").cloned() {
            assets.insert("/".into(), page);
        }
        WebClient { assets }
    }

    /// The handler for every path the other routes do not claim (`GET` and `HEAD`).
    pub fn service(self: Arc<Self>) -> MethodRouter {
        get(serve).with_state(self)
    }
}

impl Asset {
    fn new(path: &str, body: Vec<u8>, immutable: bool) -> Asset {
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        let text = mime.type_() == mime_guess::mime::TEXT
            || matches!(
                mime.subtype().as_str(),
                "javascript" | "json" | "manifest+json"
            )
            || mime.suffix().is_some_and(|s| s == "json" || s == "xml");
        let content_type = if text {
            format!("{}; charset=utf-8", mime.essence_str())
        } else {
            mime.essence_str().to_owned()
        };
        Asset {
            content_type: HeaderValue::from_str(&content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            cache_control: if immutable { IMMUTABLE } else { REVALIDATE },
            hash: pack::content_hash(&body),
            compressible: text && body.len() >= MIN_COMPRESS_BYTES,
            identity: Bytes::from(body),
            brotli: OnceLock::new(),
            brotli_started: AtomicBool::new(false),
            gzip: OnceLock::new(),
        }
    }

    /// The best representation among `codings` (best first) that is ready now.
    /// Gzip is made on first request (milliseconds); brotli at its highest setting
    /// takes long enough that it is made in the background while gzip is served.
    async fn representation(self: &Arc<Self>, codings: &[Coding]) -> (Coding, Bytes) {
        for &coding in codings {
            let body = match coding {
                Coding::Identity => Some(self.identity.clone()),
                Coding::Gzip => self.gzip().await,
                Coding::Brotli => self.brotli_if_ready(),
            };
            if let Some(body) = body {
                return (coding, body);
            }
        }
        (Coding::Identity, self.identity.clone())
    }

    async fn gzip(self: &Arc<Self>) -> Option<Bytes> {
        if let Some(body) = self.gzip.get() {
            return body.clone();
        }
        let asset = self.clone();
        tokio::task::spawn_blocking(move || {
            asset
                .gzip
                .get_or_init(|| asset.compress(Coding::Gzip))
                .clone()
        })
        .await
        .ok()
        .flatten()
    }

    fn brotli_if_ready(self: &Arc<Self>) -> Option<Bytes> {
        if let Some(body) = self.brotli.get() {
            return body.clone();
        }
        if !self.brotli_started.swap(true, Ordering::AcqRel) {
            let asset = self.clone();
            tokio::task::spawn_blocking(move || {
                asset.brotli.get_or_init(|| asset.compress(Coding::Brotli));
            });
        }
        None
    }

    /// `None` when the coding does not make the body smaller.
    fn compress(&self, coding: Coding) -> Option<Bytes> {
        let compressed = encoding::compress(coding, &self.identity);
        (compressed.len() < self.identity.len()).then(|| Bytes::from(compressed))
    }

    /// Whether an `If-None-Match` header names this content (any coding of it; weak
    /// comparison, as RFC 9110 §13.1.2 asks for this header).
    fn matches(&self, if_none_match: &str) -> bool {
        if_none_match.split(',').any(|tag| {
            let tag = tag.trim();
            if tag == "*" {
                return true;
            }
            let tag = tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"');
            let tag = tag
                .strip_suffix(Coding::Brotli.etag_suffix())
                .or_else(|| tag.strip_suffix(Coding::Gzip.etag_suffix()))
                .unwrap_or(tag);
            tag == self.hash
        })
    }
}

async fn serve(State(web): State<Arc<WebClient>>, uri: Uri, headers: HeaderMap) -> Response {
    let Some(asset) = web.assets.get(uri.path()).cloned() else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let codings = if asset.compressible {
        encoding::accepted(
            headers
                .get(header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok()),
        )
    } else {
        vec![Coding::Identity]
    };
    let (coding, body) = asset.representation(&codings).await;

    let mut response_headers = HeaderMap::new();
    let etag = format!("\"{}{}\"", asset.hash, coding.etag_suffix());
    response_headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex digits"),
    );
    response_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(asset.cache_control),
    );
    if asset.compressible {
        response_headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    let revalidated = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| asset.matches(v));
    if revalidated {
        return (StatusCode::NOT_MODIFIED, response_headers).into_response();
    }
    response_headers.insert(header::CONTENT_TYPE, asset.content_type.clone());
    if let Some(value) = coding.header() {
        response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(value));
    }
    (response_headers, body).into_response()
}

/// Every regular file under `dir` (hidden ones excepted) by site path.
fn read_tree(
    dir: &Path,
    prefix: &str,
    files: &mut BTreeMap<String, Vec<u8>>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let path = format!("{prefix}/{name}");
        let kind = std::fs::metadata(entry.path())?.file_type();
        if kind.is_dir() {
            read_tree(&entry.path(), &path, files)?;
        } else if kind.is_file() {
            files.insert(path, std::fs::read(entry.path())?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
