//! The programme's people, for the coordinators who pair them.
//!
//! Assigning a mentor to a mentee means naming both, so a coordinator lists the
//! accounts seen with the `mentee` or `mentor` role: account id and name, nothing else
//! (no memberships, no pseudonyms, no member ids: nothing that links a pseudonym to a
//! person). An account appears once it has signed in.

use serde::Deserialize;

use std::str::FromStr;

use crate::auth::{Principal, Role};
use crate::error::{DomainResult, Refusal};
use crate::protocol::ErrorCode;
use crate::protocol::mentoring::ProgrammePerson;

use super::Mentoring;

/// `GET /api/people?role=…`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeopleFilter {
    /// `mentee` or `mentor`.
    pub role: String,
}

impl Mentoring {
    /// Accounts with one programme role, by name (coordinators only).
    pub async fn people(
        &self,
        principal: &Principal,
        filter: &PeopleFilter,
    ) -> DomainResult<Vec<ProgrammePerson>> {
        if !principal.has(Role::Coordinator) {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "only coordinators list the programme's people",
            ));
        }
        let role = match Role::from_str(&filter.role) {
            Ok(role @ (Role::Mentee | Role::Mentor)) => role,
            _ => return Err(Refusal::invalid("`role` is `mentee` or `mentor`")),
        };
        let mut people = Vec::new();
        for account in self.store.accounts_with_role(role).await? {
            if let Some(record) = self.store.account(&account).await? {
                people.push(ProgrammePerson {
                    account: record.id,
                    name: record.name,
                });
            }
        }
        people.sort_by_cached_key(|p| (p.name.to_lowercase(), p.account.clone()));
        Ok(people)
    }
}
