//! Packs a process function's folder as the .tar.gz the server unpacks.

use std::path::Path;

use anyhow::Context;

/// The artifact to upload: a folder is packed (links kept as links, and the entries at its
/// top named in `leave_out` left out), a file sent as it is.
pub fn artifact_bytes(path: &Path, leave_out: &[&str]) -> anyhow::Result<Vec<u8>> {
    if !path.is_dir() {
        return std::fs::read(path).with_context(|| format!("cannot read {}", path.display()));
    }
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    // Sparse entries (a freshly linked binary is often sparse) are not plain files: the
    // server's unpacker takes only files, folders and links.
    tar.sparse(false);
    let cannot = || format!("cannot pack {}", path.display());
    let mut entries = std::fs::read_dir(path)
        .with_context(cannot)?
        .collect::<Result<Vec<_>, _>>()
        .with_context(cannot)?;
    // The same folder packs to the same bytes, so that deploying it again is no new version.
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let name = entry.file_name();
        if leave_out.iter().any(|left| name == **left) {
            continue;
        }
        let added = if entry.file_type().with_context(cannot)?.is_dir() {
            tar.append_dir_all(&name, entry.path())
        } else {
            tar.append_path_with_name(entry.path(), &name)
        };
        added.with_context(cannot)?;
    }
    Ok(tar.into_inner()?.finish()?)
}
