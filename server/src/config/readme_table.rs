//! Keeps the README's configuration tables in step with the code: every setting in
//! [`SETTINGS`] must have one row naming its environment variable, its CLI flag and the
//! default its `--help` text states, and every row must name a real setting. Whoever adds a
//! setting documents it, or this test fails.

use std::path::PathBuf;

use clap::Args as _;

use super::args::{SETTINGS, ServeArgs, with_defaults};

/// One row of a configuration table: `| `key` [†] | `ENV` | `--flag` | default | meaning |`.
struct Row {
    key: String,
    env: String,
    flag: String,
    default: String,
}

fn readme() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The text between the first pair of backticks, or the whole trimmed cell.
fn code(cell: &str) -> String {
    let cell = cell.trim();
    match cell.split('`').nth(1) {
        Some(inner) if cell.starts_with('`') => inner.to_owned(),
        _ => cell.to_owned(),
    }
}

/// Rows whose second cell is a `MENTORHUB_*` variable: the configuration tables.
fn rows(readme: &str) -> Vec<Row> {
    readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().strip_prefix('|')?.split('|').collect();
            if cells.len() < 5 || !cells[1].trim().starts_with("`MENTORHUB_") {
                return None;
            }
            Some(Row {
                key: code(cells[0]),
                env: code(cells[1]),
                flag: code(cells[2]),
                default: cells[3].trim().replace('`', ""),
            })
        })
        .collect()
}

/// The `[default: …]` each setting's `--help` text states, if any.
fn help_default(name: &str) -> Option<String> {
    let command = with_defaults(ServeArgs::augment_args(clap::Command::new("serve")));
    let arg = command
        .get_arguments()
        .find(|arg| arg.get_id().as_str() == name)
        .unwrap_or_else(|| panic!("no CLI argument for setting {name}"));
    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
    let start = help.find("[default: ")? + "[default: ".len();
    let end = help[start..].find(']')? + start;
    Some(help[start..end].to_owned())
}

#[test]
fn readme_documents_every_setting() {
    let rows = rows(&readme());
    let mut problems = Vec::new();
    for (name, env) in SETTINGS
        .iter()
        .copied()
        .chain([("config", "MENTORHUB_CONFIG")])
    {
        let matching: Vec<&Row> = rows.iter().filter(|row| row.key == name).collect();
        let [row] = matching.as_slice() else {
            problems.push(format!(
                "`{name}`: {} rows in the README's configuration tables, expected 1",
                matching.len()
            ));
            continue;
        };
        if row.env != env {
            problems.push(format!("`{name}`: env is {}, expected {env}", row.env));
        }
        let flag = format!("--{}", name.replace('_', "-"));
        if row.flag != flag {
            problems.push(format!("`{name}`: flag is {}, expected {flag}", row.flag));
        }
        if name != "config" {
            let expected = help_default(name).unwrap_or_else(|| "—".to_owned());
            if row.default != expected {
                problems.push(format!(
                    "`{name}`: default is {:?}, but --help says {expected:?}",
                    row.default
                ));
            }
        }
    }
    for row in &rows {
        let known = row.key == "config" || SETTINGS.iter().any(|(name, _)| *name == row.key);
        if !known {
            problems.push(format!(
                "README documents `{}`, which is not a setting",
                row.key
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "README.md configuration tables are out of date:\n{}",
        problems.join("\n")
    );
}

#[test]
fn row_parsing() {
    let text = "| `listen` | `MENTORHUB_LISTEN` | `--listen` | `127.0.0.1:8080` | Address. |\n\
                | `redis_url` † | `MENTORHUB_REDIS_URL` | `--redis-url` | in-process bus | Redis. |\n\
                | `sub` | Required. | x | y | z |";
    let rows = rows(text);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].key, "redis_url");
    assert_eq!(rows[1].flag, "--redis-url");
    assert_eq!(rows[0].default, "127.0.0.1:8080");
    assert_eq!(rows[1].default, "in-process bus");
    assert_eq!(help_default("listen").as_deref(), Some("127.0.0.1:8080"));
    assert_eq!(help_default("jwt_issuer"), None);
}

/// Settings that cap, time out or rate something a client or peer does: each must be a
/// row of the README's Limits table, with its default and its answer.
fn is_limit(name: &str) -> bool {
    const NOT_CLIENT_FACING: &[&str] = &[
        // How fast a dead node's state goes: documented with scale-out, no answer to anyone.
        "node_ttl_secs",
    ];
    let limit_like = [
        "max_", "_limit", "timeout", "rate_", "burst", "ttl", "grace", "queue",
    ];
    !NOT_CLIENT_FACING.contains(&name) && limit_like.iter().any(|part| name.contains(part))
}

/// The settings named in the Setting column of the README's Limits table.
fn limits_table_settings(readme: &str) -> Vec<String> {
    let section = readme
        .split("\n## Limits\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap_or_default();
    section
        .lines()
        .filter_map(|line| line.trim().strip_prefix('|')?.split('|').nth(2))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_owned))
        .collect()
}

#[test]
fn readme_limits_table_lists_every_limit() {
    let named = limits_table_settings(&readme());
    assert!(
        named.len() > 20,
        "the Limits table was not found: {named:?}"
    );
    let missing: Vec<&str> = SETTINGS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| is_limit(name) && !named.iter().any(|n| n == name))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md's Limits table has no row for: {missing:?}"
    );
    let unknown: Vec<&String> = named
        .iter()
        .filter(|n| !SETTINGS.iter().any(|(name, _)| name == n))
        .collect();
    assert!(
        unknown.is_empty(),
        "the Limits table names no setting {unknown:?}"
    );
}
