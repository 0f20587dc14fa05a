//! Reports to the programme's safeguarding role.
//!
//! A member reports a message they can read. The report keeps a sealed copy of that
//! message and up to 10 messages around it (5 before, 5 after), with the member ids
//! and display names shown at the time, plus the reporter's optional reason. Holders
//! of the `safeguarding` role are told live that a report arrived (no content) and read
//! it over REST; every listing, reading and closing of a report is recorded with who
//! and when, and shown with the report. The reported member is told nothing, so they
//! never learn who reported them. A person reports a message once (the database holds
//! the rule) and can list what they reported, to see it was handled.

use std::collections::HashMap;

use serde::Deserialize;

use crate::auth::{Principal, Role};
use crate::error::{DomainResult, Refusal};
use crate::ids::{AccountId, ReportId, Seq, now_millis};
use crate::protocol::mentoring::{
    FiledReportView, ReportAccessView, ReportPerson, ReportReceipt, ReportView, ReportedMessage,
};
use crate::protocol::vocabulary::{ReportAction, ReportState};
use crate::protocol::{ErrorCode, ServerFrame};
use crate::store::{
    EventKind, EventQuery, MemberRecord, NewReport, ReportFiling, StoredEvent, WriteError,
};

use super::{MemberCtx, Mentoring, rules};

/// Messages copied from each side of the reported one.
const CONTEXT_EACH_SIDE: usize = 5;
/// Events scanned on each side to find them (system events are skipped).
const SCAN_EACH_SIDE: u32 = 50;
const MAX_REASON: usize = 2_000;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    pub conversation: String,
    /// The reported message's seq.
    pub seq: Seq,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Snapshot {
    #[serde(default)]
    reason: Option<String>,
    messages: Vec<ReportedMessage>,
}

fn report_aad(id: &ReportId) -> Vec<u8> {
    let mut aad = b"mentorhub/report/v1/".to_vec();
    aad.extend_from_slice(id.as_str().as_bytes());
    aad
}

fn no_message() -> Refusal {
    Refusal::new(ErrorCode::NotFound, "no such message")
}

fn receipt(id: ReportId, state: ReportState, created_at: i64) -> ReportReceipt {
    ReportReceipt {
        id,
        state,
        created_at,
    }
}

impl Mentoring {
    fn require_safeguarding(principal: &Principal) -> DomainResult<()> {
        if principal.has(Role::Safeguarding) {
            Ok(())
        } else {
            Err(Refusal::new(
                ErrorCode::Forbidden,
                "only the safeguarding role reads reports",
            ))
        }
    }

