//! AWS Signature Version 4 for S3 requests: what the S3 endpoint checks on every call.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// A key pair and the region it signs for.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

/// One request to sign.
pub struct Unsigned<'a> {
    pub method: &'a str,
    /// `host` or `host:port`, as the Host header will carry it.
    pub host: &'a str,
    /// The path, already URI-encoded.
    pub path: &'a str,
    /// Query pairs, not encoded.
    pub query: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    /// Seconds since the Unix epoch.
    pub now: u64,
}

/// The headers that make `request` signed: `x-amz-date`, `x-amz-content-sha256` and
/// `authorization`.
pub fn sign(credentials: &Credentials, request: &Unsigned<'_>) -> Vec<(String, String)> {
    let stamp = timestamp(request.now);
    let date = &stamp[..8];
    let payload_hash = hex(&Sha256::digest(request.body));
    let signed_headers = "host;x-amz-content-sha256;x-amz-date";
    let canonical = format!(
        "{}\n{}\n{}\nhost:{}\nx-amz-content-sha256:{payload_hash}\nx-amz-date:{stamp}\n\n\
         {signed_headers}\n{payload_hash}",
        request.method,
        request.path,
        canonical_query(request.query),
        request.host,
    );
    let scope = format!("{date}/{}/s3/aws4_request", credentials.region);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{}", credentials.secret_key).as_bytes(), date);
    for part in [credentials.region.as_str(), "s3", "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex(&hmac(&key, &to_sign));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, \
         Signature={signature}",
        credentials.access_key
    );
    vec![
        ("x-amz-date".into(), stamp),
        ("x-amz-content-sha256".into(), payload_hash),
        ("authorization".into(), authorization),
    ]
}

/// Query pairs sorted and encoded as the canonical request wants them.
pub fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes all but the unreserved characters; `/` too when `slash` is set.
pub fn uri_encode(text: &str, slash: bool) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || b"-._~".contains(&byte);
        if unreserved || (byte == b'/' && !slash) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `YYYYMMDDTHHMMSSZ` of a Unix time, in UTC.
fn timestamp(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let in_day = seconds % 86_400;
    let (year, month, day) = civil_date(days);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    )
}

/// The calendar date of a day counted from 1970-01-01 (Howard Hinnant's days-to-civil).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524
        - day_of_era / 146_096)
        / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_times() {
        assert_eq!(timestamp(0), "19700101T000000Z");
        assert_eq!(timestamp(951_782_400), "20000229T000000Z");
        assert_eq!(timestamp(1_369_353_600), "20130524T000000Z");
        assert_eq!(timestamp(1_796_169_599), "20261201T235959Z");
    }

    /// The GET Object example of AWS's SigV4 documentation for S3 (a range header aside, which
    /// this signer does not send): same key, time and request.
    #[test]
    fn signs_like_the_published_example() {
        let credentials = Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
        };
        let headers = sign(
            &credentials,
            &Unsigned {
                method: "GET",
                host: "examplebucket.s3.amazonaws.com",
                path: "/",
                query: &[("lifecycle", "")],
                body: b"",
                now: 1_369_353_600,
            },
        );
        let authorization = &headers[2].1;
        assert!(authorization.contains(
            "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
        ));
        assert_eq!(
            headers[1].1,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            authorization.rsplit_once("Signature=").unwrap().1,
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
    }

    #[test]
    fn keys_are_encoded_but_their_slashes_kept() {
        assert_eq!(uri_encode("a b/c+d.jpg", false), "a%20b/c%2Bd.jpg");
        assert_eq!(uri_encode("a/b", true), "a%2Fb");
    }
}
