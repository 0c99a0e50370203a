use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use gust_core::{
    AttemptError, Error, ErrorKind, FunctionConfig, FunctionInfo, InvocationRecord, LogLine,
    LogStream, Runtime, TokenInfo, UsageQuery, UsageSums, Version, now_ms,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use crate::buckets::{BucketStore, ObjectQuery, Upload, UploadedPart};
use crate::schema::SCHEMA;
use crate::{
    AliasStore, AttemptUpdate, NewAsync, NewToken, RouteStore, SealedSecret, SecretStore,
    TokenStore, alias_sql, bucket_sql, queue_sql, record_sql, route_sql, secret_sql, token_sql,
    trigger_sql, usage_sql,
};
use crate::{Deployed, NewVersion, Store, bad_column, named_column};
use gust_core::{
    Alias, AsyncInvocation, AsyncState, BucketInfo, ObjectInfo, Route, S3Key, Trigger,
};
use serde_json::{Map, Value};

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

#[async_trait]
impl BucketStore for SqliteStore {
    async fn create_bucket(&self, bucket: BucketInfo) -> Result<bool, Error> {
        self.with(move |conn| bucket_sql::create_bucket(conn, &bucket))
            .await
    }

    async fn buckets(&self) -> Result<Vec<BucketInfo>, Error> {
        self.with(|conn| bucket_sql::buckets(conn)).await
    }

    async fn bucket(&self, name: &str) -> Result<Option<BucketInfo>, Error> {
        let name = name.to_string();
        self.with(move |conn| bucket_sql::bucket(conn, &name)).await
    }

    async fn delete_bucket(&self, name: &str, force: bool) -> Result<Option<Vec<String>>, Error> {
        let owned = name.to_string();
        match self
            .with(move |conn| bucket_sql::delete_bucket(conn, &owned, force))
            .await?
        {
            None => Ok(None),
            Some(Ok(files)) => Ok(Some(files)),
            Some(Err(())) => Err(Error::new(
                ErrorKind::Conflict,
                format!("bucket `{name}` is not empty: remove its objects first, or use --force"),
            )),
        }
    }

    async fn put_object(
        &self,
        object: ObjectInfo,
        upload: Option<String>,
        events: Vec<NewAsync>,
    ) -> Result<Vec<String>, Error> {
        let bucket = object.bucket.clone();
        let written = self
            .with(move |conn| bucket_sql::put_object(conn, &object, upload.as_deref(), &events))
            .await?;
        written_or_error(written, &bucket)
    }

    async fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, Error> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.with(move |conn| bucket_sql::object(conn, &bucket, &key))
            .await
    }

    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        events: Vec<NewAsync>,
    ) -> Result<Option<Vec<String>>, Error> {
        let (owned, key) = (bucket.to_string(), key.to_string());
        let written = self
            .with(move |conn| bucket_sql::delete_object(conn, &owned, &key, &events))
            .await?;
        written_or_error(written, bucket)
    }

    async fn objects(&self, bucket: &str, query: ObjectQuery) -> Result<Vec<ObjectInfo>, Error> {
        let bucket = bucket.to_string();
        self.with(move |conn| bucket_sql::objects(conn, &bucket, &query))
            .await
    }

    async fn create_upload(&self, upload: Upload) -> Result<(), Error> {
        let bucket = upload.bucket.clone();
        if self
            .with(move |conn| bucket_sql::create_upload(conn, &upload))
            .await?
        {
            Ok(())
        } else {
            Err(no_bucket(&bucket))
        }
    }

    async fn upload(&self, id: &str) -> Result<Option<Upload>, Error> {
        let id = id.to_string();
        self.with(move |conn| bucket_sql::upload(conn, &id)).await
    }

    async fn put_part(&self, upload: &str, part: UploadedPart) -> Result<Option<String>, Error> {
        let id = upload.to_string();
        self.with(move |conn| bucket_sql::put_part(conn, &id, &part))
            .await?
            .ok_or_else(|| Error::not_found(format!("no upload with id `{upload}`")))
    }

    async fn parts(&self, upload: &str) -> Result<Vec<UploadedPart>, Error> {
        let upload = upload.to_string();
        self.with(move |conn| bucket_sql::parts(conn, &upload))
            .await
    }

    async fn abort_upload(&self, id: &str) -> Result<Vec<String>, Error> {
        let id = id.to_string();
        self.with(move |conn| bucket_sql::abort_upload(conn, &id))
            .await
    }

    async fn files_in_use(&self) -> Result<std::collections::HashSet<String>, Error> {
        self.with(bucket_sql::files_in_use).await
    }

    async fn create_key(&self, key: S3Key) -> Result<(), Error> {
        self.with(move |conn| bucket_sql::create_key(conn, &key))
            .await
    }

    async fn s3_keys(&self) -> Result<Vec<S3Key>, Error> {
        self.with(|conn| bucket_sql::keys(conn)).await
    }

    async fn s3_key(&self, access_key: &str) -> Result<Option<S3Key>, Error> {
        let access_key = access_key.to_string();
        self.with(move |conn| bucket_sql::key(conn, &access_key))
            .await
    }

    async fn delete_key(&self, access_key: &str) -> Result<bool, Error> {
        let access_key = access_key.to_string();
        self.with(move |conn| bucket_sql::delete_key(conn, &access_key))
            .await
    }
}

