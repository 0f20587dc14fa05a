//! The mentor directory: finding a mentor is the first obstacle mentees name.
//!
//! A mentor publishes a profile (display name, specialty, interests, languages, a short
//! bio, whether they take new mentees and how many at most); mentees list and filter
//! the profiles and choose whom to ask. Reading the directory writes nothing and logs
//! nothing, so browsing (pseudonymous or not) leaves no trace a mentor can see.

use std::collections::HashMap;

use serde::Deserialize;

use crate::auth::{Principal, Role};
use crate::error::{DomainResult, Refusal};
use crate::ids::{AccountId, now_millis};
use crate::protocol::ErrorCode;
use crate::protocol::mentoring::MentorProfileView;
use crate::store::MentorProfileRecord;

use super::{Mentoring, search_terms};

/// Active mentees a mentor takes when their profile does not say (or they have none).
pub const DEFAULT_CAPACITY: u32 = 3;
/// The most active mentees a profile may claim.
pub const MAX_CAPACITY: u32 = 500;

const MAX_SPECIALTY: usize = 100;
const MAX_BIO: usize = 2_000;
const MAX_LIST: usize = 20;
const MAX_ITEM: usize = 50;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// Defaults to the account's name.
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub specialty: String,
    #[serde(default)]
    pub interests: Vec<String>,
    /// Language tags (`en`, `fr`, `pt-BR`); compared case-insensitively.
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub bio: String,
    #[serde(default = "yes")]
    pub accepting: bool,
    #[serde(default)]
    pub capacity: Option<u32>,
}

fn yes() -> bool {
    true
}

/// Directory filters (all optional, combined with AND).
#[derive(Debug, Default, Deserialize)]
pub struct DirectoryFilter {
    /// Part of the specialty, or words that match its words forgivingly
    /// (see [`search_terms`]).
    pub specialty: Option<String>,
    /// One language: a tag, its primary tag, or the language's name.
    pub language: Option<String>,
    /// `true`: only mentors with a free place; `false`: only those without.
    pub accepting: Option<bool>,
}

fn clean_list(items: &[String], what: &str) -> DomainResult<Vec<String>> {
    if items.len() > MAX_LIST {
        return Err(Refusal::invalid(format!("at most {MAX_LIST} {what}")));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let item = item.trim();
        if item.is_empty() || item.chars().count() > MAX_ITEM || item.chars().any(char::is_control)
        {
            return Err(Refusal::invalid(format!(
                "{what} are 1–{MAX_ITEM} printable characters each"
            )));
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(item)) {
            out.push(item.to_owned());
        }
    }
    Ok(out)
}

fn check_text(text: &str, max: usize, what: &str) -> DomainResult<String> {
    if text.chars().count() > max {
        return Err(Refusal::invalid(format!(
            "{what} is limited to {max} characters"
        )));
    }
    Ok(text.trim().to_owned())
}

// The directory reads no blocks: the policy shows it the same to everyone.
const _: () = assert!(super::contact::never_silenced(
    super::contact::Channel::Directory
));

/// A profile as everyone sees it. Blocks change nothing here: a mentor shown as full
/// to the one person they blocked would tell her so.
fn view(profile: &MentorProfileRecord, active: u64) -> MentorProfileView {
    let free = u64::from(profile.capacity).saturating_sub(active) as u32;
    let accepting = profile.accepting;
    MentorProfileView {
        mentor: profile.account.clone(),
        display_name: profile.display_name.clone(),
        specialty: profile.specialty.clone(),
        interests: profile.interests.clone(),
        languages: profile.languages.clone(),
        bio: profile.bio.clone(),
        accepting,
        capacity: profile.capacity,
        places_left: if accepting { free } else { 0 },
        updated_at: profile.updated_at,
    }
}

impl DirectoryFilter {
    fn admits(&self, entry: &MentorProfileView) -> bool {
        let specialty = self
            .specialty
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if let Some(wanted) = specialty
            && !search_terms::specialty_matches(&entry.specialty, wanted)
        {
            return false;
        }
        let language = self
            .language
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if let Some(wanted) = language
            && !search_terms::language_matches(&entry.languages, wanted)
        {
            return false;
        }
        match self.accepting {
            Some(wanted) => (entry.places_left > 0) == wanted,
            None => true,
        }
    }
}

impl Mentoring {
    /// The directory, filtered: the same for every signed-in viewer. Reads only.
    pub async fn directory(
        &self,
        filter: &DirectoryFilter,
    ) -> DomainResult<Vec<MentorProfileView>> {
        let profiles = self.store.mentor_profiles().await?;
        let active: HashMap<AccountId, u64> = self
            .store
            .active_mentee_counts()
            .await?
            .into_iter()
            .collect();
        Ok(profiles
            .iter()
            .map(|p| view(p, active.get(&p.account).copied().unwrap_or(0)))
            .filter(|entry| filter.admits(entry))
            .collect())
    }

    /// One mentor's profile. Reads only.
    pub async fn mentor(&self, raw: &str) -> DomainResult<MentorProfileView> {
        let not_found = || Refusal::new(ErrorCode::NotFound, "no such mentor");
        let id = AccountId::parse(raw).ok_or_else(not_found)?;
        let profile = self
            .store
            .mentor_profile(&id)
            .await?
            .ok_or_else(not_found)?;
        let active = self.active_of(&id).await?;
        Ok(view(&profile, active))
    }

