//! The catalog in the embedded store: functions, versions and triggers, and the aliases,
//! routes, tokens and secrets beside them.

use async_trait::async_trait;
use gust_core::{
    Alias, Error, FunctionConfig, FunctionInfo, Route, Runtime, TokenInfo, Trigger, Version, now_ms,
};
use rusqlite::{OptionalExtension, Row, params};
use serde_json::{Map, Value};

use super::{
    SqliteStore, alias_sql, bad_column, db_error, durably, named_column, route_sql, secret_sql,
    token_sql, trigger_sql,
};
use crate::{
    AliasStore, Catalog, Deployed, NewToken, NewVersion, RouteStore, Schedules, SealedSecret,
    SecretStore, TokenStore,
};

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
impl Catalog for SqliteStore {
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
}

/// A schedule's firing is claimed by swapping its trigger's state in one transaction.
#[async_trait]
impl Schedules for SqliteStore {
    async fn claim_firing(
        &self,
        trigger_id: &str,
        seen: &Map<String, Value>,
        next: Map<String, Value>,
    ) -> Result<bool, Error> {
        let (id, seen) = (trigger_id.to_string(), seen.clone());
        self.with(move |conn| trigger_sql::swap_state(conn, &id, &seen, &next))
            .await
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
