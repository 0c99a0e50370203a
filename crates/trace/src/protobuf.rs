//! Just enough of the protobuf wire format to write OTLP messages straight into a buffer,
//! with no message structs in between.

use std::fmt;

/// A message being written at the end of a buffer.
pub struct Message<'a>(pub &'a mut Vec<u8>);

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LENGTH_DELIMITED: u32 = 2;
const FIXED32: u32 = 5;

impl Message<'_> {
    pub fn varint(&mut self, field: u32, value: u64) {
        self.tag(field, VARINT);
        varint(self.0, value);
    }

    pub fn fixed64(&mut self, field: u32, value: u64) {
        self.tag(field, FIXED64);
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    pub fn fixed32(&mut self, field: u32, value: u32) {
        self.tag(field, FIXED32);
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    pub fn bytes(&mut self, field: u32, value: &[u8]) {
        self.tag(field, LENGTH_DELIMITED);
        varint(self.0, value.len() as u64);
        self.0.extend_from_slice(value);
    }

    pub fn string(&mut self, field: u32, value: &str) {
        self.bytes(field, value.as_bytes());
    }

    /// Text written by `Display`, with no string made first.
    pub fn display(&mut self, field: u32, value: impl fmt::Display) {
        self.delimited(field, |out| {
            // Writing into a vector cannot fail.
            let _ = fmt::write(&mut Utf8(out), format_args!("{value}"));
        });
    }

    /// A message inside this one, written by `write`.
    pub fn message(&mut self, field: u32, write: impl FnOnce(&mut Message)) {
        self.delimited(field, |out| write(&mut Message(out)));
    }

    /// The start of a length-delimited field whose `length` bytes the caller writes next.
    pub fn head(&mut self, field: u32, length: usize) {
        self.tag(field, LENGTH_DELIMITED);
        varint(self.0, length as u64);
    }

    /// A length-delimited field written by `write`. Its length goes before it, so a byte is
    /// kept for it and the field moved along when it needs more (128 bytes or longer):
    /// cheaper than measuring every field before writing it.
    fn delimited(&mut self, field: u32, write: impl FnOnce(&mut Vec<u8>)) {
        self.tag(field, LENGTH_DELIMITED);
        let at = self.0.len();
        self.0.push(0);
        write(self.0);
        let length = self.0.len() - at - 1;
        if length < 0x80 {
            self.0[at] = length as u8;
            return;
        }
        let (prefix, used) = varint_bytes(length as u64);
        let extra = used - 1;
        self.0.resize(self.0.len() + extra, 0);
        self.0.copy_within(at + 1..at + 1 + length, at + 1 + extra);
        self.0[at..at + used].copy_from_slice(&prefix[..used]);
    }

    fn tag(&mut self, field: u32, wire_type: u32) {
        varint(self.0, u64::from(field << 3 | wire_type));
    }
}

/// A vector that `fmt::write` appends text to.
struct Utf8<'a>(&'a mut Vec<u8>);

impl fmt::Write for Utf8<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.0.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

fn varint(out: &mut Vec<u8>, value: u64) {
    let (bytes, used) = varint_bytes(value);
    out.extend_from_slice(&bytes[..used]);
}

/// `value` as a varint: seven bits a byte, lowest first, the top bit set on all but the last.
fn varint_bytes(mut value: u64) -> ([u8; 10], usize) {
    let mut bytes = [0; 10];
    let mut used = 0;
    while value >= 0x80 {
        bytes[used] = value as u8 | 0x80;
        value >>= 7;
        used += 1;
    }
    bytes[used] = value as u8;
    (bytes, used + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_written_as_the_wire_format_says() {
        let mut out = Vec::new();
        let mut message = Message(&mut out);
        message.varint(1, 150);
        message.string(2, "testing");
        message.fixed32(3, 1);
        assert_eq!(
            out,
            [
                0x08, 0x96, 0x01, 0x12, 7, b't', b'e', b's', b't', b'i', b'n', b'g', 0x1d, 1, 0, 0,
                0
            ]
        );
    }

    #[test]
    fn displayed_text_is_a_string_field() {
        for name in ["", "enqueue hello", &"x".repeat(200)] {
            let mut shown = Vec::new();
            Message(&mut shown).display(5, format_args!("{name}"));
            let mut expected = Vec::new();
            Message(&mut expected).string(5, name);
            assert_eq!(shown, expected);
        }
    }

    #[test]
    fn a_long_inner_message_gets_a_longer_length() {
        for length in [0, 127, 128, 300, 20_000] {
            let mut out = Vec::new();
            Message(&mut out).message(4, |inner| inner.bytes(1, &vec![7; length]));
            let mut inner = Vec::new();
            Message(&mut inner).bytes(1, &vec![7; length]);
            let mut expected = vec![0x22];
            varint(&mut expected, inner.len() as u64);
            expected.extend(inner);
            assert_eq!(out, expected, "{length}");
        }
    }
}
