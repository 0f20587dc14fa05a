//! Starting a mentoring relationship, the three ways real programmes do it: a mentee
//! **requests** a mentor (optionally just a "first conversation"), a mentor **offers**
//! to mentor a mentee, a coordinator **assigns** one or two mentors to a mentee.
//!
//! Each creates the relationship, its conversation (pending: nobody can post) and every
//! party with a fresh member id, in one transaction; the other side(s) then accept or
//! decline (see `lifecycle.rs`). Parties see each other only by member id and display
//! name; a mentee appears under a pseudonym when they chose one (on the request, on
//! accepting, or as their default). A request to a mentor without a free place is
//! refused with `capacity_reached` and creates nothing, so the mentor never sees it.

use serde::Deserialize;

use crate::auth::{Principal, Role};
use crate::display_name::{NameProblem, comparison_key};
use crate::error::{DomainResult, Refusal};
use crate::ids::{AccountId, ConversationId, MemberId, RelationshipId, now_millis};
use crate::protocol::ErrorCode;
use crate::protocol::server::RelationshipView;
use crate::protocol::vocabulary::{Origin, PartyRole, RelationshipState, Response};
use crate::store::{
    AccountRecord, DecideCount, NewRelationship, RelationshipParty, RelationshipRecord, WriteError,
};