fn no_bucket(bucket: &str) -> Error {
    Error::not_found(format!("no bucket named `{bucket}`"))
}

fn written_or_error<T>(written: bucket_sql::Written<T>, bucket: &str) -> Result<T, Error> {
    match written {
        bucket_sql::Written::Done(value) => Ok(value),
        bucket_sql::Written::NoBucket => Err(no_bucket(bucket)),
        bucket_sql::Written::OverLimits(over) => Err(Error::new(ErrorKind::Throttled, over)),
    }
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn create_token(&self, token: NewToken) -> Result<(), Error> {
        self.with(move |conn| token_sql::create(conn, &token)).await
    }

    async fn tokens(&self) -> Result<Vec<TokenInfo>, Error> {
        self.with(|conn| token_sql::list(conn)).await
    }

    async fn token(&self, id: &str) -> Result<Option<(TokenInfo, String)>, Error> {
        let id = id.to_string();
        self.with(move |conn| token_sql::get(conn, &id)).await
    }

    async fn revoke_token(&self, id: &str) -> Result<bool, Error> {
        let id = id.to_string();
        self.with(move |conn| token_sql::revoke(conn, &id)).await
    }

    async fn token_used(&self, id: &str, at_ms: i64) -> Result<(), Error> {
        let id = id.to_string();
        self.with(move |conn| token_sql::used(conn, &id, at_ms))
            .await
    }
}

#[async_trait]
impl RouteStore for SqliteStore {
    async fn create_route(&self, route: Route) -> Result<(), Error> {
        self.with(move |conn| route_sql::create(conn, &route)).await
    }

    async fn routes(&self) -> Result<Vec<Route>, Error> {
        self.with(|conn| route_sql::list(conn)).await
    }

    async fn delete_route(&self, id: &str) -> Result<bool, Error> {
        let id = id.to_string();
        self.with(move |conn| route_sql::delete(conn, &id)).await
    }
}

#[async_trait]
impl AliasStore for SqliteStore {
    async fn put_alias(&self, alias: Alias) -> Result<(), Error> {
        self.with(move |conn| alias_sql::put(conn, &alias)).await
    }

    async fn aliases(&self, function: &str) -> Result<Vec<Alias>, Error> {
        let function = function.to_string();
        self.with(move |conn| alias_sql::list(conn, &function))
            .await
    }

    async fn delete_alias(&self, function: &str, name: &str) -> Result<bool, Error> {
        let (function, name) = (function.to_string(), name.to_string());
        self.with(move |conn| alias_sql::delete(conn, &function, &name))
            .await
    }
}

#[async_trait]
impl SecretStore for SqliteStore {
    async fn put_secret(&self, secret: SealedSecret) -> Result<(), Error> {
        self.with(move |conn| secret_sql::put(conn, &secret)).await
    }

    async fn secrets(&self) -> Result<Vec<SealedSecret>, Error> {
        self.with(|conn| secret_sql::list(conn)).await
    }

