//! A relationship after it was started: accept, decline, withdraw, end; and who is
//! told what.
//!
//! - Every state change is pushed live (`relationship` frame) to every party and to
//!   the coordinator who assigned it, each in their own view.
//! - Declining needs no reason and tells the others only "declined": once declined,
//!   nobody's view says which party declined.
//! - Ending is no-fault and open to any party at any time. The conversation becomes
//!   read-only for its members (nobody posts, nobody joins); the ender may leave a
//!   private note, sealed at rest, that only they ever see.

use crate::auth::Principal;
use crate::bus::{Audience, Control, Payload, Topic};
use crate::error::{DomainResult, Refusal};
use crate::ids::{AccountId, RelationshipId, now_millis};
use crate::protocol::server::{PartyView, RelationshipView, SystemEvent};
use crate::protocol::system::SystemKind;
use crate::protocol::vocabulary::{PartyRole, RelationshipState, Response, ViewerRole};
use crate::protocol::{ErrorCode, EventFrame, ServerFrame};
use crate::store::{RelationshipChanged, RelationshipRecord, WriteError};

use super::Mentoring;
use super::relationships::{intro_aad, is_unnamed_mentee};
use super::rules::relationship::{self as rules, Command, Request, no_relationship};

fn note_aad(id: &RelationshipId, account: &AccountId) -> Vec<u8> {
    let mut aad = b"mentorhub/end-note/v1/".to_vec();
    aad.extend_from_slice(id.as_str().as_bytes());
    aad.push(b'/');
    aad.extend_from_slice(account.as_str().as_bytes());
    aad
}

impl Mentoring {
    /// A party accepts (optionally choosing a pseudonym, mentees only) or declines.
    /// When every party has accepted, the conversation opens for all of them.
    pub async fn respond(
        &self,
        principal: &Principal,
        raw_id: &str,
        accept: bool,
        pseudonym: Option<&str>,
    ) -> DomainResult<RelationshipView> {
        let id = RelationshipId::parse(raw_id).ok_or_else(no_relationship)?;
        let record = self
            .store
            .relationship(&id)
            .await?
            .ok_or_else(no_relationship)?;
        if !self.sees_relationship(&record, &principal.account).await? {
            return Err(no_relationship());
        }
        let pseudonym = pseudonym.filter(|p| !p.trim().is_empty());
        let command = Command::Respond {
            account: principal.account.clone(),
            accept,
            pseudonym: pseudonym.is_some(),
        };
        // Refused early on what was read, before a name is checked; applied again
        // where it commits.
        rules::apply(&record, &command, &[])?;
        let party = record
            .parties
            .iter()
            .find(|p| p.account == principal.account)
            .ok_or_else(no_relationship)?;
        let rename = match pseudonym {
            Some(p) => Some((self.check_display_name(p)?, true)),
            // Unnamed until now: her default pseudonym, else her name.
            None if accept && is_unnamed_mentee(&party.display_name) => {
                let account = self.remember(principal).await?;
                Some(self.chosen_name(&account, None)?)
            }
            None => None,
        };
        let mut capacities = Vec::new();
        if accept {
            for mentor in record
                .parties
                .iter()
                .filter(|p| p.role == PartyRole::Mentor)
            {
                capacities.push((
                    mentor.account.clone(),
                    self.capacity_of(&mentor.account).await?,
                ));
            }
        }
        let changed = self
            .commit_change(
                &id,
                Request {
                    command,
                    capacities,
                    rename,
                    note: None,
                    now: now_millis(),
                },
            )
            .await?;
        let updated = changed.record;
        self.announce_relationship(&updated).await;
        match updated.state {
            RelationshipState::Active => self.open_conversation_for_parties(&updated).await,
            RelationshipState::Declined => self.close_conversation_for_parties(&updated).await,
            _ => {}
        }
        self.view_for(&updated, &principal.account)
            .ok_or_else(no_relationship)
    }

    /// Whoever started a pending relationship takes it back.
    pub async fn withdraw(
        &self,
        principal: &Principal,
        raw_id: &str,
    ) -> DomainResult<RelationshipView> {
        let id = RelationshipId::parse(raw_id).ok_or_else(no_relationship)?;
        let command = Command::Withdraw {
            account: principal.account.clone(),
        };
        let updated = self
            .commit_change(&id, Request::new(command, now_millis()))
            .await?
            .record;
        self.announce_relationship(&updated).await;
        self.close_conversation_for_parties(&updated).await;
        self.view_for(&updated, &principal.account)
            .ok_or_else(no_relationship)
    }

    /// Any party ends an active relationship, no fault, with an optional private note.
    pub async fn end_relationship(
        &self,
        principal: &Principal,
        raw_id: &str,
        note: Option<&str>,
    ) -> DomainResult<RelationshipView> {
        let id = RelationshipId::parse(raw_id).ok_or_else(no_relationship)?;
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if let Some(note) = note
            && note.chars().count() > self.limits.max_intro_chars
        {
            return Err(Refusal::new(
                ErrorCode::BodyInvalid,
                format!(
                    "notes are limited to {} characters",
                    self.limits.max_intro_chars
                ),
            ));
        }
        let sealed = note.map(|n| {
            self.cipher
                .seal(&note_aad(&id, &principal.account), n.as_bytes())
        });
        let command = Command::End {
            account: principal.account.clone(),
        };
        let changed = self
            .commit_change(
                &id,
                Request {
                    note: sealed,
                    ..Request::new(command, now_millis())
                },
            )
            .await?;
        let record = changed.record;
        for (appended, meta) in changed.events {
            let event = EventFrame::System(SystemEvent {
                conversation: record.conversation.clone(),
                seq: appended.seq,
                event: SystemKind::from_meta(&meta),
                ts: appended.created_at,
            });
            self.publish_event(&record.conversation, appended.seq, &event);
        }
        self.announce_relationship(&record).await;
        // Members keep reading; their connections learn the conversation is read-only.
        self.open_conversation_for_parties(&record).await;
        self.view_for(&record, &principal.account)
            .ok_or_else(no_relationship)
    }

