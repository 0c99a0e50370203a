use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Error, validate_function_name};

/// A named pointer to one version of a function, optionally sending a share of the requests
/// to a second version (a canary).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Alias {
    pub function: String,
    pub name: String,
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
    /// The version it pointed to before its last move, where `gust rollback` takes it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<u32>,
    pub updated_at_ms: i64,
}

/// A share of an alias's requests that goes to another version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Split {
    pub version: u32,
    /// 1 to 99.
    pub percent: u8,
}

impl Split {
    /// Reads `VERSION=PERCENT`.
    pub fn parse(text: &str) -> Result<Split, Error> {
        let bad = || {
            Error::invalid(format!(
                "invalid split `{text}`: use VERSION=PERCENT, such as 2=10"
            ))
        };
        let (version, percent) = text.split_once('=').ok_or_else(bad)?;
        Ok(Split {
            version: version.trim().parse().map_err(|_| bad())?,
            percent: percent
                .trim()
                .trim_end_matches('%')
                .parse()
                .map_err(|_| bad())?,
        })
    }
}

impl Alias {
    /// The version a request goes to, given a roll uniform in `0..100`.
    pub fn pick(&self, roll: u8) -> u32 {
        match self.split {
            Some(split) if roll < split.percent => split.version,
            _ => self.version,
        }
    }

    /// Every version it sends requests to.
    pub fn versions(&self) -> impl Iterator<Item = u32> + '_ {
        std::iter::once(self.version).chain(self.split.map(|s| s.version))
    }

    /// Checks a new pointing: versions from 1, a split to another version with 1 to 99 %.
    pub fn validate_pointing(version: u32, split: Option<Split>) -> Result<(), Error> {
        if version == 0 {
            return Err(Error::invalid("versions are numbered from 1"));
        }
        let Some(split) = split else { return Ok(()) };
        if split.version == version {
            return Err(Error::invalid(format!(
                "the split goes to version {version}, which the alias points to already"
            )));
        }
        if !(1..=99).contains(&split.percent) {
            return Err(Error::invalid(format!(
                "a split sends 1 to 99 percent of the requests, not {}",
                split.percent
            )));
        }
        Ok(())
    }
}

/// Which version of a function a caller names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector<'a> {
    Latest,
    Number(u32),
    Alias(&'a str),
}

/// What a caller calls: `FN`, `FN@ALIAS` or `FN@NUMBER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    pub function: &'a str,
    pub selector: Selector<'a>,
}

impl<'a> Target<'a> {
    pub fn parse(text: &'a str) -> Result<Target<'a>, Error> {
        let (function, selector) = match text.split_once('@') {
            None => (text, Selector::Latest),
            Some((function, after)) if after.bytes().all(|b| b.is_ascii_digit()) => {
                let number = after.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    Error::invalid(format!("invalid version `{after}` in `{text}`"))
                })?;
                (function, Selector::Number(number))
            }
            Some((function, alias)) => {
                validate_alias_name(alias)?;
                (function, Selector::Alias(alias))
            }
        };
        validate_function_name(function)?;
        Ok(Target { function, selector })
    }
}

/// An alias name follows the rule of function names, so that it never reads as a number.
pub fn validate_alias_name(name: &str) -> Result<(), Error> {
    validate_function_name(name).map_err(|_| {
        Error::invalid(format!(
            "invalid alias name `{name}`: use 1 to 63 characters of a-z, 0-9 and `-`, starting with a letter"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_a_function_and_maybe_a_version() {
        let parse = |t| Target::parse(t).map(|t| (t.function, t.selector));
        assert_eq!(parse("todo"), Ok(("todo", Selector::Latest)));
        assert_eq!(parse("todo@live"), Ok(("todo", Selector::Alias("live"))));
        assert_eq!(parse("todo@12"), Ok(("todo", Selector::Number(12))));
        for bad in [
            "todo@",
            "todo@0",
            "todo@Live",
            "Todo@live",
            "@live",
            "a@b@c",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_split_sends_its_share_below_the_percent() {
        let alias = Alias {
            function: "f".into(),
            name: "live".into(),
            version: 1,
            split: Some(Split::parse("2=10").unwrap()),
            previous: None,
            updated_at_ms: 0,
        };
        let to_canary = (0..100).filter(|roll| alias.pick(*roll) == 2).count();
        assert_eq!(to_canary, 10);
        assert_eq!(alias.versions().collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn pointings_are_checked() {
        let split = |v, p| {
            Some(Split {
                version: v,
                percent: p,
            })
        };
        assert!(Alias::validate_pointing(1, split(2, 10)).is_ok());
        assert!(Alias::validate_pointing(0, None).is_err());
        assert!(Alias::validate_pointing(1, split(1, 10)).is_err());
        assert!(Alias::validate_pointing(1, split(2, 0)).is_err());
        assert!(Alias::validate_pointing(1, split(2, 100)).is_err());
        assert!(Split::parse("2").is_err());
        assert_eq!(Split::parse("3=25%").unwrap().percent, 25);
    }
}
