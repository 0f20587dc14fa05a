//! Value parsers: each returns the parsed value or the reason it is refused (a phrase
//! that follows the quoted value in the error message).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use rand::Rng;

use super::layers::ParseResult;
use super::{DatabaseConfig, LogFormat, Secret, SmtpSecurity, SmtpServer};
use crate::crypto::MessageKey;

pub(super) fn socket_addr(s: &str) -> ParseResult<SocketAddr> {
    s.parse()
        .map_err(|_| "is not a socket address (expected IP:PORT, e.g. 127.0.0.1:8080)".into())
}

pub(super) fn ip_addr(s: &str) -> ParseResult<IpAddr> {
    s.parse().map_err(|_| "is not an IP address".into())
}

/// An IP address (one host) or a CIDR network, e.g. `10.0.0.5` or `10.0.0.0/8`.
pub(super) fn ip_net(s: &str) -> ParseResult<ipnet::IpNet> {
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| "is not an IP address or CIDR network (e.g. 10.0.0.5, 10.0.0.0/8)".into())
}

pub(super) fn boolean(s: &str) -> ParseResult<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("is not a boolean (true/false)".into()),
    }
}

pub(super) fn path(s: &str) -> ParseResult<PathBuf> {
    Ok(PathBuf::from(s))
}

pub(super) fn non_empty_text(s: &str) -> ParseResult<String> {
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(s.to_owned())
}

/// A client id or resource indicator: printable ASCII without spaces (what OAuth allows
/// in a query parameter without surprises).
pub(super) fn oauth_text(s: &str) -> ParseResult<String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces".into());
    }
    Ok(s.to_owned())
}

/// OAuth scopes, separated by spaces, with `openid` among them (it makes the sign-in an
/// OpenID Connect one: an ID token with the nonce comes back).
pub(super) fn oidc_scopes(s: &str) -> ParseResult<String> {
    let scopes: Vec<&str> = s.split_ascii_whitespace().collect();
    if let Some(bad) = scopes.iter().find(|scope| {
        !scope
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    }) {
        return Err(format!("scope {bad:?} is not a valid OAuth scope"));
    }
    if !scopes.contains(&"openid") {
        return Err("must include openid".into());
    }
    Ok(scopes.join(" "))
}

/// A whole number within `min..=max`.
pub(super) fn int<T>(min: T, max: T) -> impl Fn(&str) -> ParseResult<T>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    move |s| {
        let n: T = s
            .replace('_', "")
            .parse()
            .map_err(|_| "is not a whole number".to_owned())?;
        if n < min || n > max {
            return Err(format!("must be between {min} and {max}"));
        }
        Ok(n)
    }
}

pub(super) fn secs(min: u64, max: u64) -> impl Fn(&str) -> ParseResult<Duration> {
    let n = int(min, max);
    move |s| n(s).map(Duration::from_secs)
}

pub(super) fn micros(min: u64, max: u64) -> impl Fn(&str) -> ParseResult<Duration> {
    let n = int(min, max);
    move |s| n(s).map(Duration::from_micros)
}

pub(super) fn rate(s: &str) -> ParseResult<f64> {
    let x: f64 = s.parse().map_err(|_| "is not a number".to_owned())?;
    if !(x.is_finite() && x > 0.0 && x <= 1_000_000.0) {
        return Err("must be a number above 0 and at most 1000000".into());
    }
    Ok(x)
}

pub(super) fn log_format(s: &str) -> ParseResult<LogFormat> {
    match s.to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("is not one of text, json".into()),
    }
}

pub(super) fn node_id(s: &str) -> ParseResult<String> {
    let ok = s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err("must be 1 to 64 characters of a-z, 0-9, _ and -".into())
    }
}

pub(super) fn random_node_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let suffix: String = (0..8)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("n_{suffix}")
}

pub(super) fn secret(min_len: usize) -> impl Fn(&str) -> ParseResult<Secret> {
    move |s| {
        if s.len() < min_len {
            return Err(format!("must be at least {min_len} bytes long"));
        }
        Ok(Secret::new(s.as_bytes()))
    }
}

pub(super) fn database(s: &str) -> ParseResult<DatabaseConfig> {
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        if s.contains(char::is_whitespace) {
            return Err("must not contain whitespace".into());
        }
        return Ok(DatabaseConfig::Postgres { url: s.to_owned() });
    }
    if let Some(rest) = s.strip_prefix("sqlite:") {
        let file = rest.strip_prefix("//").unwrap_or(rest);
        if file.is_empty() || file.contains(":memory:") {
            return Err(
                "needs a file path (e.g. sqlite:///var/lib/mentorhub/db.sqlite3); \
                 an in-memory database would lose acknowledged messages"
                    .into(),
            );
        }
        if file.contains('?') {
            return Err("must not carry options: the server sets WAL and synchronous=FULL".into());
        }
        return Ok(DatabaseConfig::Sqlite {
            path: PathBuf::from(file),
        });
    }
    Err("must start with sqlite: or postgres:// (or postgresql://)".into())
}

/// Checks `scheme://host…` with one of the given schemes and a non-empty host.
pub(super) fn url_with_scheme(s: &str, schemes: &[&str]) -> ParseResult<String> {
    let expected = || {
        let list: Vec<String> = schemes
            .iter()
            .map(|scheme| format!("{scheme}://"))
            .collect();
        format!("must start with {}", list.join(" or "))
    };
    let (scheme, rest) = s.split_once("://").ok_or_else(expected)?;
    if !schemes.contains(&scheme) {
        return Err(expected());
    }
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    if host.is_empty() || host.starts_with(['/', ':']) || s.contains(char::is_whitespace) {
        return Err("needs a host".into());
    }
    Ok(s.to_owned())
}

