//! The S3 endpoint of `gust serve`: its storage, its root key and its listener.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use gust_bucket::{BucketAccessGrants, Buckets, GustS3, KeyRing, Notifier, ObjectFiles, S3Service};
use gust_store::BucketStore;

/// Where the S3 endpoint listens and how large an object may be.
pub struct S3Settings {
    pub listen: String,
    pub max_object_bytes: u64,
}

/// The S3 endpoint, bound but not yet serving.
pub struct S3Endpoint {
    pub buckets: Arc<Buckets>,
    /// `None` with `--s3-listen off`.
    pub url: Option<String>,
    /// What a function granted buckets gets.
    pub grants: Arc<BucketAccessGrants>,
    listening: Option<(tokio::net::TcpListener, S3Service, u64)>,
}

impl S3Endpoint {
    /// Starts taking requests.
    pub fn serve(&mut self) {
        if let Some((listener, service, max_object_bytes)) = self.listening.take() {
            tokio::spawn(gust_bucket::serve(listener, service, max_object_bytes));
        }
    }
}

/// The buckets' storage, and its S3 endpoint unless `--s3-listen off`, bound (its URL goes to
/// `<data-dir>/s3.url`, the root key to `<data-dir>/s3-credentials`) but serving only once
/// [`S3Endpoint::serve`] is called.
pub async fn start(
    settings: &S3Settings,
    data_dir: &Path,
    store: Arc<dyn BucketStore>,
    notifier: Arc<dyn Notifier>,
) -> anyhow::Result<S3Endpoint> {
    let files = Arc::new(
        ObjectFiles::open(data_dir)
            .with_context(|| format!("cannot create {}/objects", data_dir.display()))?,
    );
    let in_use = store.files_in_use().await?;
    let swept = files
        .sweep(&in_use)
        .context("cannot sweep the objects folder")?;
    if swept > 0 {
        tracing::info!("removed {swept} object file(s) left by a crash or a failed removal");
    }
    let keys = KeyRing::new(store.clone());
    let buckets = Arc::new(Buckets::new(store.clone(), files.clone(), keys.clone()));
    let Some(address) = gust_bucket::parse_listen(&settings.listen).map_err(anyhow::Error::msg)?
    else {
        return Ok(S3Endpoint {
            buckets,
            url: None,
            grants: BucketAccessGrants::new(keys, None),
            listening: None,
        });
    };
    let credentials = gust_bucket::ensure_root_key(data_dir, &keys).await?;
    let s3 = GustS3::new(
        store,
        files,
        keys.clone(),
        notifier,
        settings.max_object_bytes,
    );
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| {
            format!("cannot listen on {address} for the S3 endpoint (--s3-listen ADDR, or off)")
        })?;
    let bound = listener.local_addr()?;
    let url = format!("http://{bound}");
    std::fs::write(data_dir.join("s3.url"), &url)?;
    tracing::info!(credentials = %credentials.display(), "S3 endpoint on {url}");
    let service = gust_bucket::service(s3, keys.clone());
    Ok(S3Endpoint {
        buckets,
        url: Some(url),
        grants: BucketAccessGrants::new(keys, Some(bound)),
        listening: Some((listener, service, settings.max_object_bytes)),
    })
}
