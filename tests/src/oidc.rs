//! A real OpenID provider for the sign-in tests: npm `oidc-provider` run by
//! `tests/oidc/provider.mjs` (installed with `npm ci` on first use), and a client that
//! signs in through it by the authorization code flow with PKCE, over plain HTTP, the
//! way the web client does in a browser: authorization request, the provider's sign-in
//! form, the redirect back with a code, the code and verifier exchanged for tokens.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::WAIT;

/// The test client registered at the provider.
pub const CLIENT_ID: &str = "mentorhub-web";
/// The audience of the provider's access tokens (`jwt_audience` of the server).
pub const AUDIENCE: &str = "mentorhub";
/// Scopes the client asks for: sign-in, the name, refresh tokens and the API.
pub const SCOPES: &str = "openid profile offline_access mentorhub";
/// Where the provider sends the browser back; never fetched by these tests.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// A running provider; killed when dropped.
pub struct OidcProvider {
    pub issuer: String,
    http: reqwest::Client,
    _child: Child,
}

/// What the token endpoint returned.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

fn provider_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/oidc"))
}

/// `npm ci` in tests/oidc when its packages are missing (once per test binary).
async fn ensure_installed() {
    static INSTALL: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    INSTALL
        .get_or_init(|| async {
            let dir = provider_dir();
            if dir.join("node_modules/oidc-provider/package.json").exists() {
                return;
            }
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .await
                .expect("npm runs");
            assert!(status.success(), "npm ci in {} failed", dir.display());
        })
        .await;
}

impl OidcProvider {
    /// Starts a provider whose test client may be sent back to `redirect_uris`
    /// (besides [`REDIRECT_URI`]).
    pub async fn start(redirect_uris: &[&str], access_token_ttl_secs: u64) -> OidcProvider {
        ensure_installed().await;
        let mut uris = vec![REDIRECT_URI];
        uris.extend_from_slice(redirect_uris);
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(provider_dir())
            .env("OIDC_REDIRECT_URIS", uris.join(","))
            .env("OIDC_ACCESS_TOKEN_TTL", access_token_ttl_secs.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs tests/oidc/provider.mjs");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let issuer = tokio::time::timeout(WAIT, async {
            while let Some(line) = lines.next_line().await.expect("provider output") {
                if let Some(issuer) = line.strip_prefix("issuer=") {
                    return issuer.to_owned();
                }
            }
            panic!("the provider exited before listening")
        })
        .await
        .expect("the provider listens within the wait");
        // Keep reading so the provider never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        OidcProvider {
            issuer,
            http,
            _child: child,
        }
    }

    async fn control(&self, path: &str) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.issuer))
            .send()
            .await
            .expect("the provider answers");
        response.json().await.expect("JSON")
    }

    /// New signing keys with new kids; the previous ones stay published.
    pub async fn rotate(&self) -> Vec<String> {
        let reply = self.control("/test/rotate").await;
        serde_json::from_value(reply["kids"].clone()).expect("kids")
    }

    /// Access tokens signed with `RS256` or `ES256` from now on.
    pub async fn sign_with(&self, alg: &str) {
        self.control(&format!("/test/alg?alg={alg}")).await;
    }

    /// Discovery and the key set answer 503 while down.
    pub async fn set_down(&self, down: bool) {
        self.control(&format!("/test/down?on={}", u8::from(down)))
            .await;
    }

    /// How many times the key set was fetched.
    pub async fn jwks_fetches(&self) -> u64 {
        let stats: Value = self
            .http
            .get(format!("{}/test/stats", self.issuer))
            .send()
            .await
            .expect("the provider answers")
            .json()
            .await
            .expect("JSON");
        stats["jwks_fetches"].as_u64().expect("a count")
    }

    /// Signs `user` in (password: the user name) by the authorization code flow with
    /// PKCE, as a public client, and returns the tokens.
    pub async fn sign_in(&self, user: &str) -> Tokens {
        let verifier: String = (0..64)
            .map(|_| {
                const ALPHABET: &[u8] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
                ALPHABET[rand::rng().random_range(0..ALPHABET.len())] as char
            })
            .collect();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state: u64 = rand::rng().random();
        let mut jar = CookieJar::default();
        let authorize = format!(
            "{}/auth?client_id={CLIENT_ID}&response_type=code&scope={}&redirect_uri={}\
             &code_challenge={challenge}&code_challenge_method=S256&state={state}",
            self.issuer,
            encode(SCOPES),
            encode(REDIRECT_URI),
        );
        // To the sign-in form.
        let form_url = self.follow(&mut jar, authorize, "/interaction/").await;
        let page = self.get(&mut jar, &form_url).await;
        assert_eq!(page.status().as_u16(), 200, "the sign-in form");
        // Post it, then follow the provider back to the redirect URI with the code.
        let response = self
            .http
            .post(format!("{form_url}/login"))
            .header("cookie", jar.header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("login={user}&password={user}"))
            .send()
            .await
            .expect("the provider answers");
        jar.take(&response);
        let next = self.location(&response);
        let back = self.follow(&mut jar, next, REDIRECT_URI).await;
        let query = back.split_once('?').map_or("", |(_, q)| q);
        let params: BTreeMap<&str, &str> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .collect();
        assert_eq!(params.get("state"), Some(&state.to_string().as_str()));
        let code = params.get("code").expect("a code in the redirect");
        self.token_request(&format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&client_id={CLIENT_ID}\
             &code_verifier={verifier}",
            encode(REDIRECT_URI)
        ))
        .await
        .expect("tokens for the code")
    }

    /// The refresh token grant (public client: no secret).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, String> {
        self.token_request(&format!(
            "grant_type=refresh_token&refresh_token={}&client_id={CLIENT_ID}",
            encode(refresh_token)
        ))
        .await
    }

    async fn token_request(&self, body: &str) -> Result<Tokens, String> {
        let response = self
            .http
            .post(format!("{}/token", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .expect("the provider answers");
        let status = response.status();
        let reply: Value = response.json().await.expect("JSON");
        if !status.is_success() {
            return Err(format!("{status}: {reply}"));
        }
        let text = |name: &str| reply[name].as_str().map(str::to_owned);
        Ok(Tokens {
            access_token: text("access_token").expect("an access token"),
            refresh_token: text("refresh_token"),
            id_token: text("id_token"),
        })
    }

    async fn get(&self, jar: &mut CookieJar, url: &str) -> reqwest::Response {
        let response = self
            .http
            .get(url)
            .header("cookie", jar.header())
            .send()
            .await
            .expect("the provider answers");
        jar.take(&response);
        response
    }

    /// Follows redirects until one points at a URL starting with `until` (absolute, or a
    /// path on the provider).
    async fn follow(&self, jar: &mut CookieJar, mut url: String, until: &str) -> String {
        for _ in 0..10 {
            if url.starts_with(until) || url.starts_with(&format!("{}{until}", self.issuer)) {
                return url;
            }
            let response = self.get(jar, &url).await;
            url = self.location(&response);
        }
        panic!("no redirect to {until}")
    }

    fn location(&self, response: &reqwest::Response) -> String {
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("a redirect, got {}", response.status()));
        if location.starts_with('/') {
            format!("{}{location}", self.issuer)
        } else {
            location.to_owned()
        }
    }
}

/// The provider's cookies (interaction and session), sent back on every request.
#[derive(Default)]
struct CookieJar(BTreeMap<String, String>);

impl CookieJar {
    fn take(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let Ok(text) = value.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.0
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Percent-encodes a query or form value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
