//! Usage queries and roll-ups over the embedded store.

use gust_core::{InvocationStatus, UsageGroup, UsageQuery, UsageSums};
use rusqlite::types::Value;
use rusqlite::{Connection, ToSql, params};

use super::record_sql::{PACKED_COLUMNS, unpack_row};

/// Sums over stored records and hourly roll-ups, grouped as the query asks.
///
/// Batches are summed whole, except the few that straddle `from` or `to`: their records are
/// summed one by one (through a temporary table), so that the bounds are exact. By version,
/// batches written before they were per version (version 0) are summed record by record too.
/// Hours folded before then stay version 0.
pub fn usage(conn: &mut Connection, query: &UsageQuery) -> rusqlite::Result<Vec<UsageSums>> {
    let mut bounds: Vec<(&str, Value)> = Vec::new();
    let mut filters = Vec::new();
    let mut straddles = Vec::new();
    if let Some(from) = query.from_ms {
        bounds.push((":from", from.into()));
        filters.push("t >= :from");
        straddles.push("(first_ms < :from AND last_ms >= :from)");
    }
    if let Some(to) = query.to_ms {
        bounds.push((":to", to.into()));
        filters.push("t < :to");
        straddles.push("(first_ms < :to AND last_ms >= :to)");
    }
    if let Some(function) = &query.function {
        bounds.push((":function", function.clone().into()));
        filters.push("function = :function");
    }
    let where_ = |clauses: &[&str]| match clauses {
        [] => String::new(),
        _ => format!("WHERE {}", clauses.join(" AND ")),
    };
    if query.group_by == UsageGroup::Version {
        straddles.push("version = 0");
    }
    let straddling = match straddles.as_slice() {
        [] => "0".to_string(),
        _ => straddles.join(" OR "),
    };
    let named = |sql: &str| -> Vec<(&str, &dyn ToSql)> {
        bounds
            .iter()
            .filter(|(name, _)| sql.contains(name))
            .map(|(name, value)| (*name, value as &dyn ToSql))
            .collect()
    };

    let tx = conn.transaction()?;
    let edges = format!(
        "SELECT {PACKED_COLUMNS} FROM invocation_batches WHERE ({straddling}){}",
        if query.function.is_some() {
            " AND function = :function"
        } else {
            ""
        }
    );
    stage_edges(&tx, &edges, &named(&edges))?;

    // Each source yields (function, version, t, invocations, errors, billed_ms, mb_ms);
    // batches are at their first start and roll-ups at the start of their hour.
    // Groups in the order they were first used, but versions by name: their roll-ups start
    // at the same hour.
    let (key, order) = match (query.group_by, query.group_by.bucket_ms()) {
        (UsageGroup::Version, _) => (
            "function || '@' || version".to_string(),
            "MIN(function), MIN(version)",
        ),
        (_, None) => ("function".to_string(), "MIN(t), k"),
        (_, Some(width)) => (
            format!("CAST((t / {width}) * {width} AS TEXT)"),
            "MIN(t), k",
        ),
    };
    let sql = format!(
        "SELECT {key} AS k, SUM(n), SUM(e), SUM(b), SUM(m) FROM (
             SELECT function, version, first_ms AS t, invocations AS n, errors AS e,
                    billed_ms AS b, mb_ms AS m FROM invocation_batches WHERE NOT ({straddling})
             UNION ALL
             SELECT function, version, t, 1, e, b, m FROM temp.usage_edges
             UNION ALL
             SELECT function, version, hour_ms, invocations, errors, billed_ms, mb_ms
             FROM usage_hours
         ) {} GROUP BY k ORDER BY {order}",
        where_(&filters)
    );
    let sums = tx
        .prepare(&sql)?
        .query_map(named(&sql).as_slice(), |row| {
            Ok(UsageSums {
                key: row.get(0)?,
                invocations: row.get(1)?,
                errors: row.get(2)?,
                billed_ms: row.get(3)?,
                mb_ms: row.get(4)?,
            })
        })?
        .collect();
    tx.execute_batch("DELETE FROM temp.usage_edges")?;
    tx.commit()?;
    sums
}

