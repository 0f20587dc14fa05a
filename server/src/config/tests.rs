use std::collections::HashMap;
use std::io::Write as _;

use std::path::Path;

use super::parse::database;
use super::*;

pub(super) const SECRET: &str = "0123456789abcdef0123456789abcdef-test-only";

pub(super) fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mentorhub-config-{}", crate::ids::opaque_token()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(super) fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

fn dev_args() -> ServeArgs {
    ServeArgs {
        dev: Some("true".into()),
        ..ServeArgs::default()
    }
}

/// Loads with a fake environment (never the process's).
pub(super) fn load(args: &ServeArgs, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load_with_env(args, &move |k| env.get(k).cloned())
}

#[test]
fn defaults() {
    let c = load(&dev_args(), &[]).unwrap();
    assert_eq!(c.listen, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
    assert!(c.dev);
    assert_eq!(c.data_dir, PathBuf::from("./mentorhub-data"));
    assert!(
        c.node_id.starts_with("n_") && c.node_id.len() == 10,
        "{}",
        c.node_id
    );
    assert_eq!(
        c.scale.database,
        DatabaseConfig::Sqlite {
            path: PathBuf::from("./mentorhub-data/mentorhub.sqlite3")
        }
    );
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.ws.max_frame_bytes, 131072);
    assert_eq!(c.ws.idle_timeout, Duration::from_secs(60));
    assert_eq!(c.ws.max_write_buffer_bytes, 1024 * 1024);
    assert!(c.ws.allow_missing_origin);
    assert_eq!(c.auth.leeway, Duration::from_secs(60));
    assert_eq!(c.auth.max_lifetime, Duration::from_secs(86_400));
    assert_eq!(c.auth.max_lifetime, super::defaults::jwt_max_lifetime());
    assert!(c.auth.key.is_none());
    assert!(c.calls.turn_enabled);
    assert_eq!(c.mentoring.room_member_limit, 16);
    assert!(c.web_client_dir.ends_with("web-client"));
}

#[test]
fn for_tests_is_dev_on_port_zero_in_the_given_dir() {
    let c = Config::for_tests(PathBuf::from("/tmp/x"));
    assert!(c.dev);
    assert_eq!(c.listen.port(), 0);
    assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    assert_eq!(
        c.scale.database,
        DatabaseConfig::Sqlite {
            path: PathBuf::from("/tmp/x/mentorhub.sqlite3")
        }
    );
}

#[test]
fn env_names_follow_the_setting_names() {
    for (name, env) in SETTINGS {
        assert_eq!(*env, format!("MENTORHUB_{}", name.to_ascii_uppercase()));
    }
}

