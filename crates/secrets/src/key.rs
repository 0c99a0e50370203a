//! The node's secret key: 32 random bytes in `<data-dir>/secret.key` (mode 0600, made at first
//! start), or from `GUST_SECRET_KEY` (64 hex digits) when the file must not live beside the
//! data.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use gust_core::Error;
use rand::RngCore;

pub struct SecretKey(pub(crate) [u8; 32]);

impl SecretKey {
    /// The key from `from_env` when given, else the one in `path`, made if missing.
    pub fn load_or_create(path: &Path, from_env: Option<&str>) -> Result<SecretKey, Error> {
        if let Some(text) = from_env {
            return parse(text.trim())
                .ok_or_else(|| Error::invalid("GUST_SECRET_KEY must be 64 hex digits (32 bytes)"));
        }
        match std::fs::read_to_string(path) {
            Ok(text) => parse(text.trim()).ok_or_else(|| {
                Error::internal(format!("{} does not hold 64 hex digits", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path),
            Err(e) => Err(Error::internal(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }
}

fn parse(text: &str) -> Option<SecretKey> {
    let bytes = hex::decode(text).ok()?;
    Some(SecretKey(bytes.try_into().ok()?))
}

fn create(path: &Path) -> Result<SecretKey, Error> {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(hex::encode(key).as_bytes()));
    written.map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))?;
    Ok(SecretKey(key))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_key_is_made_once_private_and_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let made = SecretKey::load_or_create(&path, None).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let read = SecretKey::load_or_create(&path, None).unwrap();
        assert_eq!(made.0, read.0);
    }

    #[test]
    fn a_key_from_the_environment_must_be_32_bytes_of_hex() {
        let path = Path::new("/nonexistent/secret.key");
        let given = SecretKey::load_or_create(path, Some(&"ab".repeat(32))).unwrap();
        assert_eq!(given.0, [0xab; 32]);
        assert!(SecretKey::load_or_create(path, Some("abc")).is_err());
    }
}
