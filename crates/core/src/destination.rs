//! Where the outcome of an event or asynchronous invocation goes, as Lambda's destinations:
//! `function:NAME`, `kafka:TOPIC`, `nats:SUBJECT`, `mqtt:TOPIC` or `webhook:URL`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestinationKind {
    Function,
    Kafka,
    Nats,
    Mqtt,
    Webhook,
}

impl DestinationKind {
    pub const ALL: [DestinationKind; 5] = [
        DestinationKind::Function,
        DestinationKind::Kafka,
        DestinationKind::Nats,
        DestinationKind::Mqtt,
        DestinationKind::Webhook,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DestinationKind::Function => "function",
            DestinationKind::Kafka => "kafka",
            DestinationKind::Nats => "nats",
            DestinationKind::Mqtt => "mqtt",
            DestinationKind::Webhook => "webhook",
        }
    }
}

/// A destination, written `KIND:TARGET`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Destination {
    pub kind: DestinationKind,
    pub target: String,
}

impl Destination {
    pub fn parse(text: &str) -> Result<Destination, Error> {
        let invalid = |why: &str| {
            Error::invalid(format!(
                "bad destination `{text}`: {why} (use function:NAME, kafka:TOPIC, \
                 nats:SUBJECT, mqtt:TOPIC or webhook:URL)"
            ))
        };
        let (kind, target) = text.split_once(':').ok_or_else(|| invalid("no kind"))?;
        let kind = DestinationKind::ALL
            .into_iter()
            .find(|k| k.name() == kind)
            .ok_or_else(|| invalid("unknown kind"))?;
        let target_is_valid = match kind {
            DestinationKind::Function => crate::validate_function_name(target).is_ok(),
            DestinationKind::Kafka => {
                (1..=249).contains(&target.len())
                    && target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            }
            DestinationKind::Nats => {
                !target.is_empty()
                    && !target.contains(['*', '>', ' '])
                    && target.split('.').all(|token| !token.is_empty())
            }
            DestinationKind::Mqtt => {
                !target.is_empty() && !target.contains(['+', '#', '\0']) && target.len() < 65_536
            }
            DestinationKind::Webhook => {
                target.starts_with("https://") || target.starts_with("http://")
            }
        };
        if !target_is_valid {
            return Err(invalid(&format!("not a valid {} target", kind.name())));
        }
        Ok(Destination {
            kind,
            target: target.to_string(),
        })
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.name(), self.target)
    }
}

impl TryFrom<String> for Destination {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Destination::parse(&text).map_err(|e| e.message)
    }
}

impl From<Destination> for String {
    fn from(destination: Destination) -> String {
        destination.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_reads_and_writes_back() {
        for text in [
            "function:alerts",
            "kafka:sensor-stats",
            "nats:iot.alerts",
            "mqtt:plant/alerts",
            "webhook:https://example.com/hook?a=1",
        ] {
            assert_eq!(Destination::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn bad_destinations_say_what_is_wrong() {
        for (text, says) in [
            ("alerts", "no kind"),
            ("sqs:q", "unknown kind"),
            ("function:Bad_Name", "not a valid function target"),
            ("kafka:a topic", "not a valid kafka target"),
            ("nats:a.*", "not a valid nats target"),
            ("mqtt:a/#", "not a valid mqtt target"),
            ("webhook:ftp://x", "not a valid webhook target"),
        ] {
            let error = Destination::parse(text).unwrap_err().message;
            assert!(error.contains(says), "{text}: {error}");
        }
    }
}
