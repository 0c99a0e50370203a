//! A span's attributes, written as OTLP `KeyValue`s as they are given: a recorded span keeps
//! them as bytes, with no strings or values made on the way.

use crate::protobuf::Message;

/// `Span.attributes`.
const ATTRIBUTE: u32 = 9;

/// Where a span's attributes are written.
pub struct Attributes<'a>(pub(crate) Message<'a>);

impl Attributes<'_> {
    pub fn text(&mut self, key: &str, value: &str) -> &mut Self {
        self.pair(key, |value_of| value_of.string(1, value))
    }

    pub fn flag(&mut self, key: &str, value: bool) -> &mut Self {
        self.pair(key, |value_of| value_of.varint(2, u64::from(value)))
    }

    pub fn int(&mut self, key: &str, value: i64) -> &mut Self {
        // Protobuf's int64: a negative number as its two's complement.
        self.pair(key, |value_of| value_of.varint(3, value as u64))
    }

    fn pair(&mut self, key: &str, value: impl FnOnce(&mut Message)) -> &mut Self {
        self.0.message(ATTRIBUTE, |pair| {
            pair.string(1, key);
            pair.message(2, value);
        });
        self
    }
}
