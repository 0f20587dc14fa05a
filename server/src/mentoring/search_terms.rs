//! Forgiving matching of what a mentee types into the directory's filters.
//!
//! People search the way they speak: "anaesthetics" for a mentor whose specialty is
//! "Anaesthesia", "anesthesiology" with American spelling, "French" or "français" for a
//! mentor who listed `fr`. Exact substrings still match (a half-typed "anaes" keeps
//! working); on top of that each word is compared by its stem, and a language by its
//! name. The rules are deliberately small and predictable, not a search engine: a
//! mentee must be able to tell why a mentor was listed.

use isolang::Language;

/// Word endings dropped before comparing stems ("paediatrics", "paediatrician" and
/// "paediatric" all become "pediatr"), longest first. The stem that remains keeps at
/// least [`MIN_STEM`] letters.
const SUFFIXES: &[&str] = &[
    "icians", "ician", "ical", "ists", "ics", "ies", "ery", "ist", "ia", "ic", "al", "es", "y", "s",
];
const MIN_STEM: usize = 4;
/// Two different stems still match when they share this many leading letters and
/// differ at most in their last [`STEM_SLACK`] letters ("anesthet" and "anesthes").
const MIN_SHARED: usize = 5;
const STEM_SLACK: usize = 2;
/// A language name must be typed to at least this length before it matches by prefix.
const MIN_NAME_PREFIX: usize = 3;

/// Lowercase, British and American spelling made one ("ae"/"oe" → "e"), everything
/// but letters and digits a word break.
fn normalise(text: &str) -> String {
    text.to_lowercase()
        .replace(['æ', 'œ'], "e")
        .replace("ae", "e")
        .replace("oe", "e")
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect()
}

fn stem(word: &str) -> &str {
    for suffix in SUFFIXES {
        if let Some(rest) = word.strip_suffix(suffix)
            && rest.chars().count() >= MIN_STEM
        {
            return rest;
        }
    }
    word
}

fn shared_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// Whether a typed word names the same thing as a word of the profile.
fn words_match(typed: &str, listed: &str) -> bool {
    if listed.starts_with(typed) {
        return true;
    }
    let (typed, listed) = (stem(typed), stem(listed));
    if listed.starts_with(typed) || typed.starts_with(listed) {
        return typed.chars().count().min(listed.chars().count()) >= MIN_STEM;
    }
    let shorter = typed.chars().count().min(listed.chars().count());
    let shared = shared_prefix(typed, listed);
    shared >= MIN_SHARED && shared + STEM_SLACK >= shorter
}

/// Whether a mentor's `specialty` answers the mentee's `query`: the query as a part of
/// it, or every typed word matching some word of it.
pub fn specialty_matches(specialty: &str, query: &str) -> bool {
    let (specialty, query) = (normalise(specialty), normalise(query));
    let query = query.split_whitespace().collect::<Vec<_>>();
    if query.is_empty() {
        return true;
    }
    if specialty.contains(&query.join(" ")) {
        return true;
    }
    let listed: Vec<&str> = specialty.split_whitespace().collect();
    query
        .iter()
        .all(|typed| listed.iter().any(|word| words_match(typed, word)))
}

/// The language a tag's primary subtag names (`pt` of `pt-BR`), if ISO 639 knows it.
fn language_of(tag: &str) -> Option<Language> {
    let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
    match primary.len() {
        2 => Language::from_639_1(&primary),
        3 => Language::from_639_3(&primary),
        _ => None,
    }
}

/// Whether any word of a language's name starts with `typed` (already lowercase).
fn name_starts_with(name: &str, typed: &str) -> bool {
    name.to_lowercase()
        .split(|c: char| !c.is_alphabetic())
        .any(|word| word.starts_with(typed))
}

/// Whether a mentor who listed `tags` speaks the language the mentee typed: the tag
/// itself (`pt-br`), its primary language (`pt` finds `pt-br`), or the language's
/// English name or own name ("Portuguese", "português"), from three letters on.
pub fn language_matches(tags: &[String], query: &str) -> bool {
    let typed = query.trim().to_lowercase();
    if typed.is_empty() {
        return true;
    }
    tags.iter().any(|tag| {
        let tag = tag.to_lowercase();
        if tag == typed || tag.split(['-', '_']).next() == Some(typed.as_str()) {
            return true;
        }
        if typed.chars().count() < MIN_NAME_PREFIX {
            return false;
        }
        language_of(&tag).is_some_and(|language| {
            name_starts_with(language.to_name(), &typed)
                || language
                    .to_autonym()
                    .is_some_and(|own| name_starts_with(own, &typed))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specialty_forgives_word_forms_and_spelling() {
        for (specialty, query) in [
            ("Anaesthesia", "anaesthetics"),
            ("Anaesthesia", "Anesthesia"),
            ("Anaesthesia", "anesthesiology"),
            ("Anaesthesia", "anaes"),
            ("Paediatric Anaesthesia", "anaesthesia paediatric"),
            ("Paediatrics", "pediatrician"),
            ("General Surgery", "surgical"),
            ("General Surgery", "surgeon"),
            ("Psychiatry", "psychiatrist"),
            ("Obstetrics & Gynaecology", "obstetrician"),
            ("Emergency Medicine", "emergency"),
        ] {
            assert!(
                specialty_matches(specialty, query),
                "{query:?} should find {specialty:?}"
            );
        }
    }

    #[test]
    fn specialty_does_not_match_neighbouring_fields() {
        for (specialty, query) in [
            ("Neurosurgery", "neurology"),
            ("Psychiatry", "psychology"),
            ("Anaesthesia", "surgery"),
            ("Cardiology", "pathology"),
            ("Paediatrics", "anaesthetics"),
        ] {
            assert!(
                !specialty_matches(specialty, query),
                "{query:?} should not find {specialty:?}"
            );
        }
        assert!(
            specialty_matches("Anything", "  "),
            "a blank query is no filter"
        );
    }

    #[test]
    fn language_by_tag_primary_tag_or_name() {
        let tags = ["en".to_string(), "pt-br".to_string(), "fr".to_string()];
        for query in [
            "fr",
            "FR",
            "French",
            "fren",
            "français",
            "pt",
            "PT-BR",
            "Portuguese",
        ] {
            assert!(language_matches(&tags, query), "{query:?}");
        }
        for query in ["de", "German", "pt-pt", "fr-ca", "f", "po", "Swahili"] {
            assert!(!language_matches(&tags, query), "{query:?}");
        }
        assert!(language_matches(&["sw".to_string()], "Swahili"));
        assert!(language_matches(&["sw".to_string()], "kiswahili"));
    }
}