#[test]
fn file_below_args() {
    let dir = temp_dir();
    let file = write_file(
        &dir,
        "m.toml",
        "listen = \"127.0.0.1:9003\"\nping_interval_secs = 7\nidle_timeout_secs = 70\n\
             dev = true\nallowed_origins = [\"https://a.example\", \"http://localhost:5173\"]\n",
    );
    let args = ServeArgs {
        config: Some(file),
        listen: Some("127.0.0.1:9001".into()),
        ..ServeArgs::default()
    };
    let c = load(&args, &[]).unwrap();
    assert_eq!(c.listen.port(), 9001, "argument beats file");
    assert_eq!(
        c.ws.ping_interval,
        Duration::from_secs(7),
        "file beats default"
    );
    assert_eq!(c.ws.allowed_origins.len(), 2);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_value_names_the_setting_and_its_source() {
    let args = ServeArgs {
        listen: Some("abc".into()),
        ..dev_args()
    };
    // Came from the environment (clap merged it): named by its env var.
    let err = load(&args, &[("MENTORHUB_LISTEN", "abc")]).unwrap_err();
    assert_eq!(err.setting(), Some("listen"));
    assert_eq!(
        err.to_string(),
        "invalid setting MENTORHUB_LISTEN (listen): \"abc\" is not a socket address \
             (expected IP:PORT, e.g. 127.0.0.1:8080)"
    );
    // Came from the command line: named by its flag.
    let err = load(&args, &[]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid setting --listen (listen)"),
        "{err}"
    );

    let dir = temp_dir();
    let file = write_file(&dir, "m.toml", "max_frame_bytes = 12\n");
    let args = ServeArgs {
        config: Some(file.clone()),
        ..dev_args()
    };
    let err = load(&args, &[]).unwrap_err();
    assert_eq!(err.setting(), Some("max_frame_bytes"));
    assert!(err.to_string().contains(&format!(
        "max_frame_bytes in config file {}",
        file.display()
    )));
    assert!(err.to_string().contains("between 1024"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `dev_args()` plus raw values by setting name.
fn dev_args_with(pairs: &[(&str, &str)]) -> ServeArgs {
    let mut args = dev_args();
    for (name, value) in pairs {
        args.set(name, value);
    }
    args
}

#[test]
fn many_bad_values_are_named() {
    let cases = [
        ("dev", "maybe", "boolean"),
        ("node_id", "Node 1", "a-z"),
        ("database_url", "mysql://x", "sqlite:"),
        ("database_url", "sqlite::memory:", "file path"),
        ("redis_url", "http://r", "redis://"),
        ("log_format", "xml", "text, json"),
        ("jwt_algorithm", "HS256", "RS256"),
        ("jwt_hs256_secret", "short", "32 bytes"),
        ("encryption_keys", "1:AAAA", "32 bytes"),
        ("allowed_origins", "https://a.example/", "exact origin"),
        ("allowed_origins", "https://a.example:443", "default port"),
        ("allowed_origins", "ftp://a", "http"),
        ("outbound_queue", "4", "between 8"),
        ("rate_per_sec", "-1", "above 0"),
        ("turn_public_ip", "example.org", "IP address"),
        ("turn_secret", "short", "16 bytes"),
        ("turn_urls", "turn:ok.example,stun:x", "entry 2"),
        ("stun_urls", "stun://x", "stun:host"),
    ];
    for (setting, value, reason) in cases {
        let err = load(&dev_args_with(&[(setting, value)]), &[]).unwrap_err();
        assert_eq!(err.setting(), Some(setting), "{err}");
        assert!(err.to_string().contains(reason), "{setting}: {err}");
    }
}

#[test]
fn combinations_are_checked() {
    let duplicate_keys = format!("1:{0},1:{0}", "A".repeat(43) + "=");
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("idle_timeout_secs", "20")], "idle_timeout_secs"),
        (&[("max_sdp_bytes", "131072")], "max_sdp_bytes"),
        (
            &[("ws_max_write_buffer_bytes", "4096")],
            "ws_max_write_buffer_bytes",
        ),
        (
            &[
                ("redis_url", "redis://r"),
                ("redis_cluster_urls", "redis://a,redis://b"),
            ],
            "redis_cluster_urls",
        ),
        (
            &[
                ("jwt_hs256_secret", SECRET),
                ("jwt_public_key_file", "k.pem"),
                ("jwt_algorithm", "RS256"),
            ],
            "mutually exclusive",
        ),
        (&[("jwt_algorithm", "ES256")], "jwt_public_key_file"),
        (&[("encryption_keys", &duplicate_keys)], "twice"),
    ];
    for (pairs, needle) in cases {
        let err = load(&dev_args_with(pairs), &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Conflict(_)), "{err}");
        assert!(err.to_string().contains(needle), "{err}");
    }
}