/// The VAPID `sub` (RFC 8292 §2.1): `mailto:` an address, or an `https://` URL.
pub(super) fn vapid_subject(s: &str) -> ParseResult<String> {
    if let Some(address) = s.strip_prefix("mailto:") {
        let ok = address.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && !host.is_empty() && !host.contains('@')
        }) && !s.contains(char::is_whitespace);
        return if ok {
            Ok(s.to_owned())
        } else {
            Err("must be mailto:someone@host or an https:// URL".into())
        };
    }
    url_with_scheme(s, &["https"])
}

/// An identity provider's URL: `https://`, or `http://` to this machine only (a test
/// provider), since keys fetched in the clear could be anyone's.
pub(super) fn provider_url(s: &str) -> ParseResult<String> {
    let url = url_with_scheme(s, &["https", "http"])?;
    if let Some(rest) = url.strip_prefix("http://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(authority, |(host, _)| host);
        if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
            return Err("must be https:// (plain http:// only to localhost)".into());
        }
    }
    if url.contains('@') {
        return Err("must not carry credentials".into());
    }
    Ok(url)
}

pub(super) fn redis_url(s: &str) -> ParseResult<String> {
    url_with_scheme(s, &["redis", "rediss"])
}

/// `turn:host[:port][?transport=udp|tcp]` and the like (RFC 7065 / 7064 URIs, no `//`).
pub(super) fn ice_url(schemes: &'static [&'static str]) -> impl Fn(&str) -> ParseResult<String> {
    move |s| {
        let (scheme, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("must start with {}:", schemes.join(": or ")))?;
        if !schemes.contains(&scheme) {
            return Err(format!("must start with {}:", schemes.join(": or ")));
        }
        let host = rest.split(['?', ':']).next().unwrap_or_default();
        if host.is_empty() || rest.starts_with("//") || s.contains(char::is_whitespace) {
            return Err(format!("must look like {}:host[:port]", schemes[0]));
        }
        Ok(s.to_owned())
    }
}

/// An exact browser origin: `http(s)://host[:port]`, normalised to lower case.
pub(super) fn origin(s: &str) -> ParseResult<String> {
    const SHAPE: &str = "must be an exact origin scheme://host[:port] (no path, no trailing slash)";
    let lower = s.to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://").ok_or(SHAPE)?;
    let default_port = match scheme {
        "http" => "80",
        "https" => "443",
        _ => return Err("must use http:// or https://".into()),
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', '*']) {
        return Err(SHAPE.into());
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or(SHAPE)?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(SHAPE.into());
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(SHAPE)?),
        };
        (addr, port)
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    let host_ok = !host.is_empty()
        && (rest.starts_with('[')
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
    if !host_ok {
        return Err(SHAPE.into());
    }
    if let Some(port) = port {
        // Browsers serialise the port canonically (no leading zeros, default omitted).
        match port.parse::<u16>() {
            Ok(n) if n != 0 && n.to_string() == port => {}
            _ => return Err(SHAPE.into()),
        }
        if port == default_port {
            let without_port = &rest[..rest.len() - port.len() - 1];
            return Err(format!(
                "names the default port {default_port}, which browsers omit from Origin: \
                 write {scheme}://{without_port}"
            ));
        }
    }
    Ok(lower)
}

pub(super) fn message_key(s: &str) -> ParseResult<MessageKey> {
    MessageKey::parse(s).map_err(str::to_owned)
}

/// `smtp://host[:port]` (587 by default) or `smtps://host[:port]` (TLS from the first
/// byte, 465 by default). Credentials go in their own settings, never in the URL.
pub(super) fn smtp_url(s: &str) -> ParseResult<SmtpServer> {
    const SHAPE: &str = "must look like smtp://host[:port] or smtps://host[:port]";
    let (scheme, rest) = s.split_once("://").ok_or(SHAPE)?;
    let (implicit_tls, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "smtp" => (false, 587),
        "smtps" => (true, 465),
        _ => return Err(SHAPE.into()),
    };
    if rest.contains('@') {
        return Err("must not carry credentials (use smtp_username and smtp_password_file)".into());
    }
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty()
        || authority.contains(['/', '?', '#'])
        || s.contains(char::is_whitespace)
    {
        return Err(SHAPE.into());
    }
    const BAD_PORT: &str = "has a port that is not a number from 1 to 65535";
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or(SHAPE)?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        None => default_port,
        Some(port) => match port.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(BAD_PORT.into()),
        },
    };
    if host.is_empty() {
        return Err(SHAPE.into());
    }
    Ok(SmtpServer {
        host: host.to_owned(),
        port,
        implicit_tls,
    })
}

pub(super) fn smtp_security(s: &str) -> ParseResult<SmtpSecurity> {
    match s.to_ascii_lowercase().as_str() {
        "starttls" => Ok(SmtpSecurity::StartTls),
        "none" => Ok(SmtpSecurity::None),
        _ => Err("is not one of starttls, none".into()),
    }
}

/// The app's public address, normalised to end in `/` (links are built under it).
pub(super) fn public_url(s: &str) -> ParseResult<String> {
    let url = url_with_scheme(s, &["https", "http"])?;
    if url.contains(['@', '?', '#']) || !url.is_ascii() {
        return Err("must be a plain ASCII address like https://mentor.example (no credentials, query or fragment; a Unicode host in its xn-- form)".into());
    }
    Ok(if url.ends_with('/') {
        url
    } else {
        format!("{url}/")
    })
}
