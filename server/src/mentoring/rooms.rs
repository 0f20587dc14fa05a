//! Group and peer mentoring rooms: creation, invitations (by account or single-use
//! code) and joining.
//!
//! A mentor or coordinator creates a room (`group`, facilitated, or `peer`) and becomes
//! its facilitator. Every room has a confidentiality agreement; a member who joined but
//! has not accepted it sees only the room's title and agreement and receives nothing
//! said inside (see `membership.rs`). By default a new member does not see what was
//! said before they joined (`history_visible: false`).

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::auth::{Principal, Role};
use crate::error::{DomainResult, Refusal};
use crate::ids::{AccountId, ConversationId, MemberId, Millis, now_millis, opaque_token};
use crate::protocol::mentoring::{InvitationView, InviteCodeView};
use crate::protocol::server::{ConversationSummary, SystemEvent};
use crate::protocol::system::SystemKind;
use crate::protocol::vocabulary::{CallRouting, ConversationKind, MemberRole, RoomKind};
use crate::protocol::{ErrorCode, EventFrame, ServerFrame};
use crate::store::{
    InvitationRecord, JoinRoom, JoinTicket, Membership, NewInvite, NewRoom, RoomCallsChange,
    WriteError,
};

use super::contact::{Channel, Contact};
use super::room_texts::RoomText;
use super::rules::membership::join;
use super::rules::{caps, invitation, room};
use super::{MemberCtx, Mentoring};

/// The agreement a room gets when its creator writes none.
pub const DEFAULT_AGREEMENT: &str = "What is said in this room stays in this room. I will \
not share, copy or repeat what other members say, or who they are, outside it.";
/// How long a single-use invite code stays valid.
pub const INVITE_CODE_TTL_MS: Millis = 7 * 24 * 3600 * 1000;
const MAX_TITLE: usize = 100;
const MAX_AGREEMENT: usize = 4_000;
const MAX_MEMBER_LIMIT: u32 = 1_000;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomRequest {
    pub title: String,
    /// `group` (facilitated, the default) or `peer`.
    #[serde(default)]
    #[schemars(with = "Option<RoomKind>")]
    pub kind: Option<String>,
    /// The confidentiality agreement every member accepts before seeing anything.
    #[serde(default)]
    pub agreement: Option<String>,
    #[serde(default)]
    #[schemars(range(min = 2, max = MAX_MEMBER_LIMIT))]
    pub member_limit: Option<u32>,
    /// Whether new members may read what was said before they joined (default: no).
    #[serde(default)]
    pub history_visible: bool,
    /// The creator's name in the room (default: their own name).
    #[serde(default)]
    pub display_name: Option<String>,
    /// How the room's calls carry media (default `auto`).
    #[serde(default)]
    pub calls: Option<CallRouting>,
}

/// What a facilitator may change about a room after creating it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomSettingsRequest {
    /// `auto` (a mesh until the call outgrows it) or `sfu` (through the SFU from the
    /// start); honoured by servers with an SFU, from the room's next call on.
    pub calls: CallRouting,
}

/// Whom a facilitator invites: an account by id, or a person they know as a member of
/// another conversation they read (`conversation` + `member`: their mentee, a member of
/// another room), so a pseudonymous person can be invited without anyone learning who
/// they are.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub conversation: Option<String>,
    #[serde(default)]
    pub member: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// A single-use invite code …
    #[serde(default)]
    pub code: Option<String>,
    /// … or the room of a pending invitation.
    #[serde(default)]
    pub room: Option<String>,
    /// Appear in this room under this name (default: the default pseudonym, else the
    /// account's name).
    #[serde(default)]
    pub pseudonym: Option<String>,
}

