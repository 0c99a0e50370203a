//! Invocation ids: ULIDs that the platform makes, held as their 16 bytes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An invocation's id, written as text everywhere it is shown. The ULIDs the platform makes
/// are held as their bytes: a record is made on every request, and its id as text would be an
/// allocation made on one thread and freed on another. Any other text is kept as it is.
///
/// Ordered as the text is for ULIDs (their spelling keeps the order of their bytes); a ULID
/// comes before any other text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InvocationId {
    Ulid([u8; 16]),
    Text(String),
}

impl InvocationId {
    /// A ULID in its canonical spelling becomes its bytes; other text stays text, so that
    /// every id is written back exactly as it was read.
    pub fn parse(text: &str) -> Self {
        match canonical_ulid(text) {
            Some(bytes) => InvocationId::Ulid(bytes),
            None => InvocationId::Text(text.to_string()),
        }
    }
}

impl fmt::Display for InvocationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvocationId::Ulid(bytes) => ulid::Ulid::from_bytes(*bytes).fmt(f),
            InvocationId::Text(text) => f.write_str(text),
        }
    }
}

impl Serialize for InvocationId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for InvocationId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(InvocationId::parse(&text))
    }
}

/// The 16 bytes of a ULID in its canonical spelling: 26 upper-case Crockford base32 digits, the
/// first at most 7. Only that spelling turns back into the same text.
fn canonical_ulid(id: &str) -> Option<[u8; 16]> {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    const DIGITS: [u8; 256] = {
        let mut digits = [u8::MAX; 256];
        let mut i = 0;
        while i < ALPHABET.len() {
            digits[ALPHABET[i] as usize] = i as u8;
            i += 1;
        }
        digits
    };
    let text = id.as_bytes();
    if text.len() != 26 || text[0] > b'7' {
        return None;
    }
    // 2 + 12 + 12 digits: 10, 60 and 60 bits, each summed in a u64 (cheaper than shifting a
    // u128 26 times). Digits are 5 bits, so an invalid one (all ones) shows in `seen`.
    let mut seen = 0u8;
    let mut sum = |digits: &[u8]| {
        digits.iter().fold(0u64, |value, &c| {
            let digit = DIGITS[c as usize];
            seen |= digit;
            value << 5 | digit as u64
        })
    };
    let (high, middle, low) = (sum(&text[..2]), sum(&text[2..14]), sum(&text[14..]));
    if seen > 31 {
        return None;
    }
    let value = (high as u128) << 120 | (middle as u128) << 60 | low as u128;
    Some(value.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ulids_decode_as_the_ulid_crate_does() {
        for _ in 0..1000 {
            let ulid = ulid::Ulid::new();
            assert_eq!(canonical_ulid(&ulid.to_string()), Some(ulid.to_bytes()));
        }
        let max = ulid::Ulid(u128::MAX).to_string();
        assert_eq!(canonical_ulid(&max), Some([255; 16]));
        let ulid = ulid::Ulid::new().to_string();
        for other in [
            ulid.to_lowercase(),
            format!("8{}", &ulid[1..]),
            format!("{}U", &ulid[..25]),
            ulid[1..].to_string(),
            format!("{ulid}0"),
        ] {
            assert_eq!(canonical_ulid(&other), None, "{other}");
        }
    }

    #[test]
    fn every_id_reads_back_as_it_was_written() {
        let ulid = ulid::Ulid::new().to_string();
        for text in [ulid.clone(), ulid.to_lowercase(), "not-a-ulid".into()] {
            let id = InvocationId::parse(&text);
            assert_eq!(id.to_string(), text);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<InvocationId>(&json).unwrap(), id);
        }
        assert!(matches!(InvocationId::parse(&ulid), InvocationId::Ulid(_)));
        assert!(matches!(
            InvocationId::parse(&ulid.to_lowercase()),
            InvocationId::Text(_)
        ));
    }

    #[test]
    fn ulids_sort_as_their_text_does() {
        let mut ids: Vec<String> = (0..200).map(|_| ulid::Ulid::new().to_string()).collect();
        ids.push(ulid::Ulid(u128::MAX).to_string());
        ids.push(ulid::Ulid(0).to_string());
        let mut parsed: Vec<InvocationId> = ids.iter().map(|id| InvocationId::parse(id)).collect();
        ids.sort();
        parsed.sort();
        let written: Vec<String> = parsed.iter().map(InvocationId::to_string).collect();
        assert_eq!(written, ids);
    }
}
