//! API tokens and secrets: what lets a caller in and what a function is given, the same on
//! every node that reads them.

use gust_core::{Role, SecretInfo, TokenInfo};

use super::{Fresh, each_on_a_fresh_store};
use crate::{NewToken, SealedSecret, SecretStore, TokenStore};

pub async fn run<S: TokenStore + SecretStore>(fresh: impl AsyncFn() -> Fresh<S>) {
    each_on_a_fresh_store!(
        fresh,
        [
            tokens_are_found_by_id_used_and_revoked,
            a_secret_set_again_keeps_its_creation
        ]
    );
}

fn token(id: &str, created_at_ms: i64) -> NewToken {
    NewToken {
        info: TokenInfo {
            id: id.into(),
            prefix: format!("gust_{id}_ab"),
            role: Role::Invoker,
            functions: vec!["hello".into()],
            created_at_ms,
            expires_at_ms: Some(created_at_ms + 1_000),
            last_used_at_ms: None,
        },
        secret_sha256: format!("sha-of-{id}"),
    }
}

fn secret(name: &str, at_ms: i64, sealed: &[u8]) -> SealedSecret {
    SealedSecret {
        info: SecretInfo {
            name: name.into(),
            created_at_ms: at_ms,
            updated_at_ms: at_ms,
        },
        sealed: sealed.to_vec(),
    }
}

async fn tokens_are_found_by_id_used_and_revoked(store: &impl TokenStore) {
    store.create_token(token("t2", 20)).await.unwrap();
    store.create_token(token("t1", 10)).await.unwrap();
    let ids: Vec<String> = store
        .tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["t1", "t2"], "oldest first");

    store.token_used("t1", 15).await.unwrap();
    let (info, sha) = store.token("t1").await.unwrap().expect("t1 exists");
    assert_eq!(
        (info.last_used_at_ms, sha.as_str()),
        (Some(15), "sha-of-t1")
    );
    assert_eq!(info.functions, ["hello"]);
    assert!(store.token("nobody").await.unwrap().is_none());

    assert!(store.revoke_token("t1").await.unwrap());
    assert!(!store.revoke_token("t1").await.unwrap());
    assert!(store.token("t1").await.unwrap().is_none());
}

async fn a_secret_set_again_keeps_its_creation(store: &impl SecretStore) {
    store
        .put_secret(secret("DB_URL", 10, b"one"))
        .await
        .unwrap();
    store
        .put_secret(secret("API_KEY", 12, b"key"))
        .await
        .unwrap();
    store
        .put_secret(secret("DB_URL", 30, b"two"))
        .await
        .unwrap();
    let secrets = store.secrets().await.unwrap();
    let names: Vec<&str> = secrets.iter().map(|s| s.info.name.as_str()).collect();
    assert_eq!(names, ["API_KEY", "DB_URL"], "by name");
    let db = &secrets[1];
    assert_eq!((db.info.created_at_ms, db.info.updated_at_ms), (10, 30));
    assert_eq!(db.sealed, b"two");

    assert!(store.delete_secret("DB_URL").await.unwrap());
    assert!(!store.delete_secret("DB_URL").await.unwrap());
    assert_eq!(store.secrets().await.unwrap().len(), 1);
}
