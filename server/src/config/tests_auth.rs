//! Authentication settings: one way to verify tokens is required outside `--dev`, secrets
//! and keys come from values or files, and identity providers' key sets resolve.

use super::tests::{SECRET, load, temp_dir, write_file};
use super::*;

#[test]
fn no_auth_without_dev_is_refused() {
    let err = load(&ServeArgs::default(), &[]).unwrap_err();
    assert!(matches!(err, ConfigError::NoAuth));
    assert_eq!(
        err.to_string(),
        "no authentication configured: set MENTORHUB_JWT_ISSUER (OpenID Connect discovery), \
         MENTORHUB_JWT_JWKS_URL, MENTORHUB_JWT_JWKS_FILE, MENTORHUB_JWT_HS256_SECRET or \
         MENTORHUB_JWT_PUBLIC_KEY_FILE, or run with --dev for local development"
    );
    let args = ServeArgs {
        jwt_hs256_secret: Some(SECRET.into()),
        ..ServeArgs::default()
    };
    let c = load(&args, &[]).unwrap();
    assert_eq!(c.auth.hs256_secret().unwrap().expose(), SECRET.as_bytes());
}

#[test]
fn secret_file_and_public_key_file() {
    let dir = temp_dir();
    let secret_file = write_file(&dir, "hs", &format!("{SECRET}\n"));
    let args = ServeArgs {
        jwt_hs256_secret_file: Some(secret_file.display().to_string()),
        ..ServeArgs::default()
    };
    let c = load(&args, &[]).unwrap();
    assert_eq!(
        c.auth.hs256_secret().unwrap().expose(),
        SECRET.as_bytes(),
        "newline trimmed"
    );

    let short = write_file(&dir, "short", "tooshort\n");
    let args = ServeArgs {
        jwt_hs256_secret_file: Some(short.display().to_string()),
        ..ServeArgs::default()
    };
    let err = load(&args, &[]).unwrap_err();
    assert_eq!(err.setting(), Some("jwt_hs256_secret_file"));
    assert!(!err.to_string().contains("tooshort"), "{err}");

    let pem = write_file(
        &dir,
        "rsa.pem",
        include_str!("../auth/testdata/rsa-public.pem"),
    );
    let args = ServeArgs {
        jwt_public_key_file: Some(pem.display().to_string()),
        jwt_algorithm: Some("rs256".into()),
        jwt_issuer: Some("https://idp.example".into()),
        ..ServeArgs::default()
    };
    let c = load(&args, &[]).unwrap();
    assert!(matches!(
        c.auth.key,
        Some(JwtKey::PublicKey {
            algorithm: JwtAlgorithm::RS256,
            ..
        })
    ));

    // An RSA key declared as EdDSA does not parse: refused at start-up.
    let args = ServeArgs {
        jwt_algorithm: Some("EdDSA".into()),
        ..args
    };
    let err = load(&args, &[]).unwrap_err();
    assert_eq!(err.setting(), Some("jwt_public_key_file"), "{err}");

    let private = write_file(
        &dir,
        "priv.pem",
        include_str!("../auth/testdata/rsa-private.pem"),
    );
    let args = ServeArgs {
        jwt_public_key_file: Some(private.display().to_string()),
        jwt_algorithm: Some("RS256".into()),
        ..ServeArgs::default()
    };
    let err = load(&args, &[]).unwrap_err();
    assert!(err.to_string().contains("PRIVATE key"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn identity_provider_key_sets_resolve() {
    // The issuer alone: discovery.
    let args = ServeArgs {
        jwt_issuer: Some("https://idp.example.edu/realms/medicine".into()),
        ..ServeArgs::default()
    };
    let c = load(&args, &[]).unwrap();
    assert_eq!(
        c.auth.key.as_ref().map(|k| format!("{k:?}")),
        Some("KeySet(Discovery { issuer: \"https://idp.example.edu/realms/medicine\" })".into())
    );
    assert_eq!(c.auth.key_set, KeySetTiming::default());
    // An issuer that is only a name, beside a secret, stays an `iss` check.
    let args = ServeArgs {
        jwt_issuer: Some("ops".into()),
        jwt_hs256_secret: Some("s".repeat(32)),
        ..ServeArgs::default()
    };
    assert!(matches!(
        load(&args, &[]).unwrap().auth.key,
        Some(JwtKey::Hs256(_))
    ));
    // Alone, it must be a URL the keys can be fetched from safely.
    for bad in [
        "ops",
        "http://idp.example.edu",
        "https://user:pw@idp.example.edu",
    ] {
        let args = ServeArgs {
            jwt_issuer: Some(bad.into()),
            ..ServeArgs::default()
        };
        let err = load(&args, &[]).unwrap_err();
        assert_eq!(err.setting(), Some("jwt_issuer"), "{bad}: {err}");
    }
    let args = ServeArgs {
        jwt_jwks_url: Some("http://127.0.0.1:8081/jwks".into()),
        jwt_jwks_refetch_secs: Some("5".into()),
        ..ServeArgs::default()
    };
    let c = load(&args, &[]).unwrap();
    assert!(matches!(
        c.auth.key,
        Some(JwtKey::KeySet(KeySetSource::Url(ref url))) if url == "http://127.0.0.1:8081/jwks"
    ));
    assert_eq!(c.auth.key_set.refetch, Duration::from_secs(5));
}

#[test]
fn key_set_settings_are_checked() {
    let dir = temp_dir();
    let conflict = ServeArgs {
        jwt_jwks_url: Some("https://idp.example/jwks".into()),
        jwt_hs256_secret: Some("s".repeat(32)),
        ..ServeArgs::default()
    };
    let err = load(&conflict, &[]).unwrap_err();
    assert!(err.to_string().contains("mutually exclusive"), "{err}");
    let inverted = ServeArgs {
        jwt_jwks_url: Some("https://idp.example/jwks".into()),
        jwt_jwks_cache_min_secs: Some("600".into()),
        jwt_jwks_cache_max_secs: Some("60".into()),
        ..ServeArgs::default()
    };
    let err = load(&inverted, &[]).unwrap_err();
    assert!(err.to_string().contains("jwt_jwks_cache_max_secs"), "{err}");
    let empty = write_file(
        &dir,
        "empty.json",
        r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#,
    );
    let args = ServeArgs {
        jwt_jwks_file: Some(empty.display().to_string()),
        ..ServeArgs::default()
    };
    let err = load(&args, &[]).unwrap_err();
    assert_eq!(err.setting(), Some("jwt_jwks_file"), "{err}");
    assert!(err.to_string().contains("no usable signing key"), "{err}");
    let good = write_file(
        &dir,
        "keys.json",
        r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#,
    );
    let args = ServeArgs {
        jwt_jwks_file: Some(good.display().to_string()),
        ..ServeArgs::default()
    };
    assert!(matches!(
        load(&args, &[]).unwrap().auth.key,
        Some(JwtKey::KeySet(KeySetSource::File { .. }))
    ));
}

#[test]
fn sign_in_needs_a_client_id_and_a_discoverable_issuer() {
    let issuer = "https://idp.example.edu/realms/medicine";
    let mut args = ServeArgs {
        jwt_issuer: Some(issuer.into()),
        ..ServeArgs::default()
    };
    assert_eq!(
        load(&args, &[]).unwrap().auth.sign_in,
        None,
        "off by default"
    );

    args.oidc_client_id = Some("mentorhub-web".into());
    let c = load(&args, &[]).unwrap();
    assert_eq!(
        c.auth.sign_in,
        Some(SignIn {
            issuer: issuer.into(),
            client_id: "mentorhub-web".into(),
            scopes: "openid profile offline_access".into(),
            resource: None,
        })
    );
    let mut custom = args.clone();
    custom.oidc_scopes = Some("  openid   mentorhub ".into());
    custom.oidc_resource = Some("urn:mentorhub".into());
    let sign_in = load(&custom, &[]).unwrap().auth.sign_in.unwrap();
    assert_eq!(sign_in.scopes, "openid mentorhub");
    assert_eq!(sign_in.resource.as_deref(), Some("urn:mentorhub"));

    for (name, value) in [
        ("oidc_scopes", "profile email"),
        ("oidc_scopes", "openid \"x\""),
        ("oidc_client_id", "two words"),
        ("oidc_resource", "urn:a b"),
    ] {
        let mut bad = args.clone();
        bad.set(name, value);
        let err = load(&bad, &[]).unwrap_err();
        assert_eq!(err.setting(), Some(name), "{value}: {err}");
    }

    // A client id needs an issuer the browser can discover; scopes need a client id.
    let no_issuer = ServeArgs {
        oidc_client_id: Some("mentorhub-web".into()),
        jwt_hs256_secret: Some(SECRET.into()),
        ..ServeArgs::default()
    };
    let err = load(&no_issuer, &[]).unwrap_err();
    assert!(matches!(err, ConfigError::Conflict(_)), "{err}");
    let name_only = ServeArgs {
        jwt_issuer: Some("ops".into()),
        ..no_issuer
    };
    let err = load(&name_only, &[]).unwrap_err();
    assert_eq!(err.setting(), Some("jwt_issuer"), "{err}");
    let no_client = ServeArgs {
        jwt_issuer: Some(issuer.into()),
        oidc_resource: Some("urn:mentorhub".into()),
        ..ServeArgs::default()
    };
    let err = load(&no_client, &[]).unwrap_err();
    assert!(matches!(err, ConfigError::Conflict(_)), "{err}");
}
