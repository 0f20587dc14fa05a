//! Display names: what may be shown as a person's name, and when two names are the
//! same name.
//!
//! A name someone else can be mistaken for is an impersonation tool: in a room with
//! "Dr Bob Banda", a member calling themself "Dr Bob Banda" with a Cyrillic "о", a
//! zero-width space, a right-to-left override or a no-break space would look the same.
//! So names refuse every character that is invisible or reorders text (controls, bidi
//! controls, UTS #39 default-ignorables, whitespace other than the plain space), and
//! two names are *the same* when their UTS #39 confusable skeletons are equal, case
//! aside. The store keeps that [`comparison_key`] beside each name and a unique index
//! on it, so the rule holds under races too.

use unicode_security::GeneralSecurityProfile;
use unicode_security::general_security_profile::IdentifierType;

/// Why a name was refused (said to the person who typed it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameProblem {
    Empty,
    TooLong,
    /// An invisible, formatting or text-reordering character.
    Invisible,
}

/// The name as it will be shown (trimmed), or why it cannot be one.
pub fn check(raw: &str, max_chars: usize) -> Result<String, NameProblem> {
    let name = raw.trim_matches(' ');
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.chars().count() > max_chars {
        return Err(NameProblem::TooLong);
    }
    if name.chars().any(invisible) {
        return Err(NameProblem::Invisible);
    }
    Ok(name.to_owned())
}

/// A character that shows as nothing, as a plain space, or changes how the text
/// around it is ordered.
fn invisible(c: char) -> bool {
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(
            c.identifier_type(),
            Some(IdentifierType::Default_Ignorable | IdentifierType::Not_Character)
        )
}

/// The key two names are compared by: the UTS #39 skeleton of the lower-cased name,
/// with runs of spaces as one. Equal keys: the names look alike.
pub fn comparison_key(name: &str) -> String {
    let lower = name.to_lowercase();
    let skeleton: String = unicode_security::skeleton(&lower).collect();
    skeleton
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_look_alikes_are_refused_or_the_same_name() {
        let real = "Dr Bob Banda";
        assert_eq!(
            check("Dr Bob\u{200B} Banda", 64),
            Err(NameProblem::Invisible)
        );
        assert_eq!(
            check("Dr Bob \u{202E}adnaB", 64),
            Err(NameProblem::Invisible)
        );
        assert_eq!(
            check("Dr Bob\u{00A0}Banda", 64),
            Err(NameProblem::Invisible)
        );
        let cyrillic_o = check("Dr B\u{043E}b Banda", 64).expect("a script mix is a name");
        assert_eq!(comparison_key(&cyrillic_o), comparison_key(real));
    }

    #[test]
    fn other_invisible_characters_are_refused() {
        for c in [
            '\u{200D}', '\u{2066}', '\u{FEFF}', '\u{00AD}', '\u{2060}', '\u{0007}', '\u{3000}',
        ] {
            let name = format!("Wren{c}");
            assert_eq!(
                check(&name, 64),
                Err(NameProblem::Invisible),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn ordinary_names_pass_and_compare_case_insensitively() {
        for name in [
            "Night Owl",
            "Zoë Ndlovu",
            "José-María",
            "李小龍",
            "O'Brien",
            "Dr. Amara Diallo",
        ] {
            assert_eq!(check(name, 64).as_deref(), Ok(name));
        }
        assert_eq!(comparison_key("Night Owl"), comparison_key("night  owl"));
        assert_ne!(comparison_key("Night Owl"), comparison_key("Night Owls"));
        assert_eq!(check("  padded  ", 64).as_deref(), Ok("padded"));
        assert_eq!(check("   ", 64), Err(NameProblem::Empty));
        assert_eq!(check(&"x".repeat(65), 64), Err(NameProblem::TooLong));
    }
}
