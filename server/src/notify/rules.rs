//! When a notification goes out: the recipient's choices, quiet hours in their own time
//! zone, a cap per 24 hours, and never while one of their devices is connected.
//!
//! Pure functions of what the outbox worker read; no I/O, so every rule is tested here.

use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;

use crate::error::Refusal;
use crate::ids::Millis;
use crate::protocol::ErrorCode;
use crate::protocol::notify::{NotificationKind, NotificationPreferences, QuietHours};

/// A notification older than this is not worth sending any more (a day of quiet hours
/// and a push service's outage both fit in it).
pub const MAX_AGE_MS: Millis = 3 * 24 * 3600 * 1000;
/// Longest `daily_cap`.
pub const MAX_DAILY_CAP: u32 = 1000;
/// The window the daily cap counts over.
pub const CAP_WINDOW_MS: Millis = 24 * 3600 * 1000;

/// What to do with one claimed notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Send,
    /// Not now and not later.
    Skip(SkipReason),
    /// Inside quiet hours: again when they end.
    Defer {
        until: Millis,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    PushOff,
    KindOff,
    /// A device of the account is connected: the app itself shows it.
    Connected,
    CapReached,
    /// Too old to matter (a call that stopped ringing, a week-old message).
    Stale,
    /// A ringing call inside quiet hours the recipient did not let through.
    QuietHours,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::PushOff => "push_off",
            SkipReason::KindOff => "kind_off",
            SkipReason::Connected => "connected",
            SkipReason::CapReached => "cap_reached",
            SkipReason::Stale => "stale",
            SkipReason::QuietHours => "quiet_hours",
        }
    }
}

/// What the worker knows about one recipient when it decides.
#[derive(Clone, Debug)]
pub struct Situation<'a> {
    pub preferences: &'a NotificationPreferences,
    /// Any device of the account connected to any node.
    pub connected: bool,
    /// Push notifications sent to the account within the last [`CAP_WINDOW_MS`].
    pub sent_recently: u32,
    pub now: Millis,
    /// How long a call rings: a ringing notification older than that is stale.
    pub ring_ms: Millis,
}

/// Decides one notification of `kind` created at `created_at`.
pub fn decide(kind: NotificationKind, created_at: Millis, s: &Situation<'_>) -> Decision {
    let prefs = s.preferences;
    if !prefs.push {
        return Decision::Skip(SkipReason::PushOff);
    }
    if !prefs.kinds.allows(kind) {
        return Decision::Skip(SkipReason::KindOff);
    }
    let age = s.now.saturating_sub(created_at);
    let max_age = if kind == NotificationKind::RingingCall {
        s.ring_ms
    } else {
        MAX_AGE_MS
    };
    if age > max_age {
        return Decision::Skip(SkipReason::Stale);
    }
    if s.connected {
        return Decision::Skip(SkipReason::Connected);
    }
    if let Some(quiet) = prefs
        .quiet_hours
        .as_ref()
        .and_then(|q| Quiet::parse(q).ok())
        && let Some(until) = quiet.ends_after(s.now)
    {
        if kind != NotificationKind::RingingCall {
            return Decision::Defer { until };
        }
        if !prefs.ringing_in_quiet_hours {
            return Decision::Skip(SkipReason::QuietHours);
        }
    }
    if s.sent_recently >= prefs.daily_cap {
        return Decision::Skip(SkipReason::CapReached);
    }
    Decision::Send
}

/// Checks a `PUT /api/me/notifications` body beyond its shape.
pub fn validate(prefs: &NotificationPreferences) -> Result<(), Refusal> {
    if prefs.daily_cap > MAX_DAILY_CAP {
        return Err(invalid("daily_cap must be between 0 and 1000"));
    }
    if let Some(quiet) = &prefs.quiet_hours {
        Quiet::parse(quiet)?;
    }
    Ok(())
}

fn invalid(message: &'static str) -> Refusal {
    Refusal::new(ErrorCode::BodyInvalid, message)
}

/// Quiet hours parsed: minutes after local midnight, and the zone.
#[derive(Clone, Debug)]
pub struct Quiet {
    start: u16,
    end: u16,
    zone: TimeZone,
}

impl Quiet {
    pub fn parse(q: &QuietHours) -> Result<Quiet, Refusal> {
        let start = clock_minutes(&q.start)
            .ok_or_else(|| invalid("quiet_hours.start must be a time HH:MM"))?;
        let end =
            clock_minutes(&q.end).ok_or_else(|| invalid("quiet_hours.end must be a time HH:MM"))?;
        if start == end {
            return Err(invalid("quiet_hours.start and end must differ"));
        }
        // Only names (`Europe/London`): a fixed offset would be wrong half the year.
        let named = q.time_zone.contains('/') || q.time_zone == "UTC";
        let zone = TimeZone::get(&q.time_zone)
            .ok()
            .filter(|_| named && q.time_zone.len() <= 64)
            .ok_or_else(|| invalid("quiet_hours.time_zone must be an IANA time zone name"))?;
        Ok(Quiet { start, end, zone })
    }

    /// Stored form: minutes after midnight.
    pub fn minutes(&self) -> (u16, u16) {
        (self.start, self.end)
    }

    /// `Some(end)` when `now` is inside quiet hours: the instant they end next.
    pub fn ends_after(&self, now: Millis) -> Option<Millis> {
        let now_ts = Timestamp::from_millisecond(now).ok()?;
        let local = now_ts.to_zoned(self.zone.clone());
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        let inside = if self.start < self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        };
        if !inside {
            return None;
        }
        let end = Time::new((self.end / 60) as i8, (self.end % 60) as i8, 0, 0).ok()?;
        let today = local
            .date()
            .to_datetime(end)
            .to_zoned(self.zone.clone())
            .ok()?;
        let next = if today.timestamp() > now_ts {
            today
        } else {
            local
                .date()
                .tomorrow()
                .ok()?
                .to_datetime(end)
                .to_zoned(self.zone.clone())
                .ok()?
        };
        Some(next.timestamp().as_millisecond())
    }
}

/// `HH:MM` (24-hour) as minutes after midnight.
pub fn clock_minutes(raw: &str) -> Option<u16> {
    let (h, m) = raw.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// Minutes after midnight as `HH:MM`.
pub fn clock_text(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
