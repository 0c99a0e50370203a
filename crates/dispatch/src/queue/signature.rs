//! Signatures on callbacks, so that a receiver can tell Gust's POSTs from anyone else's.
//!
//! `x-gust-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed with the
//! function's callback secret (as GitHub and Stripe sign their webhooks). Each function's
//! secret is derived from one node key in `<data-dir>/callback.key`, so no secret is stored
//! per function, and one function's receivers cannot forge another's.

use std::path::Path;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const SIGNATURE: &str = "x-gust-signature";

pub struct CallbackSigner {
    node_key: [u8; 32],
}

impl CallbackSigner {
    /// Reads the node key, making it (mode 0600, written whole then renamed) on first start.
    pub fn load_or_create(path: &Path) -> std::io::Result<CallbackSigner> {
        if let Ok(bytes) = std::fs::read(path)
            && let Ok(node_key) = <[u8; 32]>::try_from(bytes.as_slice())
        {
            return Ok(CallbackSigner { node_key });
        }
        let mut node_key = [0u8; 32];
        rand::rng().fill_bytes(&mut node_key);
        gust_store::write_private(path, &node_key)?;
        Ok(CallbackSigner { node_key })
    }

    /// The secret a receiver of `function`'s callbacks verifies them with.
    pub fn secret_for(&self, function: &str) -> String {
        hex::encode(hmac(&self.node_key, &[b"callback:", function.as_bytes()]))
    }

    /// The signature header's value for `body`, sent at `unix_seconds`.
    pub fn sign(&self, function: &str, unix_seconds: i64, body: &[u8]) -> String {
        let secret = self.secret_for(function);
        let stamp = unix_seconds.to_string();
        let mac = hmac(secret.as_bytes(), &[stamp.as_bytes(), b".", body]);
        format!("t={stamp},v1={}", hex::encode(mac))
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receiver_verifies_with_the_functions_secret_alone() {
        let dir = tempfile::tempdir().unwrap();
        let signer = CallbackSigner::load_or_create(&dir.path().join("callback.key")).unwrap();
        let header = signer.sign("resize", 1_700_000_000, b"{\"ok\":true}");
        let secret = signer.secret_for("resize");
        // What a receiver does: recompute over "t.body" with the secret it was given.
        let expected = hmac(secret.as_bytes(), &[b"1700000000.{\"ok\":true}"]);
        assert_eq!(header, format!("t=1700000000,v1={}", hex::encode(expected)));
        assert_ne!(signer.secret_for("other"), secret);

        let again = CallbackSigner::load_or_create(&dir.path().join("callback.key")).unwrap();
        assert_eq!(
            again.secret_for("resize"),
            secret,
            "the key survives a restart"
        );
    }

    #[test]
    fn the_signature_matches_a_known_hmac() {
        // RFC 4231, test case 2.
        let mac = hmac(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
