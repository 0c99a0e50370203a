//! Schedules in the embedded store.

use gust_core::CronTrigger;
use rusqlite::{Connection, Row, params};

const COLUMNS: &str =
    "id, function, cron, timezone, created_at_ms, last_fired_at_ms, next_fire_at_ms";

fn from_row(row: &Row) -> rusqlite::Result<CronTrigger> {
    Ok(CronTrigger {
        id: row.get(0)?,
        function: row.get(1)?,
        cron: row.get(2)?,
        timezone: row.get(3)?,
        created_at_ms: row.get(4)?,
        last_fired_at_ms: row.get(5)?,
        next_fire_at_ms: row.get(6)?,
    })
}

pub fn add(conn: &Connection, t: &CronTrigger) -> rusqlite::Result<()> {
    conn.execute(
        &format!("INSERT INTO cron_triggers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        params![
            t.id,
            t.function,
            t.cron,
            t.timezone,
            t.created_at_ms,
            t.last_fired_at_ms,
            t.next_fire_at_ms
        ],
    )?;
    Ok(())
}

pub fn list(conn: &Connection, function: Option<&str>) -> rusqlite::Result<Vec<CronTrigger>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM cron_triggers WHERE ?1 IS NULL OR function = ?1
         ORDER BY created_at_ms, id"
    ))?;
    stmt.query_map([function], from_row)?.collect()
}

pub fn delete(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM cron_triggers WHERE id = ?1", [id])? > 0)
}

pub fn fired(conn: &Connection, id: &str, fired_at_ms: i64, next_ms: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE cron_triggers SET last_fired_at_ms = ?2, next_fire_at_ms = ?3 WHERE id = ?1",
        params![id, fired_at_ms, next_ms],
    )?;
    Ok(())
}
