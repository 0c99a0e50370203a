//! Artifacts in a JetStream object store, named by their sha256; each node fetches the ones
//! it runs into a cache folder of its own, where its runtimes read (and compile) them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_nats::jetstream::{self, object_store};
use async_trait::async_trait;
use gust_core::Error;
use gust_store::{Artifacts, sha256_hex};
use tokio::io::AsyncReadExt;

use crate::nats_error;

/// The object store's bucket.
const BUCKET: &str = "gust-artifacts";

pub struct JetStreamArtifacts {
    objects: object_store::ObjectStore,
    cache: PathBuf,
}

impl JetStreamArtifacts {
    /// The cluster's artifacts (the bucket is made by the first node), cached in `cache`.
    pub async fn open(
        jetstream: &jetstream::Context,
        cache: PathBuf,
    ) -> Result<JetStreamArtifacts, Error> {
        std::fs::create_dir_all(&cache).map_err(|e| cache_error(&cache, e))?;
        let objects = match jetstream.get_object_store(BUCKET).await {
            Ok(objects) => objects,
            Err(_) => {
                let config = object_store::Config {
                    bucket: BUCKET.into(),
                    description: Some("Gust's artifacts, named by their sha256".into()),
                    ..Default::default()
                };
                jetstream
                    .create_object_store(config)
                    .await
                    .map_err(|e| nats_error("cannot make the artifacts' bucket", e))?
            }
        };
        Ok(JetStreamArtifacts { objects, cache })
    }

    async fn stored(&self, sha256: &str) -> bool {
        matches!(self.objects.info(sha256).await, Ok(info) if !info.deleted)
    }
}

#[async_trait]
impl Artifacts for JetStreamArtifacts {
    async fn put(&self, bytes: Arc<[u8]>) -> Result<String, Error> {
        let sha = sha256_hex(&bytes);
        if !self.stored(&sha).await {
            let mut reader = &bytes[..];
            self.objects
                .put(sha.as_str(), &mut reader)
                .await
                .map_err(|e| nats_error(&format!("cannot store artifact {sha}"), e))?;
        }
        Ok(sha)
    }

    async fn fetch(&self, sha256: &str) -> Result<PathBuf, Error> {
        let path = self.cache.join(sha256);
        if path.exists() {
            return Ok(path);
        }
        let mut object = self
            .objects
            .get(sha256)
            .await
            .map_err(|e| nats_error(&format!("cannot fetch artifact {sha256}"), e))?;
        let mut bytes = Vec::new();
        object
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| nats_error(&format!("cannot read artifact {sha256}"), e))?;
        if sha256_hex(&bytes) != sha256 {
            return Err(Error::internal(format!(
                "artifact {sha256} came back with other bytes: not cached"
            )));
        }
        let cache = self.cache.clone();
        let target = path.clone();
        tokio::task::spawn_blocking(move || write_into(&cache, &target, &bytes))
            .await
            .map_err(|e| Error::internal(format!("caching an artifact failed: {e}")))??;
        Ok(path)
    }

    async fn remove(&self, sha256: &str) -> Result<(), Error> {
        if self.stored(sha256).await {
            self.objects
                .delete(sha256)
                .await
                .map_err(|e| nats_error(&format!("cannot remove artifact {sha256}"), e))?;
        }
        let cached = self.cache.join(sha256);
        match std::fs::remove_file(&cached) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(cache_error(&cached, e)),
            _ => Ok(()),
        }
    }
}

/// Writes a temp file of its own and renames it into place: two fetches of one artifact at
/// once each write whole files, and a reader never sees half of one.
fn write_into(cache: &Path, target: &Path, bytes: &[u8]) -> Result<(), Error> {
    let write = || -> std::io::Result<()> {
        let mut file = tempfile::NamedTempFile::new_in(cache)?;
        file.write_all(bytes)?;
        file.persist(target)?;
        Ok(())
    };
    write().map_err(|e| cache_error(target, e))
}

fn cache_error(path: &Path, err: std::io::Error) -> Error {
    Error::internal(format!("artifact cache: {}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::NatsServer;

    #[tokio::test]
    async fn the_object_store_keeps_what_every_artifact_store_must() {
        let server = NatsServer::start();
        let jetstream = jetstream::new(server.connect().await);
        let cache = tempfile::tempdir().unwrap();
        let artifacts = JetStreamArtifacts::open(&jetstream, cache.path().join("a"))
            .await
            .unwrap();
        gust_store::conformance::artifacts::run(&artifacts).await;
    }

    #[tokio::test]
    async fn a_node_fetches_what_another_stored() {
        let server = NatsServer::start();
        let cache = tempfile::tempdir().unwrap();
        let one = jetstream::new(server.connect().await);
        let two = jetstream::new(server.connect().await);
        let first = JetStreamArtifacts::open(&one, cache.path().join("one"))
            .await
            .unwrap();
        let second = JetStreamArtifacts::open(&two, cache.path().join("two"))
            .await
            .unwrap();
        let bytes: Arc<[u8]> = vec![9u8; 3 << 20].into();
        let sha = first.put(bytes.clone()).await.unwrap();
        let fetched = second.fetch(&sha).await.unwrap();
        assert!(fetched.starts_with(cache.path().join("two")));
        assert_eq!(std::fs::read(fetched).unwrap(), &bytes[..]);
    }
}
