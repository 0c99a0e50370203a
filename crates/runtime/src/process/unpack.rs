//! Unpacks a process function's .tar.gz into its own folder, refusing anything that could
//! write or point outside it.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use tar::EntryType;

/// Most bytes an artifact may hold once unpacked (a guard against compression bombs).
pub const MAX_UNPACKED_BYTES: u64 = 1024 * 1024 * 1024;
/// Most entries an archive may hold (millions of empty files are a bomb too).
pub const MAX_ENTRIES: usize = 100_000;
/// Links followed in a row while resolving a path, as the kernel's own limit.
const MAX_LINK_DEPTH: u32 = 40;

/// Unpacks `archive` into `target` (which must not exist yet): into a temporary folder next
/// to it first, so that a half-unpacked artifact is never seen.
pub fn unpack(archive: impl Read, target: &Path) -> Result<(), String> {
    let parent = target.parent().ok_or("the unpack target has no parent")?;
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".unpacking-")
        .tempdir_in(parent)
        .map_err(|e| format!("cannot create a staging folder: {e}"))?;
    extract(archive, staging.path())?;
    make_readable(staging.path()).map_err(|e| format!("cannot set permissions: {e}"))?;
    match std::fs::rename(staging.path(), target) {
        Ok(()) => {
            let _ = staging.keep();
            Ok(())
        }
        // Another load of the same artifact got there first: it is the same content.
        Err(_) if target.is_dir() => Ok(()),
        Err(e) => Err(format!("cannot move the unpacked artifact in place: {e}")),
    }
}

