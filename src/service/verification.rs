//! Verification for service counters and other departments: licences by identifier, QR
//! payload or the PDF itself; sealed PDFs against our root and the registered foreign roots
//! (互认互验). Every verification is recorded (who, what, verdict), never the document.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use time::Date;
use utoipa::ToSchema;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::licence_cache;
use super::trust::{StoredPdfCheck, TrustState};
use super::{hex, now_rfc3339, random_id, sha256, App, LicenceView, Principal, ServiceError};
use crate::licence::credential::{self, LicenceClaims};
use crate::pdf::appearance::SealShape;
use crate::pdf::validate::{self, PdfReport, SignatureReport, SubIndication, Verdict};
use crate::storage::{self, write, StorageError};

/// Longest a PDF verification may take before it is abandoned as too complex.
const VERIFY_BUDGET: Duration = Duration::from_secs(30);

/// The answer to "is this licence genuine and valid?".
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LicenceVerification {
    /// The stored PDF's seal is intact and chains to our root, and the record matches it.
    pub genuine: bool,
    /// The licence.
    pub licence: LicenceView,
    /// The answer to "was it valid on DATE?", when a date was asked about.
    #[schema(required = true)]
    pub status_on: Option<StatusOn>,
    /// Why `genuine` is false, if it is.
    pub problems: Vec<String>,
    /// The check of a scanned QR code's signed payload, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub qr_signature: Option<QrSignature>,
}

/// The online check of a QR code's signed payload: the same check a counter does offline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QrSignature {
    /// The department's signature holds under a published certificate, and the payload
    /// matches its URL.
    pub valid: bool,
    /// The signed facts, when the signature holds.
    #[schema(required = true)]
    pub claims: Option<LicenceClaims>,
    /// What is wrong, when it does not.
    #[schema(required = true)]
    pub problem: Option<String>,
}

/// Whether a licence version was in force on a day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusOn {
    /// The day asked about (`YYYY-MM-DD`).
    pub date: String,
    /// It was issued by then, not yet replaced by a newer version, and within its validity.
    pub valid: bool,
    /// `valid`, `not_yet_issued`, `not_yet_valid`, `superseded`, `expired`, `suspended`,
    /// `revoked` or `cancelled`, as the licence's history says it was on that day.
    pub status: String,
}

/// The answer to "are the seals on this PDF genuine?".
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PdfVerification {
    /// Worst verdict over the signatures: `valid`, `untrusted`, `modified`, `broken`, or
    /// `unsigned` when there is none.
    pub verdict: String,
    /// `verdict == "valid"`.
    pub valid: bool,
    /// The verdict for people, in Chinese.
    pub summary: String,
    /// Per signature, oldest first.
    pub signatures: Vec<VerifiedSignature>,
    /// The licence this file is, when it is one we issued (matched by its SHA-256).
    #[schema(required = true)]
    pub licence: Option<LicenceView>,
}

/// One signature's findings, with what we know about its seal and trust root.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifiedSignature {
    /// The verifier's findings (see [`SignatureReport`]).
    #[serde(flatten)]
    pub report: SignatureReport,
    /// Which of our registered seals made it, if one did.
    #[schema(required = true)]
    pub seal: Option<SealOrigin>,
    /// The trust root is a registered foreign root, not ours.
    pub foreign: bool,
}

/// A seal registered here, as named in verification answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SealOrigin {
    /// Seal id.
    pub seal_id: String,
    /// Seal name, e.g. 行政审批专用章.
    pub seal_name: String,
    /// Outline of the impression.
    pub shape: SealShape,
    /// The department owning it.
    pub department: String,
    /// Its credit code.
    pub credit_code: String,
}

/// A foreign trust root as shown to clients.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrustRootView {
    /// Id (for removal).
    pub id: String,
    /// Subject name.
    pub subject: String,
    /// Hex SHA-256 of the DER certificate.
    pub sha256: String,
    /// When it was registered.
    pub added_at: String,
    /// When it stopped being trusted.
    #[schema(required = true)]
    pub removed_at: Option<String>,
}

impl TrustRootView {
    fn of(record: &storage::TrustRootRecord) -> TrustRootView {
        TrustRootView {
            id: record.id.clone(),
            subject: record.subject.clone(),
            sha256: record.sha256.clone(),
            added_at: record.added_at.clone(),
            removed_at: record.removed_at.clone(),
        }
    }
}

