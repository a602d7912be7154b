//! The HTTP API (axum): thin handlers that authenticate, parse, call the service, and answer
//! JSON, PDF or problem+json.

mod error;
mod openapi;
mod pages;

pub use error::ApiError;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::multipart::MultipartError;
use axum::extract::{
    DefaultBodyLimit, FromRequest, FromRequestParts, Multipart, Path, Query, RawQuery, State,
};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use time::Date;
use utoipa::{IntoParams, OpenApi, ToSchema};

use self::openapi::{
    BadGateway, Binary, Conflict, Forbidden, Invalid, NotFound, TooLarge, Unauthenticated,
    Unavailable,
};
use crate::audit::receipt::{Receipt, SignedTreeHead};
use crate::service::{
    App, ConsistencyProof, HolderToken, HolderTokenRequest, InclusionProof, IssueRequest,
    LicenceEventView, LicenceVerification, LicenceView, LogEntry, NewCounter, NewDepartment,
    NewSeal, NewVersionRequest, PdfVerification, Placement, Principal, RegisteredDepartment,
    SealRequest, SealView, SealedDocument, SearchPage, SearchQuery, ServiceError, StatusRequest,
    TrustRootView, VersionKind,
};
use crate::storage::AuditEvent;

/// Largest request body accepted (a PDF to verify).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The application's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/openapi.json", get(openapi_document))
        .route("/api/v1/root.pem", get(root_certificate))
        .route("/api/v1/certificates", get(published_certificates))
        .route("/api/v1/crl", get(certificate_revocation_list))
        .route("/api/v1/ocsp", post(ocsp))
        .route("/api/v1/seals/{id}/revocation", post(revoke_seal))
        .route("/api/v1/holder-tokens", post(issue_holder_token))
        .route("/api/v1/holder/licences", get(holder_licences))
        .route("/api/v1/departments", post(register_department))
        .route("/api/v1/counters", post(add_counter))
        .route(
            "/api/v1/departments/{id}/seals",
            post(add_seal).get(list_seals),
        )
        .route("/api/v1/licences", post(issue_licence).get(search_licences))
        .route("/api/v1/licences/{id}/pdf", get(licence_pdf))
        .route("/api/v1/licences/{id}/qr.png", get(licence_qr_png))
        .route("/api/v1/licences/{id}/versions", post(change_licence))
        .route("/api/v1/licences/{id}/renewals", post(renew_licence))
        .route("/api/v1/licences/{id}/status", post(set_licence_status))
        .route("/api/v1/licences/{id}/history", get(licence_history))
        .route("/api/v1/verify/licences/{id}", get(verify_licence))
        .route("/api/v1/verify/qr", post(verify_qr))
        .route("/api/v1/verify/pdf", post(verify_pdf))
        .route(
            "/api/v1/trust-roots",
            post(add_trust_root).get(list_trust_roots),
        )
        .route(
            "/api/v1/trust-roots/{id}",
            axum::routing::delete(remove_trust_root),
        )
        .route("/api/v1/audit/events", get(audit_events))
        .route("/api/v1/audit/sth", get(signed_tree_head))
        .route("/api/v1/audit/proof/inclusion", get(inclusion_proof))
        .route("/api/v1/audit/proof/consistency", get(consistency_proof))
        .route("/api/v1/audit/entries", get(log_entries))
        .route("/api/v1/audit/receipt", get(audit_receipt))
        .merge(pages::routes())
        .route("/api/v1/seal", post(seal_document))
        .route("/api/v1/archive", post(archive_document))
        .route("/tsa", post(timestamp))
        .fallback(|| async { ApiError(ServiceError::NotFound("route".into())) })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(request_id))
        .with_state(app)
}

/// Header of a sealed PDF naming its audit-log entry.
static AUDIT_ENTRY: header::HeaderName = header::HeaderName::from_static("x-audit-entry");
/// Header of a sealed PDF with its audit-log entry's leaf hash.
static AUDIT_LEAF: header::HeaderName = header::HeaderName::from_static("x-audit-leaf-hash");

/// Header carrying a request's id, both ways.
const REQUEST_ID: &str = "x-request-id";

/// Gives every request an id (the caller's `X-Request-Id` when it is a short token, a random
/// one otherwise), handles the request under it, so that its audit entries record it, and
/// returns it in the answer's `X-Request-Id`.
async fn request_id(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|value| {
            (1..=64).contains(&value.len())
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map_or_else(crate::service::new_request_id, str::to_string);
    let mut response = crate::service::in_request(id.clone(), next.run(request)).await;
    if let Ok(value) = header::HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The authenticated caller, from `Authorization: Bearer <api key or holder token>`.
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

/// The caller if the request carries an API key; anonymous otherwise. A key that is given
/// but wrong is still refused (401).
struct OptionalCaller(Option<Principal>);

impl FromRequestParts<Arc<App>> for OptionalCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            let Caller(principal) = Caller::from_request_parts(parts, app).await?;
            Ok(OptionalCaller(Some(principal)))
        } else {
            Ok(OptionalCaller(None))
        }
    }
}

