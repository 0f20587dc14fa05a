//! E-mail digests over SMTP ([`lettre`], on tokio with rustls and the ring provider the
//! server already builds; the system's root certificates).
//!
//! `smtps://` is TLS from the first byte; `smtp://` requires STARTTLS unless `smtp_tls`
//! is `none`. Nothing here logs: the caller logs outcomes without the address, and an
//! error from the server (which may quote the address) is reduced to whether it was
//! permanent.

use std::time::Duration;

use anyhow::Context;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{SmtpConfig, SmtpSecurity};
use crate::mentoring::digest::{MailError, Mailer, OutgoingMail};

/// Longest wait for the mail server, per command: well inside a digest lease.
const TIMEOUT: Duration = Duration::from_secs(60);

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// Checks the sender and the TLS set-up; connects only when the first e-mail goes.
    pub fn new(config: &SmtpConfig) -> anyhow::Result<SmtpMailer> {
        let from: Mailbox = config
            .from
            .parse()
            .context("smtp_from is not a mailbox (e.g. \"Mentorhub <noreply@mentor.example>\")")?;
        let server = &config.server;
        let tls = || {
            TlsParameters::new(server.host.clone()).context("setting up TLS for the mail server")
        };
        let security = if server.implicit_tls {
            Tls::Wrapper(tls()?)
        } else {
            match config.security {
                SmtpSecurity::StartTls => Tls::Required(tls()?),
                SmtpSecurity::None => Tls::None,
            }
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.as_str())
                .port(server.port)
                .tls(security)
                .timeout(Some(TIMEOUT));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            let password = String::from_utf8(password.expose().to_vec())
                .context("smtp_password is not UTF-8")?;
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
        })
    }

    fn message(&self, mail: OutgoingMail) -> Result<Message, MailError> {
        let to: Mailbox = mail.to.as_str().parse().map_err(|_| MailError::Address)?;
        let domain = self.from.email.domain().to_owned();
        let header = |name: &str, value: String| -> Result<HeaderValue, MailError> {
            let name = HeaderName::new_from_ascii(name.to_owned()).map_err(|_| MailError::Build)?;
            // Already plain ASCII (the app's address and a base64url token): no encoding
            // or folding that could break the URL.
            Ok(HeaderValue::dangerous_new_pre_encoded(
                name,
                value.clone(),
                value,
            ))
        };
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .message_id(Some(format!("<{}@{domain}>", mail.message_id)))
            // RFC 8058: a one-click POST to this URL unsubscribes, no sign-in needed.
            .raw_header(header(
                "List-Unsubscribe",
                format!("<{}>", mail.unsubscribe_url),
            )?)
            .raw_header(header(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".into(),
            )?)
            // RFC 3834: an automatic message; auto-responders should not answer it.
            .raw_header(header("Auto-Submitted", "auto-generated".into())?)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|_| MailError::Build)
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let message = self.message(mail)?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|error| MailError::Refused {
                permanent: error.is_permanent(),
            })
    }
}
