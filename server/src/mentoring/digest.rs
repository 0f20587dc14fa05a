//! The e-mail digest: an account's choice, the address kept from its token, one-click
//! unsubscribe, and [`DigestJob`], which every node runs to send the digests. The rules
//! (when, and what an e-mail may say) are in [`super::rules::digest`].
//!
//! Exactly once across nodes: a node leases an account in the store before it looks at
//! it (one conditional update; see [`crate::store::DigestStore`]) and writes the outcome
//! back only while it still holds the lease. A node that dies between lease and send
//! loses nothing: the lease runs out and another node sends. One that dies after the
//! mail server accepted the e-mail but before the outcome was written may cause a
//! second e-mail once the lease has run out (with the same `Message-ID`); that is the
//! only way one is sent twice.
//!
//! Like a push notification, a digest is held back while a device of the account is
//! connected and during the recipient's quiet hours (see [`super::rules::digest`]).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest as _, Sha256};
use tokio_util::sync::CancellationToken;

use super::rules::digest::{self as rules, Decision, Holds, Unread, Window};
use super::{MemberCtx, Mentoring};
use crate::auth::{EmailAddress, Principal};
use crate::bus::SharedState;
use crate::error::DomainResult;
use crate::ids::{AccountId, Millis, now_millis};
use crate::protocol::vocabulary::EmailDigest;
use crate::store::{DigestChoice, DigestLease, DigestRelease, DigestUpdate};

/// An account's digest choice, as `GET`/`PUT /api/me/email-digest` carry it.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailDigestSettings {
    /// `off` (the default: no e-mail), `daily` (at most one a day, about messages unread
    /// for an hour), or `after_hours` (once a message has been unread this many hours).
    pub email_digest: EmailDigest,
    /// Hours for `after_hours`, 1–168 (default 12).
    #[serde(default = "default_after_hours")]
    #[schemars(range(min = 1, max = rules::MAX_AFTER_HOURS))]
    pub email_after_hours: u32,
}

fn default_after_hours() -> u32 {
    rules::DEFAULT_AFTER_HOURS
}

impl From<DigestChoice> for EmailDigestSettings {
    fn from(choice: DigestChoice) -> Self {
        EmailDigestSettings {
            email_digest: choice.choice,
            email_after_hours: choice.after_hours,
        }
    }
}

/// What the sealed fields are bound to, so neither opens for another account or field.
#[derive(Clone, Copy, Debug)]
enum DigestField {
    Address,
    Unsubscribe,
}

impl DigestField {
    fn aad(self, account: &AccountId) -> Vec<u8> {
        let field: &[u8] = match self {
            DigestField::Address => b"mentorhub/email-address/v1/",
            DigestField::Unsubscribe => b"mentorhub/email-unsubscribe/v1/",
        };
        let mut aad = field.to_vec();
        aad.extend_from_slice(account.as_str().as_bytes());
        aad
    }
}

