//! Projects: a folder with gust.toml that `gust new` makes, `gust build` builds and `gust
//! deploy` (with no arguments) deploys with its routes and triggers.

mod apply;
mod manifest;
mod templates;
mod toolchain;

use std::path::Path;

use clap::Args;

pub use manifest::Manifest;

use crate::client::Client;
use crate::deploy;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  gust new --list\n  gust new rust hello && cd hello && gust deploy"
)]
pub struct NewArgs {
    /// The template: rust, python, js, python-process or node-process (`--list` says more).
    #[arg(required_unless_present = "list")]
    template: Option<String>,
    /// The function's name, and the folder made for it.
    #[arg(required_unless_present = "list")]
    name: Option<String>,
    /// List the templates.
    #[arg(long, conflicts_with_all = ["template", "name"])]
    list: bool,
}

pub fn new(args: NewArgs) -> anyhow::Result<()> {
    let (Some(template), Some(name)) = (args.template, args.name) else {
        for (template, about) in templates::TEMPLATES {
            println!("{template:<16}{about}");
        }
        return Ok(());
    };
    let dir = templates::create(&template, &name, Path::new("."))?;
    println!(
        "made {} from the {template} template: cd {name} && gust deploy",
        dir.display()
    );
    Ok(())
}

/// `gust build`: the project in this folder.
pub async fn build() -> anyhow::Result<()> {
    let manifest = Manifest::load(Path::new("."))?;
    toolchain::build(Path::new("."), &manifest).await
}

/// `gust deploy` with no arguments: builds the project in this folder, uploads it, and makes
/// its routes and triggers those of its manifest.
pub async fn deploy(client: &Client) -> anyhow::Result<()> {
    let dir = Path::new(".");
    let manifest = Manifest::load(dir)?;
    toolchain::build_if_changed(dir, &manifest).await?;
    let artifact = manifest.artifact(dir)?;
    // The manifest is the project's, not the function's: a change of routes is no new version.
    let leave_out = [manifest::FILE_NAME];
    deploy::upload(
        client,
        &manifest.name,
        &artifact,
        &manifest.settings,
        &leave_out,
    )
    .await?;
    apply::routes(client, &manifest).await?;
    apply::triggers(client, &manifest).await
}