/// Query-string parameters whose parse errors come back as problem+json on `query`.
struct QueryParams<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Query::try_from_uri(&parts.uri)
            .map(|Query(params)| QueryParams(params))
            .map_err(|e| ApiError::bad_request("query", e.body_text()))
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

impl<T: DeserializeOwned> FromRequest<Arc<App>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(
        request: axum::extract::Request,
        app: &Arc<App>,
    ) -> Result<Self, ApiError> {
        let body = Bytes::from_request(request, app)
            .await
            .map_err(|e| ApiError::unreadable_body(e.status(), e.body_text()))?;
        Ok(JsonBody(Self::parse(&body)?))
    }
}

/// An uploaded PDF: the raw request body, or a `multipart/form-data` body (as an HTML form
/// sends it) with the PDF in a part named `file` and, optionally, options in a part named
/// `options` (JSON) or in parts named after the options. Size and read errors come back as
/// problem+json.
struct PdfUpload {
    pdf: Bytes,
    /// Options from a multipart body, as a JSON object.
    options: serde_json::Map<String, serde_json::Value>,
}

impl FromRequest<Arc<App>> for PdfUpload {
    type Rejection = ApiError;

    async fn from_request(
        request: axum::extract::Request,
        app: &Arc<App>,
    ) -> Result<Self, ApiError> {
        let multipart = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("multipart/form-data"));
        if !multipart {
            let pdf = Bytes::from_request(request, app)
                .await
                .map_err(|e| ApiError::unreadable_body(e.status(), e.body_text()))?;
            return Ok(PdfUpload {
                pdf,
                options: serde_json::Map::new(),
            });
        }
        let mut form = Multipart::from_request(request, app)
            .await
            .map_err(|e| ApiError::unreadable_body(e.status(), e.body_text()))?;
        let unreadable = |e: MultipartError| ApiError::unreadable_body(e.status(), e.body_text());
        let mut pdf = None;
        let mut options = serde_json::Map::new();
        while let Some(part) = form.next_field().await.map_err(unreadable)? {
            let name = part.name().unwrap_or_default().to_string();
            match name.as_str() {
                "file" => pdf = Some(part.bytes().await.map_err(unreadable)?),
                "options" => {
                    let text = part.bytes().await.map_err(unreadable)?;
                    match JsonBody::<serde_json::Value>::parse(&text)? {
                        serde_json::Value::Object(map) => options.extend(map),
                        _ => {
                            return Err(ApiError::bad_request(
                                "options",
                                "must be a JSON object".into(),
                            ))
                        }
                    }
                }
                _ => {
                    let text = part.text().await.map_err(unreadable)?;
                    // Form fields arrive as text; numbers and booleans are parsed as such.
                    let value = serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .filter(|v| v.is_number() || v.is_boolean())
                        .unwrap_or(serde_json::Value::String(text));
                    options.insert(name, value);
                }
            }
        }
        let pdf = pdf.ok_or_else(|| {
            ApiError::bad_request("file", "the form has no part named 'file'".into())
        })?;
        Ok(PdfUpload { pdf, options })
    }
}

impl PdfUpload {
    /// The options: from the multipart body if it had any, else from the query string.
    fn options<T: DeserializeOwned>(&self, query: Option<&str>) -> Result<T, ApiError> {
        if !self.options.is_empty() {
            let value = serde_json::Value::Object(self.options.clone());
            return serde_path_to_error::deserialize(value).map_err(|e| {
                ApiError::bad_request(&e.path().to_string(), e.into_inner().to_string())
            });
        }
        Query::<T>::try_from_uri(
            &format!("/?{}", query.unwrap_or_default())
                .parse()
                .map_err(|_| ApiError::bad_request("query", "unreadable query string".into()))?,
        )
        .map(|Query(options)| options)
        .map_err(|e| ApiError::bad_request("query", e.body_text()))
    }

    /// The PDF, refusing an empty one.
    fn pdf(&self) -> Result<Vec<u8>, ApiError> {
        if self.pdf.is_empty() {
            return Err(ApiError::bad_request(
                "body",
                "send the PDF as the request body or as the form part 'file'".into(),
            ));
        }
        Ok(self.pdf.to_vec())
    }
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses((status = 200, description = "The service is up", body = String, content_type = "text/plain"))
)]
async fn healthz() -> &'static str {
    "ok"
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "service",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
async fn openapi_document() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi::ApiDoc::openapi())
}

