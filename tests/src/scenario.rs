//! People and accepted mentoring relationships, set up through the real API.

use serde_json::{Value, json};

use crate::rest::{Rest, text};

/// A signed-in account.
#[derive(Debug, Clone)]
pub struct Person {
    pub account: String,
    pub name: String,
    pub token: String,
}

/// A mentee and a mentor in an active relationship, and its conversation.
#[derive(Debug, Clone)]
pub struct Pair {
    pub conversation: String,
    pub relationship: String,
    pub mentee: Person,
    pub mentor: Person,
}

impl Pair {
    /// Signs both in, the mentee requests the mentor, the mentor accepts.
    pub async fn create(rest: &Rest, mentee: impl AsRef<str>, mentor: impl AsRef<str>) -> Pair {
        let mentee = rest.login(mentee.as_ref(), "mentee").await;
        let mentor = rest.login(mentor.as_ref(), "mentor").await;
        Self::between(rest, mentee, mentor).await
    }

    /// Like [`Pair::create`], with the mentee appearing under `pseudonym`.
    pub async fn pseudonymous(rest: &Rest, mentee: &str, mentor: &str, pseudonym: &str) -> Pair {
        let mentee = rest.login(mentee, "mentee").await;
        let mentor = rest.login(mentor, "mentor").await;
        Self::between_with(rest, mentee, mentor, json!({"pseudonym": pseudonym})).await
    }

    /// A relationship between two people already signed in.
    pub async fn between(rest: &Rest, mentee: Person, mentor: Person) -> Pair {
        Self::between_with(
            rest,
            mentee,
            mentor,
            json!({"introduction": "Could we talk?"}),
        )
        .await
    }

    /// A relationship whose request carries `fields` besides the mentor.
    pub async fn between_with(rest: &Rest, mentee: Person, mentor: Person, fields: Value) -> Pair {
        let mut request = fields;
        request["mentor"] = json!(mentor.account);
        let requested = rest
            .post("/api/relationships", Some(&mentee.token), &request)
            .await
            .ok();
        let relationship = text(&requested["relationship"]["id"]);
        let accepted = rest
            .post(
                &format!("/api/relationships/{relationship}/accept"),
                Some(&mentor.token),
                &json!({}),
            )
            .await
            .ok();
        assert_eq!(accepted["relationship"]["state"], "active", "{accepted}");
        Pair {
            conversation: text(&accepted["relationship"]["conversation"]),
            relationship,
            mentee,
            mentor,
        }
    }
}