impl App {
    /// Verifies a licence by identifier (or stem, for its newest version): is its stored PDF
    /// genuine, what is its status today, and (with `on`) was it valid on that day? The
    /// verification is recorded.
    pub async fn verify_licence(
        &self,
        caller: Option<&Principal>,
        id: &str,
        on: Option<Date>,
    ) -> Result<LicenceVerification, ServiceError> {
        let answer = self.check_licence(id, on).await?;
        self.record_licence_verification(caller, "verify.licence", &answer)
            .await?;
        Ok(answer)
    }

    /// Records a licence verification: its identifier and the answer.
    async fn record_licence_verification(
        &self,
        caller: Option<&Principal>,
        action: &str,
        answer: &LicenceVerification,
    ) -> Result<(), ServiceError> {
        let outcome = if answer.genuine {
            answer.licence.status.clone()
        } else {
            "not_genuine".into()
        };
        self.record(caller, action, &answer.licence.identifier, None, &outcome)
            .await
    }

    /// The answer of [`App::verify_licence`], unrecorded.
    async fn check_licence(
        &self,
        id: &str,
        on: Option<Date>,
    ) -> Result<LicenceVerification, ServiceError> {
        let found = self.find_kept(id).await?;
        let (licence, version, department) = &*found;
        let check = self
            .check_stored_pdf(version, &department.credit_code)
            .await?;
        let genuine = check.problems.is_empty() && check.valid_and_trusted;
        let problems = check.problems;
        let status_on = match on {
            Some(day) => Some(self.status_on(licence, version, day).await?),
            None => None,
        };
        Ok(LicenceVerification {
            genuine,
            licence: self.view(licence, version, department, self.today()),
            status_on,
            problems,
            qr_signature: None,
        })
    }

    /// A licence version with its licence and department as [`App::find_in_full`] reads it,
    /// or as it was read for another verification a moment ago, with no change to any
    /// licence since ([`super::licence_cache`]).
    async fn find_kept(&self, id: &str) -> Result<Arc<licence_cache::InFull>, ServiceError> {
        if let Some(found) = self.licences.get(id) {
            return Ok(found);
        }
        let generation = self.licences.generation();
        let read_at = Instant::now();
        let found = Arc::new(self.find_in_full(id).await?);
        self.licences
            .keep(id, generation, read_at, Arc::clone(&found));
        Ok(found)
    }

    /// Verifies the licence a QR code names, from its text as scanned: the verification URL
    /// printed on the licence with its signed payload, or a bare identifier or token. The
    /// payload's signature is checked as a counter would offline, and the licence as by
    /// [`App::verify_licence`]; a payload that fails makes the answer not genuine.
    pub async fn verify_qr(
        &self,
        caller: Option<&Principal>,
        payload: &str,
        on: Option<Date>,
    ) -> Result<LicenceVerification, ServiceError> {
        let not_a_code = || {
            ServiceError::InvalidField {
            field: "payload".into(),
            message: "not a licence QR code: expected a verification URL, an identifier or a signed payload"
                .into(),
        }
        };
        let scanned = credential::scan(payload);
        let qr_signature = match scanned.token {
            None => None,
            Some(_) => {
                let certificates = self.certificate_set().await?;
                Some(
                    match credential::verify_offline(payload, &certificates, self.today()) {
                        Ok(check) => QrSignature {
                            valid: true,
                            claims: Some(check.claims),
                            problem: None,
                        },
                        Err(e) => QrSignature {
                            valid: false,
                            claims: None,
                            problem: Some(e.to_string()),
                        },
                    },
                )
            }
        };
        let signed_id = qr_signature
            .as_ref()
            .and_then(|check| check.claims.as_ref())
            .map(|claims| claims.sub.clone());
        let id = scanned
            .identifier
            .map(str::to_string)
            .or(signed_id)
            .filter(|id| !id.contains(char::is_whitespace))
            .ok_or_else(not_a_code)?;
        let mut answer = self.check_licence(&id, on).await?;
        if let Some(check) = &qr_signature {
            if let Some(problem) = &check.problem {
                answer.genuine = false;
                answer
                    .problems
                    .push(format!("the QR code's signed payload: {problem}"));
            }
        }
        answer.qr_signature = qr_signature;
        self.record_licence_verification(caller, "verify.qr", &answer)
            .await?;
        Ok(answer)
    }

