//! Routes in the embedded store.

use gust_core::Route;
use rusqlite::{Connection, params};

pub fn create(conn: &Connection, route: &Route) -> rusqlite::Result<()> {
    let origins = serde_json::to_string(&route.cors_origins).expect("strings serialize");
    conn.execute(
        "INSERT INTO routes (id, method, path, host, function, cors_origins, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            route.id,
            route.method,
            route.path,
            route.host,
            route.function,
            origins,
            route.created_at_ms
        ],
    )?;
    Ok(())
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<Route>> {
    let mut stmt = conn.prepare(
        "SELECT id, method, path, host, function, cors_origins, created_at_ms FROM routes
         ORDER BY created_at_ms, id",
    )?;
    stmt.query_map([], |row| {
        let origins: String = row.get(5)?;
        Ok(Route {
            id: row.get(0)?,
            method: row.get(1)?,
            path: row.get(2)?,
            host: row.get(3)?,
            function: row.get(4)?,
            cors_origins: serde_json::from_str(&origins).map_err(|e| super::bad_column(5, e))?,
            created_at_ms: row.get(6)?,
        })
    })?
    .collect()
}

pub fn delete(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM routes WHERE id = ?1", [id])? > 0)
}
