//! `gust new`: a project folder from one of the templates built into the binary.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../templates/"]
struct Files;

/// The templates, each with what it makes.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "rust",
        "a Wasm component in Rust, written with the Gust SDK (cargo)",
    ),
    ("python", "a Wasm component in Python (componentize-py)"),
    (
        "js",
        "a Wasm component in JavaScript (componentize-js, through npm)",
    ),
    ("python-process", "a process function: a Python HTTP server"),
    ("node-process", "a process function: a Node.js HTTP server"),
];

/// Makes the folder `name` in `parent` from `template`, and says where it is.
pub fn create(template: &str, name: &str, parent: &Path) -> anyhow::Result<PathBuf> {
    if !TEMPLATES.iter().any(|(known, _)| *known == template) {
        anyhow::bail!(
            "there is no template `{template}`; the templates are {}",
            TEMPLATES
                .iter()
                .map(|(t, _)| *t)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    gust_core::validate_function_name(name).map_err(|e| anyhow::anyhow!(e.message))?;
    let dir = parent.join(name);
    if dir.exists() {
        anyhow::bail!("{} already exists", dir.display());
    }
    let values = Values::for_template(template, name)?;
    let prefix = format!("{template}/");
    for path in Files::iter() {
        let Some(relative) = path.strip_prefix(&prefix) else {
            continue;
        };
        let file = Files::get(&path).expect("a listed file is embedded");
        let text = std::str::from_utf8(&file.data).context("templates are text")?;
        let target = dir.join(relative);
        std::fs::create_dir_all(target.parent().expect("a file is in a folder"))?;
        std::fs::write(&target, values.fill(text))
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    Ok(dir)
}

/// What a template's `{{...}}` placeholders become.
struct Values {
    name: String,
    sdk_path: String,
}

impl Values {
    fn for_template(template: &str, name: &str) -> anyhow::Result<Values> {
        let sdk_path = match template {
            "rust" => sdk_path()?.display().to_string(),
            _ => String::new(),
        };
        Ok(Values {
            name: name.to_string(),
            sdk_path,
        })
    }

    fn fill(&self, text: &str) -> String {
        text.replace("{{name}}", &self.name)
            .replace("{{crate_name}}", &self.name.replace('-', "_"))
            .replace("{{sdk_path}}", &self.sdk_path)
    }
}

/// The Rust SDK's sources: not on crates.io yet, so a project uses those of the Gust checkout
/// this binary was built from, or the ones `GUST_SDK_PATH` names.
fn sdk_path() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("GUST_SDK_PATH").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk/rust"),
        PathBuf::from,
    );
    std::fs::canonicalize(&path).with_context(|| {
        format!(
            "the rust template needs the Gust SDK's sources, not found at {}: set GUST_SDK_PATH \
             to the sdk/rust folder of a Gust checkout",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_embedded_with_a_manifest_naming_the_project() {
        let parent = tempfile::tempdir().unwrap();
        for (template, _) in TEMPLATES {
            let name = format!("my-{template}");
            let dir = create(template, &name, parent.path()).unwrap();
            let manifest = super::super::Manifest::load(&dir).unwrap();
            assert_eq!(manifest.name, name);
            let text = std::fs::read_to_string(dir.join("gust.toml")).unwrap();
            assert!(!text.contains("{{"), "{template}: a placeholder is left");
        }
    }

    #[test]
    fn a_bad_template_name_or_folder_is_refused() {
        let parent = tempfile::tempdir().unwrap();
        let unknown = create("cobol", "x", parent.path()).err().unwrap();
        assert!(unknown.to_string().contains("rust, python"), "{unknown}");
        assert!(create("rust", "Bad Name", parent.path()).is_err());
        create("node-process", "twice", parent.path()).unwrap();
        let again = create("node-process", "twice", parent.path())
            .err()
            .unwrap();
        assert!(again.to_string().contains("already exists"));
    }
}
