//! Usage queries and roll-ups over the embedded store.

use gust_core::{UsageQuery, UsageSums};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

/// Sums over live records and hourly roll-ups, grouped as the query asks.
pub fn usage(conn: &Connection, query: &UsageQuery) -> rusqlite::Result<Vec<UsageSums>> {
    // Each source yields (function, time, invocations, errors, billed_ms, mb_ms); roll-ups
    // are at the start of their hour.
    let mut filters = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    if let Some(from) = query.from_ms {
        filters.push("t >= ?");
        args.push(from.into());
    }
    if let Some(to) = query.to_ms {
        filters.push("t < ?");
        args.push(to.into());
    }
    if let Some(function) = &query.function {
        filters.push("function = ?");
        args.push(function.clone().into());
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    let key = match query.group_by.bucket_ms() {
        None => "function".to_string(),
        Some(width) => format!("CAST((t / {width}) * {width} AS TEXT)"),
    };
    let sql = format!(
        "SELECT {key} AS k, SUM(n), SUM(e), SUM(b), SUM(m) FROM (
             SELECT function, started_at_ms AS t, 1 AS n, status != 'ok' AS e,
                    billed_ms AS b, billed_ms * memory_mb AS m FROM invocations
             UNION ALL
             SELECT function, hour_ms, invocations, errors, billed_ms, mb_ms FROM usage_hourly
         ) {filter} GROUP BY k ORDER BY MIN(t), k"
    );
    let mut stmt = conn.prepare(&sql)?;
    stmt.query_map(params_from_iter(args), |row| {
        Ok(UsageSums {
            key: row.get(0)?,
            invocations: row.get(1)?,
            errors: row.get(2)?,
            billed_ms: row.get(3)?,
            mb_ms: row.get(4)?,
        })
    })?
    .collect()
}

/// Moves records older than `before_ms` into `usage_hourly` and drops what else is that old,
/// in one transaction.
pub fn roll_up(conn: &mut Connection, before_ms: i64) -> rusqlite::Result<u64> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO usage_hourly (function, hour_ms, invocations, errors, billed_ms, mb_ms)
         SELECT function, (started_at_ms / 3600000) * 3600000, COUNT(*), SUM(status != 'ok'),
                SUM(billed_ms), SUM(billed_ms * memory_mb)
         FROM invocations WHERE started_at_ms < ?1 GROUP BY 1, 2
         ON CONFLICT (function, hour_ms) DO UPDATE SET
             invocations = invocations + excluded.invocations,
             errors = errors + excluded.errors,
             billed_ms = billed_ms + excluded.billed_ms,
             mb_ms = mb_ms + excluded.mb_ms",
        [before_ms],
    )?;
    let folded = tx.execute(
        "DELETE FROM invocations WHERE started_at_ms < ?1",
        [before_ms],
    )?;
    tx.execute("DELETE FROM logs WHERE ts_ms < ?1", [before_ms])?;
    // Results of finished asynchronous invocations go too; dead letters stay until replayed.
    tx.execute(
        "DELETE FROM async_invocations WHERE state IN ('succeeded', 'cancelled')
         AND finished_at_ms < ?1",
        [before_ms],
    )?;
    tx.commit()?;
    Ok(folded as u64)
}

#[cfg(test)]
mod tests {
    use gust_core::{InvocationRecord, InvocationStatus, Trigger, UsageGroup};

    use crate::{SqliteStore, Store};

    use super::*;

    fn record(
        id: u32,
        function: &str,
        hour: i64,
        billed_ms: u64,
        memory_mb: u32,
    ) -> InvocationRecord {
        InvocationRecord {
            id: format!("{id:026}"),
            function: function.into(),
            version: 1,
            trigger: Trigger::Http,
            attempt: 1,
            started_at_ms: hour * 3_600_000 + id as i64,
            duration_us: billed_ms * 1000,
            billed_ms,
            memory_mb,
            gb_seconds: InvocationRecord::gb_seconds_for(billed_ms, memory_mb),
            status: if id.is_multiple_of(3) {
                InvocationStatus::Error
            } else {
                InvocationStatus::Ok
            },
            cold: false,
            http_status: 200,
            error: None,
        }
    }

    #[tokio::test]
    async fn usage_survives_the_roll_up_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("gust.db")).unwrap();
        let records: Vec<_> = (0..30)
            .map(|i| {
                record(
                    i,
                    if i % 2 == 0 { "a" } else { "b" },
                    (i % 5) as i64,
                    10 + i as u64,
                    128 * (1 + i % 2),
                )
            })
            .collect();
        store.record_invocations(records.clone()).await.unwrap();
        let by = |group_by| UsageQuery {
            group_by,
            ..Default::default()
        };
        let before = [UsageGroup::Function, UsageGroup::Hour, UsageGroup::Day].map(by);
        let mut expected = Vec::new();
        for query in &before {
            expected.push(store.usage(query.clone()).await.unwrap());
        }
        let a: Vec<_> = records.iter().filter(|r| r.function == "a").collect();
        assert_eq!(expected[0][0].key, "a");
        assert_eq!(expected[0][0].invocations, a.len() as u64);
        assert_eq!(
            expected[0][0].billed_ms,
            a.iter().map(|r| r.billed_ms).sum::<u64>()
        );
        assert_eq!(
            expected[0][0].mb_ms,
            a.iter()
                .map(|r| r.billed_ms * r.memory_mb as u64)
                .sum::<u64>()
        );
        assert_eq!(expected[1].len(), 5, "five hours");

        let folded = store.roll_up(3 * 3_600_000).await.unwrap();
        assert_eq!(
            folded,
            records
                .iter()
                .filter(|r| r.started_at_ms < 3 * 3_600_000)
                .count() as u64
        );
        for (query, expected) in before.iter().zip(&expected) {
            assert_eq!(
                &store.usage(query.clone()).await.unwrap(),
                expected,
                "{query:?}"
            );
        }
        let only_b = UsageQuery {
            function: Some("b".into()),
            from_ms: Some(3_600_000),
            to_ms: Some(4 * 3_600_000),
            ..Default::default()
        };
        let b = store.usage(only_b).await.unwrap();
        let expected_b = records
            .iter()
            .filter(|r| r.function == "b" && (1..4).contains(&(r.started_at_ms / 3_600_000)))
            .count();
        assert_eq!(b[0].invocations, expected_b as u64);
    }
}
