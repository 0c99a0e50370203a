//! Where an invocation came from: an open pair, so that a new event source needs no change
//! here.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The kind of event source (`http`, `async`, `schedule`, `bucket`, ...) and which one of its
/// kind (a trigger's id, a bucket's name; empty for a direct call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Origin {
    /// Named `trigger` where it is shown: the word records used before sources were open.
    #[serde(rename = "trigger")]
    #[schema(value_type = String)]
    pub kind: Cow<'static, str>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

impl Origin {
    pub const HTTP: Origin = Origin::of("http");
    pub const ASYNC: Origin = Origin::of("async");

    /// Whether the caller waits for the answer and gets it as it is (a request at `/fn` or
    /// through a route). Every other origin is an event, whose answer says whether it was
    /// handled.
    pub fn is_request(&self) -> bool {
        self.kind == Self::HTTP.kind
    }

    /// An origin with no particular source.
    pub const fn of(kind: &'static str) -> Origin {
        Origin {
            kind: Cow::Borrowed(kind),
            source: String::new(),
        }
    }

    pub fn new(kind: &'static str, source: impl Into<String>) -> Origin {
        Origin {
            kind: Cow::Borrowed(kind),
            source: source.into(),
        }
    }

    /// One line of text, as stored: `kind` or `kind:source`.
    pub fn to_text(&self) -> Cow<'_, str> {
        if self.source.is_empty() {
            Cow::Borrowed(&self.kind)
        } else {
            Cow::Owned(format!("{}:{}", self.kind, self.source))
        }
    }

    /// Reads `to_text`'s form back. A kind has no `:`, so the first one ends it.
    pub fn from_text(text: &str) -> Origin {
        let (kind, source) = text.split_once(':').unwrap_or((text, ""));
        let kind = match kind {
            "http" => Cow::Borrowed("http"),
            "async" => Cow::Borrowed("async"),
            other => Cow::Owned(other.to_string()),
        };
        Origin {
            kind,
            source: source.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_it_writes() {
        for origin in [
            Origin::HTTP,
            Origin::new("schedule", "01JABC"),
            Origin::new("bucket", "photos:a/b:c.jpg"),
        ] {
            assert_eq!(Origin::from_text(&origin.to_text()), origin);
        }
        assert_eq!(Origin::from_text("async"), Origin::ASYNC);
    }
}
