//! W3C Trace Context: the `traceparent` header that carries a trace from one hop to the next.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The span a request was sent from, as its `traceparent` header names it.
pub fn parse(value: &str) -> Option<SpanContext> {
    let mut fields = value.trim().split('-');
    let (version, trace_id, span_id, flags) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    // Version 00 has exactly four fields; a later version may add some after them.
    if version.len() != 2 || version == "ff" || (version == "00" && fields.next().is_some()) {
        return None;
    }
    u8::from_str_radix(version, 16).ok()?;
    if trace_id.len() != 32 || span_id.len() != 16 || flags.len() != 2 {
        return None;
    }
    if !all_lower_hex(trace_id) || !all_lower_hex(span_id) {
        return None;
    }
    let context = SpanContext::new(
        TraceId::from_hex(trace_id).ok()?,
        SpanId::from_hex(span_id).ok()?,
        TraceFlags::new(u8::from_str_radix(flags, 16).ok()?),
        true,
        TraceState::NONE,
    );
    context.is_valid().then_some(context)
}

/// The valid `traceparent` among `headers`, if any.
pub fn from_headers(headers: &HeaderMap) -> Option<SpanContext> {
    parse(headers.get(TRACEPARENT)?.to_str().ok()?)
}

/// `00-` + 32 hex digits + `-` + 16 + `-` + 2.
const LENGTH: usize = 55;

/// The `traceparent` that makes the next hop a child of `context`. (Written by hand: the
/// ids' `Display` made this a visible part of a traced call.)
fn write(context: &SpanContext) -> [u8; LENGTH] {
    let mut text = *b"00-00000000000000000000000000000000-0000000000000000-00";
    let ids = [
        (&context.trace_id().to_bytes()[..], 3),
        (&context.span_id().to_bytes()[..], 36),
        (&[context.trace_flags().to_u8()][..], 53),
    ];
    for (bytes, at) in ids {
        hex::encode_to_slice(bytes, &mut text[at..at + 2 * bytes.len()])
            .expect("each field has room for its bytes in hex");
    }
    text
}

pub fn format(context: &SpanContext) -> String {
    String::from_utf8_lossy(&write(context)).into_owned()
}

pub fn header_value(context: &SpanContext) -> HeaderValue {
    HeaderValue::from_bytes(&write(context)).expect("hex digits and dashes make a header value")
}

fn all_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_header_round_trips() {
        let context = parse(SAMPLE).expect("valid");
        assert!(context.is_sampled() && context.is_remote());
        assert_eq!(format(&context), SAMPLE);
        assert_eq!(header_value(&context), SAMPLE);
    }

    #[test]
    fn malformed_headers_are_ignored() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(parse(bad).is_none(), "{bad:?} was taken");
        }
    }

    #[test]
    fn a_later_version_may_carry_more_fields() {
        let later = format!("01{}-more", &SAMPLE[2..]);
        assert!(parse(&later).is_some());
    }

    #[test]
    fn an_unsampled_parent_stays_unsampled() {
        let context = parse(&SAMPLE.replace("-01", "-00")).expect("valid");
        assert!(!context.is_sampled());
    }
}
