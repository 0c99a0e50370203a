//! Sealing one value: a random 96-bit nonce, then the ChaCha20-Poly1305 ciphertext of the
//! value with the secret's name as associated data, so that a sealed value moved under another
//! name no longer opens.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use rand::RngCore;

use crate::SecretKey;

const NONCE_BYTES: usize = 12;

pub fn seal(key: &SecretKey, name: &str, value: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rng().fill_bytes(&mut nonce);
    let cipher = ChaCha20Poly1305::new((&key.0).into());
    let payload = Payload {
        msg: value,
        aad: name.as_bytes(),
    };
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), payload)
        .expect("encrypting in memory does not fail");
    [nonce.as_slice(), &sealed].concat()
}

/// The value, or `None` when it was sealed with another key or under another name.
pub fn open(key: &SecretKey, name: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_BYTES {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
    let cipher = ChaCha20Poly1305::new((&key.0).into());
    let payload = Payload {
        msg: ciphertext,
        aad: name.as_bytes(),
    };
    cipher.decrypt(Nonce::from_slice(nonce), payload).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_name() {
        let key = SecretKey([7; 32]);
        let sealed = seal(&key, "db", b"hunter2");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(open(&key, "db", &sealed).as_deref(), Some(&b"hunter2"[..]));
        assert_eq!(open(&key, "other", &sealed), None);
        assert_eq!(open(&SecretKey([8; 32]), "db", &sealed), None);
        assert_ne!(
            seal(&key, "db", b"hunter2"),
            sealed,
            "a fresh nonce each time"
        );
    }
}
