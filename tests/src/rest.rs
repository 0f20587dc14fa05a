//! The HTTP API as a test sees it: every call returns the status and the JSON body, and
//! [`Reply::ok`] turns a non-2xx into a panic that shows the body. Every response is
//! checked against the OpenAPI document ([`crate::contract`]).

use std::time::Duration;

use mentorhub::auth::{Minter, Role};
use mentorhub::ids::AccountId;
use serde_json::{Value, json};

use crate::scenario::Person;

/// A status and a JSON body (`Null` when the body was empty or not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The body of a 2xx reply; panics with the reply otherwise.
    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "expected success, got {} {}",
            self.status,
            self.body
        );
        self.body
    }

    /// The stable error code of a refused request (`{"error": {"code": …}}`).
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// How [`Rest::login`] obtains tokens.
#[derive(Clone)]
enum SignIn {
    /// `POST /api/dev/login` (a server started with `--dev`).
    Dev,
    /// Tokens minted with the deployment's HS256 secret, as an identity provider would.
    Mint(Minter),
}

/// A client for one server's HTTP API.
#[derive(Clone)]
pub struct Rest {
    pub base_url: String,
    http: reqwest::Client,
    sign_in: SignIn,
}

impl Rest {
    /// For a `--dev` server: people sign in through the dev login.
    pub fn dev(base_url: &str) -> Rest {
        Self::with(base_url, SignIn::Dev)
    }

    /// For a server configured with `secret`: people's tokens are minted locally.
    pub fn minting(base_url: &str, secret: &[u8]) -> Rest {
        Self::with(base_url, SignIn::Mint(Minter::new(secret, None, None)))
    }

    fn with(base_url: &str, sign_in: SignIn) -> Rest {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        Rest {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http,
            sign_in,
        }
    }

    /// Signs in as `name` with `role` (the same name gives the same account) and makes
    /// the account known to the server with `GET /api/me`.
    pub async fn login(&self, name: &str, role: &str) -> Person {
        let (token, account) = match &self.sign_in {
            SignIn::Dev => {
                let body = self
                    .post("/api/dev/login", None, &json!({"name": name, "role": role}))
                    .await
                    .ok();
                (text(&body["token"]), text(&body["account"]))
            }
            SignIn::Mint(minter) => {
                let slug: String = name
                    .to_lowercase()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                let account = format!("idp:{slug}");
                let role: Role = role.parse().expect("a role");
                let id = AccountId::parse(&account).expect("a valid account id");
                let token = minter.mint(&id, name, &[role], Duration::from_secs(3600));
                (token, account)
            }
        };
        self.get("/api/me", Some(&token)).await.ok();
        Person {
            account,
            name: name.to_owned(),
            token,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("GET", path, self.http.get(self.url(path)), token)
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("DELETE", path, self.http.delete(self.url(path)), token)
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send(
            "POST",
            path,
            self.http.post(self.url(path)).json(body),
            token,
        )
        .await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send("PUT", path, self.http.put(self.url(path)).json(body), token)
            .await
    }

    /// A request with a raw body (malformed JSON, wrong content type, oversized).
    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let request = self
            .http
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        self.send("POST", path, request, token).await
    }

    /// Status and raw text (for `/readyz`, `/metrics`, the web client).
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        match self.http.get(self.url(path)).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.text().await.unwrap_or_default())
            }
            Err(_) => (0, String::new()),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        request: reqwest::RequestBuilder,
        token: Option<&str>,
    ) -> Reply {
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.expect("the server answers HTTP");
        let status = response.status().as_u16();
        let json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/json"));
        let bytes = response.bytes().await.expect("a response body");
        let parsed: Option<Value> = json.then(|| serde_json::from_slice(&bytes).ok()).flatten();
        crate::contract::check_response(method, path, status, parsed.as_ref());
        Reply {
            status,
            body: parsed.unwrap_or(Value::Null),
        }
    }
}

/// A JSON string field, owned; panics when it is missing.
#[track_caller]
pub fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
        .to_owned()
}