/// Unpacks the batches `select` finds into `temp.usage_edges`, a row per record.
fn stage_edges(
    tx: &rusqlite::Transaction,
    select: &str,
    params: &[(&str, &dyn ToSql)],
) -> rusqlite::Result<()> {
    // Empty on entry: `usage` empties it before committing, and a failed call rolls back.
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS usage_edges (function TEXT, version INTEGER,
         t INTEGER, e INTEGER, b INTEGER, m INTEGER)",
    )?;
    let mut select = tx.prepare(select)?;
    let mut rows = select.query(params)?;
    let mut insert = tx.prepare("INSERT INTO temp.usage_edges VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
    while let Some(row) = rows.next()? {
        for r in unpack_row(row, 0)? {
            let error = r.status != InvocationStatus::Ok;
            let mb_ms = r.billed_ms * r.memory_mb as u64;
            insert.execute(params![
                r.function,
                r.version,
                r.started_at_ms,
                error,
                r.billed_ms,
                mb_ms
            ])?;
        }
    }
    Ok(())
}

/// Moves batches whose records all started before `before_ms` into `usage_hours` and drops
/// what else is that old, in one transaction. Returns how many records were folded.
pub fn roll_up(conn: &mut Connection, before_ms: i64) -> rusqlite::Result<u64> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO usage_hours (function, version, hour_ms, invocations, errors, billed_ms,
                                  mb_ms)
         SELECT function, version, (first_ms / 3600000) * 3600000, SUM(invocations),
                SUM(errors), SUM(billed_ms), SUM(mb_ms)
         FROM invocation_batches WHERE last_ms < ?1 GROUP BY 1, 2, 3
         ON CONFLICT (function, version, hour_ms) DO UPDATE SET
             invocations = invocations + excluded.invocations,
             errors = errors + excluded.errors,
             billed_ms = billed_ms + excluded.billed_ms,
             mb_ms = mb_ms + excluded.mb_ms",
        [before_ms],
    )?;
    let folded: i64 = tx.query_row(
        "SELECT COALESCE(SUM(invocations), 0) FROM invocation_batches WHERE last_ms < ?1",
        [before_ms],
        |row| row.get(0),
    )?;
    tx.execute(
        "DELETE FROM invocation_batches WHERE last_ms < ?1",
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
    use gust_core::{InvocationRecord, InvocationStatus, UsageGroup};

    use crate::{Records, SqliteStore};

    use super::*;

    fn record(
        id: u32,
        function: &str,
        hour: i64,
        billed_ms: u64,
        memory_mb: u32,
    ) -> InvocationRecord {
        InvocationRecord {
            duration_us: billed_ms * 1000,
            billed_ms,
            memory_mb,
            gb_seconds: InvocationRecord::gb_seconds_for(billed_ms, memory_mb),
            status: if id.is_multiple_of(3) {
                InvocationStatus::Error
            } else {
                InvocationStatus::Ok
            },
            version: id % 3 + 1,
            ..crate::sqlite::packed_records::tests::record(
                id,
                function,
                hour * 3_600_000 + id as i64,
            )
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
        store
            .record_invocations(std::sync::Arc::new(records.clone()))
            .await
            .unwrap();
        let by = |group_by| UsageQuery {
            group_by,
            ..Default::default()
        };
        let groupings = [
            UsageGroup::Function,
            UsageGroup::Hour,
            UsageGroup::Day,
            UsageGroup::Version,
        ];
        let before = groupings.map(by);
        let mut expected = Vec::new();
        for query in &before {
            expected.push(store.usage(query.clone()).await.unwrap());
        }
        let a: Vec<_> = records.iter().filter(|r| &*r.function == "a").collect();
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
        let a1 = a.iter().filter(|r| r.version == 1).count() as u64;
        let by_version = &expected[3];
        assert_eq!(
            by_version.len(),
            6,
            "a and b, versions 1 to 3: {by_version:?}"
        );
        let line = by_version.iter().find(|s| s.key == "a@1").unwrap();
        assert_eq!(line.invocations, a1);

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
            .filter(|r| &*r.function == "b" && (1..4).contains(&(r.started_at_ms / 3_600_000)))
            .count();
        assert_eq!(b[0].invocations, expected_b as u64);
    }
}

#[cfg(test)]
mod version_tests {
    use gust_core::UsageGroup;

    use crate::sqlite::packed_records::tests::record;
    use crate::{Records, SqliteStore};

    use super::*;

    fn by_version() -> UsageQuery {
        UsageQuery {
            group_by: UsageGroup::Version,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_store_from_before_versions_keeps_its_usage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gust.db");
        {
            // The tables as they were: batches without a version, hourly usage per function.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE invocation_batches (seq INTEGER PRIMARY KEY, function TEXT NOT NULL,
                 first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL, invocations INTEGER NOT NULL,
                 errors INTEGER NOT NULL, billed_ms INTEGER NOT NULL, mb_ms INTEGER NOT NULL,
                 records BLOB NOT NULL);
                 CREATE TABLE usage_hourly (function TEXT NOT NULL, hour_ms INTEGER NOT NULL,
                 invocations INTEGER NOT NULL, errors INTEGER NOT NULL, billed_ms INTEGER NOT NULL,
                 mb_ms INTEGER NOT NULL, PRIMARY KEY (function, hour_ms));
                 INSERT INTO usage_hourly VALUES ('a', 0, 7, 1, 70, 8960);",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let records: Vec<_> = (0..10)
            .map(|i| gust_core::InvocationRecord {
                version: 1 + i % 2,
                ..record(i, "a", 3_600_000 + i as i64)
            })
            .collect();
        store
            .record_invocations(std::sync::Arc::new(records))
            .await
            .unwrap();
        let usage = store.usage(by_version()).await.unwrap();
        let keys: Vec<(&str, u64)> = usage
            .iter()
            .map(|s| (s.key.as_str(), s.invocations))
            .collect();
        assert_eq!(keys, [("a@0", 7), ("a@1", 5), ("a@2", 5)]);
        let total = store.usage(UsageQuery::default()).await.unwrap();
        assert_eq!(total[0].invocations, 17);
    }

    #[tokio::test]
    async fn batches_of_mixed_versions_are_split_by_their_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gust.db");
        let store = SqliteStore::open(&path).unwrap();
        let records: Vec<_> = (0..6)
            .map(|i| gust_core::InvocationRecord {
                version: 1 + i % 3,
                ..record(i, "a", i as i64)
            })
            .collect();
        store
            .record_invocations(std::sync::Arc::new(records))
            .await
            .unwrap();
        // As a batch written before batches were per version holds them.
        let conn = Connection::open(&path).unwrap();
        conn.execute("UPDATE invocation_batches SET version = 0", [])
            .unwrap();
        let usage = store.usage(by_version()).await.unwrap();
        let keys: Vec<&str> = usage.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["a@1", "a@2", "a@3"]);
    }
}

