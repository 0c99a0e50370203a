//! Secrets: named values kept encrypted, that functions get as variables.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Error;

/// Bytes of one secret's value at most: it becomes a variable, and all of a function's
/// variables together hold at most 64 KiB.
pub const MAX_SECRET_BYTES: usize = 32 * 1024;

/// A secret as anyone may see it: its name and dates, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecretInfo {
    pub name: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A secret's name: 1 to 64 of `A-Z a-z 0-9 _ -`.
pub fn validate_secret_name(name: &str) -> Result<(), Error> {
    let valid = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid secret name `{name}`: use 1 to 64 characters of A-Z, a-z, 0-9, `_` and `-`"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_and_plain() {
        for ok in ["DB_PASSWORD", "stripe-key", "a", &"x".repeat(64)] {
            assert!(validate_secret_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(validate_secret_name(bad).is_err(), "{bad}");
        }
    }
}
