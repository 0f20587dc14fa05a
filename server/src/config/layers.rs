//! Where raw values come from: CLI/env (already merged by clap) over the TOML file.

use std::path::{Path, PathBuf};

use super::args::SETTINGS;
use super::errors::{ConfigError, Origin, env_name, shown_value};

pub(super) enum Raw {
    One(String),
    Many(Vec<String>),
}

pub(super) struct ConfigFile {
    path: PathBuf,
    table: toml::Table,
}

pub(super) struct Layers<'a> {
    pub(super) args: Vec<(&'static str, Option<&'a str>)>,
    /// Only used to tell whether a clap value came from the environment (for messages).
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
    pub(super) file: Option<ConfigFile>,
}

pub(super) type ParseResult<T> = Result<T, String>;

impl Layers<'_> {
    pub(super) fn raw(&self, name: &'static str) -> Result<Option<(Raw, Origin)>, ConfigError> {
        let arg = self
            .args
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| *v)
            .filter(|v| !v.trim().is_empty());
        if let Some(value) = arg {
            let from_env = (self.env)(env_name(name)).as_deref() == Some(value);
            let origin = if from_env { Origin::Env } else { Origin::Cli };
            return Ok(Some((Raw::One(value.to_owned()), origin)));
        }
        let Some(file) = &self.file else {
            return Ok(None);
        };
        let Some(value) = file.table.get(name) else {
            return Ok(None);
        };
        let origin = Origin::File(file.path.clone());
        let raw = match value {
            toml::Value::String(s) if s.trim().is_empty() => return Ok(None),
            toml::Value::String(s) => Raw::One(s.clone()),
            toml::Value::Integer(i) => Raw::One(i.to_string()),
            toml::Value::Float(x) => Raw::One(x.to_string()),
            toml::Value::Boolean(b) => Raw::One(b.to_string()),
            toml::Value::Datetime(d) => Raw::One(d.to_string()),
            toml::Value::Array(items) => {
                let strings: Option<Vec<String>> = items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned))
                    .collect();
                match strings {
                    Some(strings) => Raw::Many(strings),
                    None => {
                        return Err(invalid_shown(
                            name,
                            origin,
                            "[…]",
                            "must be a list of strings",
                        ));
                    }
                }
            }
            toml::Value::Table(_) => {
                return Err(invalid_shown(
                    name,
                    origin,
                    "{…}",
                    "is a table; the config file takes flat top-level keys only",
                ));
            }
        };
        Ok(Some((raw, origin)))
    }

    /// A single value with its origin (for errors found after parsing, e.g. file reads).
    pub(super) fn one_at<T>(
        &self,
        name: &'static str,
        parse: impl Fn(&str) -> ParseResult<T>,
    ) -> Result<Option<(T, Origin)>, ConfigError> {
        match self.raw(name)? {
            None => Ok(None),
            Some((Raw::One(value), origin)) => match parse(value.trim()) {
                Ok(parsed) => Ok(Some((parsed, origin))),
                Err(reason) => Err(invalid(name, origin, &value, reason)),
            },
            Some((Raw::Many(_), origin)) => Err(invalid_shown(
                name,
                origin,
                "[…]",
                "takes a single value, not a list",
            )),
        }
    }

    pub(super) fn one<T>(
        &self,
        name: &'static str,
        parse: impl Fn(&str) -> ParseResult<T>,
    ) -> Result<Option<T>, ConfigError> {
        Ok(self.one_at(name, parse)?.map(|(value, _)| value))
    }

    /// A setting with a default value in [`super::defaults`], parsed like a given value.
    pub(super) fn or_default<T>(
        &self,
        name: &'static str,
        parse: impl Fn(&str) -> ParseResult<T>,
    ) -> Result<T, ConfigError> {
        if let Some(value) = self.one(name, &parse)? {
            return Ok(value);
        }
        let raw = super::defaults::of(name).unwrap_or_default();
        parse(raw).map_err(|reason| invalid(name, Origin::Default, raw, reason))
    }

    pub(super) fn or<T>(
        &self,
        name: &'static str,
        default: T,
        parse: impl Fn(&str) -> ParseResult<T>,
    ) -> Result<T, ConfigError> {
        Ok(self.one(name, parse)?.unwrap_or(default))
    }

    /// A list: comma-separated string or TOML array; empty entries are skipped.
    pub(super) fn list<T>(
        &self,
        name: &'static str,
        parse_item: impl Fn(&str) -> ParseResult<T>,
    ) -> Result<Vec<T>, ConfigError> {
        let (items, origin, whole) = match self.raw(name)? {
            None => return Ok(Vec::new()),
            Some((Raw::One(value), origin)) => {
                let items = value.split(',').map(str::to_owned).collect();
                (items, origin, value)
            }
            Some((Raw::Many(items), origin)) => {
                let whole = items.join(",");
                (items, origin, whole)
            }
        };
        let mut out = Vec::new();
        for (index, item) in items
            .iter()
            .map(|i| i.trim())
            .filter(|i| !i.is_empty())
            .enumerate()
        {
            match parse_item(item) {
                Ok(parsed) => out.push(parsed),
                Err(reason) => {
                    let reason = format!("(entry {}) {reason}", index + 1);
                    return Err(invalid(name, origin, &whole, reason));
                }
            }
        }
        Ok(out)
    }
}

/// An error for `value`, shown redacted as the setting requires.
pub(super) fn invalid(
    name: &'static str,
    origin: Origin,
    value: &str,
    reason: impl Into<String>,
) -> ConfigError {
    invalid_shown(name, origin, shown_value(name, value), reason)
}

/// An error whose value is shown as given (placeholders like `[…]`, never raw input).
fn invalid_shown(
    name: &'static str,
    origin: Origin,
    shown: impl Into<String>,
    reason: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        setting: name,
        origin,
        value: shown.into(),
        reason: reason.into(),
    }
}

pub(super) fn read_config_file(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    parse_config_text(path, &text)
}

/// The file's text as flat settings; `path` only names the file in errors.
pub(super) fn parse_config_text(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let mut offset = e.span().map_or(0, |span| span.start).min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ConfigError::Toml {
            path: path.to_owned(),
            line,
            column,
            message: e.message().to_owned(),
        }
    })?;
    for (key, value) in &table {
        if SETTINGS.iter().any(|(name, _)| name == key) {
            continue;
        }
        let normalised = key.to_ascii_lowercase().replace('-', "_");
        let normalised = normalised.strip_prefix("mentorhub_").unwrap_or(&normalised);
        let hint = if SETTINGS.iter().any(|(name, _)| *name == normalised) {
            format!(" (did you mean {normalised:?}?)")
        } else if value.is_table() {
            " (the config file takes flat top-level keys, no [sections])".to_owned()
        } else {
            " (keys are the settings' snake_case names; see `mentorhub serve --help`)".to_owned()
        };
        return Err(ConfigError::UnknownKey {
            key: key.clone(),
            path: path.to_owned(),
            hint,
        });
    }
    Ok(ConfigFile {
        path: path.to_owned(),
        table,
    })
}
