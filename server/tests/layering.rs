//! The module map's layering, read from the source: which module may name which.
//!
//! Every path a file names (`use` lines and paths written out in code, comments left
//! out) is checked against the rules `lib.rs` states:
//! - the domain (`mentoring`, `signalling`), `protocol`, `error` and the hub import
//!   neither `axum`, `sqlx` nor `redis`;
//! - `store` and `bus` import neither the domain nor the transport (`hub`, `http`) nor
//!   the wiring (`app`);
//! - `store` builds no wire JSON: system events reach it as text the domain built.

use std::path::{Path, PathBuf};

const DOMAIN: &[&str] = &["mentoring", "signalling"];
const TRANSPORT: &[&str] = &["hub", "http"];
const FRAMEWORKS: &[&str] = &["axum", "sqlx", "redis"];

struct Source {
    /// Path below `src/`, e.g. `store/sql/engine.rs`.
    name: String,
    /// The top-level module it belongs to, e.g. `store`.
    module: String,
    /// Its lines of code, comments left out.
    code: Vec<String>,
}

fn sources(dir: &Path, root: &Path, into: &mut Vec<Source>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, root, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let module = name
                .split('/')
                .next()
                .unwrap()
                .trim_end_matches(".rs")
                .to_owned();
            let text = std::fs::read_to_string(&path).expect("read source");
            let code = text
                .lines()
                .map(|line| match line.find("//") {
                    // A `//` inside a string (a URL) is rare in these files; a path
                    // after it is not code either way.
                    Some(at) => line[..at].to_owned(),
                    None => line.to_owned(),
                })
                .collect();
            into.push(Source { name, module, code });
        }
    }
}

fn all_sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    sources(&root, &root, &mut found);
    assert!(found.len() > 50, "read the whole crate: {}", found.len());
    found
}

/// Whether `code` names the crate `krate` as a path root (`axum::…`, not `x::axum::…`).
fn names_crate(code: &str, krate: &str) -> bool {
    let needle = format!("{krate}::");
    code.match_indices(&needle).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        !before.is_some_and(|c| c == ':' || c == '_' || c.is_alphanumeric())
    })
}

/// Whether `code` names the crate's own module `module` (`crate::module…`), also
/// inside a `use crate::{module, …}` group.
fn names_module(code: &str, module: &str) -> bool {
    let direct = [
        format!("crate::{module}::"),
        format!("crate::{module};"),
        format!("crate::{module} "),
    ];
    if direct.iter().any(|d| code.contains(d.as_str())) {
        return true;
    }
    code.contains("crate::{")
        && code
            .split(|c: char| !(c == '_' || c.is_alphanumeric()))
            .any(|word| word == module)
}

/// The offending `(file, line)` pairs of files in `modules` whose code matches.
fn offences(sources: &[Source], modules: &[&str], offends: impl Fn(&str) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for source in sources
        .iter()
        .filter(|s| modules.contains(&s.module.as_str()))
    {
        // A `use crate::{…}` group may span lines: read it as one.
        let mut group = String::new();
        for (n, line) in source.code.iter().enumerate() {
            let statement = if !group.is_empty() || line.trim_start().starts_with("use crate::{") {
                group.push_str(line);
                group.push(' ');
                if !line.contains(';') {
                    continue;
                }
                std::mem::take(&mut group)
            } else {
                line.clone()
            };
            if offends(&statement) {
                found.push(format!("{}:{}: {}", source.name, n + 1, statement.trim()));
            }
        }
    }
    found
}

#[test]
fn the_domain_protocol_and_hub_import_no_framework() {
    let sources = all_sources();
    let modules: Vec<&str> = DOMAIN
        .iter()
        .chain(&["protocol", "error", "hub", "ids"])
        .copied()
        .collect();
    let found = offences(&sources, &modules, |code| {
        FRAMEWORKS.iter().any(|krate| names_crate(code, krate))
    });
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn store_and_bus_import_neither_the_domain_nor_the_transport() {
    let sources = all_sources();
    let forbidden: Vec<&str> = DOMAIN
        .iter()
        .chain(TRANSPORT)
        .chain(&["app"])
        .copied()
        .collect();
    let found = offences(&sources, &["store", "bus"], |code| {
        forbidden.iter().any(|module| names_module(code, module))
    });
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_store_builds_no_wire_json() {
    let sources = all_sources();
    let found = offences(&sources, &["store"], |code| {
        [
            "json!",
            "serde_json::Map",
            "serde_json::Value",
            "SystemKind",
            "to_meta",
        ]
        .iter()
        .any(|word| code.contains(word))
    });
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_rules_see_what_they_check() {
    // The checks themselves: each rule finds what it forbids.
    assert!(names_crate("use axum::Router;", "axum"));
    assert!(names_crate("    sqlx::query(\"x\")", "sqlx"));
    assert!(!names_crate("use crate::bus::redis::Conn;", "redis"));
    assert!(!names_crate("let my_redis::x = 1;", "redis"));
    assert!(names_module(
        "use crate::mentoring::Mentoring;",
        "mentoring"
    ));
    assert!(names_module("use crate::{hub, ids};", "hub"));
    assert!(!names_module("use crate::hubbub::x;", "hub"));
    assert!(!names_module("use crate::ids::{AccountId};", "mentoring"));
    let source = Source {
        name: "store/x.rs".into(),
        module: "store".into(),
        code: vec![
            "use crate::{".into(),
            "    ids::AccountId,".into(),
            "    signalling::call::CallState,".into(),
            "};".into(),
        ],
    };
    let found = offences(&[source], &["store"], |code| {
        names_module(code, "signalling")
    });
    assert_eq!(
        found.len(),
        1,
        "a use group over several lines is read whole"
    );
}
