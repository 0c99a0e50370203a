//! The embedded store: one SQLite database that is the catalog, the records and the work
//! queue of a single node, and the home of its key-value stores.

mod alias_sql;
mod bucket_sql;
mod buckets;
mod catalog;
mod kv_sql;
mod packed_records;
mod packed_writer;
mod queue_sql;
mod record_sql;
mod records;
mod route_sql;
mod schema;
mod secret_sql;
mod sqlite_kv;
mod token_sql;
mod trigger_sql;
mod usage_sql;
mod work_queue;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gust_core::Error;
use rusqlite::{Connection, OpenFlags};

use schema::SCHEMA;

/// The embedded store: one SQLite database in WAL mode. Calls run on the blocking pool so that
/// the async runtime never waits on the disk.
///
/// One thread owns the connection and runs the calls in order: no lock is contended and no
/// blocking-pool thread is woken per call, which under load cost more than the SQL itself.
///
/// The lookup of a function, on the path of every cold start, reads through a second,
/// read-only connection on the caller's thread instead: it never waits in line behind the
/// recorder's commits, nor pays for waking the store's thread. In WAL mode it sees every
/// committed write and never waits for one.
#[derive(Clone)]
pub struct SqliteStore {
    calls: std::sync::mpsc::Sender<Call>,
    reader: Arc<Mutex<Connection>>,
}

type Call = Box<dyn FnOnce(&mut Connection) + Send>;

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, Error> {
        make_private(path)?;
        let mut conn = Connection::open(path).map_err(db_error)?;
        // WAL with synchronous=NORMAL: every commit survives a crash of the process; the
        // transactions that change functions also sync to disk (see `durably`).
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;
             PRAGMA busy_timeout=5000;",
        )
        .map_err(db_error)?;
        let had_backlog = queue_sql::has_backlog_table(&conn).map_err(db_error)?;
        conn.execute_batch(SCHEMA).map_err(db_error)?;
        if !had_backlog {
            queue_sql::count_backlog(&conn).map_err(db_error)?;
        }
        queue_sql::add_lease_columns(&conn).map_err(db_error)?;
        record_sql::add_version(&mut conn).map_err(db_error)?;
        record_sql::adopt_row_table(&mut conn).map_err(db_error)?;
        trigger_sql::adopt_cron_table(&mut conn).map_err(db_error)?;
        let reader = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_error)?;
        // A reader waits only in rare cases (while the log is being recovered, say).
        reader
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_error)?;
        let (calls, queue) = std::sync::mpsc::channel::<Call>();
        std::thread::Builder::new()
            .name("gust-sqlite".into())
            .spawn(move || {
                for call in queue {
                    call(&mut conn);
                }
            })
            .map_err(|e| Error::internal(format!("cannot start the store thread: {e}")))?;
        Ok(SqliteStore {
            calls,
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    pub(crate) async fn with<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let call: Call = Box::new(move |conn| {
            let _ = reply.send(f(conn).map_err(db_error));
        });
        self.calls
            .send(call)
            .map_err(|_| Error::internal("the store thread has stopped"))?;
        answer
            .await
            .map_err(|_| Error::internal("the store thread dropped a call"))?
    }
}

/// Runs a transaction with synchronous=FULL, so that it survives a power loss too.
fn durably<T>(
    conn: &mut Connection,
    f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.pragma_update(None, "synchronous", "FULL")?;
    let result = conn.transaction().and_then(|tx| {
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    });
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    result
}

/// The database holds every function's environment: only Gust's user may read it. SQLite
/// gives its `-wal` and `-shm` files the database file's mode; older ones are fixed here too.
fn make_private(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let private =
        |e: std::io::Error| Error::internal(format!("cannot make {} private: {e}", path.display()));
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(private)?;
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(private)?;
        }
    }
    Ok(())
}

fn db_error(err: rusqlite::Error) -> Error {
    Error::internal(format!("database: {err}"))
}

/// A stored value that does not read back as its type (a row written by a newer version, or
/// damaged by hand).
fn bad_column(column: usize, why: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        why.to_string().into(),
    )
}

/// A column that holds JSON, read back as `T`.
fn json_column<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row,
    column: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(column)?;
    serde_json::from_str(&text).map_err(|e| bad_column(column, e))
}

/// A column that holds one of an enum's names, read back as the enum.
fn named_column<T>(
    row: &rusqlite::Row,
    column: usize,
    kind: &str,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let name: String = row.get(column)?;
    parse(&name).ok_or_else(|| bad_column(column, format!("unknown {kind} {name}")))
}

#[cfg(test)]
mod tests;
