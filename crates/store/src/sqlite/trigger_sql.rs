//! Triggers in the embedded store.

use gust_core::Trigger;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value};

use super::json_column;

const COLUMNS: &str = "id, function, kind, config, state, created_at_ms";

fn from_row(row: &Row) -> rusqlite::Result<Trigger> {
    Ok(Trigger {
        id: row.get(0)?,
        function: row.get(1)?,
        kind: row.get(2)?,
        config: json_column(row, 3)?,
        state: json_column(row, 4)?,
        created_at_ms: row.get(5)?,
    })
}

pub fn add(conn: &Connection, t: &Trigger) -> rusqlite::Result<()> {
    conn.execute(
        &format!("INSERT INTO triggers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            t.id,
            t.function,
            t.kind,
            Value::Object(t.config.clone()).to_string(),
            Value::Object(t.state.clone()).to_string(),
            t.created_at_ms,
        ],
    )?;
    Ok(())
}

pub fn list(
    conn: &Connection,
    function: Option<&str>,
    kind: Option<&str>,
) -> rusqlite::Result<Vec<Trigger>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM triggers WHERE (?1 IS NULL OR function = ?1)
         AND (?2 IS NULL OR kind = ?2) ORDER BY created_at_ms, id"
    ))?;
    stmt.query_map(params![function, kind], from_row)?.collect()
}

pub fn delete(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM triggers WHERE id = ?1", [id])? > 0)
}

pub fn set_state(conn: &Connection, id: &str, state: &Map<String, Value>) -> rusqlite::Result<()> {
    let state = Value::Object(state.clone()).to_string();
    conn.execute(
        "UPDATE triggers SET state = ?2 WHERE id = ?1",
        params![id, state],
    )?;
    Ok(())
}

/// Replaces the state with `next` if it still is `seen`; says whether it did.
pub fn swap_state(
    conn: &mut Connection,
    id: &str,
    seen: &Map<String, Value>,
    next: &Map<String, Value>,
) -> rusqlite::Result<bool> {
    let tx = conn.transaction()?;
    let current: Option<Map<String, Value>> = tx
        .query_row("SELECT state FROM triggers WHERE id = ?1", [id], |row| {
            json_column(row, 0)
        })
        .optional()?;
    if current.as_ref() != Some(seen) {
        return Ok(false);
    }
    set_state(&tx, id, next)?;
    tx.commit()?;
    Ok(true)
}

/// Schedules from before triggers were generic move into `triggers` as kind `cron`.
pub fn adopt_cron_table(conn: &mut Connection) -> rusqlite::Result<()> {
    if !super::schema::has_table(conn, "cron_triggers")? {
        return Ok(());
    }
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT OR IGNORE INTO triggers (id, function, kind, config, state, created_at_ms)
         SELECT id, function, 'cron', json_object('cron', cron, 'timezone', timezone),
                json_object('last_fired_at_ms', last_fired_at_ms, 'next_fire_at_ms', next_fire_at_ms),
                created_at_ms
         FROM cron_triggers",
        [],
    )?;
    tx.execute("DROP TABLE cron_triggers", [])?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_of_the_old_table_become_cron_triggers() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::sqlite::schema::SCHEMA).unwrap();
        conn.execute_batch(
            "CREATE TABLE cron_triggers (id TEXT PRIMARY KEY, function TEXT NOT NULL,
                 cron TEXT NOT NULL, timezone TEXT NOT NULL, created_at_ms INTEGER NOT NULL,
                 last_fired_at_ms INTEGER, next_fire_at_ms INTEGER NOT NULL);
             INSERT INTO cron_triggers VALUES ('t1', 'echo', '* * * * *', 'UTC', 5, NULL, 60000);",
        )
        .unwrap();
        adopt_cron_table(&mut conn).unwrap();
        let triggers = list(&conn, Some("echo"), Some("cron")).unwrap();
        assert_eq!(triggers.len(), 1);
        let t = &triggers[0];
        assert_eq!((t.id.as_str(), t.created_at_ms), ("t1", 5));
        assert_eq!(t.config["cron"], "* * * * *");
        assert_eq!(t.config["timezone"], "UTC");
        assert_eq!(t.state["next_fire_at_ms"], 60000);
        assert!(t.state["last_fired_at_ms"].is_null());
        // A second opening finds nothing left to move.
        adopt_cron_table(&mut conn).unwrap();
        assert_eq!(list(&conn, None, None).unwrap().len(), 1);
    }
}
