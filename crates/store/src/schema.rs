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
CREATE TABLE IF NOT EXISTS invocations (
    id            TEXT PRIMARY KEY,
    function      TEXT NOT NULL,
    version       INTEGER NOT NULL,
    trigger       TEXT NOT NULL,
    started_at_ms INTEGER NOT NULL,
    duration_us   INTEGER NOT NULL,
    billed_ms     INTEGER NOT NULL,
    memory_mb     INTEGER NOT NULL,
    status        TEXT NOT NULL,
    cold          INTEGER NOT NULL,
    http_status   INTEGER NOT NULL,
    error         TEXT
);
CREATE INDEX IF NOT EXISTS invocations_by_function ON invocations(function, started_at_ms);
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
CREATE INDEX IF NOT EXISTS invocations_by_time ON invocations(started_at_ms);
-- Usage of invocation records past their retention, one row per function and hour.
CREATE TABLE IF NOT EXISTS usage_hourly (
    function    TEXT NOT NULL,
    hour_ms     INTEGER NOT NULL,
    invocations INTEGER NOT NULL,
    errors      INTEGER NOT NULL,
    billed_ms   INTEGER NOT NULL,
    mb_ms       INTEGER NOT NULL,
    PRIMARY KEY (function, hour_ms)
);
";
