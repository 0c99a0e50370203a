//! Key-value stores in the embedded store. Every call runs on the store's one thread, so a
//! read followed by a write (increment, compare-and-swap, the key limit) is never interleaved
//! with another call.

use gust_core::{
    Error, KeyPage, KvStoreInfo, MAX_KV_BATCH, MAX_KV_KEYS, incremented, kv_store_full,
};
use rusqlite::{Connection, OptionalExtension, params};

/// A call's outcome: the store's own failure, or a refusal the caller can act on.
pub type KvResult<T> = rusqlite::Result<Result<T, Error>>;

pub fn get(conn: &Connection, store: &str, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT value FROM kv WHERE store = ?1 AND key = ?2")?
        .query_row([store, key], |row| row.get(0))
        .optional()
}

/// Whether the store can take one more key: true when `key` is in it already.
fn has_room(conn: &Connection, store: &str, key: &str) -> rusqlite::Result<bool> {
    if get(conn, store, key)?.is_some() {
        return Ok(true);
    }
    let keys: Option<u64> = conn
        .prepare_cached("SELECT keys FROM kv_stores WHERE store = ?1")?
        .query_row([store], |row| row.get(0))
        .optional()?;
    Ok(keys.unwrap_or(0) < MAX_KV_KEYS)
}

fn write(conn: &Connection, store: &str, key: &str, value: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO kv (store, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT(store, key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![store, key, value])?;
    Ok(())
}

pub fn set(conn: &Connection, store: &str, key: &str, value: &[u8]) -> KvResult<()> {
    if !has_room(conn, store, key)? {
        return Ok(Err(kv_store_full(store)));
    }
    write(conn, store, key, value).map(Ok)
}

pub fn delete(conn: &Connection, store: &str, key: &str) -> rusqlite::Result<bool> {
    let deleted = conn
        .prepare_cached("DELETE FROM kv WHERE store = ?1 AND key = ?2")?
        .execute([store, key])?;
    Ok(deleted > 0)
}

pub fn keys(
    conn: &Connection,
    store: &str,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> rusqlite::Result<KeyPage> {
    let limit = limit.clamp(1, MAX_KV_BATCH);
    // Keys from the prefix (or past `after`) while they still start with it; one more than
    // the page tells whether another page follows.
    let from = after.filter(|a| *a >= prefix).unwrap_or(prefix);
    let mut stmt = conn.prepare_cached(
        "SELECT key FROM kv WHERE store = ?1 AND key >= ?2 AND key != ?3
         AND substr(key, 1, length(?4)) = ?4 ORDER BY key LIMIT ?5",
    )?;
    let skipped = after.unwrap_or("");
    let keys: Vec<String> = stmt
        .query_map(
            params![store, from, skipped, prefix, limit as i64 + 1],
            |row| row.get(0),
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(KeyPage::of(keys, limit))
}

pub fn increment(conn: &Connection, store: &str, key: &str, delta: i64) -> KvResult<i64> {
    let current = get(conn, store, key)?;
    if current.is_none() && !has_room(conn, store, key)? {
        return Ok(Err(kv_store_full(store)));
    }
    let sum = match incremented(key, current.as_deref(), delta) {
        Ok(sum) => sum,
        Err(refused) => return Ok(Err(refused)),
    };
    write(conn, store, key, sum.to_string().as_bytes())?;
    Ok(Ok(sum))
}

pub fn compare_and_swap(
    conn: &Connection,
    store: &str,
    key: &str,
    expected: Option<&[u8]>,
    new: &[u8],
) -> KvResult<bool> {
    if get(conn, store, key)?.as_deref() != expected {
        return Ok(Ok(false));
    }
    set(conn, store, key, new).map(|set| set.map(|()| true))
}

/// Sets every pair or none.
pub fn set_many(conn: &mut Connection, store: &str, pairs: &[(String, Vec<u8>)]) -> KvResult<()> {
    let tx = conn.transaction()?;
    for (key, value) in pairs {
        if let Err(full) = set(&tx, store, key, value)? {
            return Ok(Err(full));
        }
    }
    tx.commit()?;
    Ok(Ok(()))
}

pub fn delete_many(conn: &mut Connection, store: &str, keys: &[String]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for key in keys {
        delete(&tx, store, key)?;
    }
    tx.commit()
}

pub fn stores(conn: &Connection) -> rusqlite::Result<Vec<KvStoreInfo>> {
    let mut stmt =
        conn.prepare("SELECT store, keys, bytes FROM kv_stores WHERE keys > 0 ORDER BY store")?;
    stmt.query_map([], |row| {
        Ok(KvStoreInfo {
            name: row.get(0)?,
            keys: row.get(1)?,
            bytes: row.get(2)?,
        })
    })?
    .collect()
}
