//! How a webhook's sender signs what it posts, and the check of each scheme: GitHub's
//! `X-Hub-Signature-256`, Stripe's `Stripe-Signature` (with a timestamp, against replays) and a
//! plain HMAC-SHA256 of the body in a header of the sender's choosing.

use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Stripe's default: a signature older than this is a replay.
pub const STRIPE_TOLERANCE_S: u64 = 300;
/// The header of the plain scheme when none is set.
pub const DEFAULT_HMAC_HEADER: &str = "x-signature-256";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// Anyone who knows the URL may post: the URL is the secret.
    None,
    Github,
    Stripe,
    HmacSha256,
}

impl Scheme {
    pub fn parse(text: &str) -> Option<Scheme> {
        Some(match text {
            "none" => Scheme::None,
            "github" => Scheme::Github,
            "stripe" => Scheme::Stripe,
            "hmac-sha256" => Scheme::HmacSha256,
            _ => return None,
        })
    }
}

/// What a webhook checks its posts with.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub scheme: Scheme,
    pub secret: Vec<u8>,
    /// The plain scheme's header, lower case.
    pub header: String,
    pub tolerance_s: u64,
}

impl Verifier {
    /// Why a post is refused, or nothing; `now_s` is the time in seconds since the epoch.
    pub fn check(&self, headers: &HeaderMap, body: &[u8], now_s: u64) -> Result<(), String> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| format!("the {name} header is missing"))
        };
        match self.scheme {
            Scheme::None => Ok(()),
            Scheme::Github => {
                let given = header("x-hub-signature-256")?;
                let hex = given
                    .strip_prefix("sha256=")
                    .ok_or("x-hub-signature-256 is not sha256=HEX")?;
                self.matches(&[body], hex)
            }
            Scheme::HmacSha256 => {
                let given = header(&self.header)?;
                self.matches(&[body], given.strip_prefix("sha256=").unwrap_or(given))
            }
            Scheme::Stripe => {
                let given = header("stripe-signature")?;
                let mut stamp = None;
                let mut signatures = Vec::new();
                for pair in given.split(',') {
                    match pair.trim().split_once('=') {
                        Some(("t", value)) => stamp = value.parse::<u64>().ok(),
                        Some(("v1", value)) => signatures.push(value),
                        _ => {}
                    }
                }
                let stamp = stamp.ok_or("stripe-signature has no timestamp t=")?;
                if now_s.abs_diff(stamp) > self.tolerance_s {
                    return Err(format!(
                        "stripe-signature is {}s away from now, past the tolerance of {}s",
                        now_s.abs_diff(stamp),
                        self.tolerance_s
                    ));
                }
                let signed = [stamp.to_string().as_bytes(), b".", body].concat();
                signatures
                    .iter()
                    .find(|hex| self.matches(&[&signed], hex).is_ok())
                    .map(drop)
                    .ok_or_else(|| "no v1 signature of stripe-signature matches".to_string())
            }
        }
    }

    /// Whether `hex` is the HMAC-SHA256 of `parts`, compared in constant time.
    fn matches(&self, parts: &[&[u8]], hex: &str) -> Result<(), String> {
        let given = hex::decode(hex.trim()).map_err(|_| "the signature is not hex".to_string())?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key size");
        parts.iter().for_each(|part| mac.update(part));
        mac.verify_slice(&given)
            .map_err(|_| "the signature does not match the body".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier(scheme: Scheme, secret: &str) -> Verifier {
        Verifier {
            scheme,
            secret: secret.as_bytes().to_vec(),
            header: DEFAULT_HMAC_HEADER.into(),
            tolerance_s: STRIPE_TOLERANCE_S,
        }
    }

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, value.parse().unwrap());
        headers
    }

    fn sign(secret: &str, data: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(data);
        hex::encode(mac.finalize().into_bytes())
    }

    /// The example of GitHub's documentation on validating webhook deliveries.
    #[test]
    fn github_signatures_check_as_documented() {
        let github = verifier(Scheme::Github, "It's a Secret to Everybody");
        let signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let signed = headers("x-hub-signature-256", signature);
        assert_eq!(github.check(&signed, b"Hello, World!", 0), Ok(()));
        assert!(github.check(&signed, b"Hello, World?", 0).is_err());
        assert!(
            github
                .check(&HeaderMap::new(), b"Hello, World!", 0)
                .is_err()
        );
    }

    #[test]
    fn stripe_signatures_carry_a_time_that_stops_replays() {
        let stripe = verifier(Scheme::Stripe, "whsec_test");
        let body = br#"{"type":"charge.succeeded"}"#;
        let good = sign("whsec_test", &[b"1700000000.".as_slice(), body].concat());
        let value = format!("t=1700000000,v1=00ff,v1={good}");
        let signed = headers("stripe-signature", &value);
        assert_eq!(stripe.check(&signed, body, 1_700_000_100), Ok(()));
        let late = stripe
            .check(&signed, body, 1_700_000_000 + 301)
            .unwrap_err();
        assert!(late.contains("tolerance"), "{late}");
        assert!(stripe.check(&signed, b"{}", 1_700_000_000).is_err());
    }

    #[test]
    fn plain_hmac_takes_hex_with_or_without_a_prefix() {
        let plain = verifier(Scheme::HmacSha256, "s3cret");
        let hex = sign("s3cret", b"body");
        for value in [hex.clone(), format!("sha256={hex}")] {
            assert_eq!(
                plain.check(&headers("x-signature-256", &value), b"body", 0),
                Ok(())
            );
        }
        let wrong = headers("x-signature-256", &sign("other", b"body"));
        assert!(plain.check(&wrong, b"body", 0).is_err());
    }
}
