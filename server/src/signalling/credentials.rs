//! Ephemeral TURN credentials in the TURN REST API scheme (the one coturn's
//! `use-auth-secret` / `static-auth-secret` accepts, draft-uberti-behave-turn-rest):
//!
//! - username   = `<expiry unix seconds>:<opaque id>`
//! - credential = base64(HMAC-SHA1(shared secret, username))
//!
//! The opaque id is an HMAC of the account id under the same secret: stable per
//! account (so the embedded server can cap allocations per user without any shared
//! state between nodes) and meaningless to anyone without the secret. No name, pseudonym
//! or account id appears in it.
//!
//! The shared secret comes from `turn_secret`, or else from `<data_dir>/turn-secret`
//! (created with mode 0600 on first start: 64 hex characters, usable as coturn's
//! `static-auth-secret` as is).

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;
use sha2::Sha256;

use crate::config::Secret;
use crate::ids::AccountId;

pub const SECRET_FILE_NAME: &str = "turn-secret";
const MIN_SECRET_BYTES: usize = 16;

/// One issued set of credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub username: String,
    pub credential: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Issues and checks TURN REST credentials.
#[derive(Clone)]
pub struct TurnCredentials {
    secret: Secret,
    ttl: Duration,
}

impl TurnCredentials {
    pub fn new(secret: Secret, ttl: Duration) -> Self {
        TurnCredentials { secret, ttl }
    }

    /// Fresh credentials for `account`, valid for the configured lifetime from `now`.
    pub fn issue(&self, account: &AccountId, now_secs: i64) -> Issued {
        let expires_at = now_secs + self.ttl.as_secs() as i64;
        let username = format!("{expires_at}:{}", self.opaque_id(account));
        let credential = self.password(&username);
        Issued {
            username,
            credential,
            expires_at,
        }
    }

    /// The password for `username` if it has the scheme's shape and has not expired.
    pub fn password_if_valid(&self, username: &str, now_secs: i64) -> Option<String> {
        let (expiry, opaque) = username.split_once(':')?;
        let expiry: i64 = expiry.parse().ok()?;
        if expiry < now_secs || opaque.is_empty() {
            return None;
        }
        Some(self.password(username))
    }

    /// The password for a username of the scheme's shape, expired or not (an allocation
    /// made before expiry is refreshed with it).
    pub fn password_of(&self, username: &str) -> Option<String> {
        let (expiry, opaque) = username.split_once(':')?;
        expiry.parse::<i64>().ok()?;
        (!opaque.is_empty()).then(|| self.password(username))
    }

    /// The per-user part of a username (what allocation quotas count by).
    pub fn user_of(username: &str) -> &str {
        username.split_once(':').map_or(username, |(_, user)| user)
    }

    fn password(&self, username: &str) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(self.secret.expose())
            .expect("HMAC takes keys of any length");
        mac.update(username.as_bytes());
        BASE64.encode(mac.finalize().into_bytes())
    }

    fn opaque_id(&self, account: &AccountId) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose())
            .expect("HMAC takes keys of any length");
        mac.update(b"mentorhub/turn-user/v1\0");
        mac.update(account.as_str().as_bytes());
        hex(&mac.finalize().into_bytes()[..10])
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}

fn file_error(path: &Path, reason: impl ToString) -> SecretError {
    SecretError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// The configured secret, or the data dir's secret file (created on first start).
pub fn load_secret(configured: Option<&Secret>, data_dir: &Path) -> Result<Secret, SecretError> {
    if let Some(secret) = configured {
        return Ok(secret.clone());
    }
    let path = data_dir.join(SECRET_FILE_NAME);
    match fs::File::open(&path) {
        Ok(file) => return read_secret_file(&path, file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(file_error(&path, e)),
    }
    fs::create_dir_all(data_dir).map_err(|e| file_error(data_dir, e))?;
    create_secret_file(&path)?;
    let file = fs::File::open(&path).map_err(|e| file_error(&path, e))?;
    read_secret_file(&path, file)
}

fn read_secret_file(path: &Path, mut file: fs::File) -> Result<Secret, SecretError> {
    let meta = file.metadata().map_err(|e| file_error(path, e))?;
    if meta.mode() & 0o077 != 0 {
        return Err(file_error(
            path,
            format!(
                "is accessible to group or others; it lets anyone relay through your \
                 TURN server: run `chmod 600 {}`",
                path.display()
            ),
        ));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| file_error(path, e))?;
    let secret = text.trim();
    if secret.len() < MIN_SECRET_BYTES {
        return Err(file_error(
            path,
            format!("must hold a secret of at least {MIN_SECRET_BYTES} bytes"),
        ));
    }
    Ok(Secret::new(secret.as_bytes().to_vec()))
}

/// A fresh secret, created so two nodes starting at once on one data dir agree on one.
fn create_secret_file(path: &Path) -> Result<(), SecretError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let contents = format!("{}\n", hex(&bytes));
    crate::crypto::create_private_file(path, contents.as_bytes()).map_err(|e| file_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn credentials() -> TurnCredentials {
        TurnCredentials::new(
            Secret::new(b"north-wind-secret".to_vec()),
            Duration::from_secs(600),
        )
    }

    #[test]
    fn issues_rest_api_credentials() {
        let account = AccountId::parse("alice@example.org").unwrap();
        let issued = credentials().issue(&account, 1_000);
        assert_eq!(issued.expires_at, 1_600);
        let (expiry, opaque) = issued.username.split_once(':').unwrap();
        assert_eq!(expiry, "1600");
        assert_eq!(opaque.len(), 20);
        assert!(!issued.username.contains("alice"));
        // The credential is exactly what coturn computes: base64(HMAC-SHA1(secret, username)).
        let mut mac = Hmac::<Sha1>::new_from_slice(b"north-wind-secret").unwrap();
        mac.update(issued.username.as_bytes());
        assert_eq!(
            issued.credential,
            BASE64.encode(mac.finalize().into_bytes())
        );
        assert_eq!(
            credentials().password_if_valid(&issued.username, 1_000),
            Some(issued.credential.clone())
        );
    }

    #[test]
    fn opaque_id_is_stable_per_account_and_differs_between_accounts() {
        let a = AccountId::parse("a").unwrap();
        let b = AccountId::parse("b").unwrap();
        let c = credentials();
        let user =
            |account, now| TurnCredentials::user_of(&c.issue(account, now).username).to_owned();
        assert_eq!(user(&a, 1), user(&a, 500));
        assert_ne!(user(&a, 1), user(&b, 1));
    }

    #[test]
    fn refuses_expired_and_malformed_usernames() {
        let c = credentials();
        assert_eq!(c.password_if_valid("999:abc", 1_000), None);
        assert_eq!(c.password_if_valid("abc", 1_000), None);
        assert_eq!(c.password_if_valid("x:abc", 1_000), None);
        assert_eq!(c.password_if_valid("2000:", 1_000), None);
        assert!(c.password_if_valid("2000:abc", 1_000).is_some());
    }

    #[test]
    fn secret_file_created_0600_and_reused() {
        let dir = std::env::temp_dir().join(format!("mh-turn-{}", crate::ids::opaque_token()));
        let first = load_secret(None, &dir).unwrap();
        let path = dir.join(SECRET_FILE_NAME);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(first.expose().len(), 64);
        assert_eq!(load_secret(None, &dir).unwrap(), first);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_secret(None, &dir).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
