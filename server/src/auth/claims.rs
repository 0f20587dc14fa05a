//! Verified claims → [`Principal`]. Runs only after the signature and the registered
//! claims (exp, nbf, iss, aud) passed, so everything here is about shape.

use serde_json::{Map, Value};

use super::{AuthError, EmailAddress, Principal, Role};
use crate::ids::AccountId;

/// Display names: 1..=200 characters, no control characters.
const MAX_NAME_CHARS: usize = 200;

pub(super) fn principal(claims: &Map<String, Value>) -> Result<Principal, AuthError> {
    let account = match claims.get("sub") {
        None | Some(Value::Null) => return Err(AuthError::MissingClaim("sub")),
        Some(Value::String(sub)) => AccountId::parse(sub).ok_or(AuthError::InvalidClaim("sub"))?,
        Some(_) => return Err(AuthError::InvalidClaim("sub")),
    };
    let name = match claims.get("name") {
        None | Some(Value::Null) => return Err(AuthError::MissingClaim("name")),
        Some(Value::String(name)) => display_name(name)?,
        Some(_) => return Err(AuthError::InvalidClaim("name")),
    };
    Ok(Principal {
        account,
        name,
        roles: roles(claims)?,
        expires_at: expires_at(claims)?,
        email: email(claims),
    })
}

/// `email`, unless `email_verified` is `false`: an address the provider has not checked
/// could be someone else's, who would then receive the digests. A malformed address is
/// left out rather than refusing the token: sign-in does not depend on it.
fn email(claims: &Map<String, Value>) -> Option<EmailAddress> {
    if claims.get("email_verified") == Some(&Value::Bool(false)) {
        return None;
    }
    claims
        .get("email")
        .and_then(Value::as_str)
        .and_then(EmailAddress::parse)
}

fn display_name(raw: &str) -> Result<String, AuthError> {
    let name = raw.trim();
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && !name.chars().any(char::is_control);
    ok.then(|| name.to_owned())
        .ok_or(AuthError::InvalidClaim("name"))
}

