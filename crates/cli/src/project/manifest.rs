//! gust.toml: what a project folder deploys as one function.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::deploy::FunctionSettings;

pub const FILE_NAME: &str = "gust.toml";

/// A project's manifest. Besides the keys below, it takes every setting of `gust deploy` under
/// the same name (`runtime`, `public`, `memory`, `timeout`, `allow_hosts`, `kv`, ...).
#[derive(Deserialize)]
pub struct Manifest {
    pub name: String,
    #[serde(default)]
    pub build: Build,
    /// The function's routes: the manifest owns them (a deploy removes the function's others).
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
    /// The function's triggers, each the body of `POST /v1/functions/NAME/triggers` (`kind`
    /// and its settings); the manifest owns them as it owns routes.
    #[serde(default)]
    pub triggers: Vec<serde_json::Map<String, serde_json::Value>>,
    #[serde(flatten)]
    pub settings: FunctionSettings,
    /// Keys that nothing above took: refused, so that a typo is not a silent default.
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

/// How the project becomes the artifact that is uploaded.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Run by `sh -c` in the project folder; none for a function that needs no build.
    pub command: Option<String>,
    /// The file (a component) or folder (a process function) to upload, from the project
    /// folder [default: the folder itself].
    pub artifact: Option<PathBuf>,
    /// Programs the build needs, each with how to install it (said when it is missing).
    #[serde(default)]
    pub tools: BTreeMap<String, String>,
    /// The build's inputs (files or folders): when the artifact is newer than all of them,
    /// `gust deploy` does not build again. For builds that do not make the same bytes twice
    /// (which would be a new version each time); without it, the build always runs.
    #[serde(default)]
    pub watch: Vec<PathBuf>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// `METHOD /path`, as for `gust route add`.
    pub route: String,
    /// Route to this alias of the function (`NAME@ALIAS`) rather than its latest version.
    pub alias: Option<String>,
    pub host: Option<String>,
    #[serde(default)]
    pub cors_origins: Vec<String>,
}

impl Manifest {
    /// Reads and checks `dir/gust.toml`.
    pub fn load(dir: &Path) -> anyhow::Result<Manifest> {
        let path = dir.join(FILE_NAME);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "no {FILE_NAME} in {}: `gust new TEMPLATE NAME` makes a project",
                dir.display()
            )
        })?;
        Manifest::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Manifest> {
        let manifest: Manifest = toml::from_str(text)?;
        if let Some(key) = manifest.unknown.keys().next() {
            anyhow::bail!("unknown key `{key}` (the keys are those of `gust deploy --help`)");
        }
        Ok(manifest)
    }

    /// What is uploaded, as a path from the project folder.
    pub fn artifact(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        match (&self.build.artifact, self.settings.runtime.as_str()) {
            (Some(artifact), _) => Ok(dir.join(artifact)),
            (None, "wasm") => anyhow::bail!(
                "a wasm function needs [build] artifact = \"PATH\", the .wasm file its build makes"
            ),
            (None, _) => Ok(dir.to_path_buf()),
        }
    }

    /// Where its routes send requests: the function, or one of its aliases.
    pub fn route_target(&self, route: &RouteSpec) -> String {
        match &route.alias {
            Some(alias) => format!("{}@{alias}", self.name),
            None => self.name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_left_out_are_the_command_lines_defaults() {
        let manifest = Manifest::parse("name = \"hi\"\n").unwrap();
        let defaults = FunctionSettings::default();
        assert_eq!(manifest.name, "hi");
        assert_eq!(manifest.settings.runtime, "wasm");
        assert_eq!(
            serde_json::to_value(manifest.settings.config().unwrap()).unwrap(),
            serde_json::to_value(defaults.config().unwrap()).unwrap()
        );
    }

    #[test]
    fn every_kind_of_setting_is_read() {
        let manifest = Manifest::parse(
            r#"
            name = "api"
            runtime = "process"
            command = "python3 main.py"
            public = true
            memory = 256
            timeout = "5s"
            kv = ["todos"]
            buckets = ["photos:read"]
            on_failure = "function:alarm"
            env = { GREETING = "hi" }
            secrets = { API_KEY = "api-key" }
            [[routes]]
            route = "GET /api/{id}"
            alias = "live"
            cors_origins = ["*"]
            [[triggers]]
            kind = "cron"
            cron = "0 * * * *"
            "#,
        )
        .unwrap();
        let config = manifest.settings.config().unwrap();
        assert!(config.public);
        assert_eq!((config.memory_mb, config.timeout_ms), (256, 5000));
        assert_eq!(config.command.as_deref(), Some("python3 main.py"));
        assert_eq!(config.kv, ["todos"]);
        assert_eq!(config.buckets[0].bucket, "photos");
        assert_eq!(config.env["GREETING"], "hi");
        assert_eq!(config.secrets["API_KEY"], "api-key");
        assert!(config.on_failure.is_some());
        assert_eq!(manifest.route_target(&manifest.routes[0]), "api@live");
        assert_eq!(manifest.triggers[0]["cron"], "0 * * * *");
        assert_eq!(manifest.artifact(Path::new("/p")).unwrap(), Path::new("/p"));
    }

    #[test]
    fn a_typo_or_a_bad_value_is_named() {
        let typo = Manifest::parse("name = \"a\"\nmemroy = 64\n")
            .err()
            .unwrap();
        assert!(typo.to_string().contains("unknown key `memroy`"), "{typo}");
        let grant = Manifest::parse("name = \"a\"\nbuckets = [\"p:everything\"]\n");
        assert!(grant.is_err());
        let build = Manifest::parse("name = \"a\"\n[build]\ncomand = \"make\"\n");
        assert!(format!("{:#}", build.err().unwrap()).contains("comand"));
        let wasm = Manifest::parse("name = \"a\"\n").unwrap();
        assert!(wasm.artifact(Path::new(".")).is_err());
    }
}
