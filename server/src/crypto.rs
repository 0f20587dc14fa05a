//! Encryption of message bodies at rest (XChaCha20-Poly1305).
//!
//! Why: the database file (and its backups) must not reveal what mentees and mentors
//! said, even to someone who can read the disk. Bodies are sealed before they reach the
//! store and opened only for members.
//!
//! Keys carry a numeric id (≥ 1) so they can rotate: the key with the highest id seals
//! new bodies, every configured key opens old ones. To rotate, add a key with a higher id
//! and keep the old ones until no stored body uses them.
//!
//! Where keys come from:
//! - `MENTORHUB_ENCRYPTION_KEYS` (`ID:BASE64,ID:BASE64,…`, 32-byte keys), if set; the
//!   key file is then ignored (copy its line into the list to keep reading old bodies);
//! - otherwise the file `<data_dir>/message-keys`, created with mode 0600 on first start
//!   and reused. One `ID:BASE64` per line; blank lines and `#` comments are ignored. A
//!   file that group or others may read or write is refused, not silently used.
//!
//! The caller chooses the AAD (e.g. conversation id and sequence number) so a sealed body
//! cannot be moved to another message without failing authentication.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::config::EncryptionConfig;

/// Name of the key file inside the data directory.
pub const KEY_FILE_NAME: &str = "message-keys";
/// XChaCha20 nonce length: 192 bits, large enough to draw at random for every message.
pub const NONCE_LEN: usize = 24;
/// Key length in bytes.
pub const KEY_LEN: usize = 32;

/// Standard base64 alphabet; padding optional so `openssl rand -base64 32` output and
/// hand-trimmed values both work.
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One message key with its id. Debug never shows the key bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageKey {
    id: u32,
    bytes: [u8; KEY_LEN],
}

impl MessageKey {
    /// `None` for id 0 (ids start at 1 so that "no key" is never a valid id).
    pub fn new(id: u32, bytes: [u8; KEY_LEN]) -> Option<Self> {
        (id >= 1).then_some(Self { id, bytes })
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// Parses `ID:BASE64`. The error never contains key material.
    pub fn parse(entry: &str) -> Result<Self, &'static str> {
        let (id, key) = entry
            .trim()
            .split_once(':')
            .ok_or("must look like ID:BASE64KEY")?;
        let id: u32 = id
            .trim()
            .parse()
            .map_err(|_| "key id must be a whole number ≥ 1")?;
        let raw = B64
            .decode(key.trim())
            .map_err(|_| "key is not valid base64")?;
        let bytes: [u8; KEY_LEN] = raw
            .try_into()
            .map_err(|_| "key must be exactly 32 bytes (e.g. `openssl rand -base64 32`)")?;
        Self::new(id, bytes).ok_or("key id must be a whole number ≥ 1")
    }

    fn random(id: u32) -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut bytes);
        Self { id, bytes }
    }

    fn encode(&self) -> String {
        format!("{}:{}", self.id, B64.encode(self.bytes))
    }
}

impl fmt::Debug for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageKey {{ id: {}, key: <redacted> }}", self.id)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "no message key with id {0} is configured (the body was sealed with a key since removed)"
    )]
    UnknownKey(u32),
    #[error("message body failed authentication (wrong key, wrong context or tampered)")]
    Decrypt,
    #[error("sealed message body is malformed")]
    Malformed,
    #[error("message key file {}: {reason}", path.display())]
    KeyFile { path: PathBuf, reason: String },
    #[error("message key file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A sealed message body, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: u32,
    /// [`NONCE_LEN`] bytes.
    pub nonce: Vec<u8>,
    /// Ciphertext followed by the 16-byte Poly1305 tag.
    pub ciphertext: Vec<u8>,
}

impl Sealed {
    /// One blob for stores that prefer a single column: key id (4 bytes, big endian),
    /// nonce (24 bytes), ciphertext.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.nonce.len() + self.ciphertext.len());
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Inverse of [`Sealed::to_bytes`].
    pub fn from_bytes(blob: &[u8]) -> Result<Sealed, CryptoError> {
        if blob.len() < 4 + NONCE_LEN {
            return Err(CryptoError::Malformed);
        }
        let (id, rest) = blob.split_at(4);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let key_id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
        Ok(Sealed {
            key_id,
            nonce: nonce.to_vec(),
            ciphertext: ciphertext.to_vec(),
        })
    }
}

