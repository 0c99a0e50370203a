//! Packed records written in postcard's encoding by hand. The store thread packs every record
//! a node runs; postcard's generic serializer spent about 600 instructions on each (callgrind),
//! this about 290. `unpack` still reads them with postcard, and a test checks that both write
//! the same bytes.

use super::packed_records::{Packed, PackedId};

/// A sequence of `Packed`, as postcard writes a `Vec<Packed>`.
pub struct PackedWriter {
    out: Vec<u8>,
}

impl PackedWriter {
    /// A writer for `len` records.
    pub fn new(len: usize) -> Self {
        // About 40 bytes a record: sized once, not grown through a dozen copies.
        let mut writer = PackedWriter {
            out: Vec::with_capacity(10 + len * 48),
        };
        writer.varint(len as u64);
        writer
    }

    pub fn push(&mut self, record: &Packed) {
        match record.id {
            PackedId::Ulid(bytes) => {
                self.varint(0);
                self.out.extend_from_slice(&bytes);
            }
            PackedId::Text(text) => {
                self.varint(1);
                self.text(text);
            }
        }
        self.varint(record.version.into());
        self.text(record.origin);
        self.varint(record.attempt.into());
        self.varint(record.started_after_ms);
        self.varint(record.duration_us);
        self.varint(record.billed_ms);
        self.varint(record.memory_mb.into());
        self.text(record.status);
        self.out.push(record.cold.into());
        self.varint(record.http_status.into());
        match record.error {
            None => self.out.push(0),
            Some(error) => {
                self.out.push(1);
                self.text(error);
            }
        }
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
    }

    /// Unsigned integers are LEB128 varints: seven bits a byte, lowest first.
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.out.push(value as u8 | 0x80);
            value >>= 7;
        }
        self.out.push(value as u8);
    }

    fn text(&mut self, text: &str) {
        self.varint(text.len() as u64);
        self.out.extend_from_slice(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record of small values (127 and 128 straddle the first varint boundary), or of values
    /// whose varints run up to ten bytes.
    fn packed<'a>(id: PackedId<'a>, error: Option<&'a str>, big: bool) -> Packed<'a> {
        let pick = |small: u64, large: u64| if big { large } else { small };
        Packed {
            id,
            version: pick(3, u32::MAX.into()) as u32,
            origin: "schedule:01JTRIGGER",
            attempt: pick(1, 300) as u32,
            started_after_ms: pick(127, 1 << 40),
            duration_us: pick(128, u64::MAX / 3),
            billed_ms: pick(0, u64::MAX),
            memory_mb: pick(128, 10_240) as u32,
            status: "timeout",
            cold: big,
            http_status: pick(200, u16::MAX.into()) as u16,
            error,
        }
    }

    #[test]
    fn writes_what_postcard_writes() {
        let records: Vec<_> = (0..300)
            .map(|i| match i % 3 {
                0 => packed(PackedId::Ulid([7; 16]), None, false),
                1 => packed(PackedId::Text("not-a-ulid"), Some("timed out"), true),
                _ => packed(PackedId::Ulid([255; 16]), Some(""), true),
            })
            .collect();
        // 300 records: the count itself takes two bytes.
        for len in [0, 1, 3, 300] {
            let mut writer = PackedWriter::new(len);
            records[..len].iter().for_each(|r| writer.push(r));
            let expected = postcard::to_stdvec(&records[..len]).unwrap();
            assert_eq!(writer.finish(), expected, "{len} records");
        }
    }
}
