//! Tokens in the embedded store.

use gust_core::{Role, TokenInfo};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::named_column;
use crate::NewToken;

const COLUMNS: &str =
    "id, prefix, role, functions, created_at_ms, expires_at_ms, last_used_at_ms, secret_sha256";

fn from_row(row: &Row) -> rusqlite::Result<(TokenInfo, String)> {
    let functions: String = row.get(3)?;
    let info = TokenInfo {
        id: row.get(0)?,
        prefix: row.get(1)?,
        role: named_column(row, 2, "role", Role::parse)?,
        functions: serde_json::from_str(&functions).map_err(|e| super::bad_column(3, e))?,
        created_at_ms: row.get(4)?,
        expires_at_ms: row.get(5)?,
        last_used_at_ms: row.get(6)?,
    };
    Ok((info, row.get(7)?))
}

pub fn create(conn: &Connection, token: &NewToken) -> rusqlite::Result<()> {
    let info = &token.info;
    let functions = serde_json::to_string(&info.functions).expect("names serialize");
    conn.execute(
        &format!("INSERT INTO api_tokens ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        params![
            info.id,
            info.prefix,
            info.role.as_str(),
            functions,
            info.created_at_ms,
            info.expires_at_ms,
            info.last_used_at_ms,
            token.secret_sha256,
        ],
    )?;
    Ok(())
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<TokenInfo>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM api_tokens ORDER BY created_at_ms, id"
    ))?;
    stmt.query_map([], from_row)?
        .map(|row| row.map(|(info, _)| info))
        .collect()
}

pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<(TokenInfo, String)>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

pub fn revoke(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM api_tokens WHERE id = ?1", [id])? > 0)
}

pub fn used(conn: &Connection, id: &str, at_ms: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE api_tokens SET last_used_at_ms = ?2 WHERE id = ?1",
        params![id, at_ms],
    )?;
    Ok(())
}
