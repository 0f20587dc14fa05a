//! The server's VAPID key pair (RFC 8292): the private key signs every push request's
//! JWT; the public key is what a browser subscribes with (`applicationServerKey`).
//!
//! From `vapid_private_key_file` (a PEM P-256 key, SEC1 or PKCS#8, as `openssl ecparam
//! -genkey -name prime256v1` writes, or one base64url line of the raw 32-byte scalar),
//! else generated on first start into the data dir, owner-only. Several nodes must share
//! one key (point each at the same file): a subscription made with one node's public
//! key is refused by the push service when another key signs.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use web_push::{PartialVapidSignatureBuilder, VapidSignatureBuilder};

/// The generated key's file name in the data dir.
pub const KEY_FILE_NAME: &str = "vapid-private-key";

/// A loaded key pair. `Debug` shows the public half only.
#[derive(Clone)]
pub struct VapidKey {
    signer: PartialVapidSignatureBuilder,
    public_key: String,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("VAPID key file {path}: {reason}")]
pub struct VapidError {
    path: PathBuf,
    reason: String,
}

impl VapidKey {
    /// The key in `file`, or the data dir's (created on first start).
    pub fn load(file: Option<&Path>, data_dir: &Path) -> Result<VapidKey, VapidError> {
        match file {
            Some(path) => read(path),
            None => {
                let path = data_dir.join(KEY_FILE_NAME);
                if !path.exists() {
                    std::fs::create_dir_all(data_dir).map_err(|e| error(&path, e))?;
                    let line = format!("{}\n", generate());
                    crate::crypto::create_private_file(&path, line.as_bytes())
                        .map_err(|e| error(&path, e))?;
                }
                // Read back whether we or a concurrent start wrote it.
                read(&path)
            }
        }
    }

    /// Parses a key from its text: PEM, or one base64url line of the raw scalar.
    pub fn parse(text: &str) -> Result<VapidKey, String> {
        let text = text.trim();
        let signer = if text.starts_with("-----BEGIN") {
            VapidSignatureBuilder::from_pem_no_sub(text.as_bytes())
        } else {
            VapidSignatureBuilder::from_base64_no_sub(text)
        }
        .map_err(|_| "does not hold a P-256 private key (PEM or base64url)".to_owned())?;
        let public_key = URL_SAFE_NO_PAD.encode(signer.get_public_key());
        Ok(VapidKey { signer, public_key })
    }

    /// The uncompressed public point, base64url: `/api/info`'s `push.vapid_public_key`.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    pub(crate) fn signer(&self) -> PartialVapidSignatureBuilder {
        self.signer.clone()
    }
}

/// A fresh private scalar, base64url. A random 32-byte string is a valid P-256 scalar
/// unless it is zero or not below the group order (odds about 2^-32): drawn again then.
fn generate() -> String {
    loop {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let encoded = URL_SAFE_NO_PAD.encode(bytes);
        if VapidKey::parse(&encoded).is_ok() {
            return encoded;
        }
    }
}

fn read(path: &Path) -> Result<VapidKey, VapidError> {
    let mut file = std::fs::File::open(path).map_err(|e| error(path, e))?;
    let meta = file.metadata().map_err(|e| error(path, e))?;
    if meta.mode() & 0o077 != 0 {
        return Err(error(
            path,
            format!(
                "is accessible to group or others: run `chmod 600 {}`",
                path.display()
            ),
        ));
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(|e| error(path, e))?;
    VapidKey::parse(&text).map_err(|reason| error(path, reason))
}

fn error(path: &Path, reason: impl ToString) -> VapidError {
    VapidError {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_stored_once_and_read_back() {
        let dir = std::env::temp_dir().join(format!("vapid-{}", crate::ids::opaque_token()));
        let first = VapidKey::load(None, &dir).unwrap();
        let again = VapidKey::load(None, &dir).unwrap();
        assert_eq!(first.public_key(), again.public_key());
        // An uncompressed point: 65 bytes starting 0x04.
        let point = URL_SAFE_NO_PAD.decode(first.public_key()).unwrap();
        assert_eq!((point.len(), point[0]), (65, 4));
        let mode = std::fs::metadata(dir.join(KEY_FILE_NAME)).unwrap().mode();
        assert_eq!(mode & 0o077, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_pem_key_is_accepted_and_garbage_refused() {
        // `openssl ecparam -genkey -name prime256v1 -noout` (SEC1).
        let pem = "-----BEGIN EC PRIVATE KEY-----\n\
            MHcCAQEEIFoPL+1mLFLtw4lFJm6st26PQuvXJ7X/a75+H9aa/uruoAoGCCqGSM49\n\
            AwEHoUQDQgAEf6byhPwhD9tLS+JyYHJfIj7aIktKgseVn2e6KWnWEtp2PBUN1Ufg\n\
            xPNb5RFbtGZV6Clo/3iLi/gpJ+0TXi344w==\n\
            -----END EC PRIVATE KEY-----\n";
        assert!(VapidKey::parse(pem).is_ok());
        assert!(VapidKey::parse("not a key").is_err());
    }
}