pub(crate) fn code_hash(code: &str) -> String {
    let digest = Sha256::digest(code.trim().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn invitation_view(mentoring: &Mentoring, record: &InvitationRecord) -> InvitationView {
    let room = &record.conversation;
    InvitationView {
        room: room.id.clone(),
        title: mentoring.open_room_text(&room.id, RoomText::Title, room.title.as_ref()),
        room_kind: room.room_kind,
        agreement: mentoring.open_room_text(&room.id, RoomText::Agreement, room.agreement.as_ref()),
        history_visible: record.conversation.history_visible,
        invited_at: record.created_at,
    }
}

fn bounded(text: &str, max: usize, what: &str) -> DomainResult<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max {
        return Err(Refusal::invalid(format!("{what} is 1–{max} characters")));
    }
    Ok(text.to_owned())
}

// Room joins read no blocks: the policy leaves a room both join whole.
const _: () = assert!(super::contact::never_silenced(Channel::RoomJoin));

impl Mentoring {
    /// A mentor or coordinator creates a room and becomes its facilitator.
    pub async fn create_room(
        &self,
        principal: &Principal,
        request: &RoomRequest,
    ) -> DomainResult<ConversationSummary> {
        if !principal.has(Role::Mentor) && !principal.has(Role::Coordinator) {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "only mentors and coordinators create rooms",
            ));
        }
        let account = self.remember(principal).await?;
        let title = bounded(&request.title, MAX_TITLE, "a room's title")?;
        let room_kind = match request.kind.as_deref() {
            None => RoomKind::Group,
            Some(raw) => RoomKind::parse(raw)
                .ok_or_else(|| Refusal::invalid("a room's kind is `group` or `peer`"))?,
        };
        let agreement = match &request.agreement {
            Some(text) => bounded(text, MAX_AGREEMENT, "the agreement")?,
            None => DEFAULT_AGREEMENT.to_owned(),
        };
        let member_limit = request
            .member_limit
            .unwrap_or(self.limits.room_member_limit);
        if !(2..=MAX_MEMBER_LIMIT).contains(&member_limit) {
            return Err(Refusal::invalid(format!(
                "member_limit is 2–{MAX_MEMBER_LIMIT}"
            )));
        }
        let (name, pseudonymous) = match &request.display_name {
            Some(name) => {
                let name = self.check_display_name(name)?;
                let differs = name != account.name;
                (name, differs)
            }
            None => (account.name.clone(), false),
        };
        let id = ConversationId::random();
        let creator_member = MemberId::random();
        self.store
            .create_room(
                NewRoom {
                    id: id.clone(),
                    title: self.seal_room_text(&id, RoomText::Title, &title),
                    room_kind,
                    agreement: self.seal_room_text(&id, RoomText::Agreement, &agreement),
                    member_limit,
                    history_visible: request.history_visible,
                    calls: request.calls.unwrap_or(CallRouting::Auto),
                    creator: principal.account.clone(),
                    event: SystemKind::RoomCreated {
                        member: creator_member.clone(),
                    }
                    .to_meta(),
                    creator_member,
                    creator_name: name,
                    creator_pseudonymous: pseudonymous,
                    now: now_millis(),
                },
                &|open| caps::one_more(open, self.limits.max_rooms_per_account),
            )
            .await
            .map_err(|e| match e {
                WriteError::LimitReached => Refusal::limit_reached(format!(
                    "you already have {} open rooms; close one first",
                    self.limits.max_rooms_per_account
                )),
                other => other.into(),
            })?;
        self.refresh_member(&principal.account, &id).await
    }

    /// The caller's standing in a room where they facilitate. Not a member: `not_found`;
    /// a member who does not facilitate: `forbidden`.
    pub(super) async fn facilitator_ctx(
        &self,
        principal: &Principal,
        raw: &str,
    ) -> DomainResult<MemberCtx> {
        let ctx = self.member_ctx(&principal.account, raw).await?;
        if ctx.kind != ConversationKind::Room {
            return Err(Refusal::not_found());
        }
        if ctx.role != MemberRole::Facilitator || !ctx.agreed {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "only the room's facilitator can do this",
            ));
        }
        Ok(ctx)
    }

    /// A facilitator changes the room's settings. A change is recorded on the timeline
    /// (`room_calls_changed`), so every member sees it and who made it; setting what is
    /// already set records nothing.
    pub async fn update_room_settings(
        &self,
        principal: &Principal,
        raw_room: &str,
        request: &RoomSettingsRequest,
    ) -> DomainResult<ConversationSummary> {
        let ctx = self.facilitator_ctx(principal, raw_room).await?;
        let changed = self
            .store
            .set_room_calls(
                RoomCallsChange {
                    conversation: ctx.conversation.clone(),
                    calls: request.calls,
                    by: ctx.member.clone(),
                    event: SystemKind::RoomCallsChanged {
                        calls: request.calls,
                        by: ctx.member.clone(),
                    }
                    .to_meta(),
                    now: now_millis(),
                },
                &|room| room::change_calls(room, request.calls),
            )
            .await?;
        if let Some((appended, meta)) = changed {
            self.publish_system(&ctx.conversation, appended, &meta);
        }
        self.refresh_member(&principal.account, &ctx.conversation)
            .await
    }

    /// Invites one person; they are told live and see the room's title and agreement.
    ///
    /// The answer never depends on who the invitee is: an account that does not exist,
    /// is already in the room (perhaps under a pseudonym), is the facilitator, or
    /// blocked the facilitator gets the same `201` as a fresh invitation, dated at the
    /// request, after the same work, and nothing is sent to anyone.
    pub async fn invite(
        &self,
        principal: &Principal,
        raw_room: &str,
        request: &InviteRequest,
    ) -> DomainResult<InvitationView> {
        let ctx = self.facilitator_ctx(principal, raw_room).await?;
        let invitee = match (&request.account, &request.conversation, &request.member) {
            (Some(raw), None, None) => {
                let invitee =
                    AccountId::parse(raw).ok_or_else(|| Refusal::invalid("not an account id"))?;
                self.store
                    .account(&invitee)
                    .await?
                    .map(|account| account.id)
            }
            (None, Some(conversation), Some(member)) => {
                let (invitee, _) = self
                    .room_member_account(principal, conversation, member)
                    .await?;
                Some(invitee)
            }
            _ => {
                return Err(Refusal::invalid(
                    "name the invitee by `account`, or by `conversation` and `member`",
                ));
            }
        };
        if let Some(invitee) = invitee {
            self.deliver_after_answer(principal, &ctx, invitee);
        }
        self.room_invitation_view(principal, &ctx).await
    }

    /// Whether an invitation reaches the invitee is decided, and the invitation stored
    /// and sent, after the answer and off the request path: the answer's timing then
    /// cannot tell a fresh invitation (a write) from one that reaches nobody (a member
    /// already, perhaps under a pseudonym; blocked; invited before; no such account).
    fn deliver_after_answer(&self, principal: &Principal, ctx: &MemberCtx, invitee: AccountId) {
        let (this, principal, ctx) = (self.clone(), principal.clone(), ctx.clone());
        tokio::spawn(async move {
            let delivered = async {
                if this.invitation_reaches(&principal, &ctx, &invitee).await? {
                    this.deliver_invite(&principal, &ctx, &invitee).await?;
                }
                DomainResult::Ok(())
            }
            .await;
            if let Err(refusal) = delivered {
                tracing::warn!(room = %ctx.conversation, code = ?refusal.code, "an invitation could not be delivered");
            }
        });
    }

    /// Whether an invitation is stored and sent: not to oneself, not to a member,
    /// not to someone who blocked the facilitator (see `contact.rs`).
    async fn invitation_reaches(
        &self,
        principal: &Principal,
        ctx: &MemberCtx,
        invitee: &AccountId,
    ) -> DomainResult<bool> {
        Ok(invitee != &principal.account
            && self
                .store
                .membership(&ctx.conversation, invitee)
                .await?
                .is_none()
            && self
                .contact(Channel::Invitation, &principal.account, invitee)
                .await?
                == Contact::Delivered)
    }

    /// The room as an invitation shows it, dated now (what a member-id invitation
    /// answers whether or not it was delivered).
    async fn room_invitation_view(
        &self,
        principal: &Principal,
        ctx: &MemberCtx,
    ) -> DomainResult<InvitationView> {
        let room = self
            .store
            .membership(&ctx.conversation, &principal.account)
            .await?
            .ok_or_else(Refusal::not_found)?;
        Ok(invitation_view(
            self,
            &InvitationRecord {
                conversation: room.conversation,
                created_at: now_millis(),
            },
        ))
    }

    /// Stores the invitation (one pending per account and room) and tells the invitee.
    async fn deliver_invite(
        &self,
        principal: &Principal,
        ctx: &MemberCtx,
        invitee: &AccountId,
    ) -> DomainResult<()> {
        let invite_id = opaque_token();
        self.store
            .create_invite(
                NewInvite {
                    id: invite_id.clone(),
                    conversation: ctx.conversation.clone(),
                    account: Some(invitee.clone()),
                    code_hash: None,
                    created_by: principal.account.clone(),
                    expires_at: None,
                    now: now_millis(),
                },
                &|found| invitation::create(found, self.limits.max_invite_codes_per_room),
            )
            .await?;
        let view = self
            .store
            .invitations_for(invitee)
            .await?
            .iter()
            .find(|i| i.conversation.id == ctx.conversation)
            .map(|record| invitation_view(self, record))
            .ok_or_else(Refusal::not_found)?;
        self.push_to_account(invitee, &ServerFrame::Invitation { invitation: view });
        crate::notify::Notifier::new(self.store.clone())
            .invited(&invite_id, invitee)
            .await;
        Ok(())
    }

    /// A fresh single-use code, valid for [`INVITE_CODE_TTL_MS`]. Only its hash is stored.
    pub async fn invite_code(
        &self,
        principal: &Principal,
        raw_room: &str,
    ) -> DomainResult<InviteCodeView> {
        let ctx = self.facilitator_ctx(principal, raw_room).await?;
        let code = format!("{}{}", opaque_token(), opaque_token());
        let now = now_millis();
        let expires_at = now + INVITE_CODE_TTL_MS;
        self.store
            .create_invite(NewInvite {
                id: opaque_token(),
                conversation: ctx.conversation.clone(),
                account: None,
                code_hash: Some(code_hash(&code)),
                created_by: principal.account.clone(),
                expires_at: Some(expires_at),
                now,
            }, &|found| invitation::create(found, self.limits.max_invite_codes_per_room))
            .await
            .map_err(|e| match e {
                WriteError::LimitReached => Refusal::limit_reached(format!(
                    "this room already has {} unused invite codes; wait for some to be used or expire",
                    self.limits.max_invite_codes_per_room
                )),
                other => other.into(),
            })?;
        Ok(InviteCodeView {
            room: ctx.conversation,
            code,
            expires_at,
        })
    }

    pub async fn invitations(&self, principal: &Principal) -> DomainResult<Vec<InvitationView>> {
        let records = self.store.invitations_for(&principal.account).await?;
        Ok(records
            .iter()
            .map(|record| invitation_view(self, record))
            .collect())
    }

    pub async fn decline_invitation(
        &self,
        principal: &Principal,
        raw_room: &str,
    ) -> DomainResult<()> {
        let not_found = || Refusal::new(ErrorCode::NotFound, "no such invitation");
        let room = ConversationId::parse(raw_room).ok_or_else(not_found)?;
        if self
            .store
            .decline_invitation(&principal.account, &room, now_millis())
            .await?
        {
            Ok(())
        } else {
            Err(not_found())
        }
    }

    /// Joins with a code or an invitation, under a pseudonym if asked (or the default
    /// one). The new member is not yet agreed: they see the title and agreement only.
    ///
    /// A join reads no blocks: the policy leaves a room both join whole (hiding one
    /// member from another there would identify the blocked person to the room).
    pub async fn join_room(
        &self,
        principal: &Principal,
        request: &JoinRequest,
    ) -> DomainResult<ConversationSummary> {
        let account = self.remember(principal).await?;
        let no_invitation =
            || Refusal::new(ErrorCode::NotFound, "no such invitation, or it was used");
        let ticket = match (&request.code, &request.room) {
            (Some(code), None) => JoinTicket::Code(code_hash(code)),
            (None, Some(room)) => {
                JoinTicket::Invitation(ConversationId::parse(room).ok_or_else(no_invitation)?)
            }
            _ => return Err(Refusal::invalid("join with either `code` or `room`")),
        };
        let (display_name, pseudonymous) =
            self.chosen_name(&account, request.pseudonym.as_deref())?;
        let fresh = MemberId::random();
        let name = display_name.clone();
        let joined = self
            .store
            .join_room(
                JoinRoom {
                    ticket,
                    account: principal.account.clone(),
                    display_name,
                    pseudonymous,
                    now: now_millis(),
                },
                &|room| join(room, &fresh, &name),
            )
            .await
            .map_err(|e| match e {
                WriteError::TargetNotFound => no_invitation(),
                WriteError::Conflict => {
                    Refusal::new(ErrorCode::Conflict, "already a member of this room")
                }
                WriteError::ConversationClosed => no_invitation(),
                other => other.into(),
            })?;
        let (membership, appended, meta) = joined;
        self.publish_system(&membership.conversation.id, appended, &meta);
        self.refresh_member(&principal.account, &membership.conversation.id)
            .await
    }

    /// Publishes a committed system event to the conversation.
    pub(super) fn publish_system(
        &self,
        conversation: &ConversationId,
        appended: crate::store::Appended,
        meta: &str,
    ) {
        let event = EventFrame::System(SystemEvent {
            conversation: conversation.clone(),
            seq: appended.seq,
            event: SystemKind::from_meta(meta),
            ts: appended.created_at,
        });
        self.publish_event(conversation, appended.seq, &event);
    }

    /// After an account's membership changed: its connections re-read it (and
    /// subscribe if they may now read), and get the conversation's new summary.
    pub(super) async fn refresh_member(
        &self,
        account: &AccountId,
        conversation: &ConversationId,
    ) -> DomainResult<ConversationSummary> {
        self.resubscribe(account, conversation, 0);
        let membership: Membership = self
            .store
            .membership(conversation, account)
            .await?
            .ok_or_else(Refusal::not_found)?;
        let summary = self.summary(&membership).await?;
        self.push_to_account(
            account,
            &ServerFrame::Conversation {
                conversation: summary.clone(),
            },
        );
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_codes_are_stored_as_a_stable_sha256() {
        let hash = code_hash("abc");
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(code_hash(" abc\n"), hash, "pasted codes are trimmed");
    }
}