    /// The caller's own profile, if they published one.
    pub async fn my_mentor_profile(
        &self,
        principal: &Principal,
    ) -> DomainResult<Option<MentorProfileView>> {
        let Some(profile) = self.store.mentor_profile(&principal.account).await? else {
            return Ok(None);
        };
        let active = self.active_of(&principal.account).await?;
        Ok(Some(view(&profile, active)))
    }

    /// Publishes or replaces the caller's profile (mentors only).
    pub async fn update_mentor_profile(
        &self,
        principal: &Principal,
        update: &ProfileUpdate,
    ) -> DomainResult<MentorProfileView> {
        if !principal.has(Role::Mentor) {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "only mentors have a directory profile",
            ));
        }
        let account = self.remember(principal).await?;
        let display_name = match &update.display_name {
            Some(name) => self.check_display_name(name)?,
            None => account.name.clone(),
        };
        let capacity = update.capacity.unwrap_or(DEFAULT_CAPACITY);
        if capacity > MAX_CAPACITY {
            return Err(Refusal::invalid(format!("capacity is 0–{MAX_CAPACITY}")));
        }
        let languages: Vec<String> = clean_list(&update.languages, "languages")?
            .into_iter()
            .map(|l| l.to_lowercase())
            .collect();
        let profile = MentorProfileRecord {
            account: principal.account.clone(),
            display_name,
            specialty: check_text(&update.specialty, MAX_SPECIALTY, "specialty")?,
            interests: clean_list(&update.interests, "interests")?,
            languages,
            bio: check_text(&update.bio, MAX_BIO, "bio")?,
            accepting: update.accepting,
            capacity,
            updated_at: now_millis(),
        };
        self.store.upsert_mentor_profile(&profile).await?;
        let active = self.active_of(&principal.account).await?;
        Ok(view(&profile, active))
    }

    async fn active_of(&self, mentor: &AccountId) -> DomainResult<u64> {
        Ok(self.store.active_mentee_count(mentor).await?)
    }

    /// How many active mentees a mentor takes at most.
    pub(super) async fn capacity_of(&self, mentor: &AccountId) -> DomainResult<u64> {
        let profile = self.store.mentor_profile(mentor).await?;
        Ok(u64::from(profile.map_or(DEFAULT_CAPACITY, |p| p.capacity)))
    }

    /// Free places of a mentor: capacity minus active mentees. For a mentee's request
    /// (`for_request`) a mentor who is not accepting has none; offers and assignments
    /// only need a place under the capacity.
    pub(super) async fn places_left(
        &self,
        mentor: &AccountId,
        for_request: bool,
    ) -> DomainResult<u32> {
        let profile = self.store.mentor_profile(mentor).await?;
        if for_request && profile.as_ref().is_some_and(|p| !p.accepting) {
            return Ok(0);
        }
        let capacity = u64::from(profile.map_or(DEFAULT_CAPACITY, |p| p.capacity));
        Ok(capacity.saturating_sub(self.active_of(mentor).await?) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(
        specialty: &str,
        languages: &[&str],
        accepting: bool,
        capacity: u32,
    ) -> MentorProfileRecord {
        MentorProfileRecord {
            account: AccountId::parse("acct-m").unwrap(),
            display_name: "Dr M".into(),
            specialty: specialty.into(),
            interests: vec![],
            languages: languages.iter().map(|l| l.to_string()).collect(),
            bio: String::new(),
            accepting,
            capacity,
            updated_at: 0,
        }
    }

    #[test]
    fn places_left_follow_capacity_and_accepting() {
        assert_eq!(view(&profile("x", &[], true, 3), 1).places_left, 2);
        assert_eq!(view(&profile("x", &[], true, 3), 5).places_left, 0);
        assert_eq!(view(&profile("x", &[], false, 3), 0).places_left, 0);
    }

    #[test]
    fn filters_combine_case_insensitively() {
        let entry = view(
            &profile("Paediatric Anaesthesia", &["en", "pt-br"], true, 1),
            0,
        );
        let filter = |specialty: Option<&str>, language: Option<&str>, accepting: Option<bool>| {
            DirectoryFilter {
                specialty: specialty.map(Into::into),
                language: language.map(Into::into),
                accepting,
            }
        };
        assert!(filter(None, None, None).admits(&entry));
        assert!(filter(Some("anaes"), Some("PT-BR"), Some(true)).admits(&entry));
        assert!(!filter(Some("surgery"), None, None).admits(&entry));
        assert!(
            filter(None, Some("pt"), None).admits(&entry),
            "a primary tag finds its regional variants"
        );
        assert!(filter(None, Some("Portuguese"), None).admits(&entry));
        assert!(filter(Some("anaesthetics"), None, None).admits(&entry));
        assert!(!filter(None, None, Some(false)).admits(&entry));
        assert!(
            filter(Some("  "), Some(""), None).admits(&entry),
            "blank filters are ignored"
        );
    }

    #[test]
    fn lists_are_trimmed_deduplicated_and_bounded() {
        let cleaned = clean_list(&[" en ".into(), "EN".into(), "fr".into()], "languages").unwrap();
        assert_eq!(cleaned, ["en", "fr"]);
        assert!(clean_list(&["".into()], "languages").is_err());
        assert!(clean_list(&vec!["x".to_string(); MAX_LIST + 1], "interests").is_err());
    }
}
