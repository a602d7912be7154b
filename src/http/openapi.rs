//! The OpenAPI 3.1 document of the API (utoipa), served at `GET /api/v1/openapi.json`: every
//! operation of [`super::router`] under `/api/v1` and `/healthz`, with its parameters, bodies,
//! answers and the problem+json errors it can give.

use std::collections::BTreeMap;

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    KnownFormat, ObjectBuilder, Ref, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};

use super::error::Problem;
use super::{SealOptions, VerifyOptions};

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "zhengyin",
        description = "Electronic licences (电子证照) and electronic seals (电子印章): issue, seal, verify. \
                       Errors are RFC 9457 problem details (`application/problem+json`)."
    ),
    paths(
        super::healthz,
        super::openapi_document,
        super::root_certificate,
        super::published_certificates,
        super::issue_holder_token,
        super::holder_licences,
        super::register_department,
        super::add_counter,
        super::add_seal,
        super::list_seals,
        super::issue_licence,
        super::search_licences,
        super::licence_pdf,
        super::licence_qr_png,
        super::change_licence,
        super::renew_licence,
        super::set_licence_status,
        super::licence_history,
        super::verify_licence,
        super::verify_qr,
        super::verify_pdf,
        super::add_trust_root,
        super::list_trust_roots,
        super::remove_trust_root,
        super::audit_events,
        super::signed_tree_head,
        super::inclusion_proof,
        super::consistency_proof,
        super::log_entries,
        super::audit_receipt,
        super::seal_document,
        super::archive_document,
        super::certificate_revocation_list,
        super::ocsp,
        super::revoke_seal,
        super::timestamp,
    ),
    components(schemas(Problem)),
    modifiers(&BearerScheme, &UploadForms),
    tags(
        (name = "departments", description = "Issuing departments and service counters (administrators)"),
        (name = "seals", description = "A department's seals, and stamping documents with them"),
        (name = "licences", description = "Issuing, changing, renewing, suspending and downloading licences"),
        (name = "verification", description = "Verifying licences, QR codes and sealed PDFs; the certificates to do it offline"),
        (name = "holders", description = "Licence holders (companies, citizens) and their tokens"),
        (name = "audit", description = "The audit log: a Merkle tree with signed tree heads, proofs and receipts"),
        (name = "trust roots", description = "Foreign roots whose seals verify as trusted (互认互验)"),
        (name = "service", description = "Health and this document"),
    )
)]
pub(super) struct ApiDoc;

/// Name of the security scheme of operations that need a credential.
const BEARER: &str = "bearer";

/// Adds the `bearer` scheme: API keys (`zy_…`) and holder tokens (JWTs) both travel in
/// `Authorization: Bearer`.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key (`zy_<id>_<secret>`: administrator, department or service \
                         counter) or a holder token (a JWT from POST /api/v1/holder-tokens or \
                         the configured identity provider)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Raw bytes of a body that is not JSON (a PDF, a PNG).
pub(super) struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        binary().into()
    }
}

impl ToSchema for Binary {}

/// `type: string, format: binary`.
fn binary() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
}

/// Adds the `multipart/form-data` forms of the uploads: `SealForm` and `VerifyForm`.
struct UploadForms;

impl Modify for UploadForms {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .schemas
            .insert("SealForm".into(), upload_form::<SealOptions>());
        components
            .schemas
            .insert("VerifyForm".into(), upload_form::<VerifyOptions>());
    }
}

/// The multipart form of a PDF upload with options `T` (see [`super::PdfUpload`]): the PDF in
/// part `file`, the options as JSON in part `options` and/or as parts named after them.
fn upload_form<T: PartialSchema>() -> RefOr<Schema> {
    let mut form = match T::schema() {
        RefOr::T(Schema::Object(options)) => options,
        _ => ObjectBuilder::new().schema_type(Type::Object).build(),
    };
    form.description = Some(
        "The PDF in part `file`; options as a JSON object in part `options`, or as parts named \
         after them"
            .into(),
    );
    // A form part is text, never null.
    for property in form.properties.values_mut() {
        if let RefOr::T(Schema::Object(option)) = property {
            if let SchemaType::Array(types) = &option.schema_type {
                let types: Vec<Type> = types
                    .iter()
                    .filter(|t| **t != Type::Null)
                    .cloned()
                    .collect();
                if let [single] = types.as_slice() {
                    option.schema_type = SchemaType::Type(single.clone());
                }
            }
        }
    }
    form.properties.insert(
        "file".into(),
        binary()
            .content_media_type("application/pdf")
            .description(Some("The PDF"))
            .into(),
    );
    form.properties.insert(
        "options".into(),
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/json")
            .description(Some("The options as one JSON object"))
            .into(),
    );
    form.required.insert(0, "file".into());
    form.into()
}

/// A problem+json answer with `status`.
fn problem(status: u16, description: &str) -> BTreeMap<String, RefOr<Response>> {
    let response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(Problem::name())))
                .build(),
        )
        .build();
    BTreeMap::from([(status.to_string(), response.into())])
}

/// Declares a problem+json answer for the `responses(...)` of an operation.
macro_rules! problem_response {
    ($($(#[$doc:meta])* $name:ident = $status:literal, $description:literal;)*) => {$(
        $(#[$doc])*
        pub(super) struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                problem($status, $description)
            }
        }
    )*};
}

problem_response! {
    /// 401: no credential where one is needed, or one that matches nothing.
    Unauthenticated = 401, "Missing or invalid credentials: an API key or a holder token";
    /// 403: the caller may not do this.
    Forbidden = 403, "The caller may not do this";
    /// 404: what the path names does not exist.
    NotFound = 404, "Not found";
    /// 409: it exists already, or the licence's status does not allow it.
    Conflict = 409, "Conflicts with what exists (already registered, or not allowed in the licence's status)";
    /// 413: the body is larger than the service accepts.
    TooLarge = 413, "The request body exceeds 64 MiB";
    /// 422: a parameter or body field is invalid (named in `field`), or the document cannot be
    /// processed.
    Invalid = 422, "A parameter or body field is invalid (named in `field`), or the document cannot be processed";
    /// 502: an external time-stamping authority failed.
    BadGateway = 502, "A service this one depends on (an external time-stamping authority) failed";
    /// 503: the database is unreachable or refused the write.
    Unavailable = 503, "Storage unavailable";
}
