use crate::Error;

/// The rule below as a regular expression, for the API document.
pub const FUNCTION_NAME_PATTERN: &str = "^[a-z][a-z0-9-]{0,62}$";

/// A function name is a DNS-label-like slug: `[a-z][a-z0-9-]{0,62}`.
pub fn validate_function_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if starts_with_letter && rest_ok && name.len() <= 63 {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid function name `{name}`: use 1 to 63 characters of a-z, 0-9 and `-`, starting with a letter"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_slugs() {
        for ok in ["a", "hello", "thumb-2", &"x".repeat(63)] {
            assert!(validate_function_name(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "Hello",
            "2fast",
            "-a",
            "a_b",
            "a.b",
            "é",
            &"x".repeat(64),
        ] {
            let err = validate_function_name(bad).unwrap_err();
            assert!(err.message.contains("invalid function name"), "{bad}");
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn is_slug(name: &str) -> bool {
        let bytes = name.as_bytes();
        (1..=63).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    }

    proptest! {
        #[test]
        fn any_text_is_judged_by_the_slug_rule(name in "\\PC{0,80}") {
            prop_assert_eq!(validate_function_name(&name).is_ok(), is_slug(&name));
        }

        #[test]
        fn slugs_pass(name in "[a-z][a-z0-9-]{0,62}") {
            prop_assert!(validate_function_name(&name).is_ok());
        }
    }
}
