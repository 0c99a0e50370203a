use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;

#[derive(OpenApi)]
#[openapi(
    info(title = "Gust management API", description = "Deploy, configure and observe functions. \
        Functions themselves are invoked at /fn/{name}."),
    paths(api::list, api::deploy, api::get, api::reconfigure, api::delete, api::versions,
        api::invocations, api::logs, api::usage, api::get_invocation, api::cancel,
        api::list_async, api::dead_letters, api::replay, api::add_trigger, api::list_triggers,
        api::remove_trigger, api::callback_secret),
    modifiers(&BearerAuth)
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

/// The OpenAPI document, generated from the handlers' annotations.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
