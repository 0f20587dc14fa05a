//! The e-mail digest's rules: when an account that chose a digest is e-mailed, and
//! what the e-mail may say.
//!
//! - **Daily:** at most one e-mail per 24 hours, and only about messages unread for at
//!   least an hour (someone reading live is not e-mailed).
//! - **After N hours:** once a message has been unread for N hours; at most one e-mail
//!   per N hours.
//! - Either way only when something arrived since the last digest: the same unread
//!   messages are never announced twice.
//! - **Not while they are here:** a digest that is due while a device of the account is
//!   connected waits (it is looked at again a twelfth of an hour later); one due inside
//!   the recipient's quiet hours (their notification preferences, their time zone) waits
//!   until they end. The quiet-hours arithmetic is [`crate::notify::rules::Quiet`]'s.
//! - **Content-free:** the e-mail says how many messages are unread in how many
//!   conversations, and links to the app. Never a body, a title, an agreement or a name.
//!
//! Hours are a [`Duration`] given by the caller (an hour in production; tests shorten it).

use std::time::Duration;

use crate::error::Refusal;
use crate::ids::Millis;
use crate::notify::rules::Quiet;
use crate::protocol::ErrorCode;
use crate::protocol::vocabulary::EmailDigest;
use crate::store::DigestChoice;

/// `email_after_hours` when an account never set it.
pub const DEFAULT_AFTER_HOURS: u32 = 12;
/// The longest `email_after_hours`: a week.
pub const MAX_AFTER_HOURS: u32 = 168;
/// A daily digest's spacing, in hours.
const DAILY_HOURS: u32 = 24;
/// How long a message stays unread before a daily digest may mention it, in hours.
const DAILY_UNREAD_HOURS: u32 = 1;

/// The choice an account has when it never chose: no e-mail.
pub const DEFAULT_CHOICE: DigestChoice = DigestChoice {
    choice: EmailDigest::Off,
    after_hours: DEFAULT_AFTER_HOURS,
};

/// Checks a choice an account asks for.
pub fn validate(choice: DigestChoice) -> Result<DigestChoice, Refusal> {
    if !(1..=MAX_AFTER_HOURS).contains(&choice.after_hours) {
        return Err(Refusal::new(
            ErrorCode::InvalidFrame,
            format!(
                "email_after_hours must be a whole number of hours from 1 to {MAX_AFTER_HOURS}"
            ),
        ));
    }
    Ok(choice)
}

/// When an account may be e-mailed: `spacing` after the last digest, about messages
/// unread for at least `unread_for`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub spacing: Millis,
    pub unread_for: Millis,
    /// A due digest held back by a connected device is looked at again this much later.
    pub recheck: Millis,
}

impl Window {
    /// `None` when the digest is off.
    pub fn of(choice: DigestChoice, hour: Duration) -> Option<Window> {
        let hours = |n: u32| (hour.as_millis() as i64).saturating_mul(i64::from(n));
        let recheck = (hours(1) / 12).max(1);
        match choice.choice {
            EmailDigest::Off => None,
            EmailDigest::Daily => Some(Window {
                spacing: hours(DAILY_HOURS),
                unread_for: hours(DAILY_UNREAD_HOURS),
                recheck,
            }),
            EmailDigest::AfterHours => Some(Window {
                spacing: hours(choice.after_hours),
                unread_for: hours(choice.after_hours),
                recheck,
            }),
        }
    }
}

/// An account's unread messages over all its conversations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unread {
    pub messages: u64,
    /// Conversations with at least one unread message.
    pub conversations: u64,
    /// When the first message that arrived after the last digest arrived.
    pub first_new_at: Option<Millis>,
}

/// What to do about an account now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// E-mail it now.
    Send,
    /// Nothing to send yet; look again at this time (nothing can be due before it).
    WaitUntil(Millis),
}

/// What may hold back a digest that is due.
#[derive(Clone, Copy, Debug, Default)]
pub struct Holds<'a> {
    /// The recipient's quiet hours, if they set any.
    pub quiet: Option<&'a Quiet>,
    /// A device of the account is connected to some node.
    pub connected: bool,
}

