//! Header values that are numbers: `x-gust-billed-ms` and the `Content-Length` of a held
//! response go out with every metered response.

use std::sync::OnceLock;

use http::HeaderValue;

/// Numbers below this are written once and shared. Nearly every billed duration and the
/// length of most small responses fall below it.
const SHARED_BELOW: u64 = 1024;

/// `n` as a header value: for small numbers a shared one, not formatted into a new allocation
/// per response.
pub fn number_value(n: u64) -> HeaderValue {
    static SMALL: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    let small = SMALL.get_or_init(|| {
        (0..SHARED_BELOW)
            .map(|n| HeaderValue::from_static(Box::leak(n.to_string().into_boxed_str())))
            .collect()
    });
    match small.get(n as usize) {
        Some(value) => value.clone(),
        None => HeaderValue::from(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_numbers_read_the_same() {
        for n in [0, 1, 999, SHARED_BELOW - 1, SHARED_BELOW, 1 << 40] {
            assert_eq!(number_value(n).to_str().unwrap(), n.to_string());
        }
    }
}
