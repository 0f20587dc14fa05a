//! Config files: any text loads to a configuration or a clear error, never a panic, and
//! an error never shows the value of a secret setting.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mentorhub::config::Config;

const SECRET_SETTINGS: &[&str] = &[
    "jwt_hs256_secret",
    "turn_secret",
    "encryption_keys",
    "janus_secret",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Settings naming files (`*_file`) are read: not with paths a fuzzer makes up (nor
    // with keys spelt with escapes).
    if text.to_ascii_lowercase().contains("file") || text.contains("\\u") || text.contains("\\U") {
        return;
    }
    let Err(error) = Config::from_toml_text(Path::new("fuzz.toml"), text) else {
        return;
    };
    let message = error.to_string();
    // Secret values as written (`name = "value"`, or a list): also when the file does
    // not parse, since the TOML parser's message must not quote them either.
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_matches(['"', '\'']);
        let Some(setting) = SECRET_SETTINGS.iter().find(|s| **s == key) else {
            continue;
        };
        let value = value.trim().trim_matches(['[', ']']);
        for part in value.split(',') {
            let part = part.trim().trim_matches(['"', '\'']).trim();
            // Long enough not to occur in the message by chance, and only once in the
            // file (another setting's value may be shown).
            if part.len() >= 12 && text.matches(part).count() == 1 {
                assert!(!message.contains(part), "{setting} shown in: {message}");
            }
        }
    }
});
