use axum::Json;
use axum::extract::multipart::MultipartError;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use bytes::Bytes;
use gust_core::{ErrorKind, FunctionConfig, Runtime, Version};
use gust_store::Deployed;
use serde::Serialize;
use utoipa::ToSchema;

use crate::body_limit::{declared_length, discard_body};
use crate::{ApiError, AppState};

/// The multipart form of a deploy.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DeployForm {
    /// `wasm` (default) or `process`.
    runtime: Option<String>,
    /// JSON settings; defaults apply to what is absent.
    config: Option<FunctionConfig>,
    /// The WebAssembly component, or for the process runtime a .tar.gz of the function's
    /// folder.
    #[schema(value_type = String, format = Binary)]
    artifact: Vec<u8>,
}

#[derive(Serialize, ToSchema)]
pub struct DeployResponse {
    pub function: String,
    pub version: Version,
    /// False when the upload was identical to the latest version, which keeps serving.
    pub created: bool,
}

impl DeployResponse {
    /// 201 for a new version, 200 when the latest version already was the same.
    pub fn reply(function: String, deployed: Deployed) -> (StatusCode, Json<Self>) {
        let status = if deployed.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        let body = DeployResponse {
            function,
            version: deployed.version,
            created: deployed.created,
        };
        (status, Json(body))
    }
}

/// Deploys a function: uploads its component and settings. An identical re-upload makes no
/// new version.
#[utoipa::path(put, path = "/v1/functions/{name}", tag = "functions",
    params(("name" = String, Path, description = "function name, [a-z][a-z0-9-]{0,62}")),
    request_body(content = DeployForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "a new version", body = DeployResponse),
        (status = 200, description = "identical to the latest version", body = DeployResponse),
        (status = 400, description = "not a usable component, or bad settings"),
        (status = 413, description = "artifact over the upload limit"),
    ),
    security(("bearer" = [])))]
pub async fn deploy(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Result<(StatusCode, Json<DeployResponse>), ApiError> {
    if declared_length(&request).is_some_and(|len| len > state.max_upload_bytes + FORM_OVERHEAD) {
        discard_body(request.into_body()).await;
        return Err(too_large(state.max_upload_bytes));
    }
    let multipart = Multipart::from_request(request, &state)
        .await
        .map_err(|e| {
            ApiError::bad_request(format!(
                "a deploy is a multipart/form-data upload with an `artifact` part: {e}"
            ))
        })?;
    let form = read_form(multipart, state.max_upload_bytes).await?;
    state.queue.check_destinations(&name, &form.config)?;
    let deployed = state
        .dispatcher
        .deploy(&name, form.artifact, form.runtime, form.config)
        .await?;
    Ok(DeployResponse::reply(name, deployed))
}

/// Room for the form's boundaries and `config` part around the artifact.
const FORM_OVERHEAD: usize = 64 * 1024;

fn too_large(max_upload_bytes: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::TooLarge.code(),
        format!(
            "the artifact is larger than the upload limit of {} MiB (set with \
             `gust serve --max-upload-mb`)",
            max_upload_bytes / (1024 * 1024)
        ),
    )
}

/// Reads the form; on an error the rest of the form is still read (within the body limit), so
/// that the client gets the error rather than a connection closed under its upload.
struct Form {
    runtime: Runtime,
    config: FunctionConfig,
    artifact: Bytes,
}

async fn read_form(mut multipart: Multipart, max_upload_bytes: usize) -> Result<Form, ApiError> {
    let form = read_parts(&mut multipart, max_upload_bytes).await;
    if form.is_err() {
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(_)) = field.chunk().await {}
        }
    }
    form
}

async fn read_parts(multipart: &mut Multipart, max_upload_bytes: usize) -> Result<Form, ApiError> {
    let too_large = || too_large(max_upload_bytes);
    let form_error = |e: MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::bad_request(format!("malformed multipart upload: {}", e.body_text()))
        }
    };
    let mut config = FunctionConfig::default();
    let mut runtime = Runtime::Wasm;
    let mut artifact = None;
    while let Some(field) = multipart.next_field().await.map_err(form_error)? {
        match field.name().unwrap_or_default() {
            "config" => {
                let text = field.bytes().await.map_err(form_error)?;
                config = serde_json::from_slice(&text)
                    .map_err(|e| ApiError::bad_request(format!("invalid `config` part: {e}")))?;
            }
            "runtime" => {
                let text = field.text().await.map_err(form_error)?;
                runtime = Runtime::parse_named(text.trim())?;
            }
            "artifact" => artifact = Some(field.bytes().await.map_err(form_error)?),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unexpected form part `{other}`: send `artifact` and optionally `runtime` \
                     and `config`"
                )));
            }
        }
    }
    let artifact =
        artifact.ok_or_else(|| ApiError::bad_request("the upload has no `artifact` part"))?;
    if artifact.len() > max_upload_bytes {
        return Err(too_large());
    }
    Ok(Form {
        runtime,
        config,
        artifact,
    })
}
