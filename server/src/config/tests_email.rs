//! The e-mail settings: no mail server, no e-mail; a mail server needs a sender and the
//! app's address; URLs, TLS and credentials are checked, and the password never shows.

use super::*;

fn load(adjust: impl FnOnce(&mut ServeArgs)) -> Result<Config, ConfigError> {
    let mut args = ServeArgs {
        dev: Some("true".into()),
        ..ServeArgs::default()
    };
    adjust(&mut args);
    Config::load_with_env(&args, &|_| None)
}

fn mailing(a: &mut ServeArgs) {
    a.smtp_url = Some("smtp://mail.example.edu".into());
    a.smtp_from = Some("Mentorhub <noreply@mentor.example.edu>".into());
    a.public_url = Some("https://mentor.example.edu".into());
}

#[test]
fn without_a_mail_server_no_email_and_hours_are_hours() {
    let c = load(|_| {}).unwrap();
    assert!(c.email.smtp.is_none());
    assert_eq!(c.email.digest_hour, Duration::from_secs(3600));
    assert_eq!(c.email.digest_lease, Duration::from_secs(300));
}

#[test]
fn a_mail_server_needs_a_sender_and_the_apps_address() {
    let c = load(mailing).unwrap();
    let smtp = c.email.smtp.expect("mail on");
    assert_eq!(
        smtp.server,
        SmtpServer {
            host: "mail.example.edu".into(),
            port: 587,
            implicit_tls: false
        }
    );
    assert_eq!(
        smtp.security,
        SmtpSecurity::StartTls,
        "STARTTLS unless told otherwise"
    );
    assert_eq!(
        c.email.public_url.as_deref(),
        Some("https://mentor.example.edu/")
    );

    let no_from = load(|a| {
        mailing(a);
        a.smtp_from = None;
    })
    .unwrap_err();
    assert!(no_from.to_string().contains("smtp_from"), "{no_from}");
    let no_url = load(|a| {
        mailing(a);
        a.public_url = None;
    })
    .unwrap_err();
    assert!(no_url.to_string().contains("public_url"), "{no_url}");
}

#[test]
fn smtp_urls() {
    let server = |url: &str| {
        load(|a| {
            mailing(a);
            a.smtp_url = Some(url.into());
        })
        .map(|c| c.email.smtp.expect("mail on").server)
    };
    let tls = server("smtps://mail.example.edu").unwrap();
    assert_eq!((tls.port, tls.implicit_tls), (465, true));
    assert_eq!(server("smtp://127.0.0.1:2525/").unwrap().port, 2525);
    let v6 = server("smtp://[::1]:25").unwrap();
    assert_eq!((v6.host.as_str(), v6.port), ("::1", 25));
    for bad in [
        "mail.example.edu",
        "http://mail.example.edu",
        "smtp://",
        "smtp://host:0",
        "smtp://host:99999",
        "smtp://host/path",
    ] {
        assert!(server(bad).is_err(), "{bad}");
    }
    let with_password = server("smtp://user:hunter2@mail.example.edu").unwrap_err();
    assert!(
        !with_password.to_string().contains("hunter2"),
        "{with_password}"
    );
    let plain_tls = load(|a| {
        mailing(a);
        a.smtp_url = Some("smtps://mail.example.edu".into());
        a.smtp_tls = Some("none".into());
    });
    assert!(plain_tls.is_err(), "smtps:// is never in the clear");
}

#[test]
fn credentials_go_together_and_never_show() {
    let alone = load(|a| {
        mailing(a);
        a.smtp_username = Some("mentorhub".into());
    })
    .unwrap_err();
    assert!(alone.to_string().contains("smtp_password"), "{alone}");

    let path = std::env::temp_dir().join(format!("mentorhub-smtp-{}", crate::ids::opaque_token()));
    std::fs::write(&path, "  s3cret-from-file\n").unwrap();
    let c = load(|a| {
        mailing(a);
        a.smtp_username = Some("mentorhub".into());
        a.smtp_password_file = Some(path.display().to_string());
    })
    .unwrap();
    let _ = std::fs::remove_file(&path);
    let smtp = c.email.smtp.clone().expect("mail on");
    assert_eq!(
        smtp.password.as_ref().map(Secret::expose),
        Some(&b"s3cret-from-file"[..])
    );
    assert!(!format!("{c:?}").contains("s3cret"), "password in Debug");

    let both = load(|a| {
        mailing(a);
        a.smtp_username = Some("mentorhub".into());
        a.smtp_password = Some("inline-pw".into());
        a.smtp_password_file = Some("/nonexistent".into());
    })
    .unwrap_err();
    assert!(!both.to_string().contains("inline-pw"), "{both}");
}
