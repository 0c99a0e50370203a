//! The durable queue of asynchronous invocations in the embedded store.

use gust_core::{AsyncInvocation, AsyncResult, AsyncState, AttemptError, Origin, StoredRequest};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{bad_column, named_column};
use crate::{AttemptUpdate, Backlog, Lease, NewAsync};

const COLUMNS: &str = "id, function, trigger, state, attempts, max_retries, enqueued_at_ms,
    next_attempt_at_ms, expires_at_ms, finished_at_ms, callback_url, request, body, errors, result,
    callback_attempts";

fn from_row(row: &Row) -> rusqlite::Result<AsyncInvocation> {
    let request: String = row.get(11)?;
    let errors: String = row.get(13)?;
    let result: Option<String> = row.get(14)?;
    let mut request: StoredRequest =
        serde_json::from_str(&request).map_err(|e| bad_column(11, e))?;
    request.body = row.get(12)?;
    Ok(AsyncInvocation {
        id: row.get(0)?,
        function: row.get(1)?,
        origin: Origin::from_text(&row.get::<_, String>(2)?),
        state: named_column(row, 3, "state", AsyncState::parse)?,
        attempts: row.get(4)?,
        max_retries: row.get(5)?,
        enqueued_at_ms: row.get(6)?,
        next_attempt_at_ms: row.get(7)?,
        expires_at_ms: row.get(8)?,
        finished_at_ms: row.get(9)?,
        callback_url: row.get(10)?,
        callback_attempts: row.get(15)?,
        request,
        errors: serde_json::from_str(&errors).map_err(|e| bad_column(13, e))?,
        result: result
            .map(|r| serde_json::from_str::<AsyncResult>(&r))
            .transpose()
            .map_err(|e| bad_column(14, e))?,
    })
}

/// Stores a new invocation, unless it would take its function's backlog or the node's past
/// the limits; then says which, and stores nothing.
pub fn enqueue(conn: &Connection, new: &NewAsync) -> rusqlite::Result<Option<String>> {
    if let Some(over) = over_limits(conn, new)? {
        return Ok(Some(over));
    }
    let request = serde_json::to_string(&new.request).expect("request serializes");
    conn.prepare_cached(&format!(
        "INSERT INTO async_invocations ({COLUMNS}) VALUES
         (?1, ?2, ?3, 'queued', 0, ?4, ?5, ?5, ?6, NULL, ?7, ?8, ?9, '[]', NULL, 0)"
    ))?
    .execute(params![
        new.id,
        new.function,
        new.origin.to_text(),
        new.max_retries,
        new.enqueued_at_ms,
        new.expires_at_ms,
        new.callback_url,
        request,
        new.request.body,
    ])?;
    Ok(None)
}

pub fn bury(conn: &Connection, dead: &NewAsync, errors: &[AttemptError]) -> rusqlite::Result<()> {
    let request = serde_json::to_string(&dead.request).expect("request serializes");
    let errors_text = serde_json::to_string(errors).expect("errors serialize");
    let finished = errors.last().map_or(dead.enqueued_at_ms, |e| e.at_ms);
    conn.prepare_cached(&format!(
        "INSERT INTO async_invocations ({COLUMNS}) VALUES
         (?1, ?2, ?3, 'dead', ?4, ?5, ?6, ?7, ?8, ?7, NULL, ?9, ?10, ?11, NULL, 0)"
    ))?
    .execute(params![
        dead.id,
        dead.function,
        dead.origin.to_text(),
        errors.len() as u32,
        dead.max_retries,
        dead.enqueued_at_ms,
        finished,
        dead.expires_at_ms,
        request,
        dead.request.body,
        errors_text,
    ])?;
    Ok(())
}

fn over_limits(conn: &Connection, new: &NewAsync) -> rusqlite::Result<Option<String>> {
    let (count, bytes): (u64, u64) = conn
        .prepare_cached("SELECT count, bytes FROM async_backlog WHERE function = ?1")?
        .query_row([&new.function], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?
        .unwrap_or((0, 0));
    let node_bytes: u64 = conn
        .prepare_cached("SELECT COALESCE(SUM(bytes), 0) FROM async_backlog")?
        .query_row([], |row| row.get(0))?;
    let waiting = Backlog {
        count,
        bytes,
        all_bytes: node_bytes,
    };
    Ok(waiting.refuses(new))
}

/// Whether the backlog table exists yet (a database from before it needs it counted).
pub fn has_backlog_table(conn: &Connection) -> rusqlite::Result<bool> {
    super::schema::has_table(conn, "async_backlog")
}

/// Counts what is waiting into a new backlog table, once.
pub fn count_backlog(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO async_backlog (function, count, bytes)
         SELECT function, COUNT(*), COALESCE(SUM(length(body)), 0) FROM async_invocations
         WHERE state IN ('queued', 'running', 'failed') GROUP BY function",
        [],
    )?;
    Ok(())
}

