//! `gust`: the platform's server and its command-line client.

mod alias;
mod bucket;
mod client;
mod cluster;
mod config;
mod deploy;
mod destinations;
mod dlq;
mod function;
mod inspect;
mod invoke;
mod kv;
mod logs;
mod pack;
mod progress;
mod project;
mod queue;
mod route;
mod s3_endpoint;
mod secret;
mod serve;
mod table;
mod token;
mod trigger;
mod usage;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "gust",
    version,
    about = "Gust: a self-hosted serverless platform",
    after_help = "Examples:\n  \
        gust serve                                  run the platform on 127.0.0.1:8080\n  \
        gust new rust hello && cd hello && gust deploy\n  \
        gust deploy hello hello.wasm --public       deploy a component\n  \
        gust invoke hello --data '{\"name\":\"Ada\"}'\n  \
        gust logs hello --follow\n  \
        gust usage --group-by day"
)]
struct Cli {
    #[command(flatten)]
    target: client::Target,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, Default)]
pub enum Output {
    #[default]
    Table,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform.
    Serve(serve::ServeArgs),
    /// Make a project folder from a template (`--list` shows them).
    New(project::NewArgs),
    /// Build the project in this folder, with the build command of its gust.toml.
    Build,
    /// Upload a component as a new version of a function; with no arguments, build and deploy
    /// the project in this folder with its routes and triggers.
    Deploy(deploy::DeployArgs),
    /// Call a function and print its response body.
    Invoke(invoke::InvokeArgs),
    /// List functions.
    Ls {
        #[arg(long, short, value_enum, default_value_t)]
        output: Output,
    },
    /// Show one function: its version, settings, instances, aliases and triggers.
    Show {
        /// The function's name.
        name: String,
        #[arg(long, short, value_enum, default_value_t)]
        output: Output,
    },
    /// Change a function's settings without uploading it again (a new version, same code).
    Set(function::SetArgs),
    /// A function's recent invocations: status, duration, cold or warm, billed ms.
    Invocations {
        /// The function's name.
        name: String,
        /// How many, newest first (at most 1000).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long, short, value_enum, default_value_t)]
        output: Output,
    },
    /// Asynchronous invocations: list, show one, cancel one.
    Async {
        #[command(subcommand)]
        command: queue::AsyncCommand,
    },
    /// List a function's versions.
    Versions {
        /// The function's name.
        name: String,
        #[arg(long, short, value_enum, default_value_t)]
        output: Output,
    },
    /// Print a function's log lines.
    Logs(logs::LogsArgs),
    /// Delete a function with its versions, aliases, triggers and logs (its invocation records
    /// stay, for usage). Asks first at a terminal.
    Rm {
        /// The function's name.
        name: String,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
    /// A function's dead-letter list: asynchronous invocations whose every attempt failed.
    Dlq {
        /// The function whose dead letters to list.
        name: Option<String>,
        #[arg(long, short, value_enum, default_value_t)]
        output: Output,
        #[command(subcommand)]
        command: Option<dlq::DlqCommand>,
    },
    /// Event sources that invoke functions: schedules, buckets.
    Trigger {
        #[command(subcommand)]
        command: trigger::TriggerCommand,
    },
    /// Buckets of the S3 endpoint: create, list, remove.
    Bucket {
        #[command(subcommand)]
        command: bucket::BucketCommand,
    },
    /// Key pairs of the S3 endpoint: create, list, remove.
    Key {
        #[command(subcommand)]
        command: bucket::KeyCommand,
    },
    /// Aliases: named pointers to versions, with traffic splitting: set, list, remove.
    Alias {
        #[command(subcommand)]
        command: alias::AliasCommand,
    },
    /// Move an alias (`live` unless told) back to the version it pointed to before.
    Rollback(alias::RollbackArgs),
    /// Routes of the API gateway: add, list, remove.
    Route {
        #[command(subcommand)]
        command: route::RouteCommand,
    },
    /// Key-value stores of functions (`gust deploy --kv STORE`): list, get, set, remove.
    Kv {
        #[command(subcommand)]
        command: kv::KvCommand,
    },
    /// Secrets for functions (`gust deploy --secret VAR=NAME`): set, list, remove.
    Secret {
        #[command(subcommand)]
        command: secret::SecretCommand,
    },
    /// Scoped API tokens: create, list, revoke.
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
    /// What functions used and cost: invocations, errors, GB-seconds, price.
    Usage(usage::UsageArgs),
    /// Print a shell's completion script: `gust completions bash > /etc/bash_completion.d/gust`.
    Completions { shell: clap_complete::Shell },
}

/// Writes the completion script for `shell` (a reader that stops early, like `head`, is fine).
fn print_completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    use clap::CommandFactory;
    use std::io::Write;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "gust", &mut script);
    match std::io::stdout().write_all(&script) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Asks a person at a terminal to say yes; anyone else (a script, a pipe) is taken as yes.
fn confirmed(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Ok(true);
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Where a local server keeps its state, unless told otherwise.
fn default_data_dir() -> PathBuf {
    std::env::var_os("GUST_DATA_DIR").map_or_else(|| PathBuf::from(".gust"), PathBuf::from)
}

fn main() {
    // The sandbox helper runs before any thread exists: it forks, which is only safe then.
    if std::env::args().nth(1).as_deref() == Some(gust_runtime::process::sandbox::SUBCOMMAND) {
        gust_runtime::process::sandbox::run();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the async runtime");
    runtime.block_on(run());
}

async fn run() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Completions { shell } => print_completions(shell),
        Command::New(args) => project::new(args),
        Command::Build => project::build().await,
        command => run_client(cli.target, command).await,
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

async fn run_client(target: client::Target, command: Command) -> anyhow::Result<()> {
    let client = client::Client::new(target)?;
    match command {
        Command::Serve(_) | Command::Completions { .. } | Command::New(_) | Command::Build => {
            unreachable!("handled by run")
        }
        Command::Deploy(args) => deploy::run(&client, args).await,
        Command::Invoke(args) => invoke::run(&client, args).await,
        Command::Ls { output } => inspect::list(&client, output).await,
        Command::Versions { name, output } => inspect::versions(&client, &name, output).await,
        Command::Logs(args) => logs::run(&client, args).await,
        Command::Usage(args) => usage::run(&client, args).await,
        Command::Dlq {
            name,
            output,
            command,
        } => dlq::run(&client, name, output, command).await,
        Command::Show { name, output } => function::show(&client, &name, output).await,
        Command::Set(args) => function::set(&client, args).await,
        Command::Invocations {
            name,
            limit,
            output,
        } => function::invocations(&client, &name, limit, output).await,
        Command::Async { command } => queue::run(&client, command).await,
        Command::Trigger { command } => trigger::run(&client, command).await,
        Command::Alias { command } => alias::run(&client, command).await,
        Command::Rollback(args) => alias::rollback(&client, args).await,
        Command::Route { command } => route::run(&client, command).await,
        Command::Kv { command } => kv::run(&client, command).await,
        Command::Secret { command } => secret::run(&client, command).await,
        Command::Token { command } => token::run(&client, command).await,
        Command::Bucket { command } => bucket::run(&client, command).await,
        Command::Key { command } => bucket::run_key(&client, command).await,
        Command::Rm { name, yes } => {
            if !yes && !confirmed(&format!("delete {name} and everything it has?"))? {
                anyhow::bail!("not deleted");
            }
            client.delete(&format!("/v1/functions/{name}")).await?;
            println!("deleted {name}");
            Ok(())
        }
    }
}