#[cfg(test)]
mod bounds_tests {
    use gust_core::{UsageGroup, UsageSums};

    use crate::sqlite::packed_records::tests::record;
    use crate::{Records, SqliteStore};

    use super::*;

    #[tokio::test]
    async fn bounds_that_cut_through_a_batch_count_each_record_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("gust.db")).unwrap();
        // One batch per function (a single write), starts 0..100 ms.
        let records: Vec<_> = (0..100)
            .map(|i| record(i, if i % 3 == 0 { "a" } else { "b" }, i as i64))
            .collect();
        store
            .record_invocations(std::sync::Arc::new(records.clone()))
            .await
            .unwrap();
        for (from, to, function) in [
            (Some(10), Some(20), None),
            (Some(33), None, Some("a")),
            (None, Some(50), None),
            (Some(0), Some(100), Some("b")),
        ] {
            let query = UsageQuery {
                from_ms: from,
                to_ms: to,
                function: function.map(str::to_string),
                group_by: UsageGroup::Function,
            };
            let mut expected: Vec<UsageSums> = Vec::new();
            for r in records.iter().filter(|r| {
                from.is_none_or(|f| r.started_at_ms >= f)
                    && to.is_none_or(|t| r.started_at_ms < t)
                    && function.is_none_or(|f| &*r.function == f)
            }) {
                let index = match expected.iter().position(|s| *s.key == *r.function) {
                    Some(index) => index,
                    None => {
                        expected.push(UsageSums {
                            key: r.function.to_string(),
                            ..Default::default()
                        });
                        expected.len() - 1
                    }
                };
                expected[index].add(&UsageSums {
                    key: String::new(),
                    invocations: 1,
                    errors: 0,
                    billed_ms: r.billed_ms,
                    mb_ms: r.billed_ms * r.memory_mb as u64,
                });
            }
            assert_eq!(
                store.usage(query.clone()).await.unwrap(),
                expected,
                "{query:?}"
            );
        }
    }
}
