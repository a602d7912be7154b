//! Issuing licences, one or many at a time: check the fields, take serial numbers, render and
//! seal the PDFs on every core, and store them with their events and audit entries in one
//! transaction. Lifecycle changes (a new version) go through the same rendering and sealing.

use std::sync::Arc;

use time::{Date, OffsetDateTime};

use super::{
    audit_event, hex, lifecycle, renderer, rfc3339, sha256, App, IssueRequest, LicenceView,
    Principal, ServiceError, STATUS_VALID,
};
use crate::domain::{CreditCode, DivisionCode, LicenceId, LicenceTypeCode, Serial, Version};
use crate::licence::credential::{self, LicenceClaims};
use crate::licence::{CheckedFields, PageFacts};
use crate::pdf::appearance::SealForm;
use crate::pdf::embed::UpdatedPdf;
use crate::pdf::sign::SignError;
use crate::pki::SealKey;
use crate::seal::{self, Placement, Stamp, StampError};
use crate::storage::{self, write, PdfReference, StorageError, StoredPdf};

/// Most rows [`App::issue_licences`] takes at once.
pub const MAX_BATCH: usize = 1000;

/// A licence version to render and seal.
pub(super) struct NewVersion {
    /// Template kind.
    pub kind: String,
    /// Its checked fields (numbered, if the kind numbers its licences).
    pub checked: CheckedFields,
    /// Its full identifier.
    pub identifier: LicenceId,
}

/// Who seals new versions, with which seal, and as of when.
pub(super) struct VersionSigner {
    pub department: storage::DepartmentRecord,
    pub seal: storage::SealRecord,
    pub key: SealKey,
    /// The seal's impression, laid out.
    pub appearance: Arc<SealForm>,
    /// Issue time of every version sealed.
    pub at: OffsetDateTime,
    /// The day they are issued on, in the administrative time zone (发证日期).
    pub issued_on: Date,
}

/// A sealed version: its record and its signed PDF, as it is to be stored.
pub(super) type SealedVersion = (storage::LicenceVersionRecord, StoredPdf);

impl App {
    /// Issues a licence (department only, as itself): checks the fields, assigns the
    /// identifier, renders and seals the PDF, and stores it with its audit event.
    pub async fn issue_licence(
        self: &Arc<Self>,
        principal: &Principal,
        request: IssueRequest,
    ) -> Result<LicenceView, ServiceError> {
        if let (Some(issuer), Principal::Department { credit_code, .. }) =
            (&request.issuer, principal)
        {
            if issuer.trim() != credit_code {
                return Err(ServiceError::Forbidden(format!(
                    "this API key issues only as department {credit_code}, not as {}",
                    issuer.trim()
                )));
            }
        }
        let mut issued = self
            .issue_licences(
                principal,
                &request.kind,
                request.seal_id.as_deref(),
                vec![request.fields],
            )
            .await?;
        issued
            .pop()
            .unwrap_or_else(|| Err(ServiceError::Internal("a licence went missing".into())))
    }