/// Marks due invocations running and returns them: oldest first, taking turns across
/// functions, with at most `per_function` running for any function.
///
/// The cost stays small however deep a backlog is: functions are walked through the
/// `(function, state, enqueued_at_ms)` index one by one (a loose index scan), and each gives
/// at most `per_function` of its oldest waiting invocations.
pub fn claim_due(
    conn: &mut Connection,
    now_ms: i64,
    lease: &Lease,
    limit: u32,
    per_function: u32,
) -> rusqlite::Result<Vec<AsyncInvocation>> {
    let tx = conn.transaction()?;
    let ids: Vec<String> = {
        let mut stmt = tx.prepare_cached(
            "WITH RECURSIVE fns(name) AS (
                 SELECT (SELECT MIN(function) FROM async_invocations)
                 UNION ALL
                 SELECT (SELECT MIN(function) FROM async_invocations WHERE function > fns.name)
                 FROM fns WHERE fns.name IS NOT NULL
             ), waiting AS (
                 SELECT a.id, a.function, a.enqueued_at_ms FROM fns, async_invocations a
                 WHERE a.id IN (
                     SELECT id FROM async_invocations
                     WHERE function = fns.name AND state = 'queued'
                     ORDER BY enqueued_at_ms LIMIT ?2)
                 UNION ALL
                 SELECT a.id, a.function, a.enqueued_at_ms FROM fns, async_invocations a
                 WHERE a.id IN (
                     SELECT id FROM async_invocations
                     WHERE function = fns.name AND state = 'failed' AND next_attempt_at_ms <= ?1
                     ORDER BY enqueued_at_ms LIMIT ?2)
             ), due AS (
                 SELECT id, function, enqueued_at_ms, ROW_NUMBER() OVER (
                     PARTITION BY function ORDER BY enqueued_at_ms, id) AS turn
                 FROM waiting
             ), busy AS (
                 SELECT function, COUNT(*) AS running FROM async_invocations
                 WHERE state = 'running' GROUP BY function
             )
             SELECT due.id FROM due LEFT JOIN busy ON busy.function = due.function
             WHERE due.turn + COALESCE(busy.running, 0) <= ?2
             ORDER BY due.turn, due.enqueued_at_ms LIMIT ?3",
        )?;
        stmt.query_map(params![now_ms, per_function, limit], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut claimed = Vec::with_capacity(ids.len());
    {
        let mut stmt = tx.prepare_cached(&format!(
            "UPDATE async_invocations SET state = 'running', attempts = attempts + 1,
             lease_node = ?2, lease_until_ms = ?3 WHERE id = ?1 RETURNING {COLUMNS}"
        ))?;
        for id in &ids {
            claimed.push(stmt.query_row(params![id, lease.node, lease.until_ms], from_row)?);
        }
    }
    tx.commit()?;
    Ok(claimed)
}

/// Records how `node`'s attempt ended, unless the work is no longer its own (false): it is
/// when `node` holds the lease, or held it last and nobody took the work over since.
pub fn finish_attempt(
    conn: &mut Connection,
    id: &str,
    node: &str,
    update: &AttemptUpdate,
) -> rusqlite::Result<bool> {
    let tx = conn.transaction()?;
    let errors: Option<String> = tx
        .query_row(
            "SELECT errors FROM async_invocations
             WHERE id = ?1 AND lease_node = ?2 AND state IN ('running', 'failed')",
            [id, node],
            |r| r.get(0),
        )
        .optional()?;
    let Some(errors) = errors else {
        return Ok(false);
    };
    let mut errors: Vec<AttemptError> =
        serde_json::from_str(&errors).map_err(|e| bad_column(0, e))?;
    errors.extend(update.error.clone());
    let result = update
        .result
        .as_ref()
        .map(|r| serde_json::to_string(r).expect("result serializes"));
    let finished = update.state.is_final().then_some(update.now_ms);
    tx.execute(
        "UPDATE async_invocations SET state = ?2, next_attempt_at_ms = ?3, finished_at_ms = ?4,
         errors = ?5, result = COALESCE(?6, result),
         callback_pending = (callback_url IS NOT NULL AND ?7), callback_next_at_ms = ?8
         WHERE id = ?1",
        params![
            id,
            update.state.as_str(),
            update.next_attempt_at_ms,
            finished,
            serde_json::to_string(&errors).expect("errors serialize"),
            result,
            update.state.is_final(),
            update.now_ms,
        ],
    )?;
    tx.commit()?;
    Ok(true)
}

pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<AsyncInvocation>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM async_invocations WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()
}

pub fn list(
    conn: &Connection,
    function: &str,
    state: Option<AsyncState>,
    limit: u32,
) -> rusqlite::Result<Vec<AsyncInvocation>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM async_invocations WHERE function = ?1
         AND (?2 IS NULL OR state = ?2) ORDER BY enqueued_at_ms DESC, id DESC LIMIT ?3"
    ))?;
    stmt.query_map(
        params![function, state.map(AsyncState::as_str), limit],
        from_row,
    )?
    .collect()
}

