use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::header::check_component_header;
use crate::{ArtifactSource, LoadError};

/// Compiled components on disk, keyed by artifact sha256 and the engine's compatibility hash
/// (which covers the wasmtime version and the settings that shape compiled code), so that a restart (or a second function with the same artifact) does not
/// compile again.
pub struct AotCache {
    dir: PathBuf,
    engine: Engine,
    key_suffix: String,
}

impl AotCache {
    pub fn open(dir: PathBuf, engine: &Engine) -> anyhow::Result<Self> {
        fs::create_dir_all(&dir)?;
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(AotCache {
            dir,
            engine: engine.clone(),
            key_suffix: format!("{:016x}", hasher.finish()),
        })
    }

    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.key_suffix))
    }

    /// Removes the artifact's compiled code, for every engine that compiled it.
    pub fn remove(&self, sha256: &str) {
        let prefix = format!("{sha256}-");
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// The artifact's compiled component from disk, if it is there, whole and readable.
    pub fn cached(&self, sha256: &str) -> Option<Component> {
        let path = self.path(sha256);
        let entry = match fs::read(&path) {
            Ok(entry) => entry,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot read AOT cache entry: {e}");
                return None;
            }
        };
        let Some(code) = verified(&entry) else {
            tracing::warn!(path = %path.display(), "discarding AOT cache entry: its hash does not match");
            return None;
        };
        // SAFETY: the bytes are what `Component::serialize` of this very engine configuration
        // (the key includes its compatibility hash) wrote, as their hash shows: native code is
        // only loaded as it was written.
        match unsafe { Component::deserialize(&self.engine, code) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), "discarding AOT cache entry: {e:#}");
                None
            }
        }
    }

    /// Compiles the artifact and writes the result to the cache.
    pub fn compile(&self, sha256: &str, artifact: ArtifactSource) -> Result<Component, LoadError> {
        let path = self.path(sha256);
        let bytes: std::borrow::Cow<[u8]> = match &artifact {
            ArtifactSource::Bytes(bytes) => bytes.as_ref().into(),
            ArtifactSource::File(file) => fs::read(file)
                .map_err(|e| LoadError::Internal(format!("{}: {e}", file.display())))?
                .into(),
        };
        check_component_header(&bytes)?;
        let started = std::time::Instant::now();
        let component = Component::new(&self.engine, &bytes)
            .map_err(|e| LoadError::Invalid(format!("the component does not compile: {e:#}")))?;
        tracing::info!(
            sha256,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compiled component"
        );
        self.write(&path, &component)?;
        Ok(component)
    }

    fn write(&self, path: &PathBuf, component: &Component) -> Result<(), LoadError> {
        let internal = |e: &dyn std::fmt::Display| LoadError::Internal(format!("AOT cache: {e}"));
        let serialized = component.serialize().map_err(|e| internal(&e))?;
        // A unique temp file, synced, then renamed into place: concurrent loads of one
        // artifact never see a half-written entry, nor does a restart after a crash.
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| internal(&e))?;
        let hash = Sha256::digest(&serialized);
        std::io::Write::write_all(&mut tmp, &hash).map_err(|e| internal(&e))?;
        std::io::Write::write_all(&mut tmp, &serialized).map_err(|e| internal(&e))?;
        tmp.as_file().sync_all().map_err(|e| internal(&e))?;
        tmp.persist(path).map_err(|e| internal(&e))?;
        Ok(())
    }
}

/// An entry is the SHA-256 of the compiled code, then the code: the code, when they agree.
fn verified(entry: &[u8]) -> Option<&[u8]> {
    let (hash, code) = entry.split_at_checked(HASH_LEN)?;
    (Sha256::digest(code).as_slice() == hash).then_some(code)
}

const HASH_LEN: usize = 32;
