use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use reqwest::{RequestBuilder, Response};
use serde::de::DeserializeOwned;

use crate::default_data_dir;

/// Which server to talk to and how to authenticate: taken by every command, and shown under
/// a heading of their own so that a command's own options stand apart.
#[derive(Args)]
#[command(next_help_heading = "Connection options (any command)")]
pub struct Target {
    /// Server URL [default: the local server of --data-dir, else http://127.0.0.1:8080]
    #[arg(long, env = "GUST_SERVER", global = true)]
    server: Option<String>,
    /// Admin token [default: read from <data-dir>/admin.token]
    #[arg(long, env = "GUST_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Data directory of a local server, where its address and token are found.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

pub struct Client {
    http: reqwest::Client,
    server: String,
    token: Option<String>,
    /// Where the token came from, or where it was looked for: said with a 401.
    token_source: String,
}

/// The longest part of a non-Gust answer shown in an error.
const SHOWN_BYTES: usize = 200;

impl Client {
    pub fn new(target: Target) -> anyhow::Result<Self> {
        let data_dir = target.data_dir.unwrap_or_else(default_data_dir);
        let read = |file: &str| {
            std::fs::read_to_string(data_dir.join(file))
                .ok()
                .map(|text| text.trim().to_string())
                .filter(|text| !text.is_empty())
        };
        let server = target
            .server
            .or_else(|| read("server.url"))
            .unwrap_or_else(|| "http://127.0.0.1:8080".into());
        let token_file = data_dir.join("admin.token");
        let (token, token_source) = match target.token {
            Some(token) => (Some(token), "--token or GUST_TOKEN".to_string()),
            None => (
                read("admin.token"),
                format!(
                    "{} (none was given with --token or GUST_TOKEN)",
                    token_file.display()
                ),
            ),
        };
        Ok(Client {
            http: reqwest::Client::builder().build()?,
            server: with_scheme(server.trim_end_matches('/')),
            token,
            token_source,
        })
    }

    /// The address of `path` on the server, as others reach it.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server)
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let builder = self.http.request(method, self.url(path));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Sends the request; a non-2xx answer becomes an error carrying the server's message.
    pub async fn send(&self, request: RequestBuilder) -> anyhow::Result<Response> {
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the Gust server at {}", self.server))?;
        if response.status().is_success() {
            return Ok(response);
        }
        self.refusal(response).await
    }

    /// The error a non-2xx answer of Gust's stands for, with the server's message.
    async fn refusal(&self, response: Response) -> anyhow::Result<Response> {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let Some(message) = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        else {
            bail!(
                "the server at {} answered {status} without a Gust error: is it a Gust server? \
                 It said: {}",
                self.server,
                shortened(&body)
            );
        };
        if status == reqwest::StatusCode::UNAUTHORIZED {
            let looked = match &self.token {
                Some(_) => format!("the token from {} was refused", self.token_source),
                None => format!("no token was found: looked in {}", self.token_source),
            };
            bail!("{message} (HTTP {status}): {looked}");
        }
        bail!("{message} (HTTP {status})")
    }

    /// Sends a call of a function: its answer, whatever the status, once the function ran
    /// (Gust marks it with `x-gust-version`); Gust's own refusals (no such function, no
    /// token) are errors as with `send`.
    pub async fn answer_of_function(&self, request: RequestBuilder) -> anyhow::Result<Response> {
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the Gust server at {}", self.server))?;
        if response.status().is_success() || response.headers().contains_key("x-gust-version") {
            return Ok(response);
        }
        self.refusal(response).await
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let response = self.send(self.request(reqwest::Method::GET, path)).await?;
        Ok(response.json().await?)
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.send(self.request(reqwest::Method::DELETE, path))
            .await?;
        Ok(())
    }
}

/// `HOST:PORT` as a URL: the CLI talks HTTP unless told `https://`.
fn with_scheme(server: &str) -> String {
    if server.contains("://") {
        server.to_string()
    } else {
        format!("http://{server}")
    }
}

/// The start of a text, on one line.
fn shortened(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(SHOWN_BYTES) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_without_a_scheme_is_http() {
        assert_eq!(with_scheme("127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(with_scheme("https://gust.example"), "https://gust.example");
    }

    #[test]
    fn a_long_foreign_answer_is_cut() {
        let page = format!("<html>\n<body>{}</body></html>", "x".repeat(500));
        let shown = shortened(&page);
        assert!(
            shown.starts_with("<html> <body>xxx") && shown.ends_with("..."),
            "{shown}"
        );
        assert!(shown.len() < 210);
    }
}
