//! Per-instance cgroups: a memory limit, a pid limit and a CPU quota. Works with cgroup v2
//! (one unified hierarchy) and v1 (separate `memory`, `pids` and `cpu` hierarchies).

use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";
const CONTROLLERS: &str = "+memory +pids +cpu";
/// The scheduler period a CPU quota is a share of, in microseconds.
const CPU_PERIOD_US: u64 = 100_000;

/// Which cgroup layout this host offers, found once at start.
#[derive(Debug, Clone)]
pub enum CgroupLayout {
    V2(PathBuf),
    V1 {
        memory: PathBuf,
        pids: PathBuf,
        cpu: PathBuf,
    },
}

/// What one instance may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub memory_bytes: u64,
    pub max_pids: u32,
    /// Thousandths of a core.
    pub cpu_millis: u32,
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
        } else if ["memory", "pids", "cpu"]
            .iter()
            .all(|c| root.join(c).is_dir())
        {
            let [memory, pids, cpu] = ["memory", "pids", "cpu"]
                .map(|controller| root.join(controller).join("gust").join(&server));
            // A fresh host has no `gust/` parent yet: make it first.
            for dir in [&memory, &pids, &cpu] {
                make_dirs(dir)?;
            }
            CgroupLayout::V1 { memory, pids, cpu }
        } else {
            return Err(format!("no memory, pids and cpu controllers under {ROOT}"));
        };
        layout.remove_stale();
        Ok(layout)
    }

    /// Removes the groups that servers no longer running left behind (their processes died
    /// with them).
    fn remove_stale(&self) {
        let parents = match self {
            CgroupLayout::V2(parent) => vec![parent],
            CgroupLayout::V1 { memory, pids, cpu } => vec![memory, pids, cpu],
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
    pub fn create(&self, name: &str, limits: Limits) -> Result<Cgroup, String> {
        let quota_us = u64::from(limits.cpu_millis) * CPU_PERIOD_US / 1000;
        let group = match self {
            CgroupLayout::V2(parent) => {
                let dir = parent.join(name);
                make_dir(&dir)?;
                write(&dir.join("memory.max"), &limits.memory_bytes.to_string())?;
                // No swap: the limit is the memory the function really has.
                let _ = std::fs::write(dir.join("memory.swap.max"), "0");
                write(&dir.join("pids.max"), &limits.max_pids.to_string())?;
                write(&dir.join("cpu.max"), &format!("{quota_us} {CPU_PERIOD_US}"))?;
                Cgroup {
                    dirs: vec![dir],
                    v2: true,
                }
            }
            CgroupLayout::V1 { memory, pids, cpu } => {
                let dirs = [memory, pids, cpu].map(|parent| parent.join(name));
                for dir in &dirs {
                    make_dir(dir)?;
                }
                let [memory, pids, cpu] = &dirs;
                write(
                    &memory.join("memory.limit_in_bytes"),
                    &limits.memory_bytes.to_string(),
                )?;
                write(&pids.join("pids.max"), &limits.max_pids.to_string())?;
                write(&cpu.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
                write(&cpu.join("cpu.cfs_quota_us"), &quota_us.to_string())?;
                Cgroup {
                    dirs: dirs.to_vec(),
                    v2: false,
                }
            }
        };
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
        .map_err(|e| format!("cannot enable the memory, pids and cpu controllers: {e}"))
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

fn make_dirs(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn write(file: &Path, value: &str) -> Result<(), String> {
    std::fs::write(file, value).map_err(|e| format!("cannot write {}: {e}", file.display()))
}
