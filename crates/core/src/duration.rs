use crate::Error;

/// Parses `250ms`, `30s`, `15m`, `1h`, `7d` or a bare number of milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, Error> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let value: u64 = digits.parse().map_err(|_| {
        Error::invalid(format!(
            "invalid duration `{text}`: use e.g. 500ms, 30s, 15m"
        ))
    })?;
    let factor = match unit {
        // `--timeout 30` read as milliseconds would be a surprise; as seconds, a guess.
        "" => {
            return Err(Error::invalid(format!(
                "the duration `{text}` needs a unit: {text}s, {text}ms, {text}m, {text}h or {text}d"
            )));
        }
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(Error::invalid(format!(
                "invalid duration unit `{unit}` in `{text}`: use ms, s, m, h or d"
            )));
        }
    };
    value
        .checked_mul(factor)
        .ok_or_else(|| Error::invalid(format!("duration `{text}` is too large")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration_ms("250ms").unwrap(), 250);
        assert_eq!(parse_duration_ms("30s").unwrap(), 30_000);
        assert_eq!(parse_duration_ms("15m").unwrap(), 900_000);
        assert_eq!(parse_duration_ms("1h").unwrap(), 3_600_000);
        assert_eq!(parse_duration_ms("7d").unwrap(), 604_800_000);
    }

    #[test]
    fn a_bare_number_is_refused_with_the_units() {
        let err = parse_duration_ms("30").unwrap_err();
        assert!(err.message.contains("needs a unit: 30s, 30ms"), "{err}");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_duration_ms("").is_err());
        assert!(parse_duration_ms("s").is_err());
        assert!(parse_duration_ms("10 days").is_err());
        assert!(parse_duration_ms("99999999999999999999h").is_err());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn a_number_and_a_unit_read_back(
            value in 0u64..1_000_000,
            (unit, factor) in prop::sample::select(vec![
                ("ms", 1u64), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
            ]),
        ) {
            prop_assert_eq!(parse_duration_ms(&format!("{value}{unit}")).unwrap(), value * factor);
        }

        #[test]
        fn any_text_is_read_or_refused_without_panicking(text in "\\PC{0,40}") {
            let _ = parse_duration_ms(&text);
        }
    }
}