    /// Verifies the seals on an uploaded PDF against our root and the foreign roots in force,
    /// opening an encrypted file with its user `password`. Records the verification (digest
    /// and verdict, not the file).
    pub async fn verify_pdf(
        &self,
        caller: Option<&Principal>,
        pdf: Vec<u8>,
        password: Option<String>,
    ) -> Result<PdfVerification, ServiceError> {
        let digest = hex(&sha256(&pdf));
        let report = match self.check_pdf(pdf, password).await {
            Ok(report) => report,
            Err(e) => {
                let outcome = format!("refused: {e}");
                let object = format!("sha256:{digest}");
                self.record(caller, "verify.pdf", &object, Some(&digest), &outcome)
                    .await?;
                return Err(e);
            }
        };
        // The signature the verdict is about: the worst one.
        let worst_sub_indication = report
            .signatures
            .iter()
            .min_by_key(|s| s.verdict)
            .and_then(|s| s.sub_indication);
        let verdict = match report.verdict() {
            None => "unsigned",
            Some(Verdict::Broken) => "broken",
            Some(Verdict::Modified) => "modified",
            Some(Verdict::Revoked) => "revoked",
            Some(Verdict::Untrusted) => "untrusted",
            Some(Verdict::Valid) => "valid",
        };
        let licence = match self.store.licence_by_pdf_digest(&digest).await? {
            Some((licence, version)) => {
                let department = self.store.department(&licence.department_id).await?;
                department.map(|d| self.view(&licence, &version, &d, self.today()))
            }
            None => None,
        };
        let our_root = X509Certificate::from_der(self.root.certificate_der())
            .map(|(_, c)| c.subject().to_string())
            .ok();
        let mut signatures = Vec::with_capacity(report.signatures.len());
        for signature in report.signatures {
            let seal = match &signature.signer {
                Some(signer) => self.seal_origin(&signer.der).await?,
                None => None,
            };
            let foreign = signature.chain_trusted
                && signature.trust_anchor_subject.is_some()
                && signature.trust_anchor_subject != our_root;
            signatures.push(VerifiedSignature {
                report: signature,
                seal,
                foreign,
            });
        }
        self.record(
            caller,
            "verify.pdf",
            &format!("sha256:{digest}"),
            Some(&digest),
            verdict,
        )
        .await?;
        Ok(PdfVerification {
            verdict: verdict.into(),
            valid: verdict == "valid",
            summary: summary_in_chinese(verdict, worst_sub_indication).into(),
            signatures,
            licence,
        })
    }

