use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;

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

    /// The artifact's compiled component from disk, if it is there and still readable.
    pub fn cached(&self, sha256: &str) -> Option<Component> {
        let path = self.path(sha256);
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was written by `Component::serialize` of this very engine
        // configuration (the key includes its compatibility hash) into our own data dir.
        match unsafe { Component::deserialize_file(&self.engine, &path) } {
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
        // A unique temp file, renamed into place: concurrent loads of one artifact never
        // see a half-written entry.
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| internal(&e))?;
        std::io::Write::write_all(&mut tmp, &serialized).map_err(|e| internal(&e))?;
        tmp.persist(path).map_err(|e| internal(&e))?;
        Ok(())
    }
}
