//! The rows of the notification tables as read, and their conversion into the store's
//! records (quiet hours stored as minutes after midnight).

use crate::ids::{AccountId, ConversationId, NotificationId, PushSubscriptionId};
use crate::protocol::notify::{
    KindSwitches, NotificationKind, NotificationPreferences, QuietHours,
};
use crate::store::{ClaimedNotification, PushSubscriptionRecord, StoreError, UnnotifiedMessages};

use super::rows::word;

#[derive(sqlx::FromRow)]
pub(crate) struct SubscriptionRow {
    pub id: String,
    pub account_id: String,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub created_at: i64,
}

impl From<SubscriptionRow> for PushSubscriptionRecord {
    fn from(row: SubscriptionRow) -> Self {
        PushSubscriptionRecord {
            id: PushSubscriptionId::from_stored(row.id),
            account: AccountId::from_stored(row.account_id),
            endpoint: row.endpoint,
            p256dh: row.p256dh,
            auth: row.auth,
            created_at: row.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PreferencesRow {
    pub push: i64,
    pub kind_message: i64,
    pub kind_relationship: i64,
    pub kind_invitation: i64,
    pub kind_missed_call: i64,
    pub kind_ringing_call: i64,
    pub quiet_start: Option<i64>,
    pub quiet_end: Option<i64>,
    pub quiet_time_zone: Option<String>,
    pub ringing_in_quiet_hours: i64,
    pub daily_cap: i64,
}

impl TryFrom<PreferencesRow> for NotificationPreferences {
    type Error = StoreError;
    fn try_from(row: PreferencesRow) -> Result<Self, StoreError> {
        let clock = |m: i64| format!("{:02}:{:02}", m / 60, m % 60);
        let quiet_hours = match (row.quiet_start, row.quiet_end, row.quiet_time_zone) {
            (Some(start), Some(end), Some(time_zone)) => Some(QuietHours {
                start: clock(start),
                end: clock(end),
                time_zone,
            }),
            _ => None,
        };
        Ok(NotificationPreferences {
            push: row.push != 0,
            kinds: KindSwitches {
                message: row.kind_message != 0,
                relationship: row.kind_relationship != 0,
                invitation: row.kind_invitation != 0,
                missed_call: row.kind_missed_call != 0,
                ringing_call: row.kind_ringing_call != 0,
            },
            quiet_hours,
            ringing_in_quiet_hours: row.ringing_in_quiet_hours != 0,
            daily_cap: row.daily_cap.max(0) as u32,
        })
    }
}

/// Quiet hours as stored: minutes after midnight (validated `HH:MM` by the domain).
pub(crate) fn quiet_minutes(prefs: &NotificationPreferences) -> (Option<i64>, Option<i64>) {
    let minutes = |raw: &str| {
        let (h, m) = raw.split_once(':')?;
        Some(h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?)
    };
    match &prefs.quiet_hours {
        Some(q) => (minutes(&q.start), minutes(&q.end)),
        None => (None, None),
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ClaimRow {
    pub id: String,
    pub account_id: String,
    pub kind: String,
    pub conversation_id: Option<String>,
    pub count: i64,
    pub attempts: i64,
    pub created_at: i64,
}

impl TryFrom<ClaimRow> for ClaimedNotification {
    type Error = StoreError;
    fn try_from(row: ClaimRow) -> Result<Self, StoreError> {
        Ok(ClaimedNotification {
            id: NotificationId::from_stored(row.id),
            account: AccountId::from_stored(row.account_id),
            kind: word(&row.kind, NotificationKind::parse, "notification kind")?,
            conversation: row.conversation_id.map(ConversationId::from_stored),
            count: row.count.max(1) as u64,
            attempts: row.attempts.max(0) as u32,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UnnotifiedRow {
    pub account_id: String,
    pub conversation_id: String,
    pub messages: i64,
    pub replies: i64,
    pub last_seq: i64,
    pub cursor: i64,
}

impl From<UnnotifiedRow> for UnnotifiedMessages {
    fn from(row: UnnotifiedRow) -> Self {
        UnnotifiedMessages {
            account: AccountId::from_stored(row.account_id),
            conversation: ConversationId::from_stored(row.conversation_id),
            messages: row.messages.max(0) as u64,
            replies: row.replies.max(0) as u64,
            last_seq: row.last_seq.max(0) as u64,
            cursor: row.cursor.max(0) as u64,
        }
    }
}
