//! Every setting's default value, written once. A setting left unset is resolved by
//! parsing its default here with the setting's own parser ([`super::layers::Layers::or_default`]),
//! `--help` shows it ([`super::args::with_defaults`]) and the README's tables are checked
//! against `--help`. Settings whose default is not a value (a random node id, a file in the
//! data dir, another setting) say so in their help text and resolve it in `resolve.rs`.

pub const DEFAULTS: &[(&str, &str)] = &[
    ("listen", "127.0.0.1:8080"),
    ("dev", "false"),
    ("data_dir", "./mentorhub-data"),
    ("redis_prefix", "mentorhub"),
    ("node_ttl_secs", "30"),
    ("commit_delay_micros", "1000"),
    ("log_format", "text"),
    ("shutdown_grace_secs", "10"),
    ("jwt_leeway_secs", "60"),
    ("jwt_max_lifetime_secs", "86400"),
    ("jwt_jwks_cache_min_secs", "300"),
    ("jwt_jwks_cache_max_secs", "86400"),
    ("jwt_jwks_refetch_secs", "60"),
    ("oidc_scopes", "openid profile offline_access"),
    ("max_frame_bytes", "131072"),
    ("ping_interval_secs", "20"),
    ("idle_timeout_secs", "60"),
    ("hello_timeout_secs", "10"),
    ("outbound_queue", "256"),
    ("rate_per_sec", "20"),
    ("rate_burst", "60"),
    ("allow_missing_origin", "true"),
    ("ws_read_buffer_bytes", "1024"),
    ("ws_write_buffer_bytes", "4096"),
    ("ws_max_write_buffer_bytes", "1048576"),
    ("max_connections", "200000"),
    ("http_header_timeout_secs", "10"),
    ("http_request_timeout_secs", "30"),
    ("max_connections_per_address", "1000"),
    ("behind_tls", "false"),
    ("room_member_limit", "16"),
    ("history_page_max", "200"),
    ("max_devices_per_account", "10"),
    ("max_rooms_per_account", "50"),
    ("max_invite_codes_per_room", "50"),
    ("max_pending_requests_per_mentor", "20"),
    ("pseudonymous_presence_delay_secs", "60"),
    ("turn_enabled", "true"),
    ("turn_listen", "127.0.0.1:3478"),
    ("turn_ttl_secs", "600"),
    ("turn_allow_private_peers", "false"),
    ("turn_max_allocations_per_user", "12"),
    ("turn_allocation_lifetime_secs", "600"),
    ("call_ring_timeout_secs", "60"),
    ("call_max_participants", "6"),
    ("call_reconnect_grace_secs", "30"),
    ("call_mesh_max_participants", "4"),
    ("call_sfu_max_participants", "16"),
    ("max_sdp_bytes", "16384"),
    ("push_enabled", "true"),
    ("vapid_subject", "mailto:postmaster@mentorhub.invalid"),
    ("push_idle_secs", "300"),
    ("push_allow_http_loopback", "false"),
    ("smtp_tls", "starttls"),
    ("email_digest_hour_secs", "3600"),
    ("email_digest_lease_secs", "300"),
];

/// The default of a setting that has a value as its default.
pub fn of(setting: &str) -> Option<&'static str> {
    DEFAULTS
        .iter()
        .find(|(name, _)| *name == setting)
        .map(|(_, value)| *value)
}

/// `jwt_max_lifetime_secs`'s default, for a verifier built without a configuration
/// (a minter's own), read from the table above.
pub fn jwt_max_lifetime() -> std::time::Duration {
    let secs = of("jwt_max_lifetime_secs").and_then(|raw| raw.parse().ok());
    // The table is tested to parse; zero would accept no token at all.
    std::time::Duration::from_secs(secs.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SETTINGS;

    #[test]
    fn every_default_is_a_setting_once() {
        for (i, (name, _)) in DEFAULTS.iter().enumerate() {
            assert!(
                SETTINGS.iter().any(|(setting, _)| setting == name),
                "{name}"
            );
            assert!(
                DEFAULTS[i + 1..].iter().all(|(other, _)| other != name),
                "{name} twice"
            );
        }
        assert_eq!(of("room_member_limit"), Some("16"));
        assert_eq!(of("node_id"), None, "a random id, not a value");
    }
}
