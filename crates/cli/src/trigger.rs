use clap::Subcommand;
use gust_core::CronTrigger;

use crate::client::Client;
use crate::inspect::timestamp;
use crate::table::print_table;

#[derive(Subcommand)]
pub enum TriggerCommand {
    /// Invoke a function on a cron schedule (each firing is an asynchronous invocation).
    Add {
        name: String,
        /// `*/10 * * * * *` (seconds first) or the classic five fields.
        #[arg(long)]
        cron: String,
        /// IANA time zone, e.g. Europe/Paris [default: UTC]
        #[arg(long)]
        timezone: Option<String>,
    },
    /// List schedules.
    Ls {
        /// Only this function's.
        name: Option<String>,
    },
    /// Remove a schedule by id.
    Rm { id: String },
}

pub async fn run(client: &Client, command: TriggerCommand) -> anyhow::Result<()> {
    match command {
        TriggerCommand::Add {
            name,
            cron,
            timezone,
        } => {
            let request = client
                .request(
                    reqwest::Method::POST,
                    &format!("/v1/functions/{name}/triggers"),
                )
                .json(&serde_json::json!({"cron": cron, "timezone": timezone}));
            let trigger: CronTrigger = client.send(request).await?.json().await?;
            println!(
                "added trigger {} on {name}: next firing {}",
                trigger.id,
                timestamp(trigger.next_fire_at_ms)
            );
            Ok(())
        }
        TriggerCommand::Ls { name } => {
            let path = match name {
                Some(name) => format!("/v1/triggers?function={name}"),
                None => "/v1/triggers".into(),
            };
            let triggers: Vec<CronTrigger> = client.get_json(&path).await?;
            let rows = triggers
                .into_iter()
                .map(|t| {
                    vec![
                        t.id,
                        t.function,
                        t.cron,
                        t.timezone,
                        t.last_fired_at_ms.map_or("-".into(), timestamp),
                        timestamp(t.next_fire_at_ms),
                    ]
                })
                .collect();
            print_table(
                &["ID", "FUNCTION", "CRON", "TIMEZONE", "LAST", "NEXT"],
                rows,
            );
            Ok(())
        }
        TriggerCommand::Rm { id } => {
            client.delete(&format!("/v1/triggers/{id}")).await?;
            println!("removed trigger {id}");
            Ok(())
        }
    }
}
