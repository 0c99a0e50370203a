//! wasi:keyvalue (0.2.0-draft2: store, atomics, batch) over Gust's key-value stores. A guest
//! opens only the stores its function was granted (`--kv STORE`); each call goes to the
//! node's `KeyValue`, which is shared by every instance and outlives them.

use std::sync::Arc;

use gust_core::{Error as GustError, ErrorKind, KeyValue, MAX_KV_BATCH};
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../sdk/rust/wit/keyvalue.wit",
        world: "wasi:keyvalue/imports",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": super::OpenBucket,
            "wasi:keyvalue/atomics.cas": super::CasSnapshot,
        },
    });
}

use bindings::wasi::keyvalue::{atomics, batch, store};

/// An opened store, as a guest holds it.
pub struct OpenBucket {
    store: String,
}

/// A key's value as read for a compare-and-swap.
pub struct CasSnapshot {
    store: String,
    key: String,
    value: Option<Vec<u8>>,
}

/// What an instance may reach: the node's stores, and which of them its function was granted.
#[derive(Clone, Default)]
pub struct KvAccess {
    pub backend: Option<Arc<dyn KeyValue>>,
    pub granted: Vec<String>,
}

/// The guest's view for the host calls: its resources and its access.
pub struct KvView<'a> {
    table: &'a mut ResourceTable,
    access: &'a KvAccess,
}

impl<'a> KvView<'a> {
    pub fn new(table: &'a mut ResourceTable, access: &'a KvAccess) -> Self {
        KvView { table, access }
    }

    fn backend(&self) -> Result<&dyn KeyValue, store::Error> {
        (self.access.backend.as_deref())
            .ok_or_else(|| store::Error::Other("this node has no key-value stores".into()))
    }

    fn store_of(&self, bucket: &Resource<OpenBucket>) -> wasmtime::Result<String> {
        Ok(self.table.get(bucket)?.store.clone())
    }
}

struct HasKv;

impl HasData for HasKv {
    type Data<'a> = KvView<'a>;
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> KvView<'_>,
) -> wasmtime::Result<()> {
    store::add_to_linker::<_, HasKv>(linker, view)?;
    atomics::add_to_linker::<_, HasKv>(linker, view)?;
    batch::add_to_linker::<_, HasKv>(linker, view)
}

/// What a guest learns of a failed call: why, never a trap.
fn to_guest(err: GustError) -> store::Error {
    match err.kind {
        ErrorKind::Forbidden | ErrorKind::Unauthorized => store::Error::AccessDenied,
        _ => store::Error::Other(err.message),
    }
}

type Answer<T> = wasmtime::Result<Result<T, store::Error>>;

/// Runs one call on the backend, turning its error into the guest's.
macro_rules! call {
    ($view:expr, |$kv:ident| $body:expr) => {{
        let $kv = match $view.backend() {
            Ok(kv) => kv,
            Err(e) => return Ok(Err(e)),
        };
        Ok($body.await.map_err(to_guest))
    }};
}

impl store::Host for KvView<'_> {
    async fn open(&mut self, identifier: String) -> Answer<Resource<OpenBucket>> {
        if !self.access.granted.contains(&identifier) {
            return Ok(Err(store::Error::AccessDenied));
        }
        let bucket = OpenBucket { store: identifier };
        Ok(Ok(self.table.push(bucket)?))
    }
}

