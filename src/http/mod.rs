//! The HTTP API (axum): thin handlers that authenticate, parse, call the service, and answer
//! JSON, PDF or problem+json.

mod error;

pub use error::ApiError;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;

use crate::service::{
    App, IssueRequest, NewDepartment, Placement, Principal, SealRequest, ServiceError,
};

/// Largest request body accepted (a PDF to verify).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The application's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/root.pem", get(root_certificate))
        .route("/api/v1/departments", post(register_department))
        .route("/api/v1/licences", post(issue_licence))
        .route("/api/v1/licences/{id}/pdf", get(licence_pdf))
        .route("/api/v1/verify/licences/{id}", get(verify_licence))
        .route("/api/v1/verify/pdf", post(verify_pdf))
        .route("/api/v1/seal", post(seal_document))
        .fallback(|| async { ApiError(ServiceError::NotFound("route".into())) })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app)
}

/// The authenticated caller, from `Authorization: Bearer <api key>`.
struct Caller(Principal);

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(ApiError(ServiceError::Unauthenticated))?;
        Ok(Caller(app.authenticate(key.trim()).await?))
    }
}

/// A JSON body whose parse errors come back as problem+json naming the field.
struct JsonBody<T>(T);

impl<T: DeserializeOwned> JsonBody<T> {
    fn parse(body: &Bytes) -> Result<T, ApiError> {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "body".to_string()
            } else {
                path
            };
            ApiError::bad_request(&field, e.into_inner().to_string())
        })
    }
}

impl<T: DeserializeOwned> axum::extract::FromRequest<Arc<App>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(
        request: axum::extract::Request,
        app: &Arc<App>,
    ) -> Result<Self, ApiError> {
        let body = Bytes::from_request(request, app)
            .await
            .map_err(ApiError::unreadable_body)?;
        Ok(JsonBody(Self::parse(&body)?))
    }
}

/// A raw request body (a PDF), with size and read errors as problem+json.
struct RawBody(Bytes);

impl axum::extract::FromRequest<Arc<App>> for RawBody {
    type Rejection = ApiError;

    async fn from_request(
        request: axum::extract::Request,
        app: &Arc<App>,
    ) -> Result<Self, ApiError> {
        Bytes::from_request(request, app)
            .await
            .map(RawBody)
            .map_err(ApiError::unreadable_body)
    }
}

async fn root_certificate(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        crate::service::pem("CERTIFICATE", app.root_certificate_der()),
    )
        .into_response()
}

async fn register_department(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    JsonBody(new): JsonBody<NewDepartment>,
) -> Result<Response, ApiError> {
    let registered = app.register_department(&caller, new).await?;
    Ok((StatusCode::CREATED, Json(registered)).into_response())
}

async fn issue_licence(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    JsonBody(request): JsonBody<IssueRequest>,
) -> Result<Response, ApiError> {
    let issued = app.issue_licence(&caller, request).await?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

async fn licence_pdf(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (identifier, pdf) = app.licence_pdf(&id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{identifier}.pdf\""),
            ),
        ],
        pdf,
    )
        .into_response())
}

async fn verify_licence(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(app.verify_licence(&id).await?).into_response())
}

async fn verify_pdf(
    State(app): State<Arc<App>>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "body",
            "send the PDF as the request body".into(),
        ));
    }
    Ok(Json(app.verify_pdf(body.to_vec()).await?).into_response())
}

/// Query parameters of `POST /api/v1/seal`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SealQuery {
    /// Seal to use (default: the department's first).
    seal_id: Option<String>,
    /// 1-based page (default: the last).
    page: Option<usize>,
    /// Centre, millimetres from the left of the displayed page.
    x_mm: Option<f32>,
    /// Centre, millimetres from the top of the displayed page.
    y_mm: Option<f32>,
    /// `true` for a cross-page seal (骑缝章) over the right edges of all pages.
    #[serde(default)]
    cross_page: bool,
    /// User password of an encrypted PDF.
    password: Option<String>,
}

async fn seal_document(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    query: Result<Query<SealQuery>, QueryRejection>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("query", e.body_text()))?;
    let request = SealRequest {
        seal_id: query.seal_id,
        placement: Placement {
            page: query.page,
            x_mm: query.x_mm,
            y_mm: query.y_mm,
            cross_page: query.cross_page,
        },
        password: query.password,
    };
    let sealed = app.seal_document(&caller, body.to_vec(), request).await?;
    Ok(([(header::CONTENT_TYPE, "application/pdf")], sealed).into_response())
}