fn unsubscribe_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares without an early exit, so the time taken says nothing about where two
/// hashes differ.
fn same_hash(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Mentoring {
    /// The caller's digest choice (`off` if never chosen).
    pub async fn email_digest(&self, principal: &Principal) -> DomainResult<EmailDigestSettings> {
        let choice = self.store.digest_choice(&principal.account).await?;
        Ok(choice.unwrap_or(rules::DEFAULT_CHOICE).into())
    }

    /// Replaces the caller's digest choice. The address comes from the caller's token
    /// and is kept only while the digest is on.
    pub async fn put_email_digest(
        &self,
        principal: &Principal,
        settings: EmailDigestSettings,
    ) -> DomainResult<EmailDigestSettings> {
        let choice = rules::validate(DigestChoice {
            choice: settings.email_digest,
            after_hours: settings.email_after_hours,
        })?;
        self.remember(principal).await?;
        let account = &principal.account;
        let address = match choice.choice {
            EmailDigest::Off => None,
            EmailDigest::Daily | EmailDigest::AfterHours => principal
                .email
                .as_ref()
                .map(|a| self.seal_address(account, a)),
        };
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = URL_SAFE_NO_PAD.encode(raw);
        self.store
            .put_digest_choice(DigestUpdate {
                account: account.clone(),
                choice,
                address,
                unsubscribe_hash: unsubscribe_hash(&token),
                unsubscribe: self
                    .cipher
                    .seal(&DigestField::Unsubscribe.aad(account), token.as_bytes()),
                now: now_millis(),
            })
            .await?;
        Ok(choice.into())
    }

    /// Keeps the stored address of an account whose digest is on in step with its
    /// latest token (changed, or gone). Costs one read when the digest is on, and one
    /// primary-key miss otherwise.
    pub(crate) async fn refresh_digest_address(&self, principal: &Principal) -> DomainResult<()> {
        let account = &principal.account;
        let Some(stored) = self.store.digest_address(account).await? else {
            return Ok(());
        };
        let current = stored
            .and_then(|sealed| self.open_digest_field(account, DigestField::Address, &sealed));
        if current.as_deref() == principal.email.as_ref().map(EmailAddress::as_str) {
            return Ok(());
        }
        let address = principal
            .email
            .as_ref()
            .map(|a| self.seal_address(account, a));
        self.store.set_digest_address(account, address).await?;
        Ok(())
    }

    /// One-click unsubscribe: turns the digest of the account whose token this is off.
    /// `false` when no account has this token.
    pub async fn unsubscribe_email_digest(&self, token: &str) -> DomainResult<bool> {
        let hash = unsubscribe_hash(token.trim());
        let Some((account, stored)) = self.store.digest_by_unsubscribe(&hash).await? else {
            return Ok(false);
        };
        if !same_hash(&stored, &hash) {
            return Ok(false);
        }
        self.store.turn_digest_off(&account, now_millis()).await?;
        Ok(true)
    }

    fn seal_address(&self, account: &AccountId, address: &EmailAddress) -> crate::crypto::Sealed {
        self.cipher.seal(
            &DigestField::Address.aad(account),
            address.as_str().as_bytes(),
        )
    }

    fn open_digest_field(
        &self,
        account: &AccountId,
        field: DigestField,
        sealed: &crate::crypto::Sealed,
    ) -> Option<String> {
        match self.cipher.open(&field.aad(account), sealed) {
            Ok(plain) => String::from_utf8(plain).ok(),
            Err(_) => {
                tracing::error!(
                    key_id = sealed.key_id,
                    ?field,
                    "cannot decrypt a stored e-mail digest field"
                );
                None
            }
        }
    }

    /// The account's unread messages over its conversations, as it would see them
    /// (blocks applied, rooms it has not agreed to left out).
    async fn unread_everywhere(&self, account: &AccountId, after: Millis) -> DomainResult<Unread> {
        let memberships = self.store.memberships(account).await?;
        let blocks = self.store.block_edges(account, None).await?;
        let mut unread = Unread::default();
        for membership in &memberships {
            let ctx = MemberCtx::from_membership(membership).with_blocks(&blocks);
            if !ctx.can_read() {
                continue;
            }
            let here = self
                .store
                .unread_since(&membership.member, &ctx.hidden, after)
                .await?;
            if here.messages > 0 {
                unread.messages += here.messages;
                unread.conversations += 1;
            }
            unread.first_new_at = match (unread.first_new_at, here.first_after) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(unread)
    }
}

/// One digest e-mail, ready to send.
#[derive(Clone)]
pub struct OutgoingMail {
    pub to: EmailAddress,
    pub subject: String,
    pub body: String,
    /// For `List-Unsubscribe` (RFC 8058 one-click).
    pub unsubscribe_url: String,
    /// The same for every attempt at one digest, so a rare second attempt is
    /// recognisable as the same e-mail.
    pub message_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the e-mail address is not usable")]
    Address,
    /// Never carries the server's text: it may quote the address.
    #[error("the mail server did not accept the e-mail (permanent: {permanent})")]
    Refused { permanent: bool },
    #[error("the e-mail could not be built")]
    Build,
}

/// Where digests go out: SMTP in production ([`crate::adapters::smtp`]).
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError>;
}

/// How the job runs.
#[derive(Clone, Debug)]
pub struct DigestSettings {
    /// The app's public address, with a trailing `/`: the e-mail's link, and the base
    /// of the unsubscribe link.
    pub app_url: String,
    /// An hour (tests shorten it; every window is counted in these).
    pub hour: Duration,
    /// How long a node holds an account while deciding and sending; longer than the
    /// SMTP timeout, so a lease runs out only when its node is gone (tests shorten it).
    pub lease: Duration,
}
/// After the mail server failed, the account is tried again this much later.
const RETRY_AFTER: Duration = Duration::from_secs(300);
/// Accounts looked at per round.
const BATCH: u32 = 200;

/// Sends the digests that are due, on every node, each exactly once.
pub struct DigestJob {
    mentoring: Arc<Mentoring>,
    /// Who is connected, on any node.
    state: Arc<dyn SharedState>,
    mailer: Arc<dyn Mailer>,
    settings: DigestSettings,
}

impl DigestJob {
    pub fn new(
        mentoring: Arc<Mentoring>,
        state: Arc<dyn SharedState>,
        mailer: Arc<dyn Mailer>,
        settings: DigestSettings,
    ) -> Self {
        DigestJob {
            mentoring,
            state,
            mailer,
            settings,
        }
    }

    /// A round every minute (an hour's sixtieth, at least a second), until `stop`.
    pub fn spawn(self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let every = (self.settings.hour / 60).max(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = ticks.tick() => {}
                }
                if let Err(error) = self.round().await {
                    tracing::warn!(%error, "e-mail digest round failed");
                }
            }
        })
    }

    async fn round(&self) -> DomainResult<()> {
        let store = self.mentoring.store();
        for account in store.due_digests(now_millis(), BATCH).await? {
            if let Err(error) = self.one(&account).await {
                tracing::warn!(%error, "e-mail digest for one account failed");
            }
        }
        Ok(())
    }

    async fn one(&self, account: &AccountId) -> DomainResult<()> {
        let store = self.mentoring.store();
        let now = now_millis();
        let until = now.saturating_add(self.settings.lease.as_millis() as i64);
        let Some(lease) = store.lease_digest(account, now, until).await? else {
            return Ok(());
        };
        let release = self.decide_and_send(&lease, now).await;
        if !store.release_digest(&lease, release).await? {
            tracing::warn!("an e-mail digest lease ran out before its outcome was written");
        }
        Ok(())
    }

    /// Decides about a leased account and sends its digest if due: the schedule to
    /// write back. Whatever fails, the account is looked at again later.
    async fn decide_and_send(&self, lease: &DigestLease, now: Millis) -> DigestRelease {
        let later = |at: Millis| DigestRelease {
            next_due_at: at,
            last_sent_at: lease.last_sent_at,
        };
        let retry = later(now.saturating_add(RETRY_AFTER.as_millis() as i64));
        let Some(window) = Window::of(lease.choice, self.settings.hour) else {
            return retry;
        };
        let m = &self.mentoring;
        let address = lease
            .address
            .as_ref()
            .and_then(|sealed| m.open_digest_field(&lease.account, DigestField::Address, sealed))
            .and_then(|raw| EmailAddress::parse(&raw));
        let token =
            m.open_digest_field(&lease.account, DigestField::Unsubscribe, &lease.unsubscribe);
        let (Some(to), Some(token)) = (address, token) else {
            return retry;
        };
        let unread = match m
            .unread_everywhere(&lease.account, lease.last_sent_at)
            .await
        {
            Ok(unread) => unread,
            Err(error) => {
                tracing::warn!(%error, "reading unread counts for an e-mail digest failed");
                return retry;
            }
        };
        let preferences = match m.store().notification_preferences(&lease.account).await {
            Ok(preferences) => preferences.unwrap_or_default(),
            Err(error) => {
                tracing::warn!(%error, "reading notification preferences for an e-mail digest failed");
                return retry;
            }
        };
        let quiet = preferences
            .quiet_hours
            .as_ref()
            .and_then(|q| crate::notify::rules::Quiet::parse(q).ok());
        let connected = match crate::notify::connected(&*self.state, &lease.account).await {
            Ok(connected) => connected,
            // Unknown: look again soon rather than e-mail someone who may be here.
            Err(_) => return later(now.saturating_add(window.recheck)),
        };
        let holds = Holds {
            quiet: quiet.as_ref(),
            connected,
        };
        match rules::decide(window, lease.last_sent_at, &unread, now, holds) {
            Decision::WaitUntil(at) => later(at),
            Decision::Send => {
                let app = &self.settings.app_url;
                let unsubscribe_url = format!("{app}api/email/unsubscribe?token={token}");
                let text = rules::digest_text(&unread, lease.choice.choice, app, &unsubscribe_url);
                let mail = OutgoingMail {
                    to,
                    subject: text.subject,
                    body: text.body,
                    unsubscribe_url,
                    message_id: message_id(&lease.account, lease.last_sent_at),
                };
                // Tests look for this line to stop a node while it sends.
                tracing::debug!("sending an e-mail digest");
                match self.mailer.send(mail).await {
                    Ok(()) => {
                        tracing::info!(
                            messages = unread.messages,
                            conversations = unread.conversations,
                            "e-mail digest sent"
                        );
                        DigestRelease {
                            next_due_at: now.saturating_add(window.spacing.max(window.unread_for)),
                            last_sent_at: now,
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "e-mail digest not sent; trying again later");
                        retry
                    }
                }
            }
        }
    }
}