    async fn delete_secret(&self, name: &str) -> Result<bool, Error> {
        let name = name.to_string();
        self.with(move |conn| secret_sql::delete(conn, &name)).await
    }
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

const VERSION_COLUMNS: &str =
    "function, number, runtime, artifact_sha256, artifact_size, config, created_at_ms";

fn version_from_row(row: &Row, offset: usize) -> rusqlite::Result<Version> {
    let config: String = row.get(offset + 5)?;
    Ok(Version {
        function: row.get(offset)?,
        number: row.get(offset + 1)?,
        runtime: named_column(row, offset + 2, "runtime", Runtime::parse)?,
        artifact_sha256: row.get(offset + 3)?,
        artifact_size: row.get(offset + 4)?,
        config: serde_json::from_str::<FunctionConfig>(&config)
            .map_err(|e| bad_column(offset + 5, e.to_string()))?,
        created_at_ms: row.get(offset + 6)?,
    })
}

fn function_from_row(row: &Row) -> rusqlite::Result<FunctionInfo> {
    Ok(FunctionInfo {
        name: row.get(0)?,
        created_at_ms: row.get(1)?,
        latest: version_from_row(row, 2)?,
    })
}

fn function_query(filter: &str) -> String {
    let columns = VERSION_COLUMNS
        .split(", ")
        .map(|c| format!("v.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT f.name, f.created_at_ms, {columns} FROM functions f
         JOIN versions v ON v.function = f.name AND v.number = f.latest_version {filter}"
    )
}

fn log_from_row(row: &Row) -> rusqlite::Result<LogLine> {
    Ok(LogLine {
        invocation_id: row.get(0)?,
        function: row.get(1)?,
        ts_ms: row.get(2)?,
        stream: named_column(row, 3, "stream", LogStream::parse)?,
        line: row.get(4)?,
    })
}

fn deploy_in(tx: &rusqlite::Transaction, new: &NewVersion) -> rusqlite::Result<Deployed> {
    let latest = tx
        .query_row(
            &function_query("WHERE f.name = ?1"),
            [&new.function],
            function_from_row,
        )
        .optional()?;
    if let Some(info) = &latest {
        let same = info.latest.artifact_sha256 == new.artifact_sha256
            && info.latest.config == new.config
            && info.latest.runtime == new.runtime;
        if same {
            return Ok(Deployed {
                version: info.latest.clone(),
                created: false,
            });
        }
    }
    let now = now_ms();
    let number = latest.as_ref().map_or(1, |info| info.latest.number + 1);
    if latest.is_none() {
        tx.execute(
            "INSERT INTO functions (name, created_at_ms, latest_version) VALUES (?1, ?2, ?3)",
            params![new.function, now, number],
        )?;
    } else {
        tx.execute(
            "UPDATE functions SET latest_version = ?2 WHERE name = ?1",
            params![new.function, number],
        )?;
    }
    let config = serde_json::to_string(&new.config).expect("config serializes");
    tx.execute(
        &format!("INSERT INTO versions ({VERSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        params![
            new.function,
            number,
            new.runtime.as_str(),
            new.artifact_sha256,
            new.artifact_size,
            config,
            now
        ],
    )?;
    Ok(Deployed {
        version: Version {
            function: new.function.clone(),
            number,
            runtime: new.runtime,
            artifact_sha256: new.artifact_sha256.clone(),
            artifact_size: new.artifact_size,
            config: new.config.clone(),
            created_at_ms: now,
        },
        created: true,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), Error> {
        self.with(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }

    async fn deploy(&self, new: NewVersion) -> Result<Deployed, Error> {
        self.with(move |conn| durably(conn, |tx| deploy_in(tx, &new)))
            .await
    }

    async fn function(&self, name: &str) -> Result<Option<FunctionInfo>, Error> {
        let reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        // On the path of every cold start: parsed once, not per call.
        reader
            .prepare_cached(&function_query("WHERE f.name = ?1"))
            .and_then(|mut lookup| lookup.query_row([name], function_from_row).optional())
            .map_err(db_error)
    }

    async fn functions(&self) -> Result<Vec<FunctionInfo>, Error> {
        self.with(|conn| {
            let mut stmt = conn.prepare(&function_query("ORDER BY f.name"))?;
            stmt.query_map([], function_from_row)?.collect()
        })
        .await
    }

    async fn versions(&self, name: &str) -> Result<Vec<Version>, Error> {
        let name = name.to_string();
        self.with(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {VERSION_COLUMNS} FROM versions WHERE function = ?1 ORDER BY number"
            ))?;
            stmt.query_map([name], |row| version_from_row(row, 0))?
                .collect()
        })
        .await
    }

    async fn artifact_in_use(&self, sha256: &str) -> Result<bool, Error> {
        let sha256 = sha256.to_string();
        self.with(move |conn| {
            conn.prepare_cached("SELECT 1 FROM versions WHERE artifact_sha256 = ?1 LIMIT 1")?
                .query_row([&sha256], |_| Ok(()))
                .optional()
                .map(|found| found.is_some())
        })
        .await
    }

    async fn delete_function(&self, name: &str) -> Result<bool, Error> {
        let name = name.to_string();
        self.with(move |conn| {
            durably(conn, |tx| {
                tx.execute("DELETE FROM triggers WHERE function = ?1", [&name])?;
                tx.execute("DELETE FROM async_invocations WHERE function = ?1", [&name])?;
                tx.execute("DELETE FROM logs WHERE function = ?1", [&name])?;
                tx.execute("DELETE FROM versions WHERE function = ?1", [&name])?;
                let deleted = tx.execute("DELETE FROM functions WHERE name = ?1", [&name])?;
                Ok(deleted > 0)
            })
        })
        .await
    }

    async fn record_invocations(&self, records: Arc<Vec<InvocationRecord>>) -> Result<(), Error> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            record_sql::insert(&tx, &records)?;
            tx.commit()
        })
        .await
    }

    async fn record_logs(&self, lines: Vec<LogLine>) -> Result<(), Error> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO logs (invocation_id, function, ts_ms, stream, line)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for l in &lines {
                    stmt.execute(params![
                        l.invocation_id,
                        l.function,
                        l.ts_ms,
                        l.stream.as_str(),
                        l.line
                    ])?;
                }
            }
            tx.commit()
        })
        .await
    }

    async fn invocations(&self, name: &str, limit: u32) -> Result<Vec<InvocationRecord>, Error> {
        let name = name.to_string();
        self.with(move |conn| record_sql::recent(conn, &name, limit))
            .await
    }

    async fn last_invoked(&self, since_ms: i64) -> Result<Vec<(String, i64)>, Error> {
        self.with(move |conn| record_sql::last_invoked(conn, since_ms))
            .await
    }

    async fn logs(&self, name: &str, limit: u32) -> Result<Vec<LogLine>, Error> {
        let name = name.to_string();
        self.with(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT invocation_id, function, ts_ms, stream, line FROM
                 (SELECT * FROM logs WHERE function = ?1 ORDER BY seq DESC LIMIT ?2) ORDER BY seq",
            )?;
            stmt.query_map(params![name, limit], log_from_row)?
                .collect()
        })
        .await
    }

    async fn invocation_logs(&self, invocation_id: &str) -> Result<Vec<LogLine>, Error> {
        let id = invocation_id.to_string();
        self.with(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT invocation_id, function, ts_ms, stream, line FROM logs
                 WHERE invocation_id = ?1 ORDER BY seq",
            )?;
            stmt.query_map([id], log_from_row)?.collect()
        })
        .await
    }

    async fn enqueue(&self, new: NewAsync) -> Result<(), Error> {
        match self
            .with(move |conn| queue_sql::enqueue(conn, &new))
            .await?
        {
            None => Ok(()),
            Some(over) => Err(Error::new(ErrorKind::Throttled, over)),
        }
    }

    async fn claim_due(
        &self,
        now_ms: i64,
        limit: u32,
        per_function: u32,
    ) -> Result<Vec<AsyncInvocation>, Error> {
        self.with(move |conn| queue_sql::claim_due(conn, now_ms, limit, per_function))
            .await
    }

    async fn bury(&self, dead: NewAsync, errors: Vec<AttemptError>) -> Result<(), Error> {
        self.with(move |conn| queue_sql::bury(conn, &dead, &errors))
            .await
    }

    async fn finish_attempt(&self, id: &str, update: AttemptUpdate) -> Result<(), Error> {
        let id = id.to_string();
        self.with(move |conn| queue_sql::finish_attempt(conn, &id, &update))
            .await
    }

    async fn requeue_running(&self) -> Result<u64, Error> {
        self.with(|conn| queue_sql::requeue_running(conn)).await
    }

    async fn async_invocation(&self, id: &str) -> Result<Option<AsyncInvocation>, Error> {
        let id = id.to_string();
        self.with(move |conn| queue_sql::get(conn, &id)).await
    }

    async fn async_invocations(
        &self,
        function: &str,
        state: Option<AsyncState>,
        limit: u32,
    ) -> Result<Vec<AsyncInvocation>, Error> {
        let function = function.to_string();
        self.with(move |conn| queue_sql::list(conn, &function, state, limit))
            .await
    }

    async fn cancel_async(&self, id: &str) -> Result<Option<AsyncState>, Error> {
        let id = id.to_string();
        self.with(move |conn| queue_sql::cancel(conn, &id, now_ms()))
            .await
    }

    async fn replay_dead(
        &self,
        function: &str,
        ids: Vec<String>,
        expires_at_ms: i64,
    ) -> Result<u64, Error> {
        let function = function.to_string();
        self.with(move |conn| queue_sql::replay(conn, &function, &ids, now_ms(), expires_at_ms))
            .await
    }

    async fn queue_depth(&self) -> Result<(u64, Option<i64>), Error> {
        self.with(|conn| queue_sql::depth(conn)).await
    }

    async fn due_callbacks(&self, now_ms: i64, limit: u32) -> Result<Vec<AsyncInvocation>, Error> {
        self.with(move |conn| queue_sql::due_callbacks(conn, now_ms, limit))
            .await
    }

    async fn next_retry_at(&self) -> Result<Option<i64>, Error> {
        self.with(|conn| queue_sql::next_retry_at(conn)).await
    }

    async fn next_callback_at(&self) -> Result<Option<i64>, Error> {
        self.with(|conn| queue_sql::next_callback_at(conn)).await
    }

    async fn add_trigger(&self, trigger: Trigger) -> Result<(), Error> {
        self.with(move |conn| trigger_sql::add(conn, &trigger))
            .await
    }

    async fn triggers(
        &self,
        function: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Vec<Trigger>, Error> {
        let function = function.map(str::to_string);
        let kind = kind.map(str::to_string);
        self.with(move |conn| trigger_sql::list(conn, function.as_deref(), kind.as_deref()))
            .await
    }

    async fn delete_trigger(&self, id: &str) -> Result<bool, Error> {
        let id = id.to_string();
        self.with(move |conn| trigger_sql::delete(conn, &id)).await
    }

    async fn set_trigger_state(&self, id: &str, state: Map<String, Value>) -> Result<(), Error> {
        let id = id.to_string();
        self.with(move |conn| trigger_sql::set_state(conn, &id, &state))
            .await
    }

    async fn callback_tried(&self, id: &str, retry_at_ms: Option<i64>) -> Result<(), Error> {
        let id = id.to_string();
        self.with(move |conn| queue_sql::callback_tried(conn, &id, retry_at_ms))
            .await
    }

    async fn usage(&self, query: UsageQuery) -> Result<Vec<UsageSums>, Error> {
        self.with(move |conn| usage_sql::usage(conn, &query)).await
    }

    async fn roll_up(&self, before_ms: i64) -> Result<u64, Error> {
        self.with(move |conn| usage_sql::roll_up(conn, before_ms))
            .await
    }
}

