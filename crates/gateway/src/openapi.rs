use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use gust_core::{FUNCTION_NAME_PATTERN, Role};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

use crate::error::ErrorBody;
use crate::{api, permissions};

#[derive(OpenApi)]
#[openapi(
    info(title = "Gust management API", description = "Deploy, configure and observe functions. \
        Functions themselves are invoked at /fn/{name}."),
    paths(api::list, api::deploy, api::get, api::reconfigure, api::delete, api::versions,
        api::invocations, api::logs, api::usage, api::get_invocation, api::cancel,
        api::list_async, api::dead_letters, api::replay, api::add_trigger, api::list_triggers,
        api::remove_trigger, api::callback_secret, api::create_token, api::list_tokens,
        api::revoke_token, api::list_buckets, api::create_bucket, api::remove_bucket,
        api::list_keys, api::create_key, api::remove_key, api::list_secrets, api::set_secret,
        api::remove_secret, api::add_route, api::list_routes, api::remove_route, api::list_aliases,
        api::set_alias, api::remove_alias, api::rollback, api::kv_stores, api::kv_keys,
        api::get_kv, api::set_kv, api::remove_kv),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth, &Permissions, &ErrorAnswers, &FunctionNames)
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
        for (method, path, operation) in operations(openapi) {
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

/// Every operation may answer 401 (no or a wrong token) and 403 (a token without the
/// permission), and 400 when it reads a body or a query; every error answer has the same body.
struct ErrorAnswers;

impl Modify for ErrorAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (_, _, operation) in operations(openapi) {
            add_error_answers(operation);
        }
    }
}

fn add_error_answers(operation: &mut Operation) {
    let reads_input = operation.request_body.is_some()
        || operation
            .parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == ParameterIn::Query);
    let answers = [
        ("401", "no token, or not a valid one", true),
        ("403", "the token lacks the permission named above", true),
        (
            "400",
            "the input was not valid; the message says why",
            reads_input,
        ),
    ];
    for (status, description, applies) in answers {
        if applies {
            let responses = &mut operation.responses.responses;
            responses.entry(status.into()).or_insert_with(|| {
                RefOr::T(ResponseBuilder::new().description(description).build())
            });
        }
    }
    for (status, answer) in operation.responses.responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let (true, RefOr::T(response)) = (is_error, answer)
            && response.content.is_empty()
        {
            let body = ContentBuilder::new().schema(Some(Ref::from_schema_name("Error")));
            response
                .content
                .insert("application/json".into(), body.build());
        }
    }
}

/// A function's name in a path is described once, with its rule and an example (`hello`, the
/// function that the API checks deploy before they run).
struct FunctionNames;

impl Modify for FunctionNames {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let parameters = operations(openapi)
            .flat_map(|(_, _, operation)| operation.parameters.iter_mut().flatten());
        for parameter in parameters {
            if parameter.name == "name" && parameter.parameter_in == ParameterIn::Path {
                let schema = ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(FUNCTION_NAME_PATTERN))
                    .examples(["hello"]);
                parameter.schema = Some(RefOr::T(schema.into()));
            }
        }
    }
}

/// Every operation of the document, with its method and path.
fn operations(
    openapi: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = (&'static str, &String, &mut Operation)> {
    openapi.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            ("GET", &mut item.get),
            ("PUT", &mut item.put),
            ("POST", &mut item.post),
            ("DELETE", &mut item.delete),
            ("PATCH", &mut item.patch),
        ]
        .into_iter()
        .filter_map(move |(method, operation)| Some((method, &*path, operation.as_mut()?)))
    })
}

/// The OpenAPI document, generated from the handlers' annotations.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
