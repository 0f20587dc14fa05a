//! An identity provider's JSON Web Key Set (RFC 7517), reduced to the keys this server may
//! verify with: public signing keys, each bound to exactly one algorithm.
//!
//! A key is kept only when it is an RSA (RS256), P-256 (ES256) or Ed25519 (EdDSA) public key
//! whose `use` (if given) is `sig` and whose `alg` (if given) is the one its type implies.
//! Symmetric keys (`oct`), `HS*`, `none` and anything else are dropped: a key set is public,
//! so a secret found in it could sign anything. Keys the server cannot use are skipped
//! rather than failing the whole set, so a provider that adds, say, an encryption key does
//! not stop sign-in.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

/// Most keys read from one set: providers publish a handful (current, next, previous).
const MAX_KEYS: usize = 64;

/// A usable public key and the one algorithm it verifies.
#[derive(Clone)]
pub struct SetKey {
    pub(super) key: DecodingKey,
    pub(super) algorithm: Algorithm,
    pub(super) algorithm_name: &'static str,
}

/// The usable keys of one key set, by `kid`.
#[derive(Clone, Default)]
pub struct KeySet {
    by_kid: HashMap<String, SetKey>,
    /// Keys without a `kid`: usable only when the set has exactly one key.
    anonymous: Vec<SetKey>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kids: Vec<&String> = self.by_kid.keys().collect();
        kids.sort();
        f.debug_struct("KeySet")
            .field("kids", &kids)
            .field("without_kid", &self.anonymous.len())
            .finish()
    }
}

impl KeySet {
    /// Parses a JWKS document. Errs (a reason phrase) only when it is not a key set at
    /// all; unusable keys are skipped.
    pub fn parse(json: &[u8]) -> Result<KeySet, String> {
        let document: Map<String, Value> =
            serde_json::from_slice(json).map_err(|_| "is not a JSON object".to_owned())?;
        let keys = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| "has no \"keys\" array (a JSON Web Key Set)".to_owned())?;
        let mut set = KeySet::default();
        for jwk in keys.iter().filter_map(Value::as_object).take(MAX_KEYS) {
            let Some(key) = usable_key(jwk) else {
                continue;
            };
            match jwk.get("kid").and_then(Value::as_str) {
                Some(kid) => {
                    set.by_kid.entry(kid.to_owned()).or_insert(key);
                }
                None => set.anonymous.push(key),
            }
        }
        Ok(set)
    }

    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty() && self.anonymous.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_kid.len() + self.anonymous.len()
    }

    /// The key a token's `kid` names; a token without `kid` only when the set holds a
    /// single key.
    pub fn get(&self, kid: Option<&str>) -> Option<&SetKey> {
        match kid {
            Some(kid) => self.by_kid.get(kid),
            None if self.len() == 1 => self.by_kid.values().chain(&self.anonymous).next(),
            None => None,
        }
    }
}

fn usable_key(jwk: &Map<String, Value>) -> Option<SetKey> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if jwk.get("use").is_some_and(|usage| usage != "sig") {
        return None;
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op == "verify"));
        if !verifies {
            return None;
        }
    }
    let (algorithm, name, key) = match (text("kty")?, text("crv")) {
        ("RSA", _) => (
            Algorithm::RS256,
            "RS256",
            DecodingKey::from_rsa_components(text("n")?, text("e")?).ok()?,
        ),
        ("EC", Some("P-256")) => (
            Algorithm::ES256,
            "ES256",
            DecodingKey::from_ec_components(text("x")?, text("y")?).ok()?,
        ),
        ("OKP", Some("Ed25519")) => (
            Algorithm::EdDSA,
            "EdDSA",
            DecodingKey::from_ed_components(text("x")?).ok()?,
        ),
        _ => return None,
    };
    // A private key has no place in a public set: refuse to use one that leaked there.
    if jwk.contains_key("d") {
        return None;
    }
    if jwk.get("alg").is_some_and(|alg| alg != name) {
        return None;
    }
    Some(SetKey {
        key,
        algorithm,
        algorithm_name: name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_N: &str = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";

    fn rsa(extra: &str) -> String {
        format!(r#"{{"kty":"RSA","n":"{RSA_N}","e":"AQAB"{extra}}}"#)
    }

    fn set(keys: &[String]) -> KeySet {
        KeySet::parse(format!(r#"{{"keys":[{}]}}"#, keys.join(",")).as_bytes()).unwrap()
    }

    #[test]
    fn keys_are_found_by_kid_with_their_own_algorithm() {
        let keys = set(&[
            rsa(r#","kid":"r1","use":"sig","alg":"RS256""#),
            r#"{"kty":"EC","crv":"P-256","kid":"e1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#.into(),
            r#"{"kty":"OKP","crv":"Ed25519","kid":"d1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#.into(),
        ]);
        assert_eq!(keys.len(), 3);
        assert_eq!(keys.get(Some("r1")).unwrap().algorithm_name, "RS256");
        assert_eq!(keys.get(Some("e1")).unwrap().algorithm, Algorithm::ES256);
        assert_eq!(keys.get(Some("d1")).unwrap().algorithm, Algorithm::EdDSA);
        assert!(keys.get(Some("other")).is_none());
        assert!(keys.get(None).is_none(), "several keys: a kid is needed");
    }

    #[test]
    fn secrets_and_foreign_keys_are_never_used() {
        let keys = set(&[
            r#"{"kty":"oct","kid":"s","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0","alg":"HS256"}"#
                .into(),
            rsa(r#","kid":"hs","alg":"HS256""#),
            rsa(r#","kid":"none","alg":"none""#),
            rsa(r#","kid":"enc","use":"enc""#),
            rsa(r#","kid":"ops","key_ops":["encrypt"]"#),
            rsa(r#","kid":"private","d":"AQAB""#),
            r#"{"kty":"EC","crv":"P-384","kid":"p384","x":"AA","y":"AA"}"#.into(),
            r#"{"kty":"RSA","kid":"broken","n":"!!","e":"AQAB"}"#.into(),
            r#""not an object""#.into(),
        ]);
        assert!(keys.is_empty(), "{keys:?}");
    }

    #[test]
    fn a_lone_key_serves_tokens_without_kid() {
        let keys = set(&[rsa("")]);
        assert_eq!(keys.get(None).unwrap().algorithm_name, "RS256");
        assert!(keys.get(Some("x")).is_none());
    }

    #[test]
    fn documents_that_are_not_key_sets_are_refused() {
        for bad in ["", "[]", "{}", r#"{"keys":{}}"#, "null"] {
            assert!(KeySet::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
