//! Aliases in the embedded store.

use gust_core::{Alias, Split};
use rusqlite::{Connection, params};

pub fn put(conn: &Connection, alias: &Alias) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO aliases (function, name, version, split_version, split_percent,
                              previous_version, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(function, name) DO UPDATE SET version = ?3, split_version = ?4,
             split_percent = ?5, previous_version = ?6, updated_at_ms = ?7",
        params![
            alias.function,
            alias.name,
            alias.version,
            alias.split.map(|s| s.version),
            alias.split.map(|s| s.percent),
            alias.previous,
            alias.updated_at_ms
        ],
    )?;
    Ok(())
}

pub fn list(conn: &Connection, function: &str) -> rusqlite::Result<Vec<Alias>> {
    let mut stmt = conn.prepare_cached(
        "SELECT function, name, version, split_version, split_percent, previous_version,
                updated_at_ms FROM aliases WHERE function = ?1 ORDER BY name",
    )?;
    stmt.query_map([function], |row| {
        let split_version: Option<u32> = row.get(3)?;
        let split_percent: Option<u8> = row.get(4)?;
        Ok(Alias {
            function: row.get(0)?,
            name: row.get(1)?,
            version: row.get(2)?,
            split: split_version
                .zip(split_percent)
                .map(|(version, percent)| Split { version, percent }),
            previous: row.get(5)?,
            updated_at_ms: row.get(6)?,
        })
    })?
    .collect()
}

pub fn delete(conn: &Connection, function: &str, name: &str) -> rusqlite::Result<bool> {
    let deleted = conn.execute(
        "DELETE FROM aliases WHERE function = ?1 AND name = ?2",
        [function, name],
    )?;
    Ok(deleted > 0)
}
