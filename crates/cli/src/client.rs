use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use reqwest::{RequestBuilder, Response};
use serde::de::DeserializeOwned;

use crate::default_data_dir;

/// Which server to talk to and how to authenticate.
#[derive(Args)]
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
}

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
        Ok(Client {
            http: reqwest::Client::builder().build()?,
            server: server.trim_end_matches('/').to_string(),
            token: target.token.or_else(|| read("admin.token")),
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
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or(body);
        bail!("{message} (HTTP {status})")
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