/// `roles` (array of strings, or one string) and/or `role` (one string). Unknown role
/// names are ignored: an identity provider may carry roles meant for other systems.
fn roles(claims: &Map<String, Value>) -> Result<Vec<Role>, AuthError> {
    let mut names: Vec<&str> = Vec::new();
    match claims.get("roles") {
        None | Some(Value::Null) => {}
        Some(Value::String(one)) => names.push(one),
        Some(Value::Array(items)) => {
            for item in items {
                names.push(item.as_str().ok_or(AuthError::InvalidClaim("roles"))?);
            }
        }
        Some(_) => return Err(AuthError::InvalidClaim("roles")),
    }
    match claims.get("role") {
        None | Some(Value::Null) => {}
        Some(Value::String(one)) => names.push(one),
        Some(_) => return Err(AuthError::InvalidClaim("role")),
    }
    let mut roles = Vec::new();
    for role in names.into_iter().filter_map(|n| n.parse::<Role>().ok()) {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(roles)
}

fn expires_at(claims: &Map<String, Value>) -> Result<i64, AuthError> {
    let exp = claims.get("exp").ok_or(AuthError::MissingClaim("exp"))?;
    exp.as_i64()
        .or_else(|| exp.as_u64().map(|n| n.min(i64::MAX as u64) as i64))
        .or_else(|| exp.as_f64().filter(|x| x.is_finite()).map(|x| x as i64))
        .ok_or(AuthError::InvalidClaim("exp"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn base() -> Value {
        json!({"sub": "u-1", "name": " Dr Ada ", "exp": 2_000_000_000_i64})
    }

    fn with(key: &str, value: Value) -> Map<String, Value> {
        let mut map = claims(base());
        map.insert(key.into(), value);
        map
    }

    fn without(key: &str) -> Map<String, Value> {
        let mut map = claims(base());
        map.remove(key);
        map
    }

    #[test]
    fn maps_the_claims() {
        let mut map = with("roles", json!(["mentor", "Coordinator", "admin", "mentor"]));
        map.insert("email".into(), json!("ada@example.org"));
        let p = principal(&map).unwrap();
        assert_eq!(p.account.as_str(), "u-1");
        assert_eq!(p.name, "Dr Ada");
        assert_eq!(p.roles, [Role::Mentor, Role::Coordinator]);
        assert!(p.has(Role::Mentor) && !p.has(Role::Mentee));
        assert_eq!(p.expires_at, 2_000_000_000);
        assert_eq!(
            p.email.as_ref().map(|e| e.as_str()),
            Some("ada@example.org")
        );
        assert!(
            !format!("{p:?}").contains("ada@"),
            "Debug hides the address"
        );
    }

    #[test]
    fn email_only_when_plausible_and_not_unverified() {
        let email = |value: Value, verified: Option<bool>| {
            let mut map = with("email", value);
            if let Some(v) = verified {
                map.insert("email_verified".into(), json!(v));
            }
            principal(&map)
                .unwrap()
                .email
                .map(|e| e.as_str().to_owned())
        };
        assert_eq!(email(json!(" a@b.org "), None).as_deref(), Some("a@b.org"));
        assert_eq!(
            email(json!("a@b.org"), Some(true)).as_deref(),
            Some("a@b.org")
        );
        assert_eq!(email(json!("a@b.org"), Some(false)), None);
        for bad in [
            "a",
            "a@",
            "@b.org",
            "a@b",
            "a b@c.org",
            "a@b.org>",
            "a@b.org,c@d.org",
            "a@@b.org",
        ] {
            assert_eq!(email(json!(bad), None), None, "{bad}");
        }
        assert_eq!(email(json!(7), None), None);
        assert!(principal(&claims(base())).unwrap().email.is_none());
    }

    #[test]
    fn single_role_forms() {
        let p = principal(&with("role", json!("mentee"))).unwrap();
        assert_eq!(p.roles, [Role::Mentee]);
        let p = principal(&with("roles", json!("safeguarding"))).unwrap();
        assert_eq!(p.roles, [Role::Safeguarding]);
        let mut both = with("roles", json!(["mentor"]));
        both.insert("role".into(), json!("mentee"));
        assert_eq!(
            principal(&both).unwrap().roles,
            [Role::Mentor, Role::Mentee]
        );
        assert!(principal(&claims(base())).unwrap().roles.is_empty());
    }

    #[test]
    fn missing_claims() {
        assert_eq!(
            principal(&without("sub")).unwrap_err(),
            AuthError::MissingClaim("sub")
        );
        assert_eq!(
            principal(&without("name")).unwrap_err(),
            AuthError::MissingClaim("name")
        );
        assert_eq!(
            principal(&without("exp")).unwrap_err(),
            AuthError::MissingClaim("exp")
        );
    }

    #[test]
    fn invalid_claims() {
        let cases = [
            (with("sub", json!("")), "sub"),
            (with("sub", json!(42)), "sub"),
            (with("sub", json!("a\u{0}b")), "sub"),
            (with("name", json!("")), "name"),
            (with("name", json!("   ")), "name"),
            (with("name", json!("x".repeat(201))), "name"),
            (with("name", json!("bell\u{7}")), "name"),
            (with("name", json!(["Ada"])), "name"),
            (with("roles", json!({"mentor": true})), "roles"),
            (with("roles", json!(["mentor", 1])), "roles"),
            (with("role", json!(["mentor"])), "role"),
            (with("exp", json!("tomorrow")), "exp"),
        ];
        for (map, claim) in cases {
            assert_eq!(
                principal(&map).unwrap_err(),
                AuthError::InvalidClaim(claim),
                "{map:?}"
            );
        }
        assert!(principal(&with("name", json!("é".repeat(200)))).is_ok());
    }
}