/// The installation's root certificate, to trust.
#[utoipa::path(
    get,
    path = "/api/v1/root.pem",
    tag = "verification",
    responses(
        (status = 200, description = "The root certificate (PEM)", body = String, content_type = "application/x-pem-file"),
    )
)]
async fn root_certificate(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        crate::service::pem("CERTIFICATE", app.root_certificate_der()),
    )
        .into_response()
}

/// The root and every seal certificate as one PEM bundle, for checking QR codes offline.
#[utoipa::path(
    get,
    path = "/api/v1/certificates",
    tag = "verification",
    responses(
        (status = 200, description = "PEM bundle: the root, then each department's seal certificates", body = String, content_type = "application/x-pem-file"),
        Unavailable,
    )
)]
async fn published_certificates(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    Ok((
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        app.published_certificates().await?,
    )
        .into_response())
}

/// Issues a holder token (administrators: the stand-in for the identity provider).
#[utoipa::path(
    post,
    path = "/api/v1/holder-tokens",
    tag = "holders",
    request_body = HolderTokenRequest,
    responses(
        (status = 201, description = "The token", body = HolderToken),
        Unauthenticated, Forbidden, TooLarge, Invalid, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn issue_holder_token(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    JsonBody(request): JsonBody<HolderTokenRequest>,
) -> Result<Response, ApiError> {
    let token = app.issue_holder_token(&caller, request).await?;
    Ok((StatusCode::CREATED, Json(token)).into_response())
}

/// The calling holder's own licences, newest first, as of today.
#[utoipa::path(
    get,
    path = "/api/v1/holder/licences",
    tag = "holders",
    responses(
        (status = 200, description = "The holder's licences", body = Vec<LicenceView>),
        Unauthenticated, Forbidden, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn holder_licences(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    Ok(Json(app.holder_licences(&caller).await?).into_response())
}

/// Makes an API key for a service counter (administrators); the key is shown once.
#[utoipa::path(
    post,
    path = "/api/v1/counters",
    tag = "departments",
    responses(
        (status = 201, description = "The counter's key id and API key", body = NewCounter),
        Unauthenticated, Forbidden, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn add_counter(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    Ok((StatusCode::CREATED, Json(app.add_counter(&caller).await?)).into_response())
}

/// Registers a department with its first seal (administrators); its API key is shown once.
#[utoipa::path(
    post,
    path = "/api/v1/departments",
    tag = "departments",
    request_body = NewDepartment,
    responses(
        (status = 201, description = "The department, its seal and its API key", body = RegisteredDepartment),
        Unauthenticated, Forbidden, Conflict, TooLarge, Invalid, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn register_department(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    JsonBody(new): JsonBody<NewDepartment>,
) -> Result<Response, ApiError> {
    let registered = app.register_department(&caller, new).await?;
    Ok((StatusCode::CREATED, Json(registered)).into_response())
}

/// Issues a licence (departments, as themselves): checks the fields, renders and seals the PDF.
#[utoipa::path(
    post,
    path = "/api/v1/licences",
    tag = "licences",
    request_body = IssueRequest,
    responses(
        (status = 201, description = "The issued licence, with its audit-log entry", body = LicenceView),
        Unauthenticated, Forbidden, NotFound, TooLarge, Invalid, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn issue_licence(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    JsonBody(request): JsonBody<IssueRequest>,
) -> Result<Response, ApiError> {
    let issued = app.issue_licence(&caller, request).await?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

/// `?reason=…` of a licence download.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DownloadReason {
    /// Why the licence is downloaded (at most 500 characters): required of a service counter and
    /// of a department downloading another department's licence; recorded.
    reason: Option<String>,
}

/// A downloaded file, shown inline and saved as `{identifier}.{extension}`.
fn download(content_type: &str, identifier: &str, extension: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{identifier}.{extension}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// The signed PDF of a licence version.
///
/// For its holder, departments (another department's with a `reason`), counters (with a
/// `reason`) and administrators; every download is recorded.
#[utoipa::path(
    get,
    path = "/api/v1/licences/{id}/pdf",
    tag = "licences",
    params(
        ("id" = String, Path, description = "Full identifier of a version, or its stem for the newest version"),
        DownloadReason,
    ),
    responses(
        (status = 200, description = "The signed PDF", body = inline(Binary), content_type = "application/pdf",
            headers(("content-disposition" = String, description = "`inline; filename=\"<identifier>.pdf\"`"))),
        Unauthenticated, Forbidden, NotFound, Invalid, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn licence_pdf(
    State(app): State<Arc<App>>,
    OptionalCaller(caller): OptionalCaller,
    Path(id): Path<String>,
    QueryParams(DownloadReason { reason }): QueryParams<DownloadReason>,
) -> Result<Response, ApiError> {
    let (identifier, pdf) = app
        .licence_pdf(caller.as_ref(), &id, reason.as_deref())
        .await?;
    Ok(download("application/pdf", &identifier, "pdf", pdf))
}

/// A licence version's QR code as a PNG.
///
/// The same text as printed on its PDF; who may have it is as for the PDF.
#[utoipa::path(
    get,
    path = "/api/v1/licences/{id}/qr.png",
    tag = "licences",
    params(
        ("id" = String, Path, description = "Full identifier of a version, or its stem for the newest version"),
        DownloadReason,
    ),
    responses(
        (status = 200, description = "The QR code", body = inline(Binary), content_type = "image/png",
            headers(("content-disposition" = String, description = "`inline; filename=\"<identifier>.png\"`"))),
        Unauthenticated, Forbidden, NotFound, Invalid, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn licence_qr_png(
    State(app): State<Arc<App>>,
    OptionalCaller(caller): OptionalCaller,
    Path(id): Path<String>,
    QueryParams(DownloadReason { reason }): QueryParams<DownloadReason>,
) -> Result<Response, ApiError> {
    let (identifier, png) = app
        .licence_qr_png(caller.as_ref(), &id, reason.as_deref())
        .await?;
    Ok(download("image/png", &identifier, "png", png))
}

/// Searches the licence library (departments, counters, administrators); every search is recorded.
#[utoipa::path(
    get,
    path = "/api/v1/licences",
    tag = "licences",
    params(SearchQuery),
    responses(
        (status = 200, description = "One page of results, newest first", body = SearchPage),
        Unauthenticated, Forbidden, Invalid, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn search_licences(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<SearchQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(app.search_licences(&caller, query).await?).into_response())
}

/// A change (变更) of a licence by its issuing department: a new version with the changed fields.
#[utoipa::path(
    post,
    path = "/api/v1/licences/{id}/versions",
    tag = "licences",
    params(("id" = String, Path, description = "Identifier or stem of the licence")),
    request_body = NewVersionRequest,
    responses(
        (status = 201, description = "The new version, with its audit-log entry", body = LicenceView),
        Unauthenticated, Forbidden, NotFound, Conflict, TooLarge, Invalid, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn change_licence(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<NewVersionRequest>,
) -> Result<Response, ApiError> {
    let changed = app
        .new_licence_version(&caller, &id, request, VersionKind::Change)
        .await?;
    Ok((StatusCode::CREATED, Json(changed)).into_response())
}

/// A renewal (延续) of a licence by its issuing department.
///
/// A new version whose validity starts again (or as the new fields say).
#[utoipa::path(
    post,
    path = "/api/v1/licences/{id}/renewals",
    tag = "licences",
    params(("id" = String, Path, description = "Identifier or stem of the licence")),
    request_body = NewVersionRequest,
    responses(
        (status = 201, description = "The new version, with its audit-log entry", body = LicenceView),
        Unauthenticated, Forbidden, NotFound, Conflict, TooLarge, Invalid, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn renew_licence(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<NewVersionRequest>,
) -> Result<Response, ApiError> {
    let renewed = app
        .new_licence_version(&caller, &id, request, VersionKind::Renewal)
        .await?;
    Ok((StatusCode::CREATED, Json(renewed)).into_response())
}

/// Suspends, resumes, revokes or cancels a licence (its issuing department).
#[utoipa::path(
    post,
    path = "/api/v1/licences/{id}/status",
    tag = "licences",
    params(("id" = String, Path, description = "Identifier or stem of the licence")),
    request_body = StatusRequest,
    responses(
        (status = 200, description = "The licence in its new status, with its audit-log entry", body = LicenceView),
        Unauthenticated, Forbidden, NotFound, Conflict, TooLarge, Invalid, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn set_licence_status(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<StatusRequest>,
) -> Result<Response, ApiError> {
    Ok(Json(app.set_licence_status(&caller, &id, request).await?).into_response())
}

/// Every event of a licence, oldest first.
///
/// Each with its signed statement, the department's signature and whether it verifies.
#[utoipa::path(
    get,
    path = "/api/v1/licences/{id}/history",
    tag = "licences",
    params(("id" = String, Path, description = "Identifier or stem of the licence")),
    responses(
        (status = 200, description = "The events", body = Vec<LicenceEventView>),
        NotFound, Unavailable,
    )
)]
async fn licence_history(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(app.licence_history(&id).await?).into_response())
}

/// `?on=YYYY-MM-DD`: was the licence valid on that day?
#[derive(Debug, Default, serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct OnDate {
    /// Also answer whether the licence was valid on this day (`YYYY-MM-DD`).
    on: Option<String>,
}

fn parse_date(day: &str, field: &str) -> Result<Date, ApiError> {
    Date::parse(
        day.trim(),
        &time::format_description::well_known::Iso8601::DATE,
    )
    .map_err(|_| ApiError::bad_request(field, format!("'{day}' is not a date YYYY-MM-DD")))
}

/// Is this licence genuine and valid (today, or on a day)? Anyone may ask; it is recorded.
#[utoipa::path(
    get,
    path = "/api/v1/verify/licences/{id}",
    tag = "verification",
    params(
        ("id" = String, Path, description = "Full identifier of a version, or its stem for the newest version"),
        OnDate,
    ),
    responses(
        (status = 200, description = "The verification", body = LicenceVerification),
        Unauthenticated, NotFound, Invalid, Unavailable,
    ),
    security((), ("bearer" = []))
)]
async fn verify_licence(
    State(app): State<Arc<App>>,
    OptionalCaller(caller): OptionalCaller,
    Path(id): Path<String>,
    QueryParams(OnDate { on }): QueryParams<OnDate>,
) -> Result<Response, ApiError> {
    let on = on.map(|day| parse_date(&day, "on")).transpose()?;
    Ok(Json(app.verify_licence(caller.as_ref(), &id, on).await?).into_response())
}

/// Body of `POST /api/v1/verify/qr`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct QrRequest {
    /// What the QR code holds.
    payload: String,
    /// Also answer whether the licence was valid on this day (`YYYY-MM-DD`).
    on: Option<String>,
}

/// Verifies what a licence's QR code holds: its signed payload and the licence it names.
#[utoipa::path(
    post,
    path = "/api/v1/verify/qr",
    tag = "verification",
    request_body = QrRequest,
    responses(
        (status = 200, description = "The verification, with the payload's signature check", body = LicenceVerification),
        Unauthenticated, NotFound, TooLarge, Invalid, Unavailable,
    ),
    security((), ("bearer" = []))
)]
async fn verify_qr(
    State(app): State<Arc<App>>,
    OptionalCaller(caller): OptionalCaller,
    JsonBody(request): JsonBody<QrRequest>,
) -> Result<Response, ApiError> {
    let on = request
        .on
        .as_deref()
        .map(|d| parse_date(d, "on"))
        .transpose()?;
    let answer = app.verify_qr(caller.as_ref(), &request.payload, on).await?;
    Ok(Json(answer).into_response())
}

/// Options of `POST /api/v1/verify/pdf`, from the query string or the multipart form.
#[derive(Debug, Default, serde::Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct VerifyOptions {
    /// User password of an encrypted PDF.
    password: Option<String>,
}

/// Verifies the seals on a PDF.
///
/// Against our root and the foreign roots in force; the verification is recorded (digest and
/// verdict, not the file).
#[utoipa::path(
    post,
    path = "/api/v1/verify/pdf",
    tag = "verification",
    params(VerifyOptions),
    request_body(
        description = "The PDF as the raw body, or a multipart form (options in the form take the place of the query string's)",
        content(
            (inline(Binary) = "application/pdf"),
            (ref("#/components/schemas/VerifyForm") = "multipart/form-data"),
        )
    ),
    responses(
        (status = 200, description = "The report per signature, and the licence the file is, if ours", body = PdfVerification),
        Unauthenticated, TooLarge, Invalid, Unavailable,
    ),
    security((), ("bearer" = []))
)]
async fn verify_pdf(
    State(app): State<Arc<App>>,
    OptionalCaller(caller): OptionalCaller,
    RawQuery(query): RawQuery,
    upload: PdfUpload,
) -> Result<Response, ApiError> {
    let options: VerifyOptions = upload.options(query.as_deref())?;
    let answer = app
        .verify_pdf(caller.as_ref(), upload.pdf()?, options.password)
        .await?;
    Ok(Json(answer).into_response())
}