    /// Files a report on someone else's message in a conversation the caller reads.
    pub async fn report(
        &self,
        principal: &Principal,
        request: &ReportRequest,
    ) -> DomainResult<ReportReceipt> {
        let ctx = self
            .member_ctx(&principal.account, &request.conversation)
            .await?;
        ctx.check_read()?;
        let reason = request
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > MAX_REASON) {
            return Err(Refusal::invalid(format!(
                "a reason is limited to {MAX_REASON} characters"
            )));
        }
        if request.seq < ctx.visible_from {
            return Err(no_message());
        }
        let target = self
            .store
            .event(&ctx.conversation, request.seq)
            .await?
            .ok_or_else(no_message)?;
        let sender = match (&target.kind, &target.sender) {
            (EventKind::Message, Some(sender)) => sender.clone(),
            _ => return Err(no_message()),
        };
        if sender == ctx.member {
            return Err(Refusal::invalid("you cannot report your own message"));
        }
        let members: HashMap<_, MemberRecord> = self
            .store
            .members(&ctx.conversation)
            .await?
            .into_iter()
            .map(|m| (m.member.clone(), m))
            .collect();
        let reported = members.get(&sender).ok_or_else(no_message)?;
        let messages = self.report_context(&ctx, &target, &members).await?;
        let id = ReportId::random();
        let snapshot = Snapshot {
            reason: reason.map(str::to_owned),
            messages,
        };
        let plain = serde_json::to_vec(&snapshot)
            .map_err(|_| Refusal::new(ErrorCode::Internal, "cannot record the report"))?;
        let now = now_millis();
        let filed = self
            .store
            .create_report(NewReport {
                filing: ReportFiling {
                    id: id.clone(),
                    conversation: ctx.conversation.clone(),
                    target: request.seq,
                    reporter: principal.account.clone(),
                    reporter_member: ctx.member.clone(),
                    reported: reported.account.clone(),
                    reported_member: sender,
                    snapshot: self.cipher.seal(&report_aad(&id), &plain),
                },
                state: rules::report::FILED,
                now,
            })
            .await?;
        if !filed {
            return Err(Refusal::new(
                ErrorCode::AlreadyReported,
                "you already reported this message",
            ));
        }
        let filed = receipt(id, rules::report::FILED, now);
        self.tell_safeguarding(&ServerFrame::ReportFiled {
            report: filed.clone(),
        })
        .await?;
        Ok(filed)
    }

    /// Every `safeguarding` role holder's connections get `frame` (content-free).
    async fn tell_safeguarding(&self, frame: &ServerFrame) -> DomainResult<()> {
        for holder in self.store.accounts_with_role(Role::Safeguarding).await? {
            self.push_to_account(&holder, frame);
        }
        Ok(())
    }

    /// The reports the caller filed (any role): which messages, and whether
    /// safeguarding has handled them. Never anyone else's report.
    pub async fn my_reports(&self, principal: &Principal) -> DomainResult<Vec<FiledReportView>> {
        let records = self.store.reports_filed_by(&principal.account).await?;
        Ok(records
            .into_iter()
            .map(|r| FiledReportView {
                id: r.filing.id,
                conversation: r.filing.conversation,
                seq: r.filing.target,
                state: r.state,
                created_at: r.created_at,
                closed_at: r.closed_at,
            })
            .collect())
    }

    /// The reported message with up to [`CONTEXT_EACH_SIDE`] messages before and after
    /// it that the reporter could see.
    async fn report_context(
        &self,
        ctx: &MemberCtx,
        target: &StoredEvent,
        members: &HashMap<crate::ids::MemberId, MemberRecord>,
    ) -> DomainResult<Vec<ReportedMessage>> {
        let page = |after: Option<Seq>, before: Option<Seq>| EventQuery {
            conversation: ctx.conversation.clone(),
            after,
            before,
            visible_from: ctx.visible_from,
            thread: None,
            limit: SCAN_EACH_SIDE,
            hidden_senders: Vec::new(),
        };
        let before = self.store.events(&page(None, Some(target.seq))).await?;
        let after = self.store.events(&page(Some(target.seq), None)).await?;
        let is_message = |e: &&StoredEvent| e.kind == EventKind::Message;
        let mut chosen: Vec<&StoredEvent> = before.iter().filter(is_message).collect();
        chosen = chosen.split_off(chosen.len().saturating_sub(CONTEXT_EACH_SIDE));
        chosen.push(target);
        chosen.extend(after.iter().filter(is_message).take(CONTEXT_EACH_SIDE));
        Ok(chosen
            .into_iter()
            .filter_map(|event| {
                let frame = self.render(event);
                let crate::protocol::EventFrame::Message(message) = frame else {
                    return None;
                };
                let display_name = members
                    .get(&message.sender)
                    .map(|m| m.display_name.clone())
                    .unwrap_or_default();
                Some(ReportedMessage {
                    seq: message.seq,
                    sender: message.sender,
                    display_name,
                    thread: message.thread,
                    body: message.body,
                    ts: message.ts,
                    reported: event.seq == target.seq,
                })
            })
            .collect())
    }

    /// Reports, newest first, without content (safeguarding only; recorded).
    pub async fn reports(&self, principal: &Principal) -> DomainResult<Vec<ReportReceipt>> {
        Self::require_safeguarding(principal)?;
        let records = self.store.reports().await?;
        let ids: Vec<ReportId> = records.iter().map(|r| r.filing.id.clone()).collect();
        self.store
            .record_report_access(&ids, &principal.account, ReportAction::Listed, now_millis())
            .await?;
        Ok(records
            .into_iter()
            .map(|r| receipt(r.filing.id, r.state, r.created_at))
            .collect())
    }

    /// One report with its content (safeguarding only). The access is recorded first.
    pub async fn read_report(&self, principal: &Principal, raw: &str) -> DomainResult<ReportView> {
        Self::require_safeguarding(principal)?;
        let not_found = || Refusal::new(ErrorCode::NotFound, "no such report");
        let id = ReportId::parse(raw).ok_or_else(not_found)?;
        if self.store.report(&id).await?.is_none() {
            return Err(not_found());
        }
        self.store
            .record_report_access(
                std::slice::from_ref(&id),
                &principal.account,
                ReportAction::Viewed,
                now_millis(),
            )
            .await?;
        self.report_view(&id).await?.ok_or_else(not_found)
    }

    /// Closes a report (safeguarding only; recorded).
    pub async fn close_report(&self, principal: &Principal, raw: &str) -> DomainResult<ReportView> {
        Self::require_safeguarding(principal)?;
        let not_found = || Refusal::new(ErrorCode::NotFound, "no such report");
        let id = ReportId::parse(raw).ok_or_else(not_found)?;
        let now = now_millis();
        self.store
            .close_report(&id, now, &rules::report::close)
            .await
            .map_err(|e| match e {
                WriteError::TargetNotFound => not_found(),
                WriteError::Conflict => {
                    Refusal::new(ErrorCode::Conflict, "the report is already closed")
                }
                other => other.into(),
            })?;
        self.store
            .record_report_access(
                std::slice::from_ref(&id),
                &principal.account,
                ReportAction::Closed,
                now,
            )
            .await?;
        let view = self.report_view(&id).await?.ok_or_else(not_found)?;
        // The other safeguarding holders' inboxes follow live.
        self.tell_safeguarding(&ServerFrame::ReportClosed {
            report: receipt(id, ReportState::Closed, view.created_at),
        })
        .await?;
        Ok(view)
    }

    async fn report_view(&self, id: &ReportId) -> DomainResult<Option<ReportView>> {
        let Some(record) = self.store.report(id).await? else {
            return Ok(None);
        };
        let filing = &record.filing;
        let snapshot: Snapshot = self
            .cipher
            .open(&report_aad(id), &filing.snapshot)
            .ok()
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .ok_or_else(|| Refusal::new(ErrorCode::Internal, "the report cannot be decrypted"))?;
        let members: HashMap<_, _> = self
            .store
            .members(&filing.conversation)
            .await?
            .into_iter()
            .map(|m| (m.member.clone(), m.display_name))
            .collect();
        let person = async |account: &AccountId,
                            member: &crate::ids::MemberId|
               -> DomainResult<ReportPerson> {
            let name = self
                .store
                .account(account)
                .await?
                .map(|a| a.name)
                .unwrap_or_default();
            Ok(ReportPerson {
                account: account.clone(),
                name,
                member: member.clone(),
                display_name: members.get(member).cloned().unwrap_or_default(),
            })
        };
        let accesses = self
            .store
            .report_accesses(id)
            .await?
            .into_iter()
            .map(|a| ReportAccessView {
                account: a.account,
                action: a.action,
                at: a.at,
            })
            .collect();
        Ok(Some(ReportView {
            id: filing.id.clone(),
            state: record.state,
            conversation: filing.conversation.clone(),
            conversation_kind: record.conversation_kind,
            seq: filing.target,
            reporter: person(&filing.reporter, &filing.reporter_member).await?,
            reported: person(&filing.reported, &filing.reported_member).await?,
            reason: snapshot.reason,
            messages: snapshot.messages,
            created_at: record.created_at,
            closed_at: record.closed_at,
            accesses,
        }))
    }
}
