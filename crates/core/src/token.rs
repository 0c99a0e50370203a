//! Scoped API tokens: what a bearer may do, and to which functions.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, tokens included.
    Admin,
    /// Deploys and configures its functions; reads and invokes them too.
    Deployer,
    /// Calls its (private) functions, and follows their asynchronous invocations.
    Invoker,
    /// Lists functions, reads logs, records and usage.
    Reader,
}
string_enum!(Role {
    Admin => "admin",
    Deployer => "deployer",
    Invoker => "invoker",
    Reader => "reader",
});

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Reading functions, logs, records, usage.
    Read,
    /// Deploying, configuring, removing; triggers; replaying dead letters.
    Deploy,
    /// Calling a function, and reading its asynchronous invocations.
    Invoke,
    /// Managing tokens.
    Admin,
}
string_enum!(Permission {
    Read => "read",
    Deploy => "deploy",
    Invoke => "invoke",
    Admin => "admin",
});

impl Role {
    pub fn grants(self, permission: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Admin => true,
            Role::Deployer => matches!(permission, P::Read | P::Deploy | P::Invoke),
            Role::Invoker => permission == P::Invoke,
            Role::Reader => permission == P::Read,
        }
    }

    /// The roles that grant `permission`, for error messages and the API document.
    pub fn granting(permission: Permission) -> Vec<Role> {
        [Role::Admin, Role::Deployer, Role::Invoker, Role::Reader]
            .into_iter()
            .filter(|role| role.grants(permission))
            .collect()
    }
}

/// A token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    pub id: String,
    /// The start of the token, to recognise it (`gust_<id>_...`).
    pub prefix: String,
    pub role: Role,
    /// The functions it is limited to; empty for all.
    pub functions: Vec<String>,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub last_used_at_ms: Option<i64>,
}

impl TokenInfo {
    /// Why this token may not do `permission` (to `function`, when the request is about one),
    /// or `None` when it may.
    pub fn refusal(&self, permission: Permission, function: Option<&str>) -> Option<String> {
        if !self.role.grants(permission) {
            let roles: Vec<&str> = Role::granting(permission)
                .into_iter()
                .map(Role::as_str)
                .collect();
            return Some(format!(
                "this {} token lacks the `{}` permission (granted to: {})",
                self.role.as_str(),
                permission.as_str(),
                roles.join(", ")
            ));
        }
        match function {
            Some(name)
                if !self.functions.is_empty() && !self.functions.iter().any(|f| f == name) =>
            {
                Some(format!(
                    "this token is limited to {}: not `{name}`",
                    self.functions.join(", ")
                ))
            }
            None if !self.functions.is_empty() && permission != Permission::Read => Some(
                "this token is limited to some functions: this request is not about one of them"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(role: Role, functions: &[&str]) -> TokenInfo {
        TokenInfo {
            id: "t".into(),
            prefix: "gust_t".into(),
            role,
            functions: functions.iter().map(|f| f.to_string()).collect(),
            created_at_ms: 0,
            expires_at_ms: None,
            last_used_at_ms: None,
        }
    }

    #[test]
    fn roles_grant_what_they_say() {
        let invoker = token(Role::Invoker, &["api"]);
        assert!(invoker.refusal(Permission::Invoke, Some("api")).is_none());
        let other = invoker
            .refusal(Permission::Invoke, Some("billing"))
            .unwrap();
        assert!(other.contains("not `billing`"), "{other}");
        let deploy = invoker.refusal(Permission::Deploy, Some("api")).unwrap();
        assert!(deploy.contains("`deploy` permission"), "{deploy}");
        assert!(deploy.contains("admin, deployer"), "{deploy}");

        let reader = token(Role::Reader, &[]);
        assert!(reader.refusal(Permission::Read, None).is_none());
        assert!(reader.refusal(Permission::Read, Some("any")).is_none());
        assert!(reader.refusal(Permission::Invoke, Some("any")).is_some());

        let deployer = token(Role::Deployer, &["api"]);
        assert!(deployer.refusal(Permission::Deploy, Some("api")).is_none());
        assert!(deployer.refusal(Permission::Admin, None).is_some());
        assert!(
            token(Role::Admin, &[])
                .refusal(Permission::Admin, None)
                .is_none()
        );
    }
}