impl store::HostBucket for KvView<'_> {
    async fn get(&mut self, bucket: Resource<OpenBucket>, key: String) -> Answer<Option<Vec<u8>>> {
        let store = self.store_of(&bucket)?;
        call!(self, |kv| kv.get(&store, &key))
    }

    async fn set(
        &mut self,
        bucket: Resource<OpenBucket>,
        key: String,
        value: Vec<u8>,
    ) -> Answer<()> {
        let store = self.store_of(&bucket)?;
        call!(self, |kv| kv.set(&store, &key, value))
    }

    async fn delete(&mut self, bucket: Resource<OpenBucket>, key: String) -> Answer<()> {
        let store = self.store_of(&bucket)?;
        call!(self, |kv| async { kv.delete(&store, &key).await.map(drop) })
    }

    async fn exists(&mut self, bucket: Resource<OpenBucket>, key: String) -> Answer<bool> {
        let store = self.store_of(&bucket)?;
        call!(self, |kv| kv.exists(&store, &key))
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<OpenBucket>,
        cursor: Option<String>,
    ) -> Answer<store::KeyResponse> {
        let store = self.store_of(&bucket)?;
        call!(self, |kv| async {
            let page = kv.keys(&store, "", cursor.as_deref(), MAX_KV_BATCH).await?;
            Ok(store::KeyResponse {
                keys: page.keys,
                cursor: page.next,
            })
        })
    }

    async fn drop(&mut self, bucket: Resource<OpenBucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KvView<'_> {
    async fn increment(
        &mut self,
        bucket: Resource<OpenBucket>,
        key: String,
        delta: i64,
    ) -> Answer<i64> {
        let store = self.store_of(&bucket)?;
        call!(self, |kv| kv.increment(&store, &key, delta))
    }

    async fn swap(
        &mut self,
        cas: Resource<CasSnapshot>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), atomics::CasError>> {
        let snapshot = self.table.delete(cas)?;
        let kv = match self.backend() {
            Ok(kv) => kv,
            Err(e) => return Ok(Err(atomics::CasError::StoreError(e))),
        };
        let (store, key) = (&snapshot.store, &snapshot.key);
        let expected = snapshot.value.clone();
        match kv.compare_and_swap(store, key, expected, value).await {
            Ok(true) => Ok(Ok(())),
            Ok(false) => {
                // The guest retries from what the key holds now.
                let value = match kv.get(store, key).await {
                    Ok(value) => value,
                    Err(e) => return Ok(Err(atomics::CasError::StoreError(to_guest(e)))),
                };
                let fresh = self.table.push(CasSnapshot { value, ..snapshot })?;
                Ok(Err(atomics::CasError::CasFailed(fresh)))
            }
            Err(e) => Ok(Err(atomics::CasError::StoreError(to_guest(e)))),
        }
    }
}

impl atomics::HostCas for KvView<'_> {
    async fn new(
        &mut self,
        bucket: Resource<OpenBucket>,
        key: String,
    ) -> Answer<Resource<CasSnapshot>> {
        let store = self.store_of(&bucket)?;
        let value = match self.backend() {
            Ok(kv) => kv.get(&store, &key).await,
            Err(e) => return Ok(Err(e)),
        };
        match value {
            Ok(value) => Ok(Ok(self.table.push(CasSnapshot { store, key, value })?)),
            Err(e) => Ok(Err(to_guest(e))),
        }
    }

    async fn current(&mut self, cas: Resource<CasSnapshot>) -> Answer<Option<Vec<u8>>> {
        Ok(Ok(self.table.get(&cas)?.value.clone()))
    }

    async fn drop(&mut self, cas: Resource<CasSnapshot>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl batch::Host for KvView<'_> {
    async fn get_many(
        &mut self,
        bucket: Resource<OpenBucket>,
        keys: Vec<String>,
    ) -> Answer<Vec<Option<(String, Vec<u8>)>>> {
        let store = self.store_of(&bucket)?;
        call!(self, |kv| async {
            let values = kv.get_many(&store, keys.clone()).await?;
            let pairs = keys.into_iter().zip(values);
            Ok(pairs.map(|(key, value)| value.map(|v| (key, v))).collect())
        })
    }

    async fn set_many(
        &mut self,
        bucket: Resource<OpenBucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Answer<()> {
        let store = self.store_of(&bucket)?;
        call!(self, |kv| kv.set_many(&store, key_values))
    }

    async fn delete_many(&mut self, bucket: Resource<OpenBucket>, keys: Vec<String>) -> Answer<()> {
        let store = self.store_of(&bucket)?;
        call!(self, |kv| kv.delete_many(&store, keys))
    }
}
