use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use gust_core::Role;
use utoipa::openapi::extensions::ExtensionsBuilder;

use crate::{api, permissions};

#[derive(OpenApi)]
#[openapi(
    info(title = "Gust management API", description = "Deploy, configure and observe functions. \
        Functions themselves are invoked at /fn/{name}."),
    paths(api::list, api::deploy, api::get, api::reconfigure, api::delete, api::versions,
        api::invocations, api::logs, api::usage, api::get_invocation, api::cancel,
        api::list_async, api::dead_letters, api::replay, api::add_trigger, api::list_triggers,
        api::remove_trigger, api::callback_secret, api::create_token, api::list_tokens,
        api::revoke_token),
    modifiers(&BearerAuth, &Permissions)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Each operation states the permissions that let a scoped token through, and the roles that
/// hold them, from the same table the middleware checks.
struct Permissions;

impl Modify for Permissions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                ("GET", &mut item.get),
                ("PUT", &mut item.put),
                ("POST", &mut item.post),
                ("DELETE", &mut item.delete),
                ("PATCH", &mut item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let needed = permissions::needed(method, path);
                let mut roles: Vec<&str> = needed
                    .iter()
                    .flat_map(|p| Role::granting(*p))
                    .map(Role::as_str)
                    .collect();
                roles.sort();
                roles.dedup();
                let names: Vec<&str> = needed.iter().map(|p| p.as_str()).collect();
                let stated = format!(
                    "Needs the `{}` permission (roles: {}).",
                    names.join("` or `"),
                    roles.join(", ")
                );
                operation.description = Some(match operation.description.take() {
                    Some(text) if !text.is_empty() => format!("{text}\n\n{stated}"),
                    _ => stated,
                });
                let extension = ExtensionsBuilder::new()
                    .add("x-gust-permissions", names)
                    .add("x-gust-roles", roles)
                    .build();
                match &mut operation.extensions {
                    Some(extensions) => extensions.merge(extension),
                    None => operation.extensions = Some(extension),
                }
            }
        }
    }
}

/// The OpenAPI document, generated from the handlers' annotations.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
