use super::*;
use crate::protocol::notify::{NotificationKind as K, QuietHours};

/// 2026-01-15 12:00 UTC (winter: London is UTC+0, New York UTC-5).
const NOON_UTC: Millis = 1_768_478_400_000;
const HOUR: Millis = 3600 * 1000;

fn situation(prefs: &NotificationPreferences, now: Millis) -> Situation<'_> {
    Situation {
        preferences: prefs,
        connected: false,
        sent_recently: 0,
        now,
        ring_ms: 60_000,
    }
}

fn quiet(start: &str, end: &str, zone: &str) -> QuietHours {
    QuietHours {
        start: start.into(),
        end: end.into(),
        time_zone: zone.into(),
    }
}

#[test]
fn defaults_send_every_kind() {
    let prefs = NotificationPreferences::default();
    for kind in K::ALL {
        assert_eq!(
            decide(kind, NOON_UTC, &situation(&prefs, NOON_UTC)),
            Decision::Send
        );
    }
}

#[test]
fn push_off_and_kind_off_skip() {
    let mut prefs = NotificationPreferences {
        push: false,
        ..Default::default()
    };
    let s = situation(&prefs, NOON_UTC);
    assert_eq!(
        decide(K::Message, NOON_UTC, &s),
        Decision::Skip(SkipReason::PushOff)
    );
    prefs.push = true;
    prefs.kinds.message = false;
    let s = situation(&prefs, NOON_UTC);
    // `message` covers replies too.
    assert_eq!(
        decide(K::Reply, NOON_UTC, &s),
        Decision::Skip(SkipReason::KindOff)
    );
    assert_eq!(decide(K::Invitation, NOON_UTC, &s), Decision::Send);
}

#[test]
fn a_connected_device_means_no_push() {
    let prefs = NotificationPreferences::default();
    let s = Situation {
        connected: true,
        ..situation(&prefs, NOON_UTC)
    };
    for kind in K::ALL {
        assert_eq!(
            decide(kind, NOON_UTC, &s),
            Decision::Skip(SkipReason::Connected)
        );
    }
}

#[test]
fn the_cap_counts_the_last_day() {
    let prefs = NotificationPreferences {
        daily_cap: 2,
        ..Default::default()
    };
    let mut s = situation(&prefs, NOON_UTC);
    s.sent_recently = 1;
    assert_eq!(decide(K::Message, NOON_UTC, &s), Decision::Send);
    s.sent_recently = 2;
    assert_eq!(
        decide(K::Message, NOON_UTC, &s),
        Decision::Skip(SkipReason::CapReached)
    );
}

#[test]
fn a_ringing_call_goes_stale_with_the_ring() {
    let prefs = NotificationPreferences::default();
    let s = situation(&prefs, NOON_UTC);
    assert_eq!(
        decide(K::RingingCall, NOON_UTC - 61_000, &s),
        Decision::Skip(SkipReason::Stale)
    );
    assert_eq!(decide(K::MissedCall, NOON_UTC - 61_000, &s), Decision::Send);
    assert_eq!(
        decide(K::Message, NOON_UTC - MAX_AGE_MS - 1, &s),
        Decision::Skip(SkipReason::Stale)
    );
}

#[test]
fn quiet_hours_defer_to_their_end_in_the_recipients_zone() {
    // 07:00–08:00 in New York is 12:00–13:00 UTC in January.
    let prefs = NotificationPreferences {
        quiet_hours: Some(quiet("07:00", "08:00", "America/New_York")),
        ..Default::default()
    };
    let s = situation(&prefs, NOON_UTC + 30 * 60 * 1000);
    assert_eq!(
        decide(K::Message, NOON_UTC, &s),
        Decision::Defer {
            until: NOON_UTC + HOUR
        }
    );
    // The same hours in London (12:30 local) are not quiet.
    let prefs = NotificationPreferences {
        quiet_hours: Some(quiet("07:00", "08:00", "Europe/London")),
        ..Default::default()
    };
    assert_eq!(
        decide(K::Message, NOON_UTC, &situation(&prefs, NOON_UTC)),
        Decision::Send
    );
}

#[test]
fn quiet_hours_over_midnight() {
    let q = Quiet::parse(&quiet("22:00", "07:00", "Europe/London")).unwrap();
    let midnight = NOON_UTC + 12 * HOUR;
    assert_eq!(q.ends_after(NOON_UTC), None);
    // 23:00 → the next morning 07:00; 01:00 → the same morning.
    assert_eq!(q.ends_after(midnight - HOUR), Some(midnight + 7 * HOUR));
    assert_eq!(q.ends_after(midnight + HOUR), Some(midnight + 7 * HOUR));
    assert_eq!(q.ends_after(midnight + 7 * HOUR), None);
    assert_eq!(q.ends_after(midnight - 2 * HOUR), Some(midnight + 7 * HOUR));
    assert_eq!(q.ends_after(midnight - 2 * HOUR - 1), None);
}

#[test]
fn ringing_calls_ring_through_quiet_hours_only_if_allowed() {
    let mut prefs = NotificationPreferences {
        quiet_hours: Some(quiet("11:00", "13:00", "UTC")),
        ..Default::default()
    };
    let s = situation(&prefs, NOON_UTC);
    assert_eq!(
        decide(K::RingingCall, NOON_UTC, &s),
        Decision::Skip(SkipReason::QuietHours)
    );
    prefs.ringing_in_quiet_hours = true;
    let s = situation(&prefs, NOON_UTC);
    assert_eq!(decide(K::RingingCall, NOON_UTC, &s), Decision::Send);
    assert_eq!(
        decide(K::MissedCall, NOON_UTC, &s),
        Decision::Defer {
            until: NOON_UTC + HOUR
        }
    );
}

#[test]
fn validation_names_what_is_wrong() {
    let ok = NotificationPreferences {
        quiet_hours: Some(quiet("22:00", "07:00", "Europe/London")),
        ..Default::default()
    };
    assert!(validate(&ok).is_ok());
    let cases = [
        quiet("24:00", "07:00", "Europe/London"),
        quiet("7:00", "08:00", "Europe/London"),
        quiet("07:00", "07:00", "Europe/London"),
        quiet("07:00", "08:00", "Mars/Olympus"),
        quiet("07:00", "08:00", "+02:00"),
        quiet("07:00", "08:00", "../../etc/passwd"),
    ];
    for bad in cases {
        let prefs = NotificationPreferences {
            quiet_hours: Some(bad.clone()),
            ..Default::default()
        };
        let refusal = validate(&prefs).expect_err(&format!("{bad:?}"));
        assert_eq!(refusal.code, ErrorCode::BodyInvalid);
    }
    let too_many = NotificationPreferences {
        daily_cap: 1001,
        ..Default::default()
    };
    assert!(validate(&too_many).is_err());
}

#[test]
fn clock_times_round_trip() {
    assert_eq!(clock_minutes("00:00"), Some(0));
    assert_eq!(clock_minutes("23:59"), Some(1439));
    assert_eq!(clock_minutes("12:60"), None);
    assert_eq!(clock_minutes("1200"), None);
    assert_eq!(clock_text(7 * 60 + 5), "07:05");
}