/// Trusts a foreign root certificate (administrators): its seals then verify as trusted.
#[utoipa::path(
    post,
    path = "/api/v1/trust-roots",
    tag = "trust roots",
    request_body(content = String, content_type = "application/x-pem-file", description = "The root certificate, PEM"),
    responses(
        (status = 201, description = "The trust root", body = TrustRootView),
        Unauthenticated, Forbidden, Conflict, TooLarge, Invalid, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn add_trust_root(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let pem = std::str::from_utf8(&body).map_err(|_| {
        ApiError::bad_request("body", "send the root certificate as PEM text".into())
    })?;
    let root = app.add_trust_root(&caller, pem).await?;
    Ok((StatusCode::CREATED, Json(root)).into_response())
}

/// The foreign trust roots in force.
#[utoipa::path(
    get,
    path = "/api/v1/trust-roots",
    tag = "trust roots",
    responses(
        (status = 200, description = "The trust roots", body = Vec<TrustRootView>),
        Unavailable,
    )
)]
async fn list_trust_roots(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    Ok(Json(app.trust_roots().await?).into_response())
}

/// Stops trusting a foreign root (administrators); its record stays, marked removed.
#[utoipa::path(
    delete,
    path = "/api/v1/trust-roots/{id}",
    tag = "trust roots",
    params(("id" = String, Path, description = "Trust root id")),
    responses(
        (status = 200, description = "The removed trust root", body = TrustRootView),
        Unauthenticated, Forbidden, NotFound, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn remove_trust_root(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(app.remove_trust_root(&caller, &id).await?).into_response())
}

