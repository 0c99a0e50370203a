//! Records in the embedded store: invocation records (packed in batches), log lines and
//! usage.

use std::sync::Arc;

use async_trait::async_trait;
use gust_core::{Error, InvocationRecord, LogLine, LogStream, UsageQuery, UsageSums};
use rusqlite::{Row, params};

use super::{SqliteStore, named_column, record_sql, usage_sql};
use crate::Records;

fn log_from_row(row: &Row) -> rusqlite::Result<LogLine> {
    Ok(LogLine {
        invocation_id: row.get(0)?,
        function: row.get(1)?,
        ts_ms: row.get(2)?,
        stream: named_column(row, 3, "stream", LogStream::parse)?,
        line: row.get(4)?,
    })
}

#[async_trait]
impl Records for SqliteStore {
    async fn record_invocations(&self, records: Arc<Vec<InvocationRecord>>) -> Result<(), Error> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            record_sql::insert(&tx, &records)?;
            tx.commit()
        })
        .await
    }

    async fn record_logs(&self, lines: Vec<LogLine>) -> Result<(), Error> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO logs (invocation_id, function, ts_ms, stream, line)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for l in &lines {
                    stmt.execute(params![
                        l.invocation_id,
                        l.function,
                        l.ts_ms,
                        l.stream.as_str(),
                        l.line
                    ])?;
                }
            }
            tx.commit()
        })
        .await
    }

    async fn invocations(&self, name: &str, limit: u32) -> Result<Vec<InvocationRecord>, Error> {
        let name = name.to_string();
        self.with(move |conn| record_sql::recent(conn, &name, limit))
            .await
    }

    async fn last_invoked(&self, since_ms: i64) -> Result<Vec<(String, i64)>, Error> {
        self.with(move |conn| record_sql::last_invoked(conn, since_ms))
            .await
    }

    async fn logs(&self, name: &str, limit: u32) -> Result<Vec<LogLine>, Error> {
        let name = name.to_string();
        self.with(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT invocation_id, function, ts_ms, stream, line FROM
                 (SELECT * FROM logs WHERE function = ?1 ORDER BY seq DESC LIMIT ?2) ORDER BY seq",
            )?;
            stmt.query_map(params![name, limit], log_from_row)?
                .collect()
        })
        .await
    }

    async fn invocation_logs(&self, invocation_id: &str) -> Result<Vec<LogLine>, Error> {
        let id = invocation_id.to_string();
        self.with(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT invocation_id, function, ts_ms, stream, line FROM logs
                 WHERE invocation_id = ?1 ORDER BY seq",
            )?;
            stmt.query_map([id], log_from_row)?.collect()
        })
        .await
    }

    async fn usage(&self, query: UsageQuery) -> Result<Vec<UsageSums>, Error> {
        self.with(move |conn| usage_sql::usage(conn, &query)).await
    }

    async fn roll_up(&self, before_ms: i64) -> Result<u64, Error> {
        self.with(move |conn| usage_sql::roll_up(conn, before_ms))
            .await
    }
}
