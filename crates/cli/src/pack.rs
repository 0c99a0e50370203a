//! Packs a process function's folder as the .tar.gz the server unpacks.

use std::path::Path;

use anyhow::Context;

/// The artifact to upload: a folder is packed (links kept as links), a file sent as it is.
pub fn artifact_bytes(path: &Path) -> anyhow::Result<Vec<u8>> {
    if !path.is_dir() {
        return std::fs::read(path).with_context(|| format!("cannot read {}", path.display()));
    }
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    // Sparse entries (a freshly linked binary is often sparse) are not plain files: the
    // server's unpacker takes only files, folders and links.
    tar.sparse(false);
    tar.append_dir_all(".", path)
        .with_context(|| format!("cannot pack {}", path.display()))?;
    Ok(tar.into_inner()?.finish()?)
}