    /// Issues a licence of `kind` for each of `rows` (field values), as
    /// [`App::issue_licence`] does one, in one transaction: every licence whose fields are
    /// good is stored, or (if storing fails) none is. Returns each row's licence or what was
    /// wrong with it, in order; the outer error is for the whole batch (who may issue, an
    /// unknown kind or seal, storage). At most [`MAX_BATCH`] rows.
    pub async fn issue_licences(
        self: &Arc<Self>,
        principal: &Principal,
        kind: &str,
        seal_id: Option<&str>,
        rows: Vec<serde_json::Value>,
    ) -> Result<Vec<Result<LicenceView, ServiceError>>, ServiceError> {
        let Principal::Department { department_id, .. } = principal else {
            return Err(ServiceError::Forbidden(
                "only a department issues licences".into(),
            ));
        };
        if rows.len() > MAX_BATCH {
            return Err(ServiceError::TooLarge(format!(
                "at most {MAX_BATCH} licences are issued at once, not {}",
                rows.len()
            )));
        }
        let now = OffsetDateTime::now_utc();
        let today = self.today();
        let template = self.templates.get(kind)?;
        let checked: Vec<Result<CheckedFields, ServiceError>> = rows
            .iter()
            .map(|fields| Ok(template.check(fields, today)?))
            .collect();
        let signer = self.version_signer(department_id, seal_id, now).await?;
        let department = &signer.department;
        let internal = |e: &dyn std::fmt::Display| ServiceError::Internal(e.to_string());
        let issuer_code = CreditCode::parse(&department.credit_code).map_err(|e| internal(&e))?;
        let type_code = LicenceTypeCode::parse(&template.type_code)
            .map_err(|e| ServiceError::Internal(format!("template type code: {e}")))?;
        let division = DivisionCode::parse(&department.division_code).map_err(|e| internal(&e))?;

        let good = checked.iter().filter(|c| c.is_ok()).count();
        if good == 0 {
            // Every row is wrong: nothing to number or store.
            return Ok(checked
                .into_iter()
                .filter_map(Result::err)
                .map(Err)
                .collect());
        }
        let mut serial = self
            .reserve_serials(department_id, &template.kind, good as i64)
            .await?;
        let version = Version::first();
        // Each row's licence and signed issue event, or what is wrong with it; and the
        // versions to seal, in the same order as the good rows.
        let mut rows_issued = Vec::with_capacity(rows.len());
        let mut to_seal = Vec::with_capacity(good);
        for checked in checked {
            let row = checked.and_then(|mut checked| {
                let number = serial;
                serial += 1;
                template.assign_number(&mut checked, &division, number, today)?;
                let identifier = LicenceId::new(
                    &type_code,
                    &issuer_code,
                    &Serial::from_sequence(number),
                    version,
                );
                let event = lifecycle::signed_event(
                    &signer.key,
                    &signer.seal.id,
                    lifecycle::event(
                        principal.actor(),
                        &identifier.stem(),
                        "issue",
                        STATUS_VALID,
                        i64::from(version.get()),
                        "签发",
                        now,
                    )?,
                )?;
                let licence = storage::LicenceRecord {
                    stem: identifier.stem(),
                    kind: template.kind.clone(),
                    department_id: department_id.clone(),
                    holder_code: checked.holder_code.clone(),
                    holder_name: checked.holder_name.clone(),
                    current_version: i64::from(version.get()),
                    status: STATUS_VALID.into(),
                    created_at: rfc3339(now),
                };
                to_seal.push(NewVersion {
                    kind: template.kind.clone(),
                    checked,
                    identifier,
                });
                Ok((licence, event))
            });
            rows_issued.push(row);
        }

        let mut sealed = self.sealed_versions(to_seal, &signer).await?.into_iter();
        let rows_sealed: Vec<Result<_, ServiceError>> = rows_issued
            .into_iter()
            .map(|row| {
                let (licence, event) = row?;
                let (record, pdf) = sealed
                    .next()
                    .ok_or_else(|| internal(&"a sealed version is missing"))??;
                Ok((licence, record, pdf, event))
            })
            .collect();

        let mut tx = self.store.begin().await?;
        let mut audit_events = Vec::with_capacity(good);
        for (licence, record, pdf, event) in rows_sealed.iter().flatten() {
            write::licence(&mut tx, licence, record, pdf).await?;
            write::first_licence_event(&mut tx, event).await?;
            audit_events.push(audit_event(
                principal,
                "licence.issue",
                &record.identifier,
                Some(record.pdf_sha256.clone()),
            )?);
        }
        let receipts = self
            .append(&mut tx, &audit_events.iter().collect::<Vec<_>>())
            .await?;
        tx.commit().await.map_err(StorageError::from)?;

        let mut receipts = receipts.into_iter();
        Ok(rows_sealed
            .into_iter()
            .map(|row| {
                let (licence, record, _, _) = row?;
                Ok(LicenceView {
                    audit: receipts.next(),
                    ..self.view(&licence, &record, &signer.department, self.today())
                })
            })
            .collect())
    }

