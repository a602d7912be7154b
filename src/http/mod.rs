//! The HTTP API (axum): thin handlers that authenticate, parse, call the service, and answer
//! JSON, PDF or problem+json.

mod error;
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

use crate::service::{
    App, HolderTokenRequest, IssueRequest, NewDepartment, NewSeal, NewVersionRequest, Placement,
    Principal, SealRequest, SealedDocument, SearchQuery, ServiceError, StatusRequest, VersionKind,
};

/// Largest request body accepted (a PDF to verify).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The application's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/root.pem", get(root_certificate))
        .route("/api/v1/certificates", get(published_certificates))
        .route("/api/v1/crl", get(certificate_revocation_list))
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

async fn root_certificate(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        crate::service::pem("CERTIFICATE", app.root_certificate_der()),
    )
        .into_response()
}

async fn published_certificates(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    Ok((
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        app.published_certificates().await?,
    )
        .into_response())
}

async fn issue_holder_token(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    JsonBody(request): JsonBody<HolderTokenRequest>,
) -> Result<Response, ApiError> {
    let token = app.issue_holder_token(&caller, request).await?;
    Ok((StatusCode::CREATED, Json(token)).into_response())
}

async fn holder_licences(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    Ok(Json(app.holder_licences(&caller).await?).into_response())
}

async fn add_counter(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    Ok((StatusCode::CREATED, Json(app.add_counter(&caller).await?)).into_response())
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

/// `?reason=…` of a licence download.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DownloadReason {
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

async fn search_licences(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<SearchQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(app.search_licences(&caller, query).await?).into_response())
}

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

async fn set_licence_status(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<StatusRequest>,
) -> Result<Response, ApiError> {
    Ok(Json(app.set_licence_status(&caller, &id, request).await?).into_response())
}

async fn licence_history(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(app.licence_history(&id).await?).into_response())
}

/// `?on=YYYY-MM-DD`: was the licence valid on that day?
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDate {
    on: Option<String>,
}

fn parse_date(day: &str, field: &str) -> Result<Date, ApiError> {
    Date::parse(
        day.trim(),
        &time::format_description::well_known::Iso8601::DATE,
    )
    .map_err(|_| ApiError::bad_request(field, format!("'{day}' is not a date YYYY-MM-DD")))
}

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
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct QrRequest {
    /// What the QR code holds.
    payload: String,
    /// Also answer whether the licence was valid on this day (`YYYY-MM-DD`).
    on: Option<String>,
}

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

/// Options of `POST /api/v1/verify/pdf`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyOptions {
    /// User password of an encrypted PDF.
    password: Option<String>,
}

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

async fn list_trust_roots(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    Ok(Json(app.trust_roots().await?).into_response())
}

async fn remove_trust_root(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(app.remove_trust_root(&caller, &id).await?).into_response())
}

/// `?limit=N` of `GET /api/v1/audit/events`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Limit {
    limit: Option<i64>,
}

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

async fn signed_tree_head(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    Ok(Json(app.sign_tree_head().await?).into_response())
}

/// `?entry=N&size=S` of an inclusion proof.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    entry: u64,
    size: u64,
}

async fn inclusion_proof(
    State(app): State<Arc<App>>,
    QueryParams(InclusionQuery { entry, size }): QueryParams<InclusionQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(app.inclusion_proof(entry, size).await?).into_response())
}

/// `?from=M&to=N` of a consistency proof.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    from: u64,
    to: u64,
}

async fn consistency_proof(
    State(app): State<Arc<App>>,
    QueryParams(ConsistencyQuery { from, to }): QueryParams<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(app.consistency_proof(from, to).await?).into_response())
}

/// `GET /api/v1/crl`: the root's CRL, DER (RFC 5280), as the seal certificates'
/// cRLDistributionPoints name it.
async fn certificate_revocation_list(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    Ok((
        [(header::CONTENT_TYPE, "application/pkix-crl")],
        app.crl().await?,
    )
        .into_response())
}

/// `POST /api/v1/seals/{id}/revocation` (administrators): revokes the seal's certificate.
async fn revoke_seal(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(app.revoke_seal(&caller, &id).await?).into_response())
}

/// Most bytes of a time-stamp request (a real one is about 100).
const MAX_TIMESTAMP_REQUEST: usize = 16 * 1024;

/// `POST /tsa`: RFC 3161 over HTTP (§3.4), `application/timestamp-query` in,
/// `application/timestamp-reply` out.
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
    if body.len() > MAX_TIMESTAMP_REQUEST {
        return Err(ApiError(ServiceError::TooLarge(format!(
            "a time-stamp request is at most {MAX_TIMESTAMP_REQUEST} bytes"
        ))));
    }
    let reply = app.timestamp(caller.as_ref(), &body).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/timestamp-reply")],
        reply,
    )
        .into_response())
}

/// `?entry=N` of a receipt.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiptQuery {
    entry: u64,
}

async fn audit_receipt(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    QueryParams(ReceiptQuery { entry }): QueryParams<ReceiptQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(app.audit_receipt(&caller, entry).await?).into_response())
}

/// `?start=&end=` of the entries listing.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryRange {
    start: i64,
    end: i64,
}

async fn log_entries(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    QueryParams(EntryRange { start, end }): QueryParams<EntryRange>,
) -> Result<Response, ApiError> {
    Ok(Json(app.log_entries(&caller, start, end).await?).into_response())
}

/// Options of `POST /api/v1/seal`, from the query string or the multipart form.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SealOptions {
    /// Seal to use (default: the department's first).
    seal_id: Option<String>,
    /// 1-based page (default: the last; with `keyword`, the page searched).
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
        sealed.pdf,
    )
        .into_response()
}

/// Options of `POST /api/v1/archive`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchiveOptions {
    /// User password of an encrypted PDF.
    password: Option<String>,
}

/// `POST /api/v1/archive`: brings a signed PDF to B-LTA, or renews its archive time-stamp.
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

async fn add_seal(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    Path(department_id): Path<String>,
    JsonBody(new): JsonBody<NewSeal>,
) -> Result<Response, ApiError> {
    let seal = app.add_seal(&caller, &department_id, new).await?;
    Ok((StatusCode::CREATED, Json(seal)).into_response())
}

async fn list_seals(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    Path(department_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(app.seals(&caller, &department_id).await?).into_response())
}
