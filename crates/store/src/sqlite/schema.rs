/// Whether a table exists: the conversions at open look for what older versions made.
pub fn has_table(conn: &rusqlite::Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [name],
        |row| row.get(0),
    )
}

/// Whether a table has a column: the conversions at open look for what older versions lacked.
pub fn has_column(
    conn: &rusqlite::Connection,
    table: &str,
    column: &str,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
        [table, column],
        |row| row.get(0),
    )
}

/// The embedded store's schema. Each statement is idempotent so that opening is migrating.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS functions (
    name           TEXT PRIMARY KEY,
    created_at_ms  INTEGER NOT NULL,
    latest_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    function        TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    number          INTEGER NOT NULL,
    runtime         TEXT NOT NULL,
    artifact_sha256 TEXT NOT NULL,
    artifact_size   INTEGER NOT NULL,
    config          TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    PRIMARY KEY (function, number)
);
-- Invocation records, packed by function and commit (see packed_records.rs): a batch never
-- spans an hour; first_ms and last_ms bound its records' starts.
CREATE TABLE IF NOT EXISTS invocation_batches (
    seq         INTEGER PRIMARY KEY,
    function    TEXT NOT NULL,
    -- 0 in batches written before batches were per version (see `record_sql::add_version`).
    version     INTEGER NOT NULL DEFAULT 0,
    first_ms    INTEGER NOT NULL,
    last_ms     INTEGER NOT NULL,
    invocations INTEGER NOT NULL,
    errors      INTEGER NOT NULL,
    billed_ms   INTEGER NOT NULL,
    mb_ms       INTEGER NOT NULL,
    records     BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS invocation_batches_by_function ON invocation_batches(function, last_ms);
CREATE INDEX IF NOT EXISTS invocation_batches_by_time ON invocation_batches(first_ms);
CREATE TABLE IF NOT EXISTS logs (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    invocation_id TEXT NOT NULL,
    function      TEXT NOT NULL,
    ts_ms         INTEGER NOT NULL,
    stream        TEXT NOT NULL,
    line          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_function ON logs(function, seq);
CREATE INDEX IF NOT EXISTS logs_by_time ON logs(ts_ms);
-- Usage of invocation records past their retention, one row per version and hour (version 0:
-- folded before usage was kept per version).
CREATE TABLE IF NOT EXISTS usage_hours (
    function    TEXT NOT NULL,
    version     INTEGER NOT NULL,
    hour_ms     INTEGER NOT NULL,
    invocations INTEGER NOT NULL,
    errors      INTEGER NOT NULL,
    billed_ms   INTEGER NOT NULL,
    mb_ms       INTEGER NOT NULL,
    PRIMARY KEY (function, version, hour_ms)
);
-- The durable queue of asynchronous invocations. `request` is JSON (method, path, headers);
-- `errors` a JSON list of failed attempts; `result` the JSON of the final answer.
-- lease_node runs the invocation until lease_until_ms, unless it renews (queue_sql.rs).
CREATE TABLE IF NOT EXISTS async_invocations (
    id                  TEXT PRIMARY KEY,
    function            TEXT NOT NULL,
    trigger             TEXT NOT NULL,
    state               TEXT NOT NULL,
    attempts            INTEGER NOT NULL,
    max_retries         INTEGER NOT NULL,
    enqueued_at_ms      INTEGER NOT NULL,
    next_attempt_at_ms  INTEGER NOT NULL,
    expires_at_ms       INTEGER NOT NULL,
    finished_at_ms      INTEGER,
    callback_url        TEXT,
    request             TEXT NOT NULL,
    body                BLOB NOT NULL,
    errors              TEXT NOT NULL,
    result              TEXT,
    callback_pending    INTEGER NOT NULL DEFAULT 0,
    callback_attempts   INTEGER NOT NULL DEFAULT 0,
    callback_next_at_ms INTEGER NOT NULL DEFAULT 0,
    lease_node          TEXT,
    lease_until_ms      INTEGER
);
CREATE INDEX IF NOT EXISTS async_due ON async_invocations(state, next_attempt_at_ms);
CREATE INDEX IF NOT EXISTS async_by_function ON async_invocations(function, state, enqueued_at_ms);
CREATE INDEX IF NOT EXISTS async_callbacks ON async_invocations(callback_pending, callback_next_at_ms);
-- What each function has waiting to run (queued, running, or failed awaiting a retry), kept
-- by the triggers below on every path a row takes, so that enqueueing can check the caps
-- without counting the queue.
CREATE TABLE IF NOT EXISTS async_backlog (
    function TEXT PRIMARY KEY,
    count    INTEGER NOT NULL,
    bytes    INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS async_backlog_insert AFTER INSERT ON async_invocations
WHEN NEW.state IN ('queued', 'running', 'failed') BEGIN
    INSERT INTO async_backlog VALUES (NEW.function, 1, length(NEW.body))
    ON CONFLICT(function) DO UPDATE SET count = count + 1, bytes = bytes + length(NEW.body);
END;
CREATE TRIGGER IF NOT EXISTS async_backlog_leave AFTER UPDATE OF state ON async_invocations
WHEN OLD.state IN ('queued', 'running', 'failed')
 AND NEW.state NOT IN ('queued', 'running', 'failed') BEGIN
    UPDATE async_backlog SET count = count - 1, bytes = bytes - length(OLD.body)
    WHERE function = OLD.function;
END;
CREATE TRIGGER IF NOT EXISTS async_backlog_return AFTER UPDATE OF state ON async_invocations
WHEN OLD.state NOT IN ('queued', 'running', 'failed')
 AND NEW.state IN ('queued', 'running', 'failed') BEGIN
    INSERT INTO async_backlog VALUES (NEW.function, 1, length(NEW.body))
    ON CONFLICT(function) DO UPDATE SET count = count + 1, bytes = bytes + length(NEW.body);
END;
CREATE TRIGGER IF NOT EXISTS async_backlog_delete AFTER DELETE ON async_invocations
WHEN OLD.state IN ('queued', 'running', 'failed') BEGIN
    UPDATE async_backlog SET count = count - 1, bytes = bytes - length(OLD.body)
    WHERE function = OLD.function;
END;
-- Aliases: named pointers to versions, with an optional share for a second version.
CREATE TABLE IF NOT EXISTS aliases (
    function         TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    version          INTEGER NOT NULL,
    split_version    INTEGER,
    split_percent    INTEGER,
    previous_version INTEGER,
    updated_at_ms    INTEGER NOT NULL,
    PRIMARY KEY (function, name)
);
-- Key-value stores of functions, and each store's size (kept by the triggers below).
CREATE TABLE IF NOT EXISTS kv (
    store TEXT NOT NULL,
    key   TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (store, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv_stores (
    store TEXT PRIMARY KEY,
    keys  INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS kv_insert AFTER INSERT ON kv BEGIN
    INSERT INTO kv_stores VALUES (NEW.store, 1, length(NEW.key) + length(NEW.value))
    ON CONFLICT(store) DO UPDATE SET keys = keys + 1,
        bytes = bytes + length(NEW.key) + length(NEW.value);
END;
CREATE TRIGGER IF NOT EXISTS kv_update AFTER UPDATE ON kv BEGIN
    UPDATE kv_stores SET bytes = bytes - length(OLD.value) + length(NEW.value)
    WHERE store = NEW.store;
END;
CREATE TRIGGER IF NOT EXISTS kv_delete AFTER DELETE ON kv BEGIN
    UPDATE kv_stores SET keys = keys - 1, bytes = bytes - length(OLD.key) - length(OLD.value)
    WHERE store = OLD.store;
END;
-- Routes of the API gateway.
CREATE TABLE IF NOT EXISTS routes (
    id            TEXT PRIMARY KEY,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    host          TEXT,
    function      TEXT NOT NULL,
    cors_origins  TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
-- Secrets, each value encrypted with the node's secret key (nonce and ciphertext).
CREATE TABLE IF NOT EXISTS secrets (
    name          TEXT PRIMARY KEY,
    sealed        BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
-- Scoped API tokens; only the SHA-256 of each secret is kept.
CREATE TABLE IF NOT EXISTS api_tokens (
    id              TEXT PRIMARY KEY,
    prefix          TEXT NOT NULL,
    role            TEXT NOT NULL,
    functions       TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    expires_at_ms   INTEGER,
    last_used_at_ms INTEGER,
    secret_sha256   TEXT NOT NULL
);
-- Triggers of every event source: `config` (the settings it was added with) and `state` (what
-- its source keeps of its progress) are JSON objects that only that source reads.
CREATE TABLE IF NOT EXISTS triggers (
    id            TEXT PRIMARY KEY,
    function      TEXT NOT NULL,
    kind          TEXT NOT NULL,
    config        TEXT NOT NULL,
    state         TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS triggers_by_function ON triggers(function);
-- Buckets of the S3 endpoint. An object's bytes are files named by `parts` (JSON list of
-- {blob, size}), never by its key; `metadata` is a JSON list of [name, value].
CREATE TABLE IF NOT EXISTS buckets (
    name          TEXT PRIMARY KEY,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    bucket         TEXT NOT NULL REFERENCES buckets(name) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    size           INTEGER NOT NULL,
    etag           TEXT NOT NULL,
    content_type   TEXT,
    metadata       TEXT NOT NULL,
    parts          TEXT NOT NULL,
    modified_at_ms INTEGER NOT NULL,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    id            TEXT PRIMARY KEY,
    bucket        TEXT NOT NULL REFERENCES buckets(name) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    content_type  TEXT,
    metadata      TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS upload_parts (
    upload TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    blob   TEXT NOT NULL,
    size   INTEGER NOT NULL,
    md5    TEXT NOT NULL,
    PRIMARY KEY (upload, number)
) WITHOUT ROWID;
-- Key pairs of the S3 endpoint; `grants` is a JSON list of {bucket, access}, empty for root.
CREATE TABLE IF NOT EXISTS s3_keys (
    access_key    TEXT PRIMARY KEY,
    secret_key    TEXT NOT NULL,
    grants        TEXT NOT NULL,
    function      TEXT,
    created_at_ms INTEGER NOT NULL
);
";