/// Seals and opens message bodies. Cheap to clone (shared keyring).
#[derive(Clone)]
pub struct BodyCipher {
    inner: Arc<Keyring>,
}

struct Keyring {
    current: u32,
    ciphers: BTreeMap<u32, XChaCha20Poly1305>,
}

impl fmt::Debug for BodyCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyCipher")
            .field("current_key_id", &self.inner.current)
            .field("key_ids", &self.inner.ciphers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl BodyCipher {
    /// Keys from configuration if any, else the data dir's key file (created on first
    /// start). Creates `data_dir` (mode 0700) if it does not exist.
    pub fn load(cfg: &EncryptionConfig, data_dir: &Path) -> Result<BodyCipher, CryptoError> {
        if !cfg.keys.is_empty() {
            return Ok(Self::from_message_keys(&cfg.keys));
        }
        let path = data_dir.join(KEY_FILE_NAME);
        let keys = load_or_create_key_file(data_dir, &path)?;
        Ok(Self::from_message_keys(&keys))
    }

    /// For tests and tools. Panics on an empty list: there must be a key to seal with.
    pub fn from_keys(keys: Vec<(u32, [u8; KEY_LEN])>) -> Self {
        assert!(!keys.is_empty(), "BodyCipher needs at least one key");
        let ciphers: BTreeMap<u32, XChaCha20Poly1305> = keys
            .into_iter()
            .map(|(id, key)| (id, XChaCha20Poly1305::new(Key::from_slice(&key))))
            .collect();
        let current = ciphers.keys().next_back().copied().unwrap_or_default();
        Self {
            inner: Arc::new(Keyring { current, ciphers }),
        }
    }

    fn from_message_keys(keys: &[MessageKey]) -> Self {
        Self::from_keys(keys.iter().map(|k| (k.id, k.bytes)).collect())
    }

    /// The id new bodies are sealed with.
    pub fn current_key_id(&self) -> u32 {
        self.inner.current
    }

    /// Seals with the highest key id and a fresh random nonce.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Sealed {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let keyring = &self.inner;
        let cipher = &keyring.ciphers[&keyring.current];
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            // Encryption only fails for messages beyond ~256 GiB; frames are capped far below.
            .expect("XChaCha20-Poly1305 encrypts any message below 256 GiB");
        Sealed {
            key_id: keyring.current,
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    /// Opens a body sealed with any configured key and the same AAD.
    pub fn open(&self, aad: &[u8], sealed: &Sealed) -> Result<Vec<u8>, CryptoError> {
        if sealed.nonce.len() != NONCE_LEN {
            return Err(CryptoError::Malformed);
        }
        let cipher = self
            .inner
            .ciphers
            .get(&sealed.key_id)
            .ok_or(CryptoError::UnknownKey(sealed.key_id))?;
        cipher
            .decrypt(
                XNonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Decrypt)
    }
}

fn key_file_error(path: &Path, reason: impl Into<String>) -> CryptoError {
    CryptoError::KeyFile {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CryptoError + '_ {
    move |source| CryptoError::Io {
        path: path.to_owned(),
        source,
    }
}

fn load_or_create_key_file(data_dir: &Path, path: &Path) -> Result<Vec<MessageKey>, CryptoError> {
    match fs::File::open(path) {
        Ok(file) => return read_key_file(path, file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(path)(e)),
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .map_err(io_error(data_dir))?;
    create_key_file(path)?;
    // Read back through the same checks, whether we or a concurrent start created it.
    let file = fs::File::open(path).map_err(io_error(path))?;
    read_key_file(path, file)
}

fn read_key_file(path: &Path, mut file: fs::File) -> Result<Vec<MessageKey>, CryptoError> {
    let meta = file.metadata().map_err(io_error(path))?;
    if !meta.is_file() {
        return Err(key_file_error(path, "is not a regular file"));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(key_file_error(
            path,
            format!(
                "is accessible to group or others (mode {mode:04o}); \
                 it holds the keys to every message body: run `chmod 600 {}`",
                path.display()
            ),
        ));
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io_error(path))?;
    let mut keys: Vec<MessageKey> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = MessageKey::parse(line)
            .map_err(|reason| key_file_error(path, format!("line {}: {reason}", index + 1)))?;
        if keys.iter().any(|k| k.id == key.id) {
            return Err(key_file_error(
                path,
                format!("line {}: key id {} appears twice", index + 1, key.id),
            ));
        }
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(key_file_error(path, "holds no keys"));
    }
    Ok(keys)
}

/// Writes a fresh key to a temporary file and hard-links it into place, so the key file
/// either does not exist or is complete, and two nodes starting at once on the same
/// data dir agree on one key (the loser of the race reads the winner's file).
fn create_key_file(path: &Path) -> Result<(), CryptoError> {
    let key = MessageKey::random(1);
    let contents = format!(
        "# Mentorhub message-body keys, one ID:BASE64 per line.\n\
         # The highest id seals new messages; keep old lines to read old messages.\n\
         {}\n",
        key.encode()
    );
    create_private_file(path, contents.as_bytes()).map_err(io_error(path))
}

/// Creates `path` holding `contents`, readable by the owner only, unless it exists: written
/// to a temporary file and hard-linked into place, so the file is complete or absent and
/// of two processes creating it at once, one wins and the other finds the winner's
/// file (`Ok` for both).
pub(crate) fn create_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!("{name}.tmp-{}", crate::ids::opaque_token()));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            // Make the new directory entry durable too; best effort (not every FS allows it).
            if let Some(dir) = path.parent()
                && let Ok(dir) = fs::File::open(dir)
            {
                let _ = dir.sync_all();
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "mentorhub-crypto-{tag}-{}",
            crate::ids::opaque_token()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn cipher() -> BodyCipher {
        BodyCipher::from_keys(vec![(1, [7u8; 32])])
    }

    #[test]
    fn roundtrip() {
        let c = cipher();
        let sealed = c.seal(b"c_abc:1", b"hello mentor");
        assert_eq!(sealed.key_id, 1);
        assert_eq!(sealed.nonce.len(), NONCE_LEN);
        assert_eq!(c.open(b"c_abc:1", &sealed).unwrap(), b"hello mentor");
    }

    #[test]
    fn nonces_are_fresh() {
        let c = cipher();
        let a = c.seal(b"", b"same");
        let b = c.seal(b"", b"same");
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn wrong_aad_fails() {
        let c = cipher();
        let sealed = c.seal(b"c_abc:1", b"hello");
        assert!(matches!(
            c.open(b"c_abc:2", &sealed),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn tampered_ciphertext_fails() {
        let c = cipher();
        let mut sealed = c.seal(b"a", b"hello");
        sealed.ciphertext[0] ^= 1;
        assert!(matches!(c.open(b"a", &sealed), Err(CryptoError::Decrypt)));
        sealed.nonce.pop();
        assert!(matches!(c.open(b"a", &sealed), Err(CryptoError::Malformed)));
    }

    #[test]
    fn rotation_keeps_old_bodies_readable() {
        let old = BodyCipher::from_keys(vec![(1, [1u8; 32])]);
        let sealed_old = old.seal(b"x", b"before rotation");
        let rotated = BodyCipher::from_keys(vec![(2, [2u8; 32]), (1, [1u8; 32])]);
        assert_eq!(rotated.current_key_id(), 2);
        let sealed_new = rotated.seal(b"x", b"after rotation");
        assert_eq!(sealed_new.key_id, 2);
        assert_eq!(rotated.open(b"x", &sealed_old).unwrap(), b"before rotation");
        assert_eq!(rotated.open(b"x", &sealed_new).unwrap(), b"after rotation");
        assert!(matches!(
            old.open(b"x", &sealed_new),
            Err(CryptoError::UnknownKey(2))
        ));
    }

    #[test]
    fn ciphertext_does_not_contain_plaintext() {
        let c = cipher();
        let plaintext = b"CANARY-burnout-and-fear-of-assessment";
        let blob = c.seal(b"", plaintext).to_bytes();
        assert!(!blob.windows(plaintext.len()).any(|w| w == plaintext));
        assert!(!blob.windows(6).any(|w| w == b"CANARY"));
    }

    #[test]
    fn blob_roundtrip() {
        let c = cipher();
        let sealed = c.seal(b"aad", b"body");
        let back = Sealed::from_bytes(&sealed.to_bytes()).unwrap();
        assert_eq!(back, sealed);
        assert_eq!(c.open(b"aad", &back).unwrap(), b"body");
        assert!(matches!(
            Sealed::from_bytes(&[0u8; 10]),
            Err(CryptoError::Malformed)
        ));
    }

    #[test]
    fn key_file_created_0600_and_reused() {
        let dir = temp_dir("file");
        let data_dir = dir.join("data");
        let cfg = EncryptionConfig::default();
        let first = BodyCipher::load(&cfg, &data_dir).unwrap();
        let path = data_dir.join(KEY_FILE_NAME);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let contents = fs::read_to_string(&path).unwrap();
        let sealed = first.seal(b"aad", b"kept across restarts");

        let second = BodyCipher::load(&cfg, &data_dir).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), contents);
        assert_eq!(
            second.open(b"aad", &sealed).unwrap(),
            b"kept across restarts"
        );
        // No temporary files left behind.
        assert_eq!(fs::read_dir(&data_dir).unwrap().count(), 1);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn key_file_readable_by_others_is_refused() {
        let dir = temp_dir("perm");
        let cfg = EncryptionConfig::default();
        BodyCipher::load(&cfg, &dir).unwrap();
        let path = dir.join(KEY_FILE_NAME);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = BodyCipher::load(&cfg, &dir).unwrap_err();
        assert!(matches!(err, CryptoError::KeyFile { .. }), "{err}");
        assert!(err.to_string().contains("chmod 600"), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn key_file_with_rotation_and_bad_lines() {
        let dir = temp_dir("lines");
        let path = dir.join(KEY_FILE_NAME);
        let k1 = MessageKey::new(1, [1u8; 32]).unwrap().encode();
        let k3 = MessageKey::new(3, [3u8; 32]).unwrap().encode();
        let write = |text: &str| {
            fs::write(&path, text).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        };
        write(&format!("# comment\n{k1}\n\n{k3}\n"));
        let c = BodyCipher::load(&EncryptionConfig::default(), &dir).unwrap();
        assert_eq!(c.current_key_id(), 3);

        write(&format!("{k1}\n1:not-base64!!\n"));
        let err = BodyCipher::load(&EncryptionConfig::default(), &dir).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(
            !err.to_string().contains(&k1[2..]),
            "no key material in errors"
        );

        write(&format!("{k1}\n{k1}\n"));
        let err = BodyCipher::load(&EncryptionConfig::default(), &dir).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn configured_keys_win_over_the_file() {
        let dir = temp_dir("cfg");
        let cfg = EncryptionConfig {
            keys: vec![MessageKey::new(5, [5u8; 32]).unwrap()],
        };
        let c = BodyCipher::load(&cfg, &dir).unwrap();
        assert_eq!(c.current_key_id(), 5);
        assert!(!dir.join(KEY_FILE_NAME).exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn key_entry_parsing() {
        let good = MessageKey::new(2, [9u8; 32]).unwrap().encode();
        assert_eq!(MessageKey::parse(&good).unwrap().id(), 2);
        let unpadded = good.trim_end_matches('=');
        assert_eq!(MessageKey::parse(unpadded).unwrap().bytes(), &[9u8; 32]);
        assert!(MessageKey::parse("0:AAAA").is_err());
        assert!(MessageKey::parse("x:AAAA").is_err());
        assert!(MessageKey::parse("1:AAAA").is_err());
        assert!(MessageKey::parse("no-colon").is_err());
        let debug = format!("{:?}", MessageKey::parse(&good).unwrap());
        assert!(!debug.contains(&good[2..12]), "{debug}");
    }
}