/// The local part of a digest's `Message-ID`: the same for every attempt at the digest
/// that follows `last_sent_at`, and naming nobody.
fn message_id(account: &AccountId, last_sent_at: Millis) -> String {
    let mut hash = Sha256::new();
    hash.update(b"mentorhub/digest-message-id/v1/");
    hash.update(account.as_str().as_bytes());
    hash.update(last_sent_at.to_be_bytes());
    let digest = hash.finalize();
    format!("digest.{}", URL_SAFE_NO_PAD.encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_compare_whole() {
        let a = unsubscribe_hash("token-a");
        assert!(same_hash(&a, &unsubscribe_hash("token-a")));
        assert!(!same_hash(&a, &unsubscribe_hash("token-b")));
        assert!(!same_hash(&a, &a[..31]));
    }

    #[test]
    fn message_ids_are_per_digest_and_name_nobody() {
        let account = AccountId::from_stored("idp:ada".into());
        let first = message_id(&account, 0);
        assert_eq!(first, message_id(&account, 0));
        assert_ne!(first, message_id(&account, 1));
        assert!(!first.contains("ada"));
    }

    #[test]
    fn settings_default_to_twelve_hours_and_refuse_unknown_fields() {
        let parsed: EmailDigestSettings =
            serde_json::from_str(r#"{"email_digest": "daily"}"#).unwrap();
        assert_eq!(parsed.email_after_hours, 12);
        assert!(
            serde_json::from_str::<EmailDigestSettings>(r#"{"email_digest": "weekly"}"#).is_err()
        );
        assert!(
            serde_json::from_str::<EmailDigestSettings>(r#"{"email_digest": "off", "x": 1}"#)
                .is_err()
        );
    }
}
