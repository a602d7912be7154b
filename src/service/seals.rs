//! Seals: registering a department's seals (round official and special-purpose seals, square
//! and oval personal name seals) and stamping documents with them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{
    audit_event, hex, now_rfc3339, pem, random_id, sha256, App, LogReceipt, Principal,
    ServiceError, SEAL_CERT_YEARS,
};
use crate::pdf::appearance::{SealForm, SealImpression, SealShape};
use crate::pdf::dss::{self, ValidationData};
use crate::pdf::embed::{self, UpdatedPdf};
use crate::pdf::sign::SignError;
use crate::pki::{Revocation, SealKey, SealSubject};
use crate::seal::{self, Placement, SealLevel, Stamp, StampError};
use crate::storage::{self, write, StorageError};

/// Longest seal name, e.g. 行政审批专用章 or 法定代表人名章.
const MAX_SEAL_NAME_CHARS: usize = 12;
/// Longest person's name on a name seal.
const MAX_PERSON_NAME_CHARS: usize = 8;

/// A seal to register for a department.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSeal {
    /// Seal name: 公章 (the official seal), a purpose such as 行政审批专用章 or 合同专用章, or
    /// for name seals e.g. 法定代表人名章. Defaults to 公章 for round seals and 法定代表人名章
    /// for name seals.
    #[serde(default)]
    pub name: Option<String>,
    /// Outline; defaults to round.
    #[serde(default)]
    pub shape: Option<SealShape>,
    /// The person a square or oval name seal belongs to (required for those).
    #[serde(default)]
    pub person_name: Option<String>,
    /// 13-digit seal code (印章编码).
    #[serde(default)]
    pub code: Option<String>,
}

/// A seal as shown to clients.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SealView {
    /// Seal id.
    pub id: String,
    /// Seal name.
    pub name: String,
    /// Outline.
    pub shape: SealShape,
    /// The person of a name seal.
    #[schema(required = true)]
    pub person_name: Option<String>,
    /// 13-digit seal code.
    #[schema(required = true)]
    pub code: Option<String>,
    /// The seal certificate, PEM.
    pub certificate_pem: String,
    /// When the certificate was revoked (RFC 3339), if it was.
    pub revoked_at: Option<String>,
}

impl SealView {
    pub(super) fn of(seal: &storage::SealRecord) -> SealView {
        SealView {
            id: seal.id.clone(),
            name: seal.name.clone(),
            shape: shape_of(seal),
            person_name: seal.person_name.clone(),
            code: seal.seal_code.clone(),
            certificate_pem: pem("CERTIFICATE", &seal.certificate),
            revoked_at: seal.revoked_at.clone(),
        }
    }
}

/// A stamped document, and where the stamping was recorded (the sealing receipt).
#[derive(Debug, Clone)]
pub struct SealedDocument {
    /// The PDF with its new seal: the input and the update appended to it.
    pub pdf: UpdatedPdf,
    /// The audit-log entry of the stamping.
    pub audit: LogReceipt,
}

/// How to stamp a document.
#[derive(Debug, Clone, Default)]
pub struct SealRequest {
    /// Seal to use; defaults to the department's first seal.
    pub seal_id: Option<String>,
    /// Where the impression goes.
    pub placement: Placement,
    /// User password of an encrypted document.
    pub password: Option<String>,
    /// B-B, B-T (the default: a token from the built-in time-stamping authority), B-LT (plus
    /// validation data) or B-LTA (plus a document time-stamp).
    pub level: SealLevel,
}

/// What a seal's impression shows: round seals the department's name (and the purpose unless
/// it is the official seal 公章), name seals the person's name.
pub(super) fn impression_of(department_name: &str, seal: &storage::SealRecord) -> SealImpression {
    let shape = shape_of(seal);
    match shape {
        SealShape::Round => SealImpression {
            shape,
            name: department_name.to_string(),
            purpose: (seal.name != "公章").then(|| seal.name.clone()),
            code: seal.seal_code.clone(),
            width_mm: 42.0,
        },
        SealShape::Square | SealShape::Oval => SealImpression {
            shape,
            name: seal.person_name.clone().unwrap_or_default(),
            purpose: None,
            code: seal.seal_code.clone(),
            width_mm: if shape == SealShape::Square {
                20.0
            } else {
                30.0
            },
        },
    }
}

