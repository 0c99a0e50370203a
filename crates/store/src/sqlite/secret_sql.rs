//! Secrets in the embedded store.

use gust_core::SecretInfo;
use rusqlite::{Connection, params};

use crate::SealedSecret;

pub fn put(conn: &Connection, secret: &SealedSecret) -> rusqlite::Result<()> {
    let info = &secret.info;
    conn.execute(
        "INSERT INTO secrets (name, sealed, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(name) DO UPDATE SET sealed = ?2, updated_at_ms = ?4",
        params![
            info.name,
            secret.sealed,
            info.created_at_ms,
            info.updated_at_ms
        ],
    )?;
    Ok(())
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<SealedSecret>> {
    let mut stmt = conn
        .prepare("SELECT name, sealed, created_at_ms, updated_at_ms FROM secrets ORDER BY name")?;
    stmt.query_map([], |row| {
        Ok(SealedSecret {
            info: SecretInfo {
                name: row.get(0)?,
                created_at_ms: row.get(2)?,
                updated_at_ms: row.get(3)?,
            },
            sealed: row.get(1)?,
        })
    })?
    .collect()
}

pub fn delete(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM secrets WHERE name = ?1", [name])? > 0)
}
