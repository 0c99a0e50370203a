//! Invocation records in the embedded store, packed in batches (see `packed_records`).

use gust_core::{InvocationId, InvocationRecord, InvocationStatus, Origin};
use rusqlite::{Connection, Row, Transaction, params};

use super::packed_records::{batches, unpack};
use super::schema::{has_column, has_table};
use super::{bad_column, named_column};

/// Stores records as one row per function, version and hour among them.
pub fn insert(tx: &Transaction, records: &[InvocationRecord]) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO invocation_batches (function, version, first_ms, last_ms, invocations,
         errors, billed_ms, mb_ms, records) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for batch in batches(records) {
        stmt.execute(params![
            batch.function,
            batch.version,
            batch.first_ms,
            batch.last_ms,
            batch.invocations,
            batch.errors,
            batch.billed_ms,
            batch.mb_ms,
            batch.records
        ])?;
    }
    Ok(())
}

/// The columns `unpack_row` reads, in its order.
pub const PACKED_COLUMNS: &str = "function, first_ms, records";

/// The records of a row of `invocation_batches` that has `PACKED_COLUMNS` from `column` on.
pub fn unpack_row(row: &Row, column: usize) -> rusqlite::Result<Vec<InvocationRecord>> {
    let function: String = row.get(column)?;
    let first_ms: i64 = row.get(column + 1)?;
    let bytes = row.get_ref(column + 2)?.as_blob()?;
    unpack(&function, first_ms, bytes).map_err(|why| bad_column(column + 2, why))
}

/// The `limit` most recent records of a function (by start, then id and attempt), newest first.
pub fn recent(
    conn: &Connection,
    function: &str,
    limit: u32,
) -> rusqlite::Result<Vec<InvocationRecord>> {
    let limit = limit as usize;
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT last_ms, {PACKED_COLUMNS} FROM invocation_batches
         WHERE function = ?1 ORDER BY last_ms DESC"
    ))?;
    let mut rows = stmt.query([function])?;
    let mut found: Vec<InvocationRecord> = Vec::new();
    while let Some(row) = rows.next()? {
        // Batches come latest start first: once `limit` records all started after this
        // batch's latest, no later batch can displace one.
        let last_ms: i64 = row.get(0)?;
        if found.len() >= limit && found[limit - 1].started_at_ms > last_ms {
            break;
        }
        found.extend(unpack_row(row, 1)?);
        found.sort_by(|a, b| {
            (b.started_at_ms, &b.id, b.attempt).cmp(&(a.started_at_ms, &a.id, a.attempt))
        });
        found.truncate(limit);
    }
    Ok(found)
}