    /// Trusts another department's or province's root for verification (administrator only).
    pub async fn add_trust_root(
        &self,
        principal: &Principal,
        pem: &str,
    ) -> Result<TrustRootView, ServiceError> {
        principal.require_admin("registers trust roots")?;
        let invalid = |message: String| ServiceError::InvalidField {
            field: "body".into(),
            message,
        };
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|e| invalid(format!("not a PEM certificate: {e}")))?;
        if block.label != "CERTIFICATE" {
            return Err(invalid(format!(
                "the PEM block is a {}, not a CERTIFICATE",
                block.label
            )));
        }
        let (_, certificate) = X509Certificate::from_der(&block.contents)
            .map_err(|e| invalid(format!("not an X.509 certificate: {e}")))?;
        if !certificate.is_ca() {
            return Err(invalid(
                "the certificate is not a CA certificate (basicConstraints cA is not set)".into(),
            ));
        }
        let digest = hex(&sha256(&block.contents));
        let existing = self.store.active_trust_roots().await?;
        if existing.iter().any(|r| r.sha256 == digest)
            || block.contents == self.root.certificate_der()
        {
            return Err(ServiceError::Conflict(
                "this root is already trusted".into(),
            ));
        }
        let record = storage::TrustRootRecord {
            id: random_id()?,
            subject: certificate.subject().to_string(),
            certificate: block.contents.clone(),
            sha256: digest.clone(),
            added_at: now_rfc3339(),
            removed_at: None,
        };
        let mut tx = self.store.begin().await?;
        write::trust_root(&mut tx, &record).await?;
        self.log(
            &mut tx,
            &super::audit_event(principal, "trust_root.add", &record.subject, Some(digest))?,
        )
        .await?;
        tx.commit().await.map_err(StorageError::from)?;
        self.checks.forget_trust();
        Ok(TrustRootView::of(&record))
    }

    /// The foreign trust roots in force.
    pub async fn trust_roots(&self) -> Result<Vec<TrustRootView>, ServiceError> {
        let roots = self.store.active_trust_roots().await?;
        Ok(roots.iter().map(TrustRootView::of).collect())
    }

    /// Stops trusting a foreign root (administrator only); its record stays, marked removed.
    pub async fn remove_trust_root(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<TrustRootView, ServiceError> {
        principal.require_admin("removes trust roots")?;
        let record = self
            .store
            .trust_root(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("trust root {id}")))?;
        let mut tx = self.store.begin().await?;
        if !write::remove_trust_root(&mut tx, id, &now_rfc3339()).await? {
            return Err(ServiceError::NotFound(format!("trust root {id} in force")));
        }
        self.log(
            &mut tx,
            &super::audit_event(
                principal,
                "trust_root.remove",
                &record.subject,
                Some(record.sha256.clone()),
            )?,
        )
        .await?;
        tx.commit().await.map_err(StorageError::from)?;
        self.checks.forget_trust();
        let record = self.store.trust_root(id).await?.unwrap_or(record);
        Ok(TrustRootView::of(&record))
    }

    /// The newest audit events (administrator only).
    pub async fn recent_audit_events(
        &self,
        principal: &Principal,
        limit: i64,
    ) -> Result<Vec<storage::AuditEvent>, ServiceError> {
        principal.require_admin("reads the audit trail")?;
        Ok(self.store.recent_audit_events(limit.clamp(1, 1000)).await?)
    }

    /// Checks the stored PDF of a licence version issued by the department with `issuer`
    /// credit code: its seal is intact and trusted, it is the department's, and the bytes are
    /// those recorded. A check is reused while the trust in force and the PDF are the same.
    async fn check_stored_pdf(
        &self,
        version: &storage::LicenceVersionRecord,
        issuer: &str,
    ) -> Result<StoredPdfCheck, ServiceError> {
        let trust = self.trust_state().await?;
        if let Some(check) = self.checks.check(&version.pdf_sha256, &trust) {
            return Ok(check);
        }
        let pdf = self
            .store
            .licence_pdf(&version.identifier)
            .await?
            .ok_or_else(|| ServiceError::Internal("licence version without its PDF".into()))?;
        let mut problems = Vec::new();
        if hex(&sha256(&pdf)) != version.pdf_sha256 {
            problems.push("the stored PDF does not match its recorded digest".into());
        }
        let report = self.check_pdf_under(pdf, None, &trust).await?;
        problems.extend(
            report
                .signatures
                .iter()
                .flat_map(|s| s.problems.iter().cloned()),
        );
        if report.signatures.is_empty() {
            problems.push("the stored PDF carries no seal".into());
        }
        let seal_matches_issuer = report.signatures.iter().all(|s| {
            s.signer
                .as_ref()
                .is_some_and(|signer| signer.subject.contains(issuer))
        });
        if !seal_matches_issuer {
            problems.push("the seal does not belong to the issuing department".into());
        }
        let check = StoredPdfCheck {
            problems,
            valid_and_trusted: report.all_valid_and_trusted(),
        };
        self.checks.keep(&version.pdf_sha256, &trust, check.clone());
        Ok(check)
    }

    /// Verifies a PDF against our root and the foreign roots in force, off the async
    /// runtime and within [`VERIFY_BUDGET`].
    pub(super) async fn check_pdf(
        &self,
        pdf: Vec<u8>,
        password: Option<String>,
    ) -> Result<PdfReport, ServiceError> {
        let trust = self.trust_state().await?;
        self.check_pdf_under(pdf, password, &trust).await
    }

    /// [`App::check_pdf`] under the given trust.
    async fn check_pdf_under(
        &self,
        pdf: Vec<u8>,
        password: Option<String>,
        trust: &TrustState,
    ) -> Result<PdfReport, ServiceError> {
        let anchors = Arc::clone(&trust.anchors);
        let work = tokio::task::spawn_blocking(move || {
            validate::verify_pdf(&pdf, &anchors, password.as_deref())
        });
        match tokio::time::timeout(VERIFY_BUDGET, work).await {
            Err(_) => Err(ServiceError::UnprocessableDocument(format!(
                "verifying the document took longer than {} s; it is too complex",
                VERIFY_BUDGET.as_secs()
            ))),
            Ok(joined) => joined
                .map_err(|e| ServiceError::Internal(e.to_string()))?
                .map_err(|e| ServiceError::UnprocessableDocument(e.to_string())),
        }
    }

    async fn seal_origin(&self, certificate: &[u8]) -> Result<Option<SealOrigin>, ServiceError> {
        let Some(seal) = self.store.seal_by_certificate(certificate).await? else {
            return Ok(None);
        };
        let Some(department) = self.store.department(&seal.department_id).await? else {
            return Ok(None);
        };
        Ok(Some(SealOrigin {
            shape: super::seals::impression_of(&department.name, &seal).shape,
            seal_id: seal.id,
            seal_name: seal.name,
            department: department.name,
            credit_code: department.credit_code,
        }))
    }

    /// Whether `version` of `licence` was in force on `day`, from the licence's signed event
    /// history: the last event on or before that day gives the status and the version in
    /// force then.
    async fn status_on(
        &self,
        licence: &storage::LicenceRecord,
        version: &storage::LicenceVersionRecord,
        day: Date,
    ) -> Result<StatusOn, ServiceError> {
        let date = day.to_string();
        let events = self.store.licence_events(&licence.stem).await?;
        let in_force = events
            .iter()
            .rev()
            .find(|e| e.at.get(..10).is_some_and(|on| on <= date.as_str()));
        let status = match in_force {
            None => "not_yet_issued".to_string(),
            Some(e) if e.version > version.version => "superseded".to_string(),
            Some(e) if e.version < version.version => "not_yet_issued".to_string(),
            Some(e) if e.status != super::STATUS_VALID => super::status_name(&e.status).to_string(),
            Some(_) if date < version.valid_from => "not_yet_valid".to_string(),
            Some(_) if version.valid_to.as_ref().is_some_and(|to| &date > to) => {
                "expired".to_string()
            }
            Some(_) => "valid".to_string(),
        };
        Ok(StatusOn {
            date,
            valid: status == "valid",
            status,
        })
    }
}

