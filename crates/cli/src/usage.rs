use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::client::Client;
use crate::table::print_table;

#[derive(Clone, Copy, ValueEnum, Default)]
enum Format {
    #[default]
    Table,
    Json,
    Csv,
}

#[derive(Clone, Copy, ValueEnum)]
enum Grouping {
    Function,
    Version,
    Day,
    Hour,
}

#[derive(Args)]
pub struct UsageArgs {
    /// Start: RFC 3339, YYYY-MM-DD or ms since the epoch.
    #[arg(long)]
    from: Option<String>,
    /// End (exclusive), in the same forms.
    #[arg(long)]
    to: Option<String>,
    /// Only this function.
    #[arg(long)]
    function: Option<String>,
    /// How lines are grouped (a version's key is FN@N).
    #[arg(long, value_enum, default_value_t = Grouping::Function)]
    group_by: Grouping,
    #[arg(long, short, value_enum, default_value_t)]
    output: Format,
}

pub async fn run(client: &Client, args: UsageArgs) -> anyhow::Result<()> {
    let group_by = args
        .group_by
        .to_possible_value()
        .expect("no value is skipped");
    let mut query = vec![("group_by", group_by.get_name().to_string())];
    query.extend(args.from.map(|v| ("from", v)));
    query.extend(args.to.map(|v| ("to", v)));
    query.extend(args.function.map(|v| ("function", v)));
    let request = client
        .request(reqwest::Method::GET, "/v1/usage")
        .query(&query);
    let report: Value = client.send(request).await?.json().await?;
    let lines = report["lines"].as_array().cloned().unwrap_or_default();
    let cells = |line: &Value| -> Vec<String> {
        vec![
            line["key"].as_str().unwrap_or_default().to_string(),
            line["invocations"].to_string(),
            line["errors"].to_string(),
            format!("{:.3}", line["billed_seconds"].as_f64().unwrap_or(0.0)),
            format!("{:.6}", line["gb_seconds"].as_f64().unwrap_or(0.0)),
            format!("{:.8}", line["price_usd"].as_f64().unwrap_or(0.0)),
        ]
    };
    let header = [
        "KEY",
        "INVOCATIONS",
        "ERRORS",
        "BILLED_S",
        "GB_S",
        "PRICE_USD",
    ];
    match args.output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Csv => {
            println!("{}", header.join(",").to_lowercase());
            for line in lines.iter().chain([&report["total"]]) {
                println!("{}", cells(line).join(","));
            }
        }
        Format::Table => {
            let rows = lines.iter().chain([&report["total"]]).map(cells).collect();
            print_table(&header, rows);
            let free = report["free_tier_usd"].as_f64().unwrap_or(0.0);
            if free > 0.0 {
                println!("free tier: -{free:.8}");
            }
            println!(
                "amount due (USD): {:.8}",
                report["amount_due_usd"].as_f64().unwrap_or(0.0)
            );
        }
    }
    Ok(())
}
