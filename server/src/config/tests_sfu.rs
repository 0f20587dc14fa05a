//! The SFU settings: Janus needs its secret, the mesh limit fits the mesh cap, and
//! without Janus nothing changes.

use super::*;

fn load(adjust: impl FnOnce(&mut ServeArgs)) -> Result<Config, ConfigError> {
    let mut args = ServeArgs {
        dev: Some("true".into()),
        ..ServeArgs::default()
    };
    adjust(&mut args);
    Config::load_with_env(&args, &|_| None)
}

const URLS: &str = "ws://10.0.0.5:8188,wss://sfu.example:443";
const SECRET: &str = "0123456789abcdef";

#[test]
fn without_janus_calls_stay_a_mesh_of_six() {
    let c = load(|_| {}).unwrap();
    assert!(c.calls.janus_urls.is_empty());
    assert!(c.calls.janus_secret.is_none());
    assert_eq!(c.calls.max_participants, 6);
    assert_eq!(c.calls.mesh_max_participants, 4);
    assert_eq!(c.calls.sfu_max_participants, 16);
}

#[test]
fn janus_needs_its_secret_and_ws_urls() {
    let error = load(|a| a.janus_urls = Some(URLS.into())).unwrap_err();
    assert!(error.to_string().contains("janus_secret"), "{error}");

    let c = load(|a| {
        a.janus_urls = Some(URLS.into());
        a.janus_secret = Some(SECRET.into());
    })
    .unwrap();
    assert_eq!(c.calls.janus_urls.len(), 2);
    assert!(
        !format!("{:?}", c.calls).contains(SECRET),
        "secret in Debug"
    );

    let short = load(|a| {
        a.janus_urls = Some(URLS.into());
        a.janus_secret = Some("short-one".into());
    })
    .unwrap_err();
    assert!(!short.to_string().contains("short-one"), "{short}");
    let http = load(|a| {
        a.janus_urls = Some("http://10.0.0.5:8088".into());
        a.janus_secret = Some(SECRET.into());
    });
    assert!(http.is_err());
}

#[test]
fn janus_secret_file_is_read_and_trimmed() {
    let path = std::env::temp_dir().join(format!("mentorhub-janus-{}", crate::ids::opaque_token()));
    std::fs::write(&path, "  fedcba9876543210fedcba\n").unwrap();
    let file = path.to_str().unwrap().to_owned();
    let c = load(|a| {
        a.janus_urls = Some("ws://127.0.0.1:8188".into());
        a.janus_secret_file = Some(file.clone());
    })
    .unwrap();
    let secret = c.calls.janus_secret.unwrap();
    assert_eq!(secret.expose(), b"fedcba9876543210fedcba");
    let both = load(|a| {
        a.janus_secret = Some(SECRET.into());
        a.janus_secret_file = Some(file.clone());
    });
    assert!(both.is_err());
    std::fs::remove_file(path).unwrap();
}

#[test]
fn the_mesh_limit_fits_the_mesh_cap() {
    let error = load(|a| a.call_mesh_max_participants = Some("7".into())).unwrap_err();
    assert!(
        error.to_string().contains("call_max_participants"),
        "{error}"
    );
    let c = load(|a| a.call_mesh_max_participants = Some("2".into())).unwrap();
    assert_eq!(c.calls.mesh_max_participants, 2);
}