/// Cancels a queued invocation; returns its state afterwards (unchanged if it could not be).
pub fn cancel(conn: &Connection, id: &str, now_ms: i64) -> rusqlite::Result<Option<AsyncState>> {
    conn.execute(
        "UPDATE async_invocations SET state = 'cancelled', finished_at_ms = ?2
         WHERE id = ?1 AND state IN ('queued', 'failed')",
        params![id, now_ms],
    )?;
    Ok(get(conn, id)?.map(|invocation| invocation.state))
}

/// Puts dead invocations of a function back in the queue with fresh attempts; all of them
/// when `ids` is empty. Returns how many.
pub fn replay(
    conn: &mut Connection,
    function: &str,
    ids: &[String],
    now_ms: i64,
    expires_at_ms: i64,
) -> rusqlite::Result<u64> {
    let tx = conn.transaction()?;
    let sql =
        "UPDATE async_invocations SET state = 'queued', attempts = 0, next_attempt_at_ms = ?2,
               expires_at_ms = ?3, finished_at_ms = NULL, callback_pending = 0
               WHERE function = ?1 AND state = 'dead'";
    let mut replayed = 0;
    if ids.is_empty() {
        replayed += tx.execute(sql, params![function, now_ms, expires_at_ms])?;
    } else {
        let mut stmt = tx.prepare(&format!("{sql} AND id = ?4"))?;
        for id in ids {
            replayed += stmt.execute(params![function, now_ms, expires_at_ms, id])?;
        }
    }
    tx.commit()?;
    Ok(replayed as u64)
}

/// Extends the leases `lease.node` holds; returns how many it holds.
pub fn renew_leases(conn: &Connection, lease: &Lease) -> rusqlite::Result<u64> {
    let renewed = conn
        .prepare_cached(
            "UPDATE async_invocations SET lease_until_ms = ?2
             WHERE state = 'running' AND lease_node = ?1",
        )?
        .execute(params![lease.node, lease.until_ms])?;
    Ok(renewed as u64)
}

/// Other nodes' work whose lease ran out is due again (at least once delivery). Work running
/// when a store from before leases was stopped has none, and is due at once.
pub fn expire_leases(conn: &Connection, now_ms: i64, node: &str) -> rusqlite::Result<u64> {
    let expired = conn
        .prepare_cached(
            "UPDATE async_invocations SET state = 'failed'
             WHERE state = 'running' AND COALESCE(lease_until_ms, 0) < ?1
             AND COALESCE(lease_node, '') != ?2",
        )?
        .execute(params![now_ms, node])?;
    Ok(expired as u64)
}

/// Work `node` holds is due again: the node restarted, so none of it runs any more.
pub fn release_leases(conn: &Connection, node: &str) -> rusqlite::Result<u64> {
    let released = conn.execute(
        "UPDATE async_invocations SET state = 'failed' WHERE state = 'running' AND lease_node = ?1",
        [node],
    )?;
    Ok(released as u64)
}

/// Gives a store from before leases their columns. Runs at open; does nothing once done.
pub fn add_lease_columns(conn: &Connection) -> rusqlite::Result<()> {
    if !super::schema::has_column(conn, "async_invocations", "lease_node")? {
        conn.execute_batch(
            "ALTER TABLE async_invocations ADD COLUMN lease_node TEXT;
             ALTER TABLE async_invocations ADD COLUMN lease_until_ms INTEGER;",
        )?;
    }
    Ok(())
}

/// Finished invocations whose callback is due.
pub fn due_callbacks(
    conn: &Connection,
    now_ms: i64,
    limit: u32,
) -> rusqlite::Result<Vec<AsyncInvocation>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM async_invocations
         WHERE callback_pending = 1 AND callback_next_at_ms <= ?1 LIMIT ?2"
    ))?;
    stmt.query_map(params![now_ms, limit], from_row)?.collect()
}

/// When the earliest retry waiting to run comes due.
pub fn next_retry_at(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT MIN(next_attempt_at_ms) FROM async_invocations WHERE state = 'failed'",
    )?
    .query_row([], |row| row.get(0))
}

/// When the earliest callback waiting to be delivered comes due.
pub fn next_callback_at(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT MIN(callback_next_at_ms) FROM async_invocations WHERE callback_pending = 1",
    )?
    .query_row([], |row| row.get(0))
}

/// Records a callback delivery try: done, or retried at `retry_at_ms` (None gives up).
pub fn callback_tried(
    conn: &Connection,
    id: &str,
    retry_at_ms: Option<i64>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE async_invocations SET callback_attempts = callback_attempts + 1,
         callback_pending = ?2 IS NOT NULL, callback_next_at_ms = COALESCE(?2, 0) WHERE id = ?1",
        params![id, retry_at_ms],
    )?;
    Ok(())
}

pub fn depth(conn: &Connection) -> rusqlite::Result<(u64, Option<i64>)> {
    conn.query_row(
        "SELECT COUNT(*), MIN(enqueued_at_ms) FROM async_invocations
         WHERE state IN ('queued', 'failed')",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}
