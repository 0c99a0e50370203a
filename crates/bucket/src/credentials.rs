//! The root key pair, written at first start to `<data-dir>/s3-credentials` in the AWS shared
//! credentials format, so that `AWS_SHARED_CREDENTIALS_FILE` pointed at it makes the AWS CLI and
//! SDKs work as they are.

use std::path::{Path, PathBuf};

use gust_core::Error;

use crate::keys::KeyRing;

pub const CREDENTIALS_FILE: &str = "s3-credentials";

/// Makes the root key on a fresh data dir; on later starts keeps the one there, creating it
/// again only if the file was removed or its key is gone from the store.
pub async fn ensure_root_key(data_dir: &Path, keys: &KeyRing) -> Result<PathBuf, Error> {
    let path = data_dir.join(CREDENTIALS_FILE);
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Some(access_key) = value_of(&text, "aws_access_key_id")
        && keys.get(&access_key).await?.is_some()
    {
        return Ok(path);
    }
    let key = keys.create(Vec::new(), None).await?;
    let text = format!(
        "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        key.access_key, key.secret_key
    );
    gust_store::write_private(&path, text.as_bytes())
        .map_err(|e| Error::internal(format!("writing {}: {e}", path.display())))?;
    Ok(path)
}

fn value_of(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == name).then(|| value.trim().to_string())
    })
}