/// `?limit=N` of `GET /api/v1/audit/events`.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Limit {
    /// How many events, 1 to 1000 (default 100; others are clamped to that range).
    limit: Option<i64>,
}

/// The newest audit events (administrators).
#[utoipa::path(
    get,
    path = "/api/v1/audit/events",
    tag = "audit",
    params(Limit),
    responses(
        (status = 200, description = "The events, newest first", body = Vec<AuditEvent>),
        Unauthenticated, Forbidden, Invalid, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn audit_events(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    QueryParams(Limit { limit }): QueryParams<Limit>,
) -> Result<Response, ApiError> {
    let events = app
        .recent_audit_events(&caller, limit.unwrap_or(100))
        .await?;
    Ok(Json(events).into_response())
}

/// A tree head of the audit log, signed now by the log key.
#[utoipa::path(
    get,
    path = "/api/v1/audit/sth",
    tag = "audit",
    responses(
        (status = 200, description = "The signed tree head", body = SignedTreeHead),
        Unavailable,
    )
)]
async fn signed_tree_head(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    Ok(Json(app.sign_tree_head().await?).into_response())
}

/// `?entry=N&size=S` of an inclusion proof.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct InclusionQuery {
    /// The entry's position, below `size`.
    entry: u64,
    /// The tree's size, 1 to the log's size.
    #[param(minimum = 1)]
    size: u64,
}