/// The rule (see the module's text). `last_sent_at` is 0 before the first digest.
pub fn decide(
    window: Window,
    last_sent_at: Millis,
    unread: &Unread,
    now: Millis,
    holds: Holds<'_>,
) -> Decision {
    let spaced = if last_sent_at > 0 {
        last_sent_at.saturating_add(window.spacing)
    } else {
        0
    };
    let first_new = match unread.first_new_at {
        Some(at) if unread.messages > 0 => at,
        // A message arriving now is due no sooner than this.
        _ => return Decision::WaitUntil(now.saturating_add(window.unread_for).max(spaced)),
    };
    let ready_at = first_new.saturating_add(window.unread_for).max(spaced);
    if ready_at > now {
        return Decision::WaitUntil(ready_at);
    }
    if let Some(end) = holds.quiet.and_then(|q| q.ends_after(now)) {
        return Decision::WaitUntil(end);
    }
    if holds.connected {
        return Decision::WaitUntil(now.saturating_add(window.recheck));
    }
    Decision::Send
}

/// A digest's words: only counts and links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestText {
    pub subject: String,
    pub body: String,
}

/// The e-mail for `unread` (`app` is the app's address, `unsubscribe` the one-click link).
pub fn digest_text(
    unread: &Unread,
    choice: EmailDigest,
    app: &str,
    unsubscribe: &str,
) -> DigestText {
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let messages = plural(unread.messages, "unread message", "unread messages");
    let conversations = plural(
        unread.conversations,
        "mentoring conversation",
        "mentoring conversations",
    );
    let why = match choice {
        EmailDigest::Daily => "a daily e-mail",
        EmailDigest::AfterHours | EmailDigest::Off => "an e-mail when messages wait unread",
    };
    DigestText {
        subject: format!("Mentorhub: {messages}"),
        body: format!(
            "Hello,\r\n\r\nYou have {messages} in {conversations}.\r\n\r\n\
             Open Mentorhub to read them: {app}\r\n\r\n\
             You receive this because you chose {why} about unread messages. \
             To receive no more, change it in Mentorhub or unsubscribe here: {unsubscribe}\r\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_millis(1000);
    const H: Millis = 1000;
    const FREE: Holds<'static> = Holds {
        quiet: None,
        connected: false,
    };

    fn window(choice: EmailDigest, after_hours: u32) -> Window {
        Window::of(
            DigestChoice {
                choice,
                after_hours,
            },
            HOUR,
        )
        .expect("on")
    }

    fn unread(messages: u64, first_new_at: Option<Millis>) -> Unread {
        Unread {
            messages,
            conversations: 1,
            first_new_at,
        }
    }

    #[test]
    fn off_has_no_window_and_is_the_default() {
        assert_eq!(Window::of(DEFAULT_CHOICE, HOUR), None);
        assert_eq!(DEFAULT_CHOICE.choice, EmailDigest::Off);
    }

    #[test]
    fn windows() {
        assert_eq!(
            window(EmailDigest::Daily, 5),
            Window {
                spacing: 24 * H,
                unread_for: H,
                recheck: H / 12,
            }
        );
        assert_eq!(
            window(EmailDigest::AfterHours, 5),
            Window {
                spacing: 5 * H,
                unread_for: 5 * H,
                recheck: H / 12,
            }
        );
    }

    #[test]
    fn after_hours_waits_until_a_message_has_been_unread_that_long() {
        let w = window(EmailDigest::AfterHours, 3);
        let now = 100 * H;
        let arrived = now - 2 * H;
        assert_eq!(
            decide(w, 0, &unread(2, Some(arrived)), now, FREE),
            Decision::WaitUntil(arrived + 3 * H)
        );
        assert_eq!(
            decide(w, 0, &unread(2, Some(arrived)), arrived + 3 * H, FREE),
            Decision::Send
        );
    }

    #[test]
    fn nothing_new_since_the_last_digest_sends_nothing() {
        let w = window(EmailDigest::AfterHours, 1);
        let now = 100 * H;
        // Unread messages, all announced before: none arrived after the last digest.
        assert_eq!(
            decide(w, now - 50 * H, &unread(4, None), now, FREE),
            Decision::WaitUntil(now + H)
        );
        assert_eq!(
            decide(w, 0, &unread(0, None), now, FREE),
            Decision::WaitUntil(now + H)
        );
    }

    #[test]
    fn daily_sends_at_most_once_per_24_hours() {
        let w = window(EmailDigest::Daily, DEFAULT_AFTER_HOURS);
        let last = 1000 * H;
        let arrived = last + 2 * H;
        let now = last + 10 * H;
        assert_eq!(
            decide(w, last, &unread(1, Some(arrived)), now, FREE),
            Decision::WaitUntil(last + 24 * H)
        );
        assert_eq!(
            decide(w, last, &unread(1, Some(arrived)), last + 24 * H, FREE),
            Decision::Send
        );
        // The first digest ever: only the hour of unread counts.
        assert_eq!(
            decide(w, 0, &unread(1, Some(arrived)), arrived + H, FREE),
            Decision::Send
        );
        assert_eq!(
            decide(w, 0, &unread(1, Some(arrived)), arrived + H - 1, FREE),
            Decision::WaitUntil(arrived + H)
        );
    }

    fn quiet(start: &str, end: &str, zone: &str) -> Quiet {
        Quiet::parse(&crate::protocol::notify::QuietHours {
            start: start.into(),
            end: end.into(),
            time_zone: zone.into(),
        })
        .expect("valid quiet hours")
    }

    /// Real time, for quiet hours: `2026-01-15T<clock>Z` in milliseconds.
    fn at_utc(clock: &str) -> Millis {
        format!("2026-01-15T{clock}:00Z")
            .parse::<jiff::Timestamp>()
            .expect("a timestamp")
            .as_millisecond()
    }

    #[test]
    fn a_due_digest_waits_for_the_end_of_quiet_hours_in_the_recipients_zone() {
        let hour = Duration::from_secs(3600);
        let w = Window::of(
            DigestChoice {
                choice: EmailDigest::AfterHours,
                after_hours: 1,
            },
            hour,
        )
        .expect("on");
        // 22:00–07:00 in Berlin (UTC+1 in January): 23:30 UTC is 00:30 there.
        let night = quiet("22:00", "07:00", "Europe/Berlin");
        let now = at_utc("23:30");
        let arrived = now - 2 * 3_600_000;
        let holds = Holds {
            quiet: Some(&night),
            connected: false,
        };
        let ends = at_utc("06:00") + 24 * 3_600_000;
        assert_eq!(
            decide(w, 0, &unread(1, Some(arrived)), now, holds),
            Decision::WaitUntil(ends)
        );
        // At the end it goes out; outside quiet hours they change nothing.
        assert_eq!(
            decide(w, 0, &unread(1, Some(arrived)), ends, holds),
            Decision::Send
        );
        let noon = at_utc("12:00");
        assert_eq!(
            decide(w, 0, &unread(1, Some(noon - 2 * 3_600_000)), noon, holds),
            Decision::Send
        );
        // Not yet due: the usual wait, quiet hours or not.
        assert_eq!(
            decide(w, 0, &unread(1, Some(now)), now, holds),
            Decision::WaitUntil(now + 3_600_000)
        );
    }

    #[test]
    fn a_due_digest_waits_while_a_device_is_connected() {
        let w = window(EmailDigest::AfterHours, 1);
        let now = 100 * H;
        let here = Holds {
            quiet: None,
            connected: true,
        };
        assert_eq!(
            decide(w, 0, &unread(1, Some(now - 2 * H)), now, here),
            Decision::WaitUntil(now + H / 12)
        );
        assert_eq!(
            decide(w, 0, &unread(1, Some(now - 2 * H)), now, FREE),
            Decision::Send
        );
    }

    #[test]
    fn after_hours_are_bounded() {
        let choice = |after_hours| DigestChoice {
            choice: EmailDigest::AfterHours,
            after_hours,
        };
        assert!(validate(choice(0)).is_err());
        assert!(validate(choice(1)).is_ok());
        assert!(validate(choice(MAX_AFTER_HOURS)).is_ok());
        assert!(validate(choice(MAX_AFTER_HOURS + 1)).is_err());
    }

    #[test]
    fn the_text_holds_counts_and_links_only() {
        let text = digest_text(
            &Unread {
                messages: 3,
                conversations: 2,
                first_new_at: Some(1),
            },
            EmailDigest::Daily,
            "https://mentor.example/",
            "https://mentor.example/api/email/unsubscribe?token=t",
        );
        assert_eq!(text.subject, "Mentorhub: 3 unread messages");
        assert!(
            text.body
                .contains("You have 3 unread messages in 2 mentoring conversations.")
        );
        assert!(text.body.contains("https://mentor.example/\r\n"));
        let one = digest_text(&unread(1, Some(1)), EmailDigest::AfterHours, "a", "u");
        assert!(
            one.body
                .contains("You have 1 unread message in 1 mentoring conversation.")
        );
    }
}