fn extract(archive: impl Read, root: &Path) -> Result<(), String> {
    let not_archive = |e: std::io::Error| format!("the artifact is not a readable .tar.gz: {e}");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut total = 0u64;
    for (index, entry) in archive.entries().map_err(not_archive)?.enumerate() {
        if index >= MAX_ENTRIES {
            return Err(format!("the archive holds more than {MAX_ENTRIES} entries"));
        }
        let mut entry = entry.map_err(not_archive)?;
        let path = entry.path().map_err(not_archive)?.into_owned();
        let relative = resolve_within(root, &path, 0)
            .ok_or_else(|| format!("the archive's path `{}` leaves its root", path.display()))?;
        if relative.as_os_str().is_empty() {
            continue;
        }
        let kind = entry.header().entry_type();
        match kind {
            EntryType::Regular | EntryType::Directory | EntryType::Continuous => {}
            EntryType::Symlink | EntryType::Link => {
                let link = entry.link_name().map_err(not_archive)?.unwrap_or_default();
                let base = match kind {
                    EntryType::Symlink => relative.parent().unwrap_or(Path::new("")).join(&link),
                    _ => link.to_path_buf(),
                };
                // Resolved through the links already unpacked, as the kernel will: `s -> .`
                // then `s/up -> ..` reads as inside but leads out.
                if link.is_absolute() || resolve_within(root, &base, 0).is_none() {
                    return Err(format!(
                        "the archive's link `{}` points outside its root (to `{}`)",
                        path.display(),
                        link.display()
                    ));
                }
            }
            EntryType::XGlobalHeader
            | EntryType::XHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink => continue,
            other => {
                return Err(format!(
                    "the archive's entry `{}` is a {other:?}: only files, folders and links \
                     are allowed",
                    path.display()
                ));
            }
        }
        total += entry.header().size().unwrap_or(0);
        if total > MAX_UNPACKED_BYTES {
            return Err(format!(
                "the archive unpacks to more than {} MiB",
                MAX_UNPACKED_BYTES / (1024 * 1024)
            ));
        }
        entry.set_preserve_permissions(false);
        entry.set_unpack_xattrs(false);
        // `unpack_in` refuses paths that escape `root`, on top of the checks above.
        let unpacked = entry.unpack_in(root).map_err(not_archive)?;
        if !unpacked {
            return Err(format!(
                "the archive's path `{}` leaves its root",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Where `path` (relative to `root`) leads once the links already under `root` are followed,
/// relative to `root`; `None` when it leaves it (or links loop).
fn resolve_within(root: &Path, path: &Path, depth: u32) -> Option<PathBuf> {
    let mut resolved = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(name) => {
                let next = resolved.join(name);
                let on_disk = root.join(&next);
                let is_link = std::fs::symlink_metadata(&on_disk)
                    .is_ok_and(|meta| meta.file_type().is_symlink());
                if !is_link {
                    resolved = next;
                    continue;
                }
                let target = std::fs::read_link(&on_disk).ok()?;
                if depth >= MAX_LINK_DEPTH || target.is_absolute() {
                    return None;
                }
                resolved = resolve_within(root, &resolved.join(target), depth + 1)?;
            }
            Component::CurDir => {}
            Component::ParentDir => {
                if !resolved.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(resolved)
}

/// Everything readable by the unprivileged user the function runs as; nothing writable.
fn make_readable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
            make_readable(&path)?;
        } else if kind.is_file() {
            let executable = entry.metadata()?.permissions().mode() & 0o111 != 0;
            let mode = if executable { 0o555 } else { 0o444 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        gz.finish().unwrap()
    }

    fn header(kind: EntryType, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(0o644);
        header
    }

    /// Writes a raw name into the header, bypassing the builder's own path checks.
    fn raw_entry(builder: &mut tar::Builder<Vec<u8>>, name: &str, kind: EntryType, link: &str) {
        let mut h = header(kind, 0);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if !link.is_empty() {
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        builder.append(&h, std::io::empty()).unwrap();
    }

    fn try_unpack(bytes: &[u8]) -> (tempfile::TempDir, Result<(), String>) {
        let dir = tempfile::tempdir().unwrap();
        let result = unpack(bytes, &dir.path().join("fn"));
        (dir, result)
    }

    #[test]
    fn unpacks_files_read_only() {
        let bytes = archive(|b| {
            let mut h = header(EntryType::Regular, 5);
            b.append_data(&mut h, "app/handler.py", &b"print"[..])
                .unwrap();
        });
        let (dir, result) = try_unpack(&bytes);
        result.unwrap();
        let file = dir.path().join("fn/app/handler.py");
        assert_eq!(std::fs::read(&file).unwrap(), b"print");
        assert!(std::fs::metadata(&file).unwrap().permissions().readonly());
    }

    #[test]
    fn refuses_paths_and_links_that_escape() {
        for (name, kind, link, expected) in [
            ("../evil", EntryType::Regular, "", "leaves its root"),
            ("/etc/evil", EntryType::Regular, "", "leaves its root"),
            ("a/../../evil", EntryType::Regular, "", "leaves its root"),
            ("link", EntryType::Symlink, "/etc/passwd", "points outside"),
            ("sub/link", EntryType::Symlink, "../../x", "points outside"),
            ("hard", EntryType::Link, "../x", "points outside"),
            ("dev", EntryType::Char, "", "only files, folders and links"),
        ] {
            let bytes = archive(|b| raw_entry(b, name, kind, link));
            let (dir, result) = try_unpack(&bytes);
            let err = result.expect_err(name);
            assert!(err.contains(expected), "{name}: {err}");
            assert!(!dir.path().join("fn").exists(), "{name} left files behind");
        }
    }

    #[test]
    fn a_chain_of_links_cannot_lead_out() {
        let bytes = archive(|b| {
            raw_entry(b, "sub/s", EntryType::Symlink, "..");
            raw_entry(b, "sub/s/up", EntryType::Symlink, "..");
        });
        let (dir, result) = try_unpack(&bytes);
        assert!(result.unwrap_err().contains("points outside"));
        assert!(!dir.path().join("fn").exists());

        let looping = archive(|b| {
            raw_entry(b, "a", EntryType::Symlink, "b");
            raw_entry(b, "b", EntryType::Symlink, "a");
            raw_entry(b, "c", EntryType::Symlink, "a/x");
        });
        assert!(try_unpack(&looping).1.is_err());
    }

    #[test]
    fn an_archive_of_too_many_entries_is_refused() {
        let bytes = archive(|b| {
            for i in 0..=MAX_ENTRIES {
                let mut h = header(EntryType::Regular, 0);
                b.append_data(&mut h, format!("f{i}"), std::io::empty())
                    .unwrap();
            }
        });
        let (_dir, result) = try_unpack(&bytes);
        assert!(result.unwrap_err().contains("more than 100000 entries"));
    }

    #[test]
    fn a_link_within_the_root_is_fine() {
        let bytes = archive(|b| raw_entry(b, "sub/link", EntryType::Symlink, "../main.py"));
        let (_dir, result) = try_unpack(&bytes);
        result.unwrap();
    }

    #[test]
    fn garbage_is_not_an_archive() {
        let (_dir, result) = try_unpack(b"not a tarball");
        assert!(result.unwrap_err().contains("not a readable .tar.gz"));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn path() -> impl Strategy<Value = String> {
        let part = prop::sample::select(vec!["a", "b", "..", ".", "", "s", "up"]);
        (prop::collection::vec(part, 1..5), any::<bool>()).prop_map(|(parts, absolute)| {
            let joined = parts.join("/");
            if absolute {
                format!("/{joined}")
            } else {
                joined
            }
        })
    }

    fn entry() -> impl Strategy<Value = (String, EntryType, String)> {
        let kind = prop::sample::select(vec![
            EntryType::Regular,
            EntryType::Directory,
            EntryType::Symlink,
            EntryType::Link,
        ]);
        (path(), kind, path())
    }

    /// Every path under `dir`, links not followed.
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            found.push(entry.path());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&entry.path(), found);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Whatever mix of names, folders and links an archive holds, it is refused or it
        /// unpacks to a tree where every path, links followed, stays inside the root.
        #[test]
        fn an_archive_never_leads_out_of_its_root(entries in prop::collection::vec(entry(), 1..8)) {
            let mut builder = tar::Builder::new(Vec::new());
            for (name, kind, link) in &entries {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(*kind);
                header.set_size(0);
                header.set_mode(0o644);
                let name_bytes = &mut header.as_old_mut().name;
                let n = name.len().min(99);
                name_bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
                let link_bytes = &mut header.as_old_mut().linkname;
                let l = link.len().min(99);
                link_bytes[..l].copy_from_slice(&link.as_bytes()[..l]);
                header.set_cksum();
                builder.append(&header, std::io::empty()).unwrap();
            }
            let tar = builder.into_inner().unwrap();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, &tar).unwrap();
            let bytes = gz.finish().unwrap();

            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("fn");
            if unpack(&bytes[..], &target).is_err() {
                return Ok(());
            }
            let root = target.canonicalize().unwrap();
            let mut found = Vec::new();
            walk(&target, &mut found);
            for path in found {
                // A dangling link leads nowhere; any link that resolves must resolve inside.
                if let Ok(resolved) = path.canonicalize() {
                    prop_assert!(resolved.starts_with(&root), "{} -> {}", path.display(), resolved.display());
                }
            }
            let outside: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
            prop_assert_eq!(outside.len(), 1, "nothing written beside the root");
        }
    }
}