/// The proof that an entry is in the tree of `size` entries (RFC 9162 §2.1.3).
#[utoipa::path(
    get,
    path = "/api/v1/audit/proof/inclusion",
    tag = "audit",
    params(InclusionQuery),
    responses(
        (status = 200, description = "The inclusion proof", body = InclusionProof),
        Invalid, Unavailable,
    )
)]
async fn inclusion_proof(
    State(app): State<Arc<App>>,
    QueryParams(InclusionQuery { entry, size }): QueryParams<InclusionQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(app.inclusion_proof(entry, size).await?).into_response())
}

/// `?from=M&to=N` of a consistency proof.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ConsistencyQuery {
    /// The older tree's size, 1 to `to`.
    #[param(minimum = 1)]
    from: u64,
    /// The newer tree's size, up to the log's size.
    #[param(minimum = 1)]
    to: u64,
}

/// The proof that the tree of `to` entries extends the tree of `from` (RFC 9162 §2.1.4).
#[utoipa::path(
    get,
    path = "/api/v1/audit/proof/consistency",
    tag = "audit",
    params(ConsistencyQuery),
    responses(
        (status = 200, description = "The consistency proof", body = ConsistencyProof),
        Invalid, Unavailable,
    )
)]
async fn consistency_proof(
    State(app): State<Arc<App>>,
    QueryParams(ConsistencyQuery { from, to }): QueryParams<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(app.consistency_proof(from, to).await?).into_response())
}

/// The root's CRL, DER (RFC 5280), as the seal certificates' cRLDistributionPoints name it.
#[utoipa::path(
    get,
    path = "/api/v1/crl",
    tag = "verification",
    responses(
        (status = 200, description = "The CRL (DER), current for a day", body = inline(Binary), content_type = "application/pkix-crl"),
        Unavailable,
    )
)]
async fn certificate_revocation_list(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    Ok((
        [(header::CONTENT_TYPE, "application/pkix-crl")],
        app.crl().await?,
    )
        .into_response())
}