use super::Mentoring;
use super::rules::caps;
use super::rules::relationship::capacity_reached;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MentorRequest {
    /// The mentor's account id, as listed in the directory.
    #[serde(default)]
    pub mentor: Option<String>,
    /// Two mentors (a triad) instead of `mentor`.
    #[serde(default)]
    pub mentors: Vec<String>,
    #[serde(default)]
    pub introduction: Option<String>,
    /// Show the mentee under this name instead of their real name.
    #[serde(default)]
    pub pseudonym: Option<String>,
    /// Ask for a first conversation before the bigger ask.
    #[serde(default)]
    pub first_conversation: bool,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MentorOffer {
    /// The mentee's account id …
    #[serde(default)]
    pub mentee: Option<String>,
    /// … or a member of a room the mentor is in (`conversation` + `member`): the
    /// mentor never learns that member's account.
    #[serde(default)]
    pub conversation: Option<String>,
    #[serde(default)]
    pub member: Option<String>,
    #[serde(default)]
    pub introduction: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub mentee: String,
    /// One mentor (dyad) or two (triad).
    pub mentors: Vec<String>,
    #[serde(default)]
    pub introduction: Option<String>,
}

/// How a new relationship starts and who is in it.
struct Start {
    origin: Origin,
    created_by: AccountId,
    coordinator: Option<AccountId>,
    mentee: RelationshipParty,
    mentors: Vec<RelationshipParty>,
    introduction: Option<String>,
    first_conversation: bool,
}

pub(super) fn intro_aad(id: &RelationshipId) -> Vec<u8> {
    let mut aad = b"mentorhub/intro/v1/".to_vec();
    aad.extend_from_slice(id.as_str().as_bytes());
    aad
}

fn party(
    account: AccountId,
    name: String,
    role: PartyRole,
    pseudonymous: bool,
    accepted: bool,
) -> RelationshipParty {
    RelationshipParty {
        account,
        member: MemberId::random(),
        account_name: name.clone(),
        display_name: name,
        role,
        pseudonymous,
        response: if accepted {
            Response::Accepted
        } else {
            Response::Pending
        },
        note: None,
    }
}

impl Mentoring {
    /// A name someone chose to be shown under (see [`crate::display_name`]): no
    /// invisible or text-reordering characters, and none of the placeholders the server
    /// shows for a mentee who has not chosen yet.
    pub(crate) fn check_display_name(&self, name: &str) -> DomainResult<String> {
        let max = self.limits.max_display_name_chars;
        let name = crate::display_name::check(name, max).map_err(|problem| {
            Refusal::invalid(match problem {
                NameProblem::Invisible => "display names cannot contain invisible, formatting or \
                     text-direction characters, or spaces other than the plain space"
                    .to_owned(),
                NameProblem::Empty | NameProblem::TooLong => {
                    format!("display names are 1–{max} characters")
                }
            })
        })?;
        let key = comparison_key(&name);
        if [Origin::Assigned, Origin::Offered]
            .iter()
            .any(|origin| comparison_key(unnamed_mentee(*origin)) == key)
        {
            return Err(Refusal::new(ErrorCode::NameTaken, "this name is reserved"));
        }
        Ok(name)
    }

    /// The name a mentee or room member appears under: the chosen pseudonym, else
    /// their default pseudonym, else their real name.
    pub(super) fn chosen_name(
        &self,
        account: &AccountRecord,
        chosen: Option<&str>,
    ) -> DomainResult<(String, bool)> {
        let pseudonym = chosen
            .filter(|p| !p.trim().is_empty())
            .or(account.settings.default_pseudonym.as_deref())
            .map(|p| self.check_display_name(p))
            .transpose()?;
        Ok(match pseudonym {
            Some(p) => (p, true),
            None => (account.name.clone(), false),
        })
    }

    /// An account with `role`, or the same `not_found` whether it is missing or has
    /// another role.
    async fn account_with_role(&self, raw: &str, role: Role) -> DomainResult<AccountRecord> {
        let not_found = || Refusal::new(ErrorCode::NotFound, format!("no such {role}"));
        let id = AccountId::parse(raw).ok_or_else(not_found)?;
        let account = self.store.account(&id).await?.ok_or_else(not_found)?;
        if account.roles.contains(&role) {
            Ok(account)
        } else {
            Err(not_found())
        }
    }

    /// A mentor as a party: named as in their profile (or by their account name).
    async fn mentor_party(
        &self,
        account: AccountRecord,
        accepted: bool,
    ) -> DomainResult<RelationshipParty> {
        let profile = self.store.mentor_profile(&account.id).await?;
        let name = profile.map_or(account.name.clone(), |p| p.display_name);
        let mut party = party(account.id, name, PartyRole::Mentor, false, accepted);
        party.account_name = account.name;
        Ok(party)
    }

    /// A mentee asks one mentor (or two, for a triad) for mentoring.
    pub async fn request_mentor(
        &self,
        principal: &Principal,
        request: &MentorRequest,
    ) -> DomainResult<RelationshipView> {
        if !principal.has(Role::Mentee) {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "only mentees can request a mentor",
            ));
        }
        let mentee = self.remember(principal).await?;
        let mut wanted: Vec<&str> = request.mentor.iter().map(String::as_str).collect();
        wanted.extend(request.mentors.iter().map(String::as_str));
        if wanted.is_empty() || wanted.len() > 2 {
            return Err(Refusal::invalid(
                "name one mentor (`mentor`) or two (`mentors`)",
            ));
        }
        let mut mentors = Vec::new();
        for raw in wanted {
            let account = self.account_with_role(raw, Role::Mentor).await?;
            // Refused before anything exists, so a full mentor is never pestered. A
            // mentor who blocked this mentee is not asked either, silently (`contact.rs`).
            if self.places_left(&account.id, true).await? == 0 {
                return Err(capacity_reached());
            }
            mentors.push(self.mentor_party(account, false).await?);
        }
        let (name, pseudonymous) = self.chosen_name(&mentee, request.pseudonym.as_deref())?;
        let record = self
            .start_relationship(Start {
                origin: Origin::Requested,
                created_by: principal.account.clone(),
                coordinator: None,
                mentee: party(
                    principal.account.clone(),
                    name,
                    PartyRole::Mentee,
                    pseudonymous,
                    true,
                ),
                mentors,
                introduction: request.introduction.clone(),
                first_conversation: request.first_conversation,
            })
            .await?;
        self.view_for(&record, &principal.account)
            .ok_or_else(Refusal::not_found)
    }

    /// A mentor offers to mentor a mentee (named by account id, or as a member of a
    /// room they share).
    pub async fn offer_mentoring(
        &self,
        principal: &Principal,
        offer: &MentorOffer,
    ) -> DomainResult<RelationshipView> {
        if !principal.has(Role::Mentor) {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "only mentors can offer mentoring",
            ));
        }
        let mentor = self.remember(principal).await?;
        let no_mentee = || Refusal::new(ErrorCode::NotFound, "no such mentee");
        // By member id the mentee keeps the name the mentor knows her by there; by
        // account id she is unnamed until she accepts and chooses (anything else would
        // show the mentor a name she uses elsewhere).
        let (mentee, shown) = match (&offer.mentee, &offer.conversation, &offer.member) {
            (Some(raw), None, None) => (
                self.account_with_role(raw, Role::Mentee).await?,
                (unnamed_mentee(Origin::Offered).to_owned(), true),
            ),
            (None, Some(conversation), Some(member)) => {
                let (account, shown) = self
                    .room_member_account(principal, conversation, member)
                    .await?;
                let account = self
                    .account_with_role(account.as_str(), Role::Mentee)
                    .await?;
                (account, shown)
            }
            _ => {
                return Err(Refusal::invalid(
                    "name the mentee by `mentee`, or by `conversation` and `member`",
                ));
            }
        };
        if mentee.id == principal.account {
            return Err(no_mentee());
        }
        if self.places_left(&principal.account, false).await? == 0 {
            return Err(capacity_reached());
        }
        let (name, pseudonymous) = shown;
        let record = self
            .start_relationship(Start {
                origin: Origin::Offered,
                created_by: principal.account.clone(),
                coordinator: None,
                mentee: party(
                    mentee.id.clone(),
                    name,
                    PartyRole::Mentee,
                    pseudonymous,
                    false,
                ),
                mentors: vec![self.mentor_party(mentor, true).await?],
                introduction: offer.introduction.clone(),
                first_conversation: false,
            })
            .await?;
        self.view_for(&record, &principal.account)
            .ok_or_else(Refusal::not_found)
    }

    /// A coordinator pairs a mentee with one or two mentors; every party answers.
    pub async fn assign(
        &self,
        principal: &Principal,
        assignment: &Assignment,
    ) -> DomainResult<RelationshipView> {
        if !principal.has(Role::Coordinator) {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "only coordinators can assign mentors",
            ));
        }
        self.remember(principal).await?;
        if assignment.mentors.is_empty() || assignment.mentors.len() > 2 {
            return Err(Refusal::invalid("assign one mentor or two"));
        }
        let mentee = self
            .account_with_role(&assignment.mentee, Role::Mentee)
            .await?;
        let mut mentors = Vec::new();
        for raw in &assignment.mentors {
            let account = self.account_with_role(raw, Role::Mentor).await?;
            if self.places_left(&account.id, false).await? == 0 {
                return Err(capacity_reached());
            }
            mentors.push(self.mentor_party(account, false).await?);
        }
        // The mentors do not see her name before she accepts and chooses one.
        let mut mentee_party = party(
            mentee.id.clone(),
            unnamed_mentee(Origin::Assigned).to_owned(),
            PartyRole::Mentee,
            true,
            false,
        );
        mentee_party.account_name = mentee.name.clone();
        let record = self
            .start_relationship(Start {
                origin: Origin::Assigned,
                created_by: principal.account.clone(),
                coordinator: Some(principal.account.clone()),
                mentee: mentee_party,
                mentors,
                introduction: assignment.introduction.clone(),
                first_conversation: false,
            })
            .await?;
        self.view_for(&record, &principal.account)
            .ok_or_else(Refusal::not_found)
    }

    async fn start_relationship(&self, start: Start) -> DomainResult<RelationshipRecord> {
        let mut accounts: Vec<&AccountId> = start.mentors.iter().map(|m| &m.account).collect();
        accounts.push(&start.mentee.account);
        accounts.sort();
        accounts.dedup();
        if accounts.len() != start.mentors.len() + 1 {
            return Err(Refusal::invalid(
                "a relationship's parties must be different people",
            ));
        }
        if let Some(intro) = &start.introduction
            && intro.chars().count() > self.limits.max_intro_chars
        {
            return Err(Refusal::new(
                ErrorCode::BodyInvalid,
                format!(
                    "introductions are limited to {} characters",
                    self.limits.max_intro_chars
                ),
            ));
        }
        let already_exists = || {
            Refusal::new(
                ErrorCode::Conflict,
                "a pending or active relationship between these people already exists",
            )
        };
        if self.duplicates_existing(&start).await? {
            return Err(already_exists());
        }
        let id = RelationshipId::random();
        let introduction = start
            .introduction
            .as_deref()
            .filter(|i| !i.trim().is_empty())
            .map(|i| self.cipher.seal(&intro_aad(&id), i.as_bytes()));
        let mut parties = vec![start.mentee];
        parties.extend(start.mentors);
        let max_waiting = self.limits.max_pending_requests_per_mentor;
        let may_wait = move |waiting| caps::one_more(waiting, max_waiting);
        self.store
            .create_relationship(
                NewRelationship {
                    id: id.clone(),
                    conversation: ConversationId::random(),
                    origin: start.origin,
                    created_by: start.created_by,
                    coordinator: start.coordinator,
                    introduction,
                    parties,
                    first_conversation: start.first_conversation,
                    now: now_millis(),
                },
                (start.origin == Origin::Requested).then_some(&may_wait as &DecideCount),
            )
            .await
            // A simultaneous request to the same mentor landed first (the database
            // keeps one open request per mentee and mentor).
            .map_err(|e| match e {
                WriteError::Conflict => already_exists(),
                WriteError::LimitReached => Refusal::limit_reached(format!(
                    "this mentor already has {} requests waiting for an answer; try again later",
                    self.limits.max_pending_requests_per_mentor
                )),
                other => other.into(),
            })?;
        let record = self
            .store
            .relationship(&id)
            .await?
            .ok_or_else(Refusal::not_found)?;
        self.announce_relationship(&record).await;
        // Everyone whose answer it waits for, the initiator never (its own request).
        let waiting: Vec<AccountId> = record
            .parties
            .iter()
            .filter(|p| p.response == Response::Pending && p.account != record.created_by)
            .map(|p| p.account.clone())
            .collect();
        crate::notify::Notifier::new(self.store.clone())
            .relationship_waiting(&record.id, &waiting)
            .await;
        Ok(record)
    }

    /// Whether a new relationship repeats a pending or active one, judged only on what
    /// its initiator already knows, so the answer never tells them more:
    /// - a mentee's request: her own relationships with that mentor (she is in them);
    /// - a coordinator's assignment: the programme's own (assigned) relationships —
    ///   informal mentoring (requested, offered) stays invisible to the programme;
    /// - a mentor's offer: never. The mentee may be someone he already mentors under
    ///   another name; the offer is an ordinary pending one she can decline.
    async fn duplicates_existing(&self, start: &Start) -> DomainResult<bool> {
        let counts = |r: &RelationshipRecord| match start.origin {
            Origin::Requested => true,
            Origin::Assigned => r.origin == Origin::Assigned,
            Origin::Offered => false,
        };
        if start.origin == Origin::Offered {
            return Ok(false);
        }
        let existing = self.store.relationships_of(&start.mentee.account).await?;
        Ok(existing.iter().any(|r| {
            counts(r)
                && matches!(
                    r.state,
                    RelationshipState::Pending | RelationshipState::Active
                )
                && r.parties.iter().any(|p| {
                    p.role == PartyRole::Mentor
                        && start.mentors.iter().any(|m| m.account == p.account)
                })
        }))
    }

    /// The account behind a member of a room the caller reads, and the name (and
    /// pseudonymity) it shows there. Missing and foreign look alike.
    pub(super) async fn room_member_account(
        &self,
        principal: &Principal,
        conversation: &str,
        member: &str,
    ) -> DomainResult<(AccountId, (String, bool))> {
        let ctx = self.member_ctx(&principal.account, conversation).await?;
        ctx.check_read()?;
        let not_found = || Refusal::new(ErrorCode::NotFound, "no such mentee");
        let member = MemberId::parse(member).ok_or_else(not_found)?;
        let record = self
            .store
            .members(&ctx.conversation)
            .await?
            .into_iter()
            .find(|m| m.member == member && m.left_at.is_none())
            .ok_or_else(not_found)?;
        Ok((record.account, (record.display_name, record.pseudonymous)))
    }
}

/// The name a mentee shows until she accepts an assignment, or an offer made to her
/// account id, and chooses how to appear.
pub(crate) fn unnamed_mentee(origin: Origin) -> &'static str {
    match origin {
        Origin::Assigned => "A mentee assigned by your programme",
        _ => "A mentee you offered to mentor",
    }
}

/// Whether a stored display name is such a placeholder.
pub(crate) fn is_unnamed_mentee(name: &str) -> bool {
    [Origin::Assigned, Origin::Offered]
        .iter()
        .any(|origin| unnamed_mentee(*origin) == name)
}
