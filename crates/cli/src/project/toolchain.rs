//! `gust build`: runs a project's build command, after checking that its tools are installed.

use std::path::Path;
use std::time::{Instant, SystemTime};

use anyhow::Context;

use super::Manifest;
use crate::progress;

/// Builds the project in `dir` unless its artifact is newer than every input it watches.
pub async fn build_if_changed(dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    if manifest.build.command.is_some() && up_to_date(dir, manifest)? {
        println!("{} is up to date", manifest.name);
        return Ok(());
    }
    build(dir, manifest).await
}

/// Builds the project in `dir`; its output is shown only when it fails.
pub async fn build(dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let Some(command) = &manifest.build.command else {
        return Ok(());
    };
    for (tool, install) in &manifest.build.tools {
        if !on_path(tool) {
            anyhow::bail!(
                "`{tool}` is needed to build {}, and is not installed: {install}",
                manifest.name
            );
        }
    }
    let started = Instant::now();
    let spinner = progress::spinner(&format!("building {}", manifest.name));
    let output = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .kill_on_drop(true)
        .output()
        .await
        .context("cannot run sh")?;
    spinner.finish_and_clear();
    if !output.status.success() {
        eprint!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        // sh's answer for a program it cannot find.
        let hint = if output.status.code() == Some(127) {
            " (a program it runs was not found: [build] tools in gust.toml can say how to \
             install what it needs)"
        } else {
            ""
        };
        anyhow::bail!("the build `{command}` failed with {}{hint}", output.status);
    }
    println!(
        "built {} in {:.1}s",
        manifest.name,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn up_to_date(dir: &Path, manifest: &Manifest) -> anyhow::Result<bool> {
    let artifact = manifest.artifact(dir)?;
    let Ok(built) = artifact.metadata().and_then(|m| m.modified()) else {
        return Ok(false);
    };
    if manifest.build.watch.is_empty() {
        return Ok(false);
    }
    let mut newest = SystemTime::UNIX_EPOCH;
    for input in &manifest.build.watch {
        newest = newest.max(newest_change(&dir.join(input), &artifact));
    }
    Ok(newest < built)
}

/// When a file under `path` last changed, `artifact` aside (a folder's own time changes when
/// the build writes the artifact into it, so only files count).
fn newest_change(path: &Path, artifact: &Path) -> SystemTime {
    let Ok(meta) = path.symlink_metadata() else {
        return SystemTime::UNIX_EPOCH;
    };
    if path == artifact {
        SystemTime::UNIX_EPOCH
    } else if meta.is_dir() {
        let children = std::fs::read_dir(path).into_iter().flatten().flatten();
        children
            .map(|child| newest_change(&child.path(), artifact))
            .fold(SystemTime::UNIX_EPOCH, SystemTime::max)
    } else {
        meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

/// Whether `tool` is a program on the PATH (or a path to one).
fn on_path(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |path: &Path| {
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if tool.contains('/') {
        return runnable(Path::new(tool));
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| runnable(&dir.join(tool))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(toml: &str) -> (tempfile::TempDir, Manifest) {
        let dir = tempfile::tempdir().unwrap();
        (dir, Manifest::parse(toml).unwrap())
    }

    #[tokio::test]
    async fn a_missing_tool_is_named_with_how_to_install_it() {
        let (dir, manifest) = project(
            "name = \"a\"\n[build]\ncommand = \"true\"\ntools = { no-such-tool-x = \"apt-get install x\" }\n",
        );
        let err = build(dir.path(), &manifest)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("`no-such-tool-x`") && err.contains("apt-get install x"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_command_runs_in_the_project_and_its_failure_is_told() {
        let (dir, manifest) = project("name = \"a\"\n[build]\ncommand = \"echo made > out\"\n");
        build(dir.path(), &manifest).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out")).unwrap(),
            "made\n"
        );
        let (dir, manifest) = project("name = \"a\"\n[build]\ncommand = \"no-such-program-y\"\n");
        let err = build(dir.path(), &manifest)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("was not found"), "{err}");
    }

    #[tokio::test]
    async fn a_build_newer_than_what_it_watches_is_not_run_again() {
        let (dir, manifest) = project(
            "name = \"a\"\n[build]\ncommand = \"echo x >> log; touch out\"\nartifact = \"out\"\nwatch = [\"app.py\"]\n",
        );
        std::fs::write(dir.path().join("app.py"), "1").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let runs = || {
            std::fs::read_to_string(dir.path().join("log"))
                .unwrap()
                .lines()
                .count()
        };
        build_if_changed(dir.path(), &manifest).await.unwrap();
        build_if_changed(dir.path(), &manifest).await.unwrap();
        assert_eq!(runs(), 1, "the second found it up to date");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.path().join("app.py"), "2").unwrap();
        build_if_changed(dir.path(), &manifest).await.unwrap();
        assert_eq!(runs(), 2, "a changed input builds again");
    }

    #[test]
    fn programs_are_found_on_the_path() {
        assert!(on_path("sh"));
        assert!(on_path("/bin/sh"));
        assert!(!on_path("no-such-program-z"));
    }
}
