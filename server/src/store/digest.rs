//! The e-mail digest's state per account: the choice, the sealed address, the one-click
//! unsubscribe token, and the schedule several nodes share.
//!
//! Exactly one node looks at an account at a time: [`DigestStore::lease_digest`] takes
//! it with one conditional update (due, and no other node's lease running), and only
//! the holder of that lease may write the outcome back. A node that dies holding a lease
//! loses nothing: once the lease has run out, another node takes the account over.

use async_trait::async_trait;

use super::StoreResult;
use crate::crypto::Sealed;
use crate::ids::{AccountId, Millis};
use crate::protocol::vocabulary::EmailDigest;

/// An account's digest choice as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestChoice {
    pub choice: EmailDigest,
    /// For [`EmailDigest::AfterHours`]: hours a message stays unread first (1–168).
    pub after_hours: u32,
}

/// A choice written by its account, with the address its token carries.
#[derive(Clone, Debug)]
pub struct DigestUpdate {
    pub account: AccountId,
    pub choice: DigestChoice,
    /// `None` while the digest is off, or when the token has no usable address.
    pub address: Option<Sealed>,
    /// Used only when the account has no row yet: an existing token never changes, so
    /// every digest already sent keeps a working unsubscribe link.
    pub unsubscribe_hash: [u8; 32],
    pub unsubscribe: Sealed,
    pub now: Millis,
}

/// An account one node holds until `lease_until`, to decide about and maybe e-mail.
#[derive(Clone, Debug)]
pub struct DigestLease {
    pub account: AccountId,
    pub choice: DigestChoice,
    pub address: Option<Sealed>,
    pub unsubscribe: Sealed,
    pub last_sent_at: Millis,
    pub lease_until: Millis,
}

/// What a node decided about a leased account, written back only if it still holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestRelease {
    pub next_due_at: Millis,
    pub last_sent_at: Millis,
}

/// Unread messages of one membership, for the digest: how many, and when the first
/// one that arrived after a given time arrived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnreadSince {
    pub messages: u64,
    pub first_after: Option<Millis>,
}

#[async_trait]
pub trait DigestStore {
    /// The account's choice, `None` when it never chose (the digest is off).
    async fn digest_choice(&self, account: &AccountId) -> StoreResult<Option<DigestChoice>>;
    /// Writes a choice (and the address that goes with it) and lets the account be
    /// looked at again at once; the schedule (last digest sent) is kept.
    async fn put_digest_choice(&self, update: DigestUpdate) -> StoreResult<()>;
    /// The stored address of an account whose digest is on: `None` when the digest is
    /// off or was never chosen, `Some(None)` when it is on without an address.
    async fn digest_address(&self, account: &AccountId) -> StoreResult<Option<Option<Sealed>>>;
    /// Replaces the address of an account whose digest is on (nothing otherwise).
    async fn set_digest_address(
        &self,
        account: &AccountId,
        address: Option<Sealed>,
    ) -> StoreResult<()>;
    /// The account whose unsubscribe token hashes to `hash`, with the stored hash.
    async fn digest_by_unsubscribe(
        &self,
        hash: &[u8; 32],
    ) -> StoreResult<Option<(AccountId, Vec<u8>)>>;
    /// Turns the account's digest off and forgets its address.
    async fn turn_digest_off(&self, account: &AccountId, now: Millis) -> StoreResult<()>;
    /// Up to `limit` accounts with the digest on and an address, due by `now` and held
    /// by no node, soonest due first.
    async fn due_digests(&self, now: Millis, limit: u32) -> StoreResult<Vec<AccountId>>;
    /// Takes a due account until `until` if no other node holds it (one conditional
    /// update); `None` when it is not due, off, or held.
    async fn lease_digest(
        &self,
        account: &AccountId,
        now: Millis,
        until: Millis,
    ) -> StoreResult<Option<DigestLease>>;
    /// Writes the outcome back and frees the account, if `lease` is still this node's;
    /// `false` when the lease ran out and another node may have taken the account.
    async fn release_digest(
        &self,
        lease: &DigestLease,
        release: DigestRelease,
    ) -> StoreResult<bool>;
    /// Unread messages of one membership (top level after its read marker, replies after
    /// each thread's marker; never its own, none before `visible_from`, none a `hidden`
    /// sender wrote since the block), with the first that arrived after `after`.
    async fn unread_since(
        &self,
        membership: &super::MemberRecord,
        hidden: &[super::HiddenSender],
        after: Millis,
    ) -> StoreResult<UnreadSince>;
}