/// The root's OCSP responder (RFC 6960 over HTTP POST): a DER `OCSPRequest` in, a DER
/// `OCSPResponse` signed by the root out.
#[utoipa::path(
    post,
    path = "/api/v1/ocsp",
    tag = "verification",
    request_body(content = inline(Binary), content_type = "application/ocsp-request"),
    responses(
        (status = 200, description = "The OCSP response (`malformedRequest` for one that does not parse)", body = inline(Binary), content_type = "application/ocsp-response"),
        TooLarge, Unavailable,
    )
)]
async fn ocsp(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Result<Response, ApiError> {
    refuse_large_request(&body, "an OCSP request")?;
    Ok((
        [(header::CONTENT_TYPE, "application/ocsp-response")],
        app.ocsp(&body).await?,
    )
        .into_response())
}

/// Revokes a seal's certificate (administrators): the CRL lists it from now on and the seal
/// stamps no more.
#[utoipa::path(
    post,
    path = "/api/v1/seals/{id}/revocation",
    tag = "seals",
    params(("id" = String, Path, description = "The seal's id")),
    responses(
        (status = 200, description = "The seal, with its revocation time", body = SealView),
        Unauthenticated, Forbidden, NotFound, Conflict, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn revoke_seal(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(app.revoke_seal(&caller, &id).await?).into_response())
}

/// Most bytes of a time-stamp or OCSP request (a real one is about 100).
const MAX_TIMESTAMP_REQUEST: usize = 16 * 1024;

/// 413 for a time-stamp or OCSP request (`what`) larger than [`MAX_TIMESTAMP_REQUEST`].
fn refuse_large_request(body: &[u8], what: &str) -> Result<(), ApiError> {
    if body.len() > MAX_TIMESTAMP_REQUEST {
        return Err(ApiError(ServiceError::TooLarge(format!(
            "{what} is at most {MAX_TIMESTAMP_REQUEST} bytes"
        ))));
    }
    Ok(())
}

/// RFC 3161 over HTTP (§3.4): a DER `TimeStampReq` in, a DER `TimeStampResp` out (granted
/// with a token, or a rejection naming the failure).
#[utoipa::path(
    post,
    path = "/tsa",
    tag = "seals",
    request_body(content = inline(Binary), content_type = "application/timestamp-query"),
    responses(
        (status = 200, description = "The time-stamp response", body = inline(Binary), content_type = "application/timestamp-reply"),
        Unauthenticated, TooLarge, Invalid, Unavailable,
    ),
    security((), ("bearer" = []))
)]
async fn timestamp(
    State(app): State<Arc<App>>,
    OptionalCaller(caller): OptionalCaller,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/timestamp-query") {
        return Err(ApiError(ServiceError::InvalidField {
            field: "content-type".into(),
            message: "a time-stamp request is sent as application/timestamp-query".into(),
        }));
    }
    refuse_large_request(&body, "a time-stamp request")?;
    let reply = app.timestamp(caller.as_ref(), &body).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/timestamp-reply")],
        reply,
    )
        .into_response())
}

/// `?entry=N` of a receipt.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ReceiptQuery {
    /// The entry's position in the log.
    entry: u64,
}

/// A receipt for an entry, checkable offline (administrators and the entry's own actor).
#[utoipa::path(
    get,
    path = "/api/v1/audit/receipt",
    tag = "audit",
    params(ReceiptQuery),
    responses(
        (status = 200, description = "The entry, a signed tree head and the inclusion proof between them", body = Receipt),
        Unauthenticated, Forbidden, NotFound, Invalid, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn audit_receipt(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    QueryParams(ReceiptQuery { entry }): QueryParams<ReceiptQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(app.audit_receipt(&caller, entry).await?).into_response())
}

/// `?start=&end=` of the entries listing.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EntryRange {
    /// First position, from 0.
    #[param(minimum = 0)]
    start: i64,
    /// Position after the last, at most `start + 1000`.
    #[param(minimum = 0)]
    end: i64,
}

/// Entries `start..end` of the audit log, at most 1000 (administrators).
#[utoipa::path(
    get,
    path = "/api/v1/audit/entries",
    tag = "audit",
    params(EntryRange),
    responses(
        (status = 200, description = "The entries with their positions and leaf hashes", body = Vec<LogEntry>),
        Unauthenticated, Forbidden, Invalid, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn log_entries(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    QueryParams(EntryRange { start, end }): QueryParams<EntryRange>,
) -> Result<Response, ApiError> {
    Ok(Json(app.log_entries(&caller, start, end).await?).into_response())
}

/// Options of `POST /api/v1/seal`, from the query string or the multipart form.
#[derive(Debug, serde::Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SealOptions {
    /// Seal to use (default: the department's first).
    seal_id: Option<String>,
    /// 1-based page (default: the last; with `keyword`, the page searched).
    #[param(minimum = 1)]
    #[schema(minimum = 1)]
    page: Option<usize>,
    /// Centre, millimetres from the left of the displayed page.
    x_mm: Option<f32>,
    /// Centre, millimetres from the top of the displayed page.
    y_mm: Option<f32>,
    /// Centre the seal on the last place this text appears (e.g. the department's name).
    keyword: Option<String>,
    /// PAdES level: `B-B`, `B-T` (default, time-stamped), `B-LT` or `B-LTA`.
    level: Option<crate::seal::SealLevel>,
    /// `true` for a cross-page seal (骑缝章) over the right edges of all pages.
    #[serde(default)]
    cross_page: bool,
    /// User password of an encrypted PDF.
    password: Option<String>,
}

