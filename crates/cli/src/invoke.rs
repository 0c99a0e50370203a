use std::io::Write;

use anyhow::Context;
use clap::Args;
use futures::StreamExt;

use crate::client::Client;

#[derive(Args)]
pub struct InvokeArgs {
    /// The function's name, NAME@ALIAS or NAME@VERSION.
    name: String,
    /// Request body; makes the default method POST.
    #[arg(long, short)]
    data: Option<String>,
    /// HTTP method [default: GET, or POST with --data]
    #[arg(long, short = 'X')]
    method: Option<String>,
    /// Path under the function, e.g. /items/7?full=1
    #[arg(long, default_value = "/")]
    path: String,
    /// Request header NAME:VALUE (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME:VALUE")]
    headers: Vec<String>,
    /// Print the status, invocation id and response headers to stderr.
    #[arg(long, short)]
    verbose: bool,
    /// Queue the invocation and print its id instead of waiting for the answer.
    #[arg(long = "async")]
    queue: bool,
    /// With --async: a URL that gets the result POSTed when the invocation is done.
    #[arg(long, requires = "queue")]
    callback_url: Option<String>,
}

pub async fn run(client: &Client, args: InvokeArgs) -> anyhow::Result<()> {
    let method = match (&args.method, &args.data) {
        (Some(method), _) => method.to_uppercase().parse()?,
        (None, Some(_)) => reqwest::Method::POST,
        (None, None) => reqwest::Method::GET,
    };
    let prefix = if args.queue { "async" } else { "fn" };
    let path = format!(
        "/{prefix}/{}/{}",
        args.name,
        args.path.trim_start_matches('/')
    );
    let mut request = client.request(method, &path);
    if let Some(url) = &args.callback_url {
        request = request.header("x-callback-url", url);
    }
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .with_context(|| format!("--header `{header}` must be NAME:VALUE"))?;
        request = request.header(name.trim(), value.trim());
    }
    if let Some(data) = args.data {
        request = request.body(data);
    }
    if args.queue {
        let accepted: serde_json::Value = client.send(request).await?.json().await?;
        println!("{}", accepted["id"].as_str().unwrap_or_default());
        return Ok(());
    }
    let response = client.answer_of_function(request).await?;
    let status = response.status();
    let invocation = response
        .headers()
        .get("x-gust-invocation-id")
        .and_then(|id| id.to_str().ok())
        .unwrap_or("unknown")
        .to_string();
    if args.verbose {
        eprintln!("HTTP {}", response.status());
        for (name, value) in response.headers() {
            eprintln!("{name}: {}", value.to_str().unwrap_or("<binary>"));
        }
    }
    let mut body = response.bytes_stream();
    let mut stdout = std::io::stdout().lock();
    while let Some(chunk) = body.next().await {
        stdout.write_all(&chunk?)?;
        stdout.flush()?;
    }
    // The function's own answer is printed as it is; a failed one also fails the command.
    if !status.is_success() {
        anyhow::bail!("{} answered {status} (invocation {invocation})", args.name);
    }
    Ok(())
}