/// The verdict in plain Chinese, for people at a service counter; `why` (the worst signature's
/// sub-indication) tells an expired certificate from an unknown signer, and a malformed
/// signature from a tampered file (篡改 only when a digest or signature fails).
pub fn summary_in_chinese(verdict: &str, why: Option<SubIndication>) -> &'static str {
    match (verdict, why) {
        ("untrusted", Some(SubIndication::OutOfBoundsNoPoe)) => {
            "文件未被改动，但盖章证书已过期或尚未生效，且没有时间戳证明盖章时证书有效：无法确认印章有效。"
        }
        ("untrusted", Some(SubIndication::CryptoConstraintsFailureNoPoe)) => {
            "文件未被改动，但签名使用的算法（SHA-1）已不安全，不能据以确认印章有效。"
        }
        ("broken", Some(SubIndication::FormatFailure)) => {
            "印章无效：签名的覆盖范围（ByteRange）格式不正确，无法确认盖章的内容。"
        }
        _ => summary_of(verdict),
    }
}

fn summary_of(verdict: &str) -> &'static str {
    match verdict {
        "valid" => "印章有效：文件自盖章以来未被改动，盖章单位的证书可信。",
        "untrusted" => "文件未被改动，但盖章证书不在本系统的信任列表中，无法确认盖章单位。",
        "modified" => "盖章后文件被改动过：改动部分不受印章保护，请向出具单位核实。",
        "broken" => "印章无效：文件在盖章后被篡改，或签名已损坏。",
        "revoked" => "印章证书已被吊销，且没有时间戳证明盖章早于吊销：印章不再有效。",
        _ => "文件中没有电子印章。",
    }
}