/// Stamps a PDF with one of the calling department's seals.
///
/// The answer is the same bytes plus one incremental update with the PAdES signature and the
/// impression.
#[utoipa::path(
    post,
    path = "/api/v1/seal",
    tag = "seals",
    params(SealOptions),
    request_body(
        description = "The PDF as the raw body, or a multipart form (options in the form take the place of the query string's)",
        content(
            (inline(Binary) = "application/pdf"),
            (ref("#/components/schemas/SealForm") = "multipart/form-data"),
        )
    ),
    responses(
        (status = 200, description = "The sealed PDF", body = inline(Binary), content_type = "application/pdf",
            headers(
                ("x-audit-entry" = u64, description = "Position of the stamping's audit-log entry"),
                ("x-audit-leaf-hash" = String, description = "That entry's hex leaf hash"),
            )),
        Unauthenticated, Forbidden, NotFound, TooLarge, Invalid, BadGateway, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn seal_document(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    RawQuery(query): RawQuery,
    upload: PdfUpload,
) -> Result<Response, ApiError> {
    let options: SealOptions = upload.options(query.as_deref())?;
    let request = SealRequest {
        seal_id: options.seal_id,
        placement: Placement {
            page: options.page,
            x_mm: options.x_mm,
            y_mm: options.y_mm,
            keyword: options.keyword,
            cross_page: options.cross_page,
        },
        password: options.password,
        level: options.level.unwrap_or_default(),
    };
    let sealed = app.seal_document(&caller, upload.pdf()?, request).await?;
    Ok(sealed_pdf(sealed))
}

/// A stamped PDF with its receipt: where the work was recorded in the audit log.
fn sealed_pdf(sealed: SealedDocument) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (AUDIT_ENTRY.clone(), sealed.audit.seq.to_string()),
            (AUDIT_LEAF.clone(), sealed.audit.leaf_hash),
        ],
        sealed.pdf.into_vec(),
    )
        .into_response()
}

/// Options of `POST /api/v1/archive`.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ArchiveOptions {
    /// User password of an encrypted PDF.
    password: Option<String>,
}

/// Brings a signed PDF to PAdES B-LTA (validation data and a document time-stamp), or renews
/// its archive time-stamp.
#[utoipa::path(
    post,
    path = "/api/v1/archive",
    tag = "seals",
    params(ArchiveOptions),
    request_body(content = inline(Binary), content_type = "application/pdf"),
    responses(
        (status = 200, description = "The PDF with its validation data and archive time-stamp", body = inline(Binary), content_type = "application/pdf",
            headers(
                ("x-audit-entry" = u64, description = "Position of the archiving's audit-log entry"),
                ("x-audit-leaf-hash" = String, description = "That entry's hex leaf hash"),
            )),
        Unauthenticated, Forbidden, TooLarge, Invalid, BadGateway, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn archive_document(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    RawQuery(query): RawQuery,
    upload: PdfUpload,
) -> Result<Response, ApiError> {
    let options: ArchiveOptions = upload.options(query.as_deref())?;
    let archived = app
        .archive_document(&caller, upload.pdf()?, options.password)
        .await?;
    Ok(sealed_pdf(archived))
}

/// Registers another seal for a department (administrators).
#[utoipa::path(
    post,
    path = "/api/v1/departments/{id}/seals",
    tag = "seals",
    params(("id" = String, Path, description = "Department id")),
    request_body = NewSeal,
    responses(
        (status = 201, description = "The seal and its certificate", body = SealView),
        Unauthenticated, Forbidden, NotFound, TooLarge, Invalid, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn add_seal(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    Path(department_id): Path<String>,
    JsonBody(new): JsonBody<NewSeal>,
) -> Result<Response, ApiError> {
    let seal = app.add_seal(&caller, &department_id, new).await?;
    Ok((StatusCode::CREATED, Json(seal)).into_response())
}

/// A department's seals (administrators and the department itself).
#[utoipa::path(
    get,
    path = "/api/v1/departments/{id}/seals",
    tag = "seals",
    params(("id" = String, Path, description = "Department id")),
    responses(
        (status = 200, description = "The seals", body = Vec<SealView>),
        Unauthenticated, Forbidden, NotFound, Unavailable,
    ),
    security(("bearer" = []))
)]
async fn list_seals(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    Path(department_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(app.seals(&caller, &department_id).await?).into_response())
}