/// Each function invoked since `since_ms`, with the start of its latest invocation, latest
/// first.
pub fn last_invoked(conn: &Connection, since_ms: i64) -> rusqlite::Result<Vec<(String, i64)>> {
    // A batch never spans an hour: bounding its first start too lets the time index serve.
    let mut stmt = conn.prepare(
        "SELECT function, MAX(last_ms) AS latest FROM invocation_batches
         WHERE first_ms > ?1 - 3600000 AND last_ms >= ?1
         GROUP BY function ORDER BY latest DESC",
    )?;
    stmt.query_map([since_ms], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect()
}

/// Gives a store from before usage per version its version columns: batches written before
/// hold version 0 (their records keep their own), and hourly usage moves to `usage_hours` as
/// version 0. Runs at open; does nothing once done.
pub fn add_version(conn: &mut Connection) -> rusqlite::Result<()> {
    let has_version = has_column(conn, "invocation_batches", "version")?;
    let tx = conn.transaction()?;
    if !has_version {
        tx.execute_batch(
            "ALTER TABLE invocation_batches ADD COLUMN version INTEGER NOT NULL DEFAULT 0",
        )?;
    }
    if has_table(&tx, "usage_hourly")? {
        tx.execute_batch(
            "INSERT INTO usage_hours SELECT function, 0, hour_ms, invocations, errors,
             billed_ms, mb_ms FROM usage_hourly;
             DROP TABLE usage_hourly;",
        )?;
    }
    tx.commit()
}

/// Records moved into batches at a time when an old store is converted.
const ADOPT_CHUNK: usize = 10_000;

/// Moves the rows of the table that held one record per row (before batches) into batches, and
/// drops it. Runs at open; does nothing once done.
pub fn adopt_row_table(conn: &mut Connection) -> rusqlite::Result<()> {
    if !has_table(conn, "invocations")? {
        return Ok(());
    }
    let tx = conn.transaction()?;
    {
        // In order and a chunk at a time: a week of records need not fit in memory at once.
        let mut select = tx.prepare(
            "SELECT id, function, version, trigger, started_at_ms, duration_us, billed_ms,
             memory_mb, status, cold, http_status, error, attempt FROM invocations
             ORDER BY function, started_at_ms",
        )?;
        let mut chunk = Vec::with_capacity(ADOPT_CHUNK);
        for record in select.query_map([], row_record)? {
            chunk.push(record?);
            if chunk.len() == ADOPT_CHUNK {
                insert(&tx, &chunk)?;
                chunk.clear();
            }
        }
        insert(&tx, &chunk)?;
    }
    tx.execute_batch("DROP TABLE invocations")?;
    tx.commit()
}

fn row_record(row: &Row) -> rusqlite::Result<InvocationRecord> {
    let billed_ms: u64 = row.get(6)?;
    let memory_mb: u32 = row.get(7)?;
    Ok(InvocationRecord {
        id: InvocationId::parse(row.get_ref(0)?.as_str()?),
        function: row.get(1)?,
        version: row.get(2)?,
        origin: Origin::from_text(&row.get::<_, String>(3)?),
        started_at_ms: row.get(4)?,
        duration_us: row.get(5)?,
        billed_ms,
        memory_mb,
        gb_seconds: InvocationRecord::gb_seconds_for(billed_ms, memory_mb),
        status: named_column(row, 8, "status", InvocationStatus::parse)?,
        cold: row.get(9)?,
        http_status: row.get(10)?,
        error: row.get(11)?,
        attempt: row.get(12)?,
    })
}

#[cfg(test)]
mod tests {
    use crate::sqlite::packed_records::tests::record;

    use super::*;

    fn open(path: &std::path::Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(crate::sqlite::schema::SCHEMA).unwrap();
        conn
    }

    fn write(conn: &mut Connection, records: &[InvocationRecord]) {
        let tx = conn.transaction().unwrap();
        insert(&tx, records).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn recent_records_come_newest_first_across_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("gust.db"));
        // Batches are written as invocations finish, so a later batch can hold an earlier
        // start: the third holds the oldest record and the newest.
        write(&mut conn, &[record(1, "a", 10), record(2, "a", 20)]);
        write(&mut conn, &[record(3, "a", 30), record(4, "b", 35)]);
        write(&mut conn, &[record(5, "a", 5), record(6, "a", 40)]);
        let starts = |limit| -> Vec<i64> {
            recent(&conn, "a", limit)
                .unwrap()
                .iter()
                .map(|r| r.started_at_ms)
                .collect()
        };
        assert_eq!(starts(3), [40, 30, 20]);
        assert_eq!(starts(10), [40, 30, 20, 10, 5]);
        assert_eq!(starts(0), Vec::<i64>::new());
    }

    #[test]
    fn last_invoked_lists_each_function_once_latest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("gust.db"));
        let hour = 3_600_000;
        write(
            &mut conn,
            &[record(1, "old", 10), record(2, "a", hour + 10)],
        );
        write(
            &mut conn,
            &[record(3, "b", hour + 30), record(4, "a", hour + 20)],
        );
        write(&mut conn, &[record(5, "a", hour + 5)]);
        let since = |ms| last_invoked(&conn, ms).unwrap();
        let expected = [("b".to_string(), hour + 30), ("a".to_string(), hour + 20)];
        assert_eq!(since(hour), expected);
        assert_eq!(since(hour + 25), expected[..1]);
        assert_eq!(since(0).len(), 3, "the old one too");
    }

    #[test]
    fn a_store_with_a_row_per_record_is_moved_into_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gust.db");
        let old = record(1, "a", 10);
        {
            let conn = open(&path);
            conn.execute_batch(
                "CREATE TABLE invocations (id TEXT, attempt INTEGER, function TEXT,
                 version INTEGER, trigger TEXT, started_at_ms INTEGER, duration_us INTEGER,
                 billed_ms INTEGER, memory_mb INTEGER, status TEXT, cold INTEGER,
                 http_status INTEGER, error TEXT);
                 INSERT INTO invocations VALUES ('00000000000000000000000001', 1, 'a', 1,
                 'http', 10, 1500, 2, 128, 'ok', 0, 200, NULL);
                 -- More than a chunk of another function's records.
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10005)
                 INSERT INTO invocations SELECT printf('%026d', i), 1, 'b', 1, 'http', i, 1500,
                 2, 128, 'ok', 0, 200, NULL FROM n;",
            )
            .unwrap();
        }
        let mut conn = open(&path);
        adopt_row_table(&mut conn).unwrap();
        assert_eq!(recent(&conn, "a", 10).unwrap(), vec![old]);
        let moved = |conn: &Connection| -> i64 {
            conn.query_row(
                "SELECT SUM(invocations) FROM invocation_batches WHERE function = 'b'",
                [],
                |row| row.get(0),
            )
            .unwrap()
        };
        assert_eq!(moved(&conn), 10_005);
        adopt_row_table(&mut conn).unwrap();
        assert_eq!(recent(&conn, "a", 10).unwrap().len(), 1, "moved once");
        assert_eq!(moved(&conn), 10_005, "moved once");
    }
}
