//! Artifacts: stored once by their bytes' sha256, fetched as a local file, removed when unused.

use std::sync::Arc;

use crate::{Artifacts, sha256_hex};

pub async fn run(store: &dyn Artifacts) {
    let bytes: Arc<[u8]> = Arc::from(&b"(component)"[..]);
    let sha = store.put(bytes.clone()).await.expect("put");
    assert_eq!(
        sha,
        sha256_hex(&bytes),
        "an artifact is named by its sha256"
    );
    assert_eq!(store.put(bytes.clone()).await.expect("put again"), sha);

    let file = store.fetch(&sha).await.expect("fetch");
    assert_eq!(
        std::fs::read(file).expect("read the fetched file"),
        &bytes[..]
    );

    store.remove(&sha).await.expect("remove");
    assert!(
        store.fetch(&sha).await.is_err(),
        "a removed artifact is gone"
    );
    store.remove(&sha).await.expect("removing it twice is fine");
    assert!(store.fetch(&sha256_hex(b"never stored")).await.is_err());
}
