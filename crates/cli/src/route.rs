use anyhow::Context;
use clap::Subcommand;
use gust_core::Route;
use serde_json::json;

use crate::client::Client;
use crate::table::print_table;

#[derive(Subcommand)]
pub enum RouteCommand {
    /// Route requests to a function: `gust route add 'GET /api/todos/{id}' todos`.
    Add {
        /// `METHOD /path`: a method (or ANY) and a path template with `{param}` segments and
        /// an optional final `{*rest}`.
        route: String,
        /// The function's name, or NAME@ALIAS.
        function: String,
        /// Only requests for this host.
        #[arg(long)]
        host: Option<String>,
        /// An origin whose browsers may call it (repeatable, or `*`); Gust answers preflights.
        #[arg(long = "cors-origin", value_name = "ORIGIN")]
        cors_origins: Vec<String>,
    },
    /// List routes.
    Ls,
    /// Remove a route by id.
    Rm {
        /// The route's id (`gust route ls`).
        id: String,
    },
}

/// `METHOD` and `/path` of `METHOD /path`.
pub fn split_spec(route: &str) -> anyhow::Result<(&str, &str)> {
    let (method, path) = route
        .trim()
        .split_once(' ')
        .context("a route is `METHOD /path`, e.g. 'GET /api/todos/{id}'")?;
    Ok((method, path.trim()))
}

/// The API's body for a new route.
pub fn body(
    route: &str,
    function: &str,
    host: Option<&str>,
    cors_origins: &[String],
) -> anyhow::Result<serde_json::Value> {
    let (method, path) = split_spec(route)?;
    Ok(json!({
        "method": method, "path": path, "host": host, "function": function,
        "cors_origins": cors_origins,
    }))
}

pub async fn run(client: &Client, command: RouteCommand) -> anyhow::Result<()> {
    match command {
        RouteCommand::Add {
            route,
            function,
            host,
            cors_origins,
        } => {
            let body = body(&route, &function, host.as_deref(), &cors_origins)?;
            let request = client
                .request(reqwest::Method::POST, "/v1/routes")
                .json(&body);
            let added: Route = client.send(request).await?.json().await?;
            println!("added route {} {} → {function}", added.id, added.spec());
        }
        RouteCommand::Ls => {
            let routes: Vec<Route> = client.get_json("/v1/routes").await?;
            let rows = routes
                .into_iter()
                .map(|r| {
                    vec![
                        r.id,
                        r.method,
                        r.path,
                        r.host.unwrap_or_else(|| "*".into()),
                        r.function,
                        r.cors_origins.join(","),
                    ]
                })
                .collect();
            print_table(&["ID", "METHOD", "PATH", "HOST", "FUNCTION", "CORS"], rows);
        }
        RouteCommand::Rm { id } => {
            client.delete(&format!("/v1/routes/{id}")).await?;
            println!("removed route {id}");
        }
    }
    Ok(())
}
