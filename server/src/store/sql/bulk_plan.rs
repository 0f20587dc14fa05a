//! Engine-independent bookkeeping for the bulk append path (`bulk.rs`): which appends of
//! a run are duplicates, which are refused, how many seqs each conversation needs, and
//! which seq each new message gets. Kept apart from the SQL so it can be unit tested.
//!
//! The verdict per append is exactly the one the one-at-a-time path (`append_in_tx`)
//! would reach running the run's appends in order: a committed client id wins over
//! every refusal, then the domain's posting rule on the sender's standing, then the
//! conversation's state.

use std::collections::HashMap;

use crate::crypto::Sealed;
use crate::ids::{Millis, Seq};
use crate::store::{AppendKind, AppendRequest, Appended, MayPost, SenderStanding, WriteError};

/// A sender's standing from its `members` columns.
pub(crate) fn standing(left_at: Option<i64>, agreed_at: Option<i64>, muted: i64) -> SenderStanding {
    SenderStanding {
        current: left_at.is_none(),
        agreed: agreed_at.is_some(),
        muted: muted != 0,
    }
}

/// Whether an op can take the bulk path: a top-level message from a member. Thread
/// replies (root check), edits, deletes and system events keep the one-at-a-time path.
pub(crate) fn bulk_eligible(request: &AppendRequest) -> bool {
    message_body(request).is_some()
}

/// The sealed body of a bulk-eligible request.
pub(crate) fn message_body(request: &AppendRequest) -> Option<&Sealed> {
    match &request.kind {
        AppendKind::Message { body, thread: None } if request.sender.is_some() => Some(body),
        _ => None,
    }
}

/// One append's verdict.
pub(crate) type AppendOutcome = Result<Appended, WriteError>;

enum Slot {
    Done(AppendOutcome),
    /// Needs a seq in conversation number `conv` (index into `Plan::conversations`).
    New {
        conv: usize,
    },
    /// Same client id as the earlier append at this index of the run.
    SameAs(usize),
}

/// What the run's lookup statement returns for append `i`: its sender's `members` row
/// and the committed event with its client id (left joins: `None` = no such row).
#[derive(sqlx::FromRow)]
pub(crate) struct Lookup {
    pub i: i64,
    pub left_at: Option<i64>,
    pub agreed_at: Option<i64>,
    /// NOT NULL in `members`: `None` means the sender is not a member.
    pub muted: Option<i64>,
    pub seq: Option<i64>,
    pub created_at: Option<i64>,
}

/// One run's verdicts before seqs are known.
pub(crate) struct Plan {
    slots: Vec<Slot>,
    /// Conversations that need seqs, in first-seen order, with how many.
    conversations: Vec<(String, i64)>,
}

impl Plan {
    /// `existing[i]`: the committed `(seq, created_at)` for append `i`'s client id;
    /// `standing[i]`: its sender's standing, judged by `may_post`.
    pub(crate) fn new(
        run: &[&AppendRequest],
        existing: &HashMap<usize, (i64, Millis)>,
        standing: &HashMap<usize, SenderStanding>,
        may_post: MayPost,
    ) -> Self {
        let mut slots = Vec::with_capacity(run.len());
        let mut conversations: Vec<(String, i64)> = Vec::new();
        let mut conv_index: HashMap<&str, usize> = HashMap::new();
        let mut first_with_key: HashMap<(&str, &str, &str), usize> = HashMap::new();
        for (i, request) in run.iter().enumerate() {
            if let Some(&(seq, created_at)) = existing.get(&i) {
                slots.push(Slot::Done(Ok(Appended {
                    seq: seq as Seq,
                    created_at,
                    duplicate: true,
                })));
                continue;
            }
            if let Err(e) = may_post(standing.get(&i).copied()) {
                slots.push(Slot::Done(Err(e)));
                continue;
            }
            let conversation = request.conversation.as_str();
            let key = match (&request.sender, &request.client_id) {
                (Some(sender), Some(client_id)) => {
                    Some((conversation, sender.as_str(), client_id.as_str()))
                }
                _ => None,
            };
            if let Some(first) = key.and_then(|k| first_with_key.get(&k)) {
                slots.push(Slot::SameAs(*first));
                continue;
            }
            if let Some(k) = key {
                first_with_key.insert(k, i);
            }
            let conv = *conv_index.entry(conversation).or_insert_with(|| {
                conversations.push((conversation.to_owned(), 0));
                conversations.len() - 1
            });
            conversations[conv].1 += 1;
            slots.push(Slot::New { conv });
        }
        Plan {
            slots,
            conversations,
        }
    }

    /// The plan from the lookup statement's rows.
    pub(crate) fn from_lookup(
        run: &[&AppendRequest],
        rows: impl IntoIterator<Item = Lookup>,
        may_post: MayPost,
    ) -> Self {
        let mut existing = HashMap::new();
        let mut standings = HashMap::new();
        for row in rows {
            let i = row.i as usize;
            if let Some(muted) = row.muted {
                standings.insert(i, standing(row.left_at, row.agreed_at, muted));
            }
            if let (Some(seq), Some(created_at)) = (row.seq, row.created_at) {
                existing.insert(i, (seq, created_at));
            }
        }
        Plan::new(run, &existing, &standings, may_post)
    }

    /// `(conversation, how many seqs)` to allocate, in first-seen order.
    pub(crate) fn seq_demand(&self) -> &[(String, i64)] {
        &self.conversations
    }

    /// Given each conversation's `last_seq` after allocation (absent: not active),
    /// returns every append's outcome and the `(run index, seq)` rows to insert.
    pub(crate) fn assign(
        self,
        run: &[&AppendRequest],
        last_seq: &HashMap<String, i64>,
    ) -> (Vec<AppendOutcome>, Vec<(usize, i64)>) {
        let mut next: Vec<Option<i64>> = self
            .conversations
            .iter()
            .map(|(id, n)| last_seq.get(id).map(|last| last - n + 1))
            .collect();
        let mut outcomes: Vec<AppendOutcome> = Vec::with_capacity(run.len());
        let mut rows = Vec::new();
        for (i, slot) in self.slots.into_iter().enumerate() {
            let outcome = match slot {
                Slot::Done(outcome) => outcome,
                Slot::New { conv } => match &mut next[conv] {
                    Some(seq) => {
                        rows.push((i, *seq));
                        *seq += 1;
                        Ok(Appended {
                            seq: (*seq - 1) as Seq,
                            created_at: run[i].now,
                            duplicate: false,
                        })
                    }
                    None => Err(WriteError::ConversationClosed),
                },
                Slot::SameAs(first) => match &outcomes[first] {
                    Ok(a) => Ok(Appended {
                        duplicate: true,
                        ..*a
                    }),
                    Err(_) => Err(WriteError::ConversationClosed),
                },
            };
            outcomes.push(outcome);
        }
        (outcomes, rows)
    }
}

#[cfg(test)]
#[path = "bulk_plan_tests.rs"]
mod tests;
