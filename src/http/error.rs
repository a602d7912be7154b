//! One error type for the HTTP layer, rendered as RFC 9457 `application/problem+json`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::ServiceError;

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct ApiError(pub ServiceError);

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError(e)
    }
}

/// RFC 9457 problem details, with the offending field when there is one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Problem {
    /// The problem type: `https://zhengyin.dev/problems/<slug>`, e.g. `…/invalid-field`.
    #[serde(rename = "type")]
    kind: String,
    /// Short summary of the problem type.
    title: &'static str,
    /// The HTTP status.
    status: u16,
    /// What went wrong here.
    detail: String,
    /// The offending parameter or body field, dotted for nested ones (`fields.credit_code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    field: Option<String>,
}

impl ApiError {
    /// The HTTP status a service error is answered with.
    pub fn status_of(error: &ServiceError) -> StatusCode {
        Self::classify(error).0
    }

    /// The status, a stable problem type slug and a title for each service error.
    fn classify(error: &ServiceError) -> (StatusCode, &'static str, &'static str) {
        match error {
            ServiceError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            ServiceError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ServiceError::InvalidField { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-field",
                "Invalid request field",
            ),
            ServiceError::UnprocessableDocument(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unprocessable-document",
                "The document cannot be processed",
            ),
            ServiceError::TooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Request too large",
            ),
            ServiceError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Already exists"),
            ServiceError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Storage unavailable",
            ),
            ServiceError::Upstream(_) => (
                StatusCode::BAD_GATEWAY,
                "upstream",
                "A service this one depends on failed",
            ),
            ServiceError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }

    /// A body that could not be read, from the status and text axum rejected it with: too
    /// large (413) or broken (422 naming the body).
    pub fn unreadable_body(status: StatusCode, detail: String) -> ApiError {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError(ServiceError::TooLarge(format!(
                "the request body exceeds the limit of {} MiB",
                super::MAX_BODY_BYTES / (1024 * 1024)
            )))
        } else {
            ApiError::bad_request("body", detail)
        }
    }

    /// A client-side problem found by the HTTP layer itself (bad JSON, bad header).
    pub fn bad_request(field: &str, detail: String) -> ApiError {
        ApiError(ServiceError::InvalidField {
            field: field.into(),
            message: detail,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = Self::classify(&self.0);
        let field = match &self.0 {
            ServiceError::InvalidField { field, .. } => Some(field.clone()),
            _ => None,
        };
        match &self.0 {
            ServiceError::Internal(detail) | ServiceError::Unavailable(detail) => {
                tracing::error!(%detail, "request failed");
            }
            _ => {}
        }
        let problem = Problem {
            kind: format!("https://zhengyin.dev/problems/{slug}"),
            title,
            status: status.as_u16(),
            detail: self.0.to_string(),
            field,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}