#[cfg(test)]
mod tests {
    use gust_core::{AsyncState, InvocationId, InvocationStatus, Origin};

    use super::*;

    fn new_version(sha: &str, memory_mb: u32) -> NewVersion {
        NewVersion {
            function: "hello".into(),
            runtime: Runtime::Wasm,
            artifact_sha256: sha.into(),
            artifact_size: 3,
            config: FunctionConfig {
                memory_mb,
                ..Default::default()
            },
        }
    }

    fn queued(id: &str, bytes: usize, limits: crate::BacklogLimits) -> NewAsync {
        NewAsync {
            id: id.into(),
            function: "hello".into(),
            origin: Origin::ASYNC,
            request: gust_core::StoredRequest {
                method: "POST".into(),
                path_with_query: "/".into(),
                headers: Vec::new(),
                body: vec![b'x'; bytes],
            },
            callback_url: None,
            max_retries: 0,
            enqueued_at_ms: 0,
            expires_at_ms: i64::MAX,
            limits,
        }
    }

    #[tokio::test]
    async fn the_backlog_caps_hold_on_every_path_a_row_takes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("gust.db")).unwrap();
        let limits = crate::BacklogLimits {
            per_function: 3,
            per_function_bytes: 100,
            node_bytes: 1000,
        };
        for id in ["a", "b", "c"] {
            store.enqueue(queued(id, 10, limits)).await.unwrap();
        }
        let refused = store.enqueue(queued("d", 10, limits)).await.unwrap_err();
        assert_eq!(refused.kind, ErrorKind::Throttled);
        assert!(
            refused
                .message
                .contains("3 asynchronous invocations waiting")
        );
        assert!(store.async_invocation("d").await.unwrap().is_none());

        // Cancelling one frees its place; running ones still count.
        store.cancel_async("a").await.unwrap();
        store.enqueue(queued("d", 10, limits)).await.unwrap();
        let claimed = store.claim_due(now_ms(), 10, 10).await.unwrap();
        assert_eq!(claimed.len(), 3);
        assert!(store.enqueue(queued("e", 10, limits)).await.is_err());
        let dead = AttemptUpdate {
            state: AsyncState::Dead,
            now_ms: now_ms(),
            next_attempt_at_ms: 0,
            error: None,
            result: None,
        };
        store.finish_attempt("b", dead).await.unwrap();
        store.enqueue(queued("e", 10, limits)).await.unwrap();
        // A replayed dead letter waits again, and counts again.
        assert_eq!(
            store
                .replay_dead("hello", Vec::new(), i64::MAX)
                .await
                .unwrap(),
            1
        );
        assert!(store.enqueue(queued("f", 10, limits)).await.is_err());

        let big = crate::BacklogLimits {
            per_function: 100,
            ..limits
        };
        let over_bytes = store.enqueue(queued("g", 80, big)).await.unwrap_err();
        assert!(over_bytes.message.contains("MiB"), "{}", over_bytes.message);
        drop(store);
        // A database from before the backlog table gets it counted from its rows.
        let path = dir.path().join("gust.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("DROP TABLE async_backlog")
            .unwrap();
        let reopened = SqliteStore::open(&path).unwrap();
        assert!(reopened.enqueue(queued("h", 10, limits)).await.is_err());
    }

    #[tokio::test]
    async fn identical_redeploy_makes_no_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("gust.db")).unwrap();
        let first = store.deploy(new_version("aa", 128)).await.unwrap();
        assert!(first.created);
        assert_eq!(first.version.number, 1);
        let again = store.deploy(new_version("aa", 128)).await.unwrap();
        assert!(!again.created);
        assert_eq!(again.version.number, 1);
        let reconfigured = store.deploy(new_version("aa", 256)).await.unwrap();
        assert_eq!(reconfigured.version.number, 2);
        let info = store.function("hello").await.unwrap().unwrap();
        assert_eq!(info.latest.config.memory_mb, 256);
        assert_eq!(store.versions("hello").await.unwrap().len(), 2);
        assert!(store.delete_function("hello").await.unwrap());
        assert!(store.function("hello").await.unwrap().is_none());
        assert!(!store.delete_function("hello").await.unwrap());
    }

    #[tokio::test]
    async fn invocations_and_logs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("gust.db")).unwrap();
        let record = InvocationRecord {
            id: InvocationId::parse("01J"),
            function: "hello".into(),
            version: 1,
            origin: Origin::HTTP,
            attempt: 1,
            started_at_ms: 5,
            duration_us: 1500,
            billed_ms: 2,
            memory_mb: 128,
            gb_seconds: InvocationRecord::gb_seconds_for(2, 128),
            status: InvocationStatus::Timeout,
            cold: true,
            http_status: 504,
            error: Some("timed out".into()),
        };
        store
            .record_invocations(Arc::new(vec![record.clone()]))
            .await
            .unwrap();
        assert_eq!(store.invocations("hello", 10).await.unwrap(), vec![record]);
        let lines: Vec<LogLine> = (0..3)
            .map(|i| LogLine {
                invocation_id: "01J".into(),
                function: "hello".into(),
                ts_ms: i,
                stream: LogStream::Stdout,
                line: format!("line {i}"),
            })
            .collect();
        store.record_logs(lines.clone()).await.unwrap();
        assert_eq!(store.logs("hello", 2).await.unwrap(), lines[1..].to_vec());
    }
}