#[test]
fn unknown_file_key_is_refused() {
    let dir = temp_dir();
    let cases = [
        ("listen_addr = \"x\"\n", "listen_addr", "snake_case"),
        (
            "max-frame-bytes = 1\n",
            "max-frame-bytes",
            "did you mean \"max_frame_bytes\"",
        ),
        ("[auth]\njwt_issuer = \"x\"\n", "auth", "no [sections]"),
    ];
    for (text, key, hint) in cases {
        let file = write_file(&dir, "m.toml", text);
        let args = ServeArgs {
            config: Some(file),
            ..dev_args()
        };
        let err = load(&args, &[]).unwrap_err();
        assert!(
            matches!(&err, ConfigError::UnknownKey { key: k, .. } if k == key),
            "{err}"
        );
        assert!(err.to_string().contains(hint), "{err}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn toml_errors_do_not_quote_the_file() {
    let dir = temp_dir();
    let file = write_file(
        &dir,
        "m.toml",
        "dev = true\njwt_hs256_secret = \"hunter2-unterminated\n",
    );
    let args = ServeArgs {
        config: Some(file),
        ..ServeArgs::default()
    };
    let err = load(&args, &[]).unwrap_err();
    assert!(matches!(err, ConfigError::Toml { line: 2, .. }), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_config_file_is_named() {
    let args = ServeArgs {
        config: Some(PathBuf::from("/nonexistent/mentorhub.toml")),
        ..dev_args()
    };
    let err = load(&args, &[]).unwrap_err();
    assert!(err.to_string().contains("MENTORHUB_CONFIG"), "{err}");
}

#[test]
fn debug_redacts_secrets() {
    let key_b64 = "S2V5TWF0ZXJpYWxLZXlNYXRlcmlhbEtleU1hdGVyaWE="; // 32 bytes
    let args = ServeArgs {
        jwt_hs256_secret: Some(SECRET.into()),
        turn_secret: Some("turn-secret-canary-1234".into()),
        encryption_keys: Some(format!("7:{key_b64}")),
        database_url: Some("postgres://app:pg-canary-pw@db/mentorhub".into()),
        redis_url: Some("redis://:redis-canary-pw@cache:6379".into()),
        ..ServeArgs::default()
    };
    let config = load(&args, &[]).unwrap();
    for debug in [
        format!("{config:?}"),
        format!("{config:#?}"),
        format!("{args:?}"),
    ] {
        for canary in [
            SECRET,
            "turn-secret-canary",
            key_b64,
            "pg-canary-pw",
            "redis-canary-pw",
        ] {
            assert!(!debug.contains(canary), "{canary} leaked: {debug}");
        }
    }
    let debug = format!("{config:?}");
    assert!(debug.contains("postgres://app:***@db/mentorhub"), "{debug}");
    assert!(debug.contains("id: 7"), "{debug}");
    // Errors about secrets do not echo them either.
    let args = ServeArgs {
        turn_secret: Some("short-canary".into()),
        ..dev_args()
    };
    let err = load(&args, &[]).unwrap_err();
    assert!(!err.to_string().contains("short-canary"), "{err}");
    let err = load(
        &dev_args_with(&[("jwt_hs256_secret", "[bracket-canary")]),
        &[],
    )
    .unwrap_err();
    assert!(!err.to_string().contains("bracket-canary"), "{err}");
}

#[test]
fn url_masking() {
    assert_eq!(mask_url_password("redis://r:6379"), "redis://r:6379");
    assert_eq!(mask_url_password("redis://u:p@r/0"), "redis://u:***@r/0");
    assert_eq!(mask_url_password("rediss://tok@r"), "rediss://***@r");
    assert_eq!(
        mask_url_password("postgres://u:p@h/db?x=@y"),
        "postgres://u:***@h/db?x=@y"
    );
}

#[test]
fn lists_and_empty_values() {
    let args = ServeArgs {
        allowed_origins: Some(" https://A.example , http://[::1]:8080,,".into()),
        redis_url: Some("  ".into()),
        stun_urls: Some("stun:stun.example:3478".into()),
        turn_urls: Some("turns:turn.example:5349?transport=tcp".into()),
        ..dev_args()
    };
    let c = load(&args, &[]).unwrap();
    assert_eq!(
        c.ws.allowed_origins,
        ["https://a.example", "http://[::1]:8080"]
    );
    assert_eq!(c.scale.redis_url, None, "blank counts as unset");
    assert_eq!(c.calls.stun_urls.len(), 1);
    assert_eq!(c.calls.turn_urls.len(), 1);
}

#[test]
fn origins() {
    use super::parse::origin;
    assert_eq!(
        origin("HTTPS://Mentor.Example").unwrap(),
        "https://mentor.example"
    );
    assert_eq!(
        origin("http://localhost:5173").unwrap(),
        "http://localhost:5173"
    );
    assert_eq!(origin("http://[::1]:8080").unwrap(), "http://[::1]:8080");
    let err = origin("http://[::1]:80").unwrap_err();
    assert!(err.contains("write http://[::1]"), "{err}");
    for bad in [
        "mentor.example",
        "https://",
        "https://a.example/",
        "https://a.example/path",
        "https://*.example",
        "https://u@a.example",
        "https://a.example:0",
        "https://a.example:080",
        "https://a.example:99999",
        "https://a_b.example",
        "null",
    ] {
        assert!(origin(bad).is_err(), "{bad}");
    }
}

#[test]
fn database_urls() {
    let case = |url: &str| database(url).unwrap();
    assert_eq!(
        case("sqlite:///var/lib/m.db"),
        DatabaseConfig::Sqlite {
            path: "/var/lib/m.db".into()
        }
    );
    assert_eq!(
        case("sqlite:rel.db"),
        DatabaseConfig::Sqlite {
            path: "rel.db".into()
        }
    );
    assert!(matches!(
        case("postgresql://u@h/db"),
        DatabaseConfig::Postgres { .. }
    ));
    assert!(database("sqlite:x.db?mode=memory").is_err());
}

/// Real clap + real process environment, in a child process so no test mutates the
/// environment of this one: CLI beats env beats file beats default.
#[test]
fn precedence_cli_over_env_over_file() {
    let dir = temp_dir();
    let file = write_file(
        &dir,
        "m.toml",
        "dev = true\nlisten = \"127.0.0.1:7003\"\nping_interval_secs = 7\n\
             idle_timeout_secs = 70\nnode_id = \"from-file\"\n",
    );
    let output = run_child(&[
        ("MENTORHUB_TEST_CHILD", "precedence"),
        ("MENTORHUB_CONFIG", &file.display().to_string()),
        ("MENTORHUB_LISTEN", "127.0.0.1:7002"),
        ("MENTORHUB_PING_INTERVAL_SECS", "8"),
        ("MENTORHUB_NODE_ID", ""),
    ]);
    assert!(output.contains("CHILD-OK precedence"), "{output}");

    let output = run_child(&[
        ("MENTORHUB_TEST_CHILD", "bad-env"),
        ("MENTORHUB_DEV", "1"),
        ("MENTORHUB_MAX_FRAME_BYTES", "lots"),
    ]);
    assert!(output.contains("CHILD-OK bad-env"), "{output}");
    std::fs::remove_dir_all(dir).unwrap();
}

fn run_child(env: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().unwrap();
    let output = std::process::Command::new(exe)
        .args([
            "--exact",
            "config::tests::child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    text
}

/// Does nothing unless started by `run_child`.
#[test]
fn child_process_entry() {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }
    let Ok(mode) = std::env::var("MENTORHUB_TEST_CHILD") else {
        return;
    };
    match mode.as_str() {
        "precedence" => {
            let cli = Cli::try_parse_from(["mentorhub", "--listen", "127.0.0.1:7001"]).unwrap();
            let c = Config::load(cli.serve).unwrap();
            assert_eq!(c.listen.port(), 7001, "CLI beats env and file");
            assert_eq!(c.ws.ping_interval.as_secs(), 8, "env beats file");
            assert_eq!(c.ws.idle_timeout.as_secs(), 70, "file beats default");
            assert_eq!(c.node_id, "from-file", "empty env var counts as unset");
            assert_eq!(c.ws.outbound_queue, 256, "default");
            assert!(c.dev);
        }
        "bad-env" => {
            let cli = Cli::try_parse_from(["mentorhub"]).unwrap();
            let err = Config::load(cli.serve).unwrap_err();
            assert!(
                err.to_string().starts_with(
                    "invalid setting MENTORHUB_MAX_FRAME_BYTES (max_frame_bytes): \"lots\""
                ),
                "{err}"
            );
            // The flag beats the bad env value; `--dev=false` then leaves no auth.
            let cli =
                Cli::try_parse_from(["mentorhub", "--max-frame-bytes", "2048", "--dev=false"])
                    .unwrap();
            assert!(matches!(Config::load(cli.serve), Err(ConfigError::NoAuth)));
        }
        other => panic!("unknown child mode {other}"),
    }
    println!("CHILD-OK {mode}");
}