/// A stamping failure as the service reports it: the document's fault, or ours.
fn stamp_error(e: StampError) -> ServiceError {
    match e {
        StampError::Load(_)
        | StampError::Placement(_)
        | StampError::Embed(embed::EmbedError::Damaged(_))
        | StampError::Embed(embed::EmbedError::Encrypted)
        | StampError::Embed(embed::EmbedError::NoSuchPage { .. }) => {
            ServiceError::UnprocessableDocument(e.to_string())
        }
        StampError::Sign(SignError::Timestamp(why)) => ServiceError::Upstream(why),
        other => ServiceError::Internal(format!("sealing a document: {other}")),
    }
}

fn shape_of(seal: &storage::SealRecord) -> SealShape {
    match seal.shape.as_str() {
        "square" => SealShape::Square,
        "oval" => SealShape::Oval,
        _ => SealShape::Round,
    }
}

impl App {
    /// Checks a new seal, makes its key and certificate under the root, and returns the record
    /// to store (nothing is stored here). Field errors name `field_prefix`-ed fields.
    pub(super) fn make_seal(
        &self,
        department_id: &str,
        department_name: &str,
        credit_code: &str,
        new: NewSeal,
        field_prefix: &str,
    ) -> Result<storage::SealRecord, ServiceError> {
        let invalid = |field: &str, message: String| ServiceError::InvalidField {
            field: format!("{field_prefix}{field}"),
            message,
        };
        let shape = new.shape.unwrap_or(SealShape::Round);
        let trimmed = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let name = trimmed(new.name).unwrap_or_else(|| {
            if shape == SealShape::Round {
                "公章".into()
            } else {
                "法定代表人名章".into()
            }
        });
        if name.chars().count() > MAX_SEAL_NAME_CHARS {
            return Err(invalid(
                "name",
                format!("must be at most {MAX_SEAL_NAME_CHARS} characters"),
            ));
        }
        let person_name = trimmed(new.person_name);
        match (shape, &person_name) {
            (SealShape::Round, Some(_)) => {
                return Err(invalid(
                    "person_name",
                    "only square and oval name seals carry a person's name".into(),
                ))
            }
            (SealShape::Square | SealShape::Oval, None) => {
                return Err(invalid(
                    "person_name",
                    "a name seal needs the person's name".into(),
                ))
            }
            (_, Some(person)) if person.chars().count() > MAX_PERSON_NAME_CHARS => {
                return Err(invalid(
                    "person_name",
                    format!("must be at most {MAX_PERSON_NAME_CHARS} characters"),
                ))
            }
            _ => {}
        }
        let code = trimmed(new.code);
        if let Some(code) = &code {
            if code.len() != 13 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("code", "must be 13 digits".into()));
            }
        }
        let record = |certificate: Vec<u8>, sealed_key: Vec<u8>| -> Result<_, ServiceError> {
            Ok(storage::SealRecord {
                id: random_id()?,
                department_id: department_id.to_string(),
                name: name.clone(),
                seal_code: code.clone(),
                certificate,
                sealed_key,
                created_at: now_rfc3339(),
                shape: serde_json::to_value(shape)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "round".into()),
                person_name: person_name.clone(),
                revoked_at: None,
            })
        };
        // Check the impression can be drawn before a key is made.
        let draft = record(Vec::new(), Vec::new())?;
        crate::pdf::appearance::check(&impression_of(department_name, &draft), &self.font)
            .map_err(|e| {
                let field = if shape == SealShape::Round {
                    "name"
                } else {
                    "person_name"
                };
                invalid(field, e.to_string())
            })?;
        let seal_name = match &person_name {
            Some(person) => format!("{name}（{person}）"),
            None => name.clone(),
        };
        let issued = self.root.issue_seal(
            &SealSubject {
                department: department_name,
                credit_code,
                seal_name: &seal_name,
                status: Some(&super::status_urls(&self.public_url)),
            },
            SEAL_CERT_YEARS,
            &self.master,
        )?;
        Ok(storage::SealRecord {
            certificate: issued.certificate_der,
            sealed_key: issued.sealed_key,
            ..draft
        })
    }

    /// Registers another seal for a department (administrator only).
    pub async fn add_seal(
        &self,
        principal: &Principal,
        department_id: &str,
        new: NewSeal,
    ) -> Result<SealView, ServiceError> {
        principal.require_admin("registers seals")?;
        let department = self
            .store
            .department(department_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("department {department_id}")))?;
        let seal = self.make_seal(
            &department.id,
            &department.name,
            &department.credit_code,
            new,
            "",
        )?;
        let mut tx = self.store.begin().await?;
        write::seal(&mut tx, &seal).await?;
        self.log(
            &mut tx,
            &audit_event(
                principal,
                "seal.register",
                &format!("{}/{}", department.credit_code, seal.id),
                Some(hex(&sha256(&seal.certificate))),
            )?,
        )
        .await?;
        tx.commit().await.map_err(StorageError::from)?;
        Ok(SealView::of(&seal))
    }

    /// Revokes a seal's certificate (administrator only): from now on the root's CRL lists
    /// it, verification refuses signatures not proven by a time-stamp to be older, and the
    /// seal no longer stamps.
    pub async fn revoke_seal(
        &self,
        principal: &Principal,
        seal_id: &str,
    ) -> Result<SealView, ServiceError> {
        principal.require_admin("revokes seals")?;
        let seal = self
            .store
            .seal(seal_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("seal {seal_id}")))?;
        // Whole seconds, as the CRL states it, so that every verifier compares the same time.
        let now = OffsetDateTime::now_utc();
        let at = super::rfc3339(now.replace_nanosecond(0).unwrap_or(now));
        let mut tx = self.store.begin().await?;
        if !write::revoke_seal(&mut tx, seal_id, &at).await? {
            return Err(ServiceError::Conflict(format!(
                "seal {seal_id} was revoked at {}",
                seal.revoked_at.unwrap_or_default()
            )));
        }
        self.log(
            &mut tx,
            &audit_event(
                principal,
                "seal.revoke",
                seal_id,
                Some(hex(&sha256(&seal.certificate))),
            )?,
        )
        .await?;
        tx.commit().await.map_err(StorageError::from)?;
        self.checks.forget_trust();
        Ok(SealView::of(&storage::SealRecord {
            revoked_at: Some(at),
            ..seal
        }))
    }

    /// The root's current CRL (DER), listing every revoked seal certificate.
    pub async fn crl(&self) -> Result<Vec<u8>, ServiceError> {
        let revocations = self.revocations().await?;
        let now = OffsetDateTime::now_utc();
        // Numbers grow with time, as RFC 5280 §5.2.3 asks, without a counter to store.
        let number = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or_default();
        Ok(self.root.crl(&revocations, number, now)?)
    }

    /// The root's OCSP answer (DER `OCSPResponse`) to a DER `OCSPRequest`.
    pub async fn ocsp(&self, request: &[u8]) -> Result<Vec<u8>, ServiceError> {
        let revocations = self.revocations().await?;
        Ok(crate::pki::ocsp::respond(
            &self.root,
            request,
            &revocations,
            OffsetDateTime::now_utc(),
        )?)
    }

    /// The revoked seal certificates with their serial numbers and revocation times.
    pub(super) async fn revocations(&self) -> Result<Vec<Revocation>, ServiceError> {
        self.store
            .revoked_seals()
            .await?
            .into_iter()
            .map(|seal| {
                let (_, certificate) = x509_parser::parse_x509_certificate(&seal.certificate)
                    .map_err(|e| ServiceError::Internal(format!("seal certificate: {e}")))?;
                let at = seal
                    .revoked_at
                    .as_deref()
                    .and_then(|at| OffsetDateTime::parse(at, &Rfc3339).ok())
                    .ok_or_else(|| ServiceError::Internal("a malformed revocation time".into()))?;
                Ok(Revocation {
                    serial: certificate.raw_serial().to_vec(),
                    at,
                })
            })
            .collect()
    }

    /// A department's seals, for an administrator or the department itself.
    pub async fn seals(
        &self,
        principal: &Principal,
        department_id: &str,
    ) -> Result<Vec<SealView>, ServiceError> {
        match principal {
            Principal::Admin { .. } => {}
            Principal::Department {
                department_id: own, ..
            } if own == department_id => {}
            Principal::Department { .. } | Principal::Counter { .. } | Principal::Holder { .. } => {
                return Err(ServiceError::Forbidden(
                    "a department sees only its own seals".into(),
                ))
            }
        }
        if self.store.department(department_id).await?.is_none() {
            return Err(ServiceError::NotFound(format!(
                "department {department_id}"
            )));
        }
        let seals = self.store.seals_of(department_id).await?;
        Ok(seals.iter().map(SealView::of).collect())
    }

    /// A registered seal's impression as an SVG picture, for web pages.
    pub async fn seal_svg(&self, seal_id: &str) -> Result<String, ServiceError> {
        let seal = self
            .store
            .seal(seal_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("seal {seal_id}")))?;
        let department = self
            .store
            .department(&seal.department_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("department".into()))?;
        crate::pdf::appearance::svg(&impression_of(&department.name, &seal), &self.font)
            .map_err(|e| ServiceError::Internal(format!("drawing seal {seal_id}: {e}")))
    }

    /// Stamps a department's document with one of its own seals (department only): the input
    /// bytes followed by one incremental update carrying the PAdES signature and the visible
    /// impression. The stamping is recorded with the digests of input and output.
    pub async fn seal_document(
        self: &Arc<Self>,
        principal: &Principal,
        pdf: Vec<u8>,
        request: SealRequest,
    ) -> Result<SealedDocument, ServiceError> {
        let Principal::Department { department_id, .. } = principal else {
            return Err(ServiceError::Forbidden(
                "only a department stamps documents".into(),
            ));
        };
        let (department, seal, key) = self
            .signing_seal(department_id, request.seal_id.as_deref())
            .await?;
        let input_digest = hex(&sha256(&pdf));
        let app = Arc::clone(self);
        let placement = request.placement;
        let password = request.password;
        let level = request.level;
        let validation_data = match level >= SealLevel::LongTerm {
            true => Some(
                self.validation_data(vec![key.certificate_der().to_vec()])
                    .await?,
            ),
            false => None,
        };
        let appearance = self.seal_form(&department.name, &seal)?;
        let sealed = tokio::task::spawn_blocking(move || {
            let chain = [app.root.certificate_der().to_vec()];
            let stamp = Stamp {
                key: &key,
                chain: &chain,
                appearance: &appearance,
                placement,
                signer_name: &department.name,
                reason: "电子印章盖章",
                location: &department.name,
                password: password.as_deref(),
                timestamper: (level >= SealLevel::Timestamped).then(|| app.seal_timestamper()),
            };
            let now = OffsetDateTime::now_utc();
            let stamped = seal::stamp(pdf, &stamp, now)?;
            let Some(data) = validation_data else {
                return Ok(stamped);
            };
            let with_data =
                dss::add_validation_data(stamped.into_vec(), &data, password.as_deref())?;
            match level {
                SealLevel::Archival => seal::timestamp_document(
                    with_data.into_vec(),
                    app.seal_timestamper(),
                    password.as_deref(),
                    now,
                ),
                _ => Ok(with_data),
            }
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
        .map_err(stamp_error)?;
        let mut tx = self.store.begin().await?;
        let audit = self
            .log(
                &mut tx,
                &audit_event(
                    principal,
                    "document.seal",
                    &format!("sha256:{input_digest}"),
                    Some(hex(&sealed.sha256())),
                )?,
            )
            .await?;
        tx.commit().await.map_err(StorageError::from)?;
        Ok(SealedDocument { pdf: sealed, audit })
    }

    /// Brings a signed PDF to PAdES B-LTA, or renews its archive time-stamp (departments and
    /// administrators): one update adds the certificates of every signature in it, ours and
    /// the authority's, and the current CRL to the DSS; a second adds a document time-stamp
    /// over everything. Earlier signatures stay valid.
    pub async fn archive_document(
        self: &Arc<Self>,
        principal: &Principal,
        pdf: Vec<u8>,
        password: Option<String>,
    ) -> Result<SealedDocument, ServiceError> {
        if !matches!(
            principal,
            Principal::Admin { .. } | Principal::Department { .. }
        ) {
            return Err(ServiceError::Forbidden(
                "departments and administrators archive documents".into(),
            ));
        }
        let report = self.check_pdf(pdf.clone(), password.clone()).await?;
        if report.signatures.is_empty() {
            return Err(ServiceError::UnprocessableDocument(
                "the document has no signature to preserve".into(),
            ));
        }
        let signers = report
            .signatures
            .iter()
            .filter_map(|signature| signature.signer.as_ref().map(|s| s.der.clone()))
            .collect();
        let data = self.validation_data(signers).await?;
        let input_digest = hex(&sha256(&pdf));
        let app = Arc::clone(self);
        let archived = tokio::task::spawn_blocking(move || {
            let with_data = dss::add_validation_data(pdf, &data, password.as_deref())?;
            seal::timestamp_document(
                with_data.into_vec(),
                app.seal_timestamper(),
                password.as_deref(),
                OffsetDateTime::now_utc(),
            )
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
        .map_err(stamp_error)?;
        let mut tx = self.store.begin().await?;
        let audit = self
            .log(
                &mut tx,
                &audit_event(
                    principal,
                    "document.archive",
                    &format!("sha256:{input_digest}"),
                    Some(hex(&archived.sha256())),
                )?,
            )
            .await?;
        tx.commit().await.map_err(StorageError::from)?;
        Ok(SealedDocument {
            pdf: archived,
            audit,
        })
    }

    /// What a validator needs for these signers' certificates (B-LT): them, the root, the
    /// time-stamping authority's certificate and the current CRL.
    async fn validation_data(
        &self,
        mut certificates: Vec<Vec<u8>>,
    ) -> Result<ValidationData, ServiceError> {
        certificates.push(self.root.certificate_der().to_vec());
        certificates.push(self.tsa.certificate_der().to_vec());
        certificates.dedup();
        Ok(ValidationData {
            certificates,
            crls: vec![self.crl().await?],
        })
    }

    /// The department, the seal it stamps with (its own: `seal_id`, or its first not revoked)
    /// and that seal's unsealed key.
    /// `seal`'s impression for `department_name`, laid out on first use and kept: laying out
    /// and subsetting the font took half the time of sealing a licence.
    pub(super) fn seal_form(
        &self,
        department_name: &str,
        seal: &storage::SealRecord,
    ) -> Result<Arc<SealForm>, ServiceError> {
        let key = (seal.id.clone(), department_name.to_string());
        let cached = self
            .seal_forms
            .lock()
            .ok()
            .and_then(|forms| forms.get(&key).cloned());
        if let Some(form) = cached {
            return Ok(form);
        }
        let form = Arc::new(
            SealForm::new(&impression_of(department_name, seal), &self.font)
                .map_err(|e| ServiceError::Internal(format!("laying out the seal: {e}")))?,
        );
        if let Ok(mut forms) = self.seal_forms.lock() {
            forms.insert(key, Arc::clone(&form));
        }
        Ok(form)
    }

    pub(super) async fn signing_seal(
        &self,
        department_id: &str,
        seal_id: Option<&str>,
    ) -> Result<(storage::DepartmentRecord, storage::SealRecord, SealKey), ServiceError> {
        let department = self
            .store
            .department(department_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("department".into()))?;
        let seal = match seal_id {
            Some(id) => {
                let seal = self
                    .store
                    .seal(id)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(format!("seal {id}")))?;
                if seal.department_id != department_id {
                    return Err(ServiceError::Forbidden(
                        "a department stamps only with its own seals".into(),
                    ));
                }
                seal
            }
            None => self
                .store
                .seals_of(department_id)
                .await?
                .into_iter()
                .find(|seal| seal.revoked_at.is_none())
                .ok_or_else(|| ServiceError::NotFound("seal of this department in force".into()))?,
        };
        if let Some(revoked_at) = &seal.revoked_at {
            return Err(ServiceError::Forbidden(format!(
                "seal {} was revoked at {revoked_at} and no longer stamps",
                seal.id
            )));
        }
        let key = SealKey::open(seal.certificate.clone(), &seal.sealed_key, &self.master)?;
        Ok((department, seal, key))
    }
}
