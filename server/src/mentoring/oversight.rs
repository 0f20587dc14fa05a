//! Content-blind programme oversight for coordinators.
//!
//! Coordinators see that mentoring happens, not what is said: every relationship and
//! room of the programme (this server) with its state, dates, member counts and message
//! counts (total, per week for the last [`WEEKS`] weeks, last activity). Never a body,
//! a thread, a member id or a display name. Who the parties are is shown only to the
//! coordinator who assigned that relationship (they paired them). Nothing here reads a
//! message body: the queries count rows.

use std::collections::HashMap;

use serde::Serialize;

use crate::auth::{Principal, Role};
use crate::error::{DomainResult, Refusal};
use crate::ids::{ConversationId, now_millis};
use crate::protocol::ErrorCode;
use crate::protocol::mentoring::{
    ActivityView, AssignedParty, RelationshipOverview, RoomOverviewView,
};
use crate::protocol::vocabulary::PartyRole;
use crate::store::ActivityRecord;

use super::Mentoring;
use super::room_texts::RoomText;

/// Weeks of per-week message counts.
pub const WEEKS: u32 = 8;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Oversight {
    pub generated_at: i64,
    pub relationships: Vec<RelationshipOverview>,
    pub rooms: Vec<RoomOverviewView>,
}

fn activity_view(record: Option<&ActivityRecord>) -> ActivityView {
    match record {
        Some(a) => ActivityView {
            messages: a.messages,
            messages_per_week: a.per_week.clone(),
            last_activity: a.last_activity,
        },
        None => ActivityView {
            messages: 0,
            messages_per_week: vec![0; WEEKS as usize],
            last_activity: None,
        },
    }
}

impl Mentoring {
    pub async fn oversight(&self, principal: &Principal) -> DomainResult<Oversight> {
        if !principal.has(Role::Coordinator) {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "only coordinators see programme oversight",
            ));
        }
        let now = now_millis();
        let activity: HashMap<ConversationId, ActivityRecord> = self
            .store
            .message_activity(now, WEEKS)
            .await?
            .into_iter()
            .collect();
        let relationships = self
            .store
            .all_relationships()
            .await?
            .into_iter()
            .map(|r| {
                let assigned_by_me = r.coordinator.as_ref() == Some(&principal.account);
                let count = |role| r.parties.iter().filter(|p| p.role == role).count() as u64;
                RelationshipOverview {
                    id: r.id.clone(),
                    origin: r.origin,
                    state: r.state,
                    first_conversation: r.first_conversation,
                    mentors: count(PartyRole::Mentor),
                    mentees: count(PartyRole::Mentee),
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                    ended_at: r.ended_at,
                    activity: activity_view(activity.get(&r.conversation)),
                    parties: assigned_by_me.then(|| {
                        r.parties
                            .iter()
                            .map(|p| AssignedParty {
                                account: p.account.clone(),
                                name: p.account_name.clone(),
                                role: p.role,
                            })
                            .collect()
                    }),
                }
            })
            .collect();
        let rooms = self
            .store
            .rooms_overview()
            .await?
            .into_iter()
            .map(|room| {
                let c = room.conversation;
                let title = self.open_room_text(&c.id, RoomText::Title, c.title.as_ref());
                RoomOverviewView {
                    activity: activity_view(activity.get(&c.id)),
                    id: c.id,
                    room_kind: c.room_kind,
                    title,
                    state: c.state,
                    members: room.members,
                    agreed: room.agreed,
                    member_limit: c.member_limit,
                    history_visible: c.history_visible,
                    created_at: c.created_at,
                }
            })
            .collect();
        Ok(Oversight {
            generated_at: now,
            relationships,
            rooms,
        })
    }
}