    /// Commits one change: the store reads the relationship in its transaction and
    /// writes what the rules decide about it.
    async fn commit_change(
        &self,
        id: &RelationshipId,
        request: Request,
    ) -> DomainResult<RelationshipChanged> {
        self.store
            .change_relationship(id, &|current, active| request.decide(current, active))
            .await
            .map_err(|e| match e {
                WriteError::TargetNotFound => no_relationship(),
                other => other.into(),
            })
    }

    pub async fn relationships(
        &self,
        principal: &Principal,
    ) -> DomainResult<Vec<RelationshipView>> {
        let mut views = Vec::new();
        for record in self.store.relationships_of(&principal.account).await? {
            if self.sees_relationship(&record, &principal.account).await? {
                views.extend(self.view_for(&record, &principal.account));
            }
        }
        Ok(views)
    }

    /// Pushes each party who sees it, and the assigning coordinator, their own view.
    pub(super) async fn announce_relationship(&self, record: &RelationshipRecord) {
        let mut audience: Vec<&AccountId> = record.parties.iter().map(|p| &p.account).collect();
        audience.extend(record.coordinator.as_ref());
        for account in audience {
            match self.sees_relationship(record, account).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(refusal) => {
                    tracing::warn!(%refusal, "cannot tell who sees a relationship");
                    continue;
                }
            }
            if let Some(view) = self.view_for(record, account) {
                self.push_to_account(account, &ServerFrame::Relationship { relationship: view });
            }
        }
    }

    /// Every party's connections (re)read the conversation and get its summary.
    async fn open_conversation_for_parties(&self, record: &RelationshipRecord) {
        for party in &record.parties {
            self.resubscribe(&party.account, &record.conversation, 0);
            match self
                .store
                .membership(&record.conversation, &party.account)
                .await
            {
                Ok(Some(membership)) => match self.summary(&membership).await {
                    Ok(summary) => self.push_to_account(
                        &party.account,
                        &ServerFrame::Conversation {
                            conversation: summary,
                        },
                    ),
                    Err(refusal) => tracing::warn!(%refusal, "cannot summarise a conversation"),
                },
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "cannot read a conversation"),
            }
        }
    }

    /// A declined or withdrawn request's conversation disappears for every party who
    /// saw it.
    async fn close_conversation_for_parties(&self, record: &RelationshipRecord) {
        for party in &record.parties {
            if !self
                .sees_relationship(record, &party.account)
                .await
                .unwrap_or(false)
            {
                continue;
            }
            self.publish(
                Topic::Account(party.account.clone()),
                Audience::Members,
                Payload::Control(Control::Unsubscribe {
                    conversation: record.conversation.clone(),
                }),
            );
            self.push_to_account(
                &party.account,
                &ServerFrame::ConversationRemoved {
                    conversation: record.conversation.clone(),
                },
            );
        }
    }

    fn open_sealed(&self, aad: &[u8], sealed: Option<&crate::crypto::Sealed>) -> Option<String> {
        let plain = self.cipher.open(aad, sealed?).ok()?;
        String::from_utf8(plain).ok()
    }

    /// The relationship as `viewer` sees it: a party sees the others by member id and
    /// display name; the assigning coordinator sees who the parties are (they paired
    /// them). Anyone else: `None`.
    pub(super) fn view_for(
        &self,
        record: &RelationshipRecord,
        viewer: &AccountId,
    ) -> Option<RelationshipView> {
        let me = record.parties.iter().find(|p| &p.account == viewer);
        let coordinator = me.is_none() && record.coordinator.as_ref() == Some(viewer);
        if me.is_none() && !coordinator {
            return None;
        }
        let declined = record.state == RelationshipState::Declined;
        let parties = record
            .parties
            .iter()
            .map(|p| {
                let mine = &p.account == viewer;
                PartyView {
                    member: (!coordinator).then(|| p.member.clone()),
                    account: coordinator.then(|| p.account.clone()),
                    display_name: if coordinator {
                        p.account_name.clone()
                    } else {
                        p.display_name.clone()
                    },
                    role: p.role,
                    response: (mine || !declined).then_some(p.response),
                    pseudonymous: p.pseudonymous,
                }
            })
            .collect();
        let introduction = self.open_sealed(&intro_aad(&record.id), record.introduction.as_ref());
        let my_note =
            me.and_then(|p| self.open_sealed(&note_aad(&record.id, viewer), p.note.as_ref()));
        Some(RelationshipView {
            id: record.id.clone(),
            conversation: record.conversation.clone(),
            origin: record.origin,
            state: record.state,
            me: me.map(|p| p.member.clone()),
            my_role: me.map_or(ViewerRole::Coordinator, |p| p.role.into()),
            parties,
            introduction,
            first_conversation: record.first_conversation,
            awaiting_me: record.state == RelationshipState::Pending
                && me.is_some_and(|p| p.response == Response::Pending),
            my_note,
            created_at: record.created_at,
            updated_at: record.updated_at,
            ended_at: record.ended_at,
        })
    }
}