    /// The signer of new versions for a department: its seal `seal_id` (or its first in
    /// force), that seal's key and laid-out impression, as of `at`.
    pub(super) async fn version_signer(
        &self,
        department_id: &str,
        seal_id: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<Arc<VersionSigner>, ServiceError> {
        let (department, seal, key) = self.signing_seal(department_id, seal_id).await?;
        Ok(Arc::new(VersionSigner {
            appearance: self.seal_form(&department.name, &seal)?,
            department,
            seal,
            key,
            at,
            issued_on: self.today(),
        }))
    }

    /// Takes `count` consecutive serial numbers of the department's kind and returns the
    /// first, in a transaction of its own, so that the rendering and sealing that follow hold
    /// no lock and licences are issued in parallel. Numbers whose licence then fails stay
    /// unused: numbers are unique, not gapless.
    async fn reserve_serials(
        &self,
        department_id: &str,
        kind: &str,
        count: i64,
    ) -> Result<u64, ServiceError> {
        // Two first issues of a kind may both try to create its counter; the loser retries.
        for _ in 0..3 {
            let mut tx = self.store.begin().await?;
            match write::next_serials(&mut tx, department_id, kind, count).await {
                Ok(first) => {
                    tx.commit().await.map_err(StorageError::from)?;
                    return Ok(first);
                }
                Err(StorageError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unavailable(
            "the serial number counter is contended; try again".into(),
        ))
    }

    /// Renders and seals versions of one kind with `signer`'s seal, off the async runtime and
    /// spread over the cores; returns each one's record and PDF, or why it could not be
    /// rendered, in order. Each PDF is packed against the reference of the seal and kind;
    /// without one yet, the first version is sealed alone, kept as sealed, and packs the rest.
    pub(super) async fn sealed_versions(
        self: &Arc<Self>,
        versions: Vec<NewVersion>,
        signer: &Arc<VersionSigner>,
    ) -> Result<Vec<Result<SealedVersion, ServiceError>>, ServiceError> {
        let Some(kind) = versions.first().map(|v| v.kind.clone()) else {
            return Ok(Vec::new());
        };
        let mut reference = self.store.pdf_reference(&signer.seal.id, &kind).await?;
        let mut versions = versions.into_iter();
        let mut sealed = Vec::with_capacity(versions.len());
        if reference.is_none() {
            let first = self
                .sealed_shares(versions.by_ref().take(1).collect(), signer, None)
                .await?;
            reference = first.iter().flatten().find_map(|(record, pdf)| match pdf {
                StoredPdf::AsSealed(pdf) => {
                    Some(Arc::new(PdfReference::new(&record.identifier, pdf.clone())))
                }
                StoredPdf::Packed { .. } => None,
            });
            sealed.extend(first);
        }
        sealed.extend(
            self.sealed_shares(versions.collect(), signer, reference)
                .await?,
        );
        Ok(sealed)
    }

    /// Seals `versions`, a share per core, packing each PDF against `reference` if given.
    async fn sealed_shares(
        self: &Arc<Self>,
        versions: Vec<NewVersion>,
        signer: &Arc<VersionSigner>,
        reference: Option<Arc<PdfReference>>,
    ) -> Result<Vec<Result<SealedVersion, ServiceError>>, ServiceError> {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_worker = versions.len().div_ceil(workers).max(1);
        let mut versions = versions.into_iter();
        let mut running = Vec::with_capacity(workers);
        loop {
            let share: Vec<NewVersion> = versions.by_ref().take(per_worker).collect();
            if share.is_empty() {
                break;
            }
            let (app, signer, reference) =
                (Arc::clone(self), Arc::clone(signer), reference.clone());
            running.push(tokio::task::spawn_blocking(move || {
                share
                    .iter()
                    .map(|version| {
                        let (record, pdf) = app.seal_version(version, &signer)?;
                        let pdf = match reference {
                            None => StoredPdf::AsSealed(pdf),
                            Some(ref against) => StoredPdf::Packed {
                                packed: against.pack(&pdf)?,
                                against: Arc::clone(against),
                            },
                        };
                        Ok((record, pdf))
                    })
                    .collect::<Vec<_>>()
            }));
        }
        let mut sealed = Vec::new();
        for share in running {
            sealed.extend(
                share
                    .await
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
            );
        }
        Ok(sealed)
    }

    /// Renders one version with its signed QR code, seals it time-stamped (PAdES B-T, so the
    /// licence stays valid after the seal is revoked) and makes its record.
    fn seal_version(
        &self,
        version: &NewVersion,
        signer: &VersionSigner,
    ) -> Result<(storage::LicenceVersionRecord, Vec<u8>), ServiceError> {
        let NewVersion {
            kind,
            checked,
            identifier,
        } = version;
        let department = &signer.department;
        let template = self.templates.get(kind)?;
        let claims = LicenceClaims {
            iss: department.credit_code.clone(),
            sub: identifier.to_string(),
            iat: signer.at.unix_timestamp(),
            kn: template.name.clone(),
            hc: checked.holder_code.clone(),
            hn: checked.holder_name.clone(),
            vf: checked.valid_from.to_string(),
            vt: checked.valid_to.map(|d| d.to_string()),
        };
        let qr_text = credential::qr_text(
            &self.public_url,
            &identifier.to_string(),
            &credential::sign(&claims, &signer.key)?,
        );
        let identifier_text = identifier.to_string();
        let facts = PageFacts {
            identifier: &identifier_text,
            qr_payload: &qr_text,
            issuer_name: &department.name,
            issued_on: signer.issued_on,
        };
        let renderer = renderer()?;
        let document = template.layout(checked, &facts, renderer);
        let unsigned = renderer
            .render(&document)
            .map_err(|e| ServiceError::InvalidField {
                field: "fields".into(),
                message: e.to_string(),
            })?;
        let (x_mm, y_mm) = template.seal_centre_mm();
        let chain = [self.root.certificate_der().to_vec()];
        let stamp = Stamp {
            key: &signer.key,
            chain: &chain,
            appearance: &signer.appearance,
            placement: Placement {
                page: Some(1),
                x_mm: Some(x_mm),
                y_mm: Some(y_mm),
                keyword: None,
                cross_page: false,
            },
            signer_name: &department.name,
            reason: "电子证照签发",
            location: &department.name,
            password: None,
            timestamper: Some(self.seal_timestamper()),
        };
        let pdf = seal::stamp(unsigned, &stamp, signer.at)
            .map(UpdatedPdf::into_vec)
            .map_err(|e| match e {
                StampError::Sign(SignError::Timestamp(why)) => ServiceError::Upstream(why),
                other => ServiceError::Internal(format!("sealing the licence: {other}")),
            })?;
        let record = storage::LicenceVersionRecord {
            identifier: identifier_text,
            stem: identifier.stem(),
            version: i64::from(identifier.version().get()),
            fields: serde_json::to_string(&checked.values)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            valid_from: checked.valid_from.to_string(),
            valid_to: checked.valid_to.map(|d| d.to_string()),
            issued_at: rfc3339(signer.at),
            seal_id: signer.seal.id.clone(),
            pdf_sha256: hex(&sha256(&pdf)),
            qr_payload: Some(qr_text),
        };
        Ok((record, pdf))
    }
}
