//! Per-instance cgroups: a memory limit and a pid limit. Works with cgroup v2 (one unified
//! hierarchy) and v1 (separate `memory` and `pids` hierarchies).

use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";
const CONTROLLERS: &str = "+memory +pids";

/// Which cgroup layout this host offers, found once at start.
#[derive(Debug, Clone)]
pub enum CgroupLayout {
    V2(PathBuf),
    V1 { memory: PathBuf, pids: PathBuf },
}

impl CgroupLayout {
    /// Finds a writable layout and makes this server's parent group in it (`gust/<pid>`, so
    /// that servers sharing a host never touch each other's groups); `Err` says why not.
    pub fn detect() -> Result<CgroupLayout, String> {
        let root = Path::new(ROOT);
        let server = std::process::id().to_string();
        let layout = if root.join("cgroup.controllers").exists() {
            let gust = root.join("gust");
            make_dir(&gust)?;
            // Children get the controllers only when each parent hands them down.
            let _ = std::fs::write(root.join("cgroup.subtree_control"), CONTROLLERS);
            enable_controllers(&gust)?;
            let parent = gust.join(&server);
            make_dir(&parent)?;
            enable_controllers(&parent)?;
            CgroupLayout::V2(parent)
        } else if root.join("memory").is_dir() && root.join("pids").is_dir() {
            let memory = root.join("memory/gust").join(&server);
            let pids = root.join("pids/gust").join(&server);
            make_dir(&memory)?;
            make_dir(&pids)?;
            CgroupLayout::V1 { memory, pids }
        } else {
            return Err(format!("no memory and pids controllers under {ROOT}"));
        };
        layout.remove_stale();
        Ok(layout)
    }

    /// Removes the groups that servers no longer running left behind (their processes died
    /// with them).
    fn remove_stale(&self) {
        let parents = match self {
            CgroupLayout::V2(parent) => vec![parent],
            CgroupLayout::V1 { memory, pids } => vec![memory, pids],
        };
        for gust in parents.iter().filter_map(|p| p.parent()) {
            for server in subdirs(gust) {
                let pid = server
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                if Path::new("/proc").join(pid).exists() {
                    continue;
                }
                for instance in subdirs(&server) {
                    let _ = std::fs::remove_dir(instance);
                }
                let _ = std::fs::remove_dir(server);
            }
        }
    }

    /// A group for one instance with its limits set.
    pub fn create(&self, name: &str, memory_bytes: u64, max_pids: u32) -> Result<Cgroup, String> {
        let dirs = match self {
            CgroupLayout::V2(parent) => vec![parent.join(name)],
            CgroupLayout::V1 { memory, pids } => vec![memory.join(name), pids.join(name)],
        };
        for dir in &dirs {
            make_dir(dir)?;
        }
        let group = Cgroup {
            dirs,
            v2: matches!(self, CgroupLayout::V2(_)),
        };
        let (memory_file, pids_dir) = if group.v2 {
            ("memory.max", &group.dirs[0])
        } else {
            ("memory.limit_in_bytes", &group.dirs[1])
        };
        write(&group.dirs[0].join(memory_file), &memory_bytes.to_string())?;
        if group.v2 {
            // No swap: the limit is the memory the function really has.
            let _ = std::fs::write(group.dirs[0].join("memory.swap.max"), "0");
        }
        write(&pids_dir.join("pids.max"), &max_pids.to_string())?;
        Ok(group)
    }
}

/// One instance's group.
#[derive(Debug)]
pub struct Cgroup {
    dirs: Vec<PathBuf>,
    v2: bool,
}

impl Cgroup {
    /// The `cgroup.procs` files the sandbox helper joins.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// Whether the kernel killed a process of this group for running out of memory.
    pub fn oom_killed(&self) -> bool {
        let (file, key) = if self.v2 {
            ("memory.events", "oom_kill")
        } else {
            ("memory.oom_control", "oom_kill")
        };
        let text = std::fs::read_to_string(self.dirs[0].join(file)).unwrap_or_default();
        text.lines()
            .filter_map(|line| line.split_once(' '))
            .any(|(k, v)| k == key && v.trim() != "0")
    }
}

impl Cgroup {
    /// Removes the group; false while a process is still inside.
    pub fn remove(&self) -> bool {
        self.dirs
            .iter()
            .all(|dir| std::fs::remove_dir(dir).is_ok() || !dir.exists())
    }
}

fn enable_controllers(group: &Path) -> Result<(), String> {
    std::fs::write(group.join("cgroup.subtree_control"), CONTROLLERS)
        .map_err(|e| format!("cannot enable the memory and pids controllers: {e}"))
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

fn make_dir(dir: &Path) -> Result<(), String> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("cannot create {}: {e}", dir.display())),
    }
}

fn write(file: &Path, value: &str) -> Result<(), String> {
    std::fs::write(file, value).map_err(|e| format!("cannot write {}: {e}", file.display()))
}
