//! A licence's life after issue: change (a new version), renewal (a new version with a new
//! validity), suspension and resumption, revocation and cancellation. Only the issuing
//! department changes its own licences; every change is an event signed with the department's
//! seal key and recorded; nothing is deleted, and every version stays retrievable.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Iso8601;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::issuing::NewVersion;
use super::{
    audit_event, random_id, rfc3339, status_name, App, LicenceView, Principal, ServiceError,
    STATUS_VALID,
};
use crate::domain::LicenceId;
use crate::pki::SealKey;
use crate::storage::{self, write, StorageError};

/// Longest reason for a change.
const MAX_REASON_CHARS: usize = 500;
/// Status code of an expired licence on the national platform (失效).
const STATUS_EXPIRED: &str = "05";
/// Who records expiries.
const EXPIRY_ACTOR: &str = "system:expiry";
/// Lapsed licences handled per query by the expiry sweep.
const EXPIRY_BATCH: i64 = 500;

/// A change or renewal: field values to change (the rest stay as they were).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVersionRequest {
    /// Field values that change; `null` removes an optional one. For a renewal of a kind
    /// whose validity comes from its fields, the new end of validity goes here.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Value>,
    /// Why (recorded and signed).
    pub reason: String,
    /// Seal to sign the new version with; defaults to the department's first seal.
    #[serde(default)]
    pub seal_id: Option<String>,
}

/// What a new version is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionKind {
    /// 变更: the facts changed.
    Change,
    /// 延续: the validity starts again from today (or as the new fields say).
    Renewal,
}

/// A status change.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// What to do.
    pub action: StatusAction,
    /// Why (recorded and signed).
    pub reason: String,
}

/// The status changes a department can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusAction {
    /// 暂扣: valid → suspended.
    Suspend,
    /// 恢复: suspended → valid.
    Resume,
    /// 撤销: valid or suspended → revoked, for good.
    Revoke,
    /// 注销: valid or suspended → cancelled, for good.
    Cancel,
}

impl StatusAction {
    fn name(self) -> &'static str {
        match self {
            StatusAction::Suspend => "suspend",
            StatusAction::Resume => "resume",
            StatusAction::Revoke => "revoke",
            StatusAction::Cancel => "cancel",
        }
    }

    /// The status code after the action, if the action is allowed from `current`.
    fn next(self, current: &str) -> Option<&'static str> {
        match (self, current) {
            (StatusAction::Suspend, STATUS_VALID) => Some("02"),
            (StatusAction::Resume, "02") => Some(STATUS_VALID),
            (StatusAction::Revoke, STATUS_VALID | "02") => Some("03"),
            (StatusAction::Cancel, STATUS_VALID | "02") => Some("04"),
            _ => None,
        }
    }
}

/// One event in a licence's history, with its signature checked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LicenceEventView {
    /// When, RFC 3339.
    pub at: String,
    /// `issue`, `change`, `renew`, `suspend`, `resume`, `revoke`, `cancel` or `expire`.
    pub action: String,
    /// Status code after it (`01` 有效, `02` 暂扣, `03` 撤销, `04` 注销, `05` 失效).
    pub status_code: String,
    /// Version in force after it.
    pub version: i64,
    /// Why.
    pub reason: String,
    /// Who.
    pub actor: String,
    /// The seal whose key signed the statement.
    pub seal_id: String,
    /// The signed statement: canonical JSON of the event.
    pub statement: String,
    /// Base64 ECDSA P-256 signature over `statement`.
    pub signature: String,
    /// The signature verifies with the seal's certificate.
    pub signature_valid: bool,
}

/// The statement a department signs for each event (field order is the canonical form).
#[derive(Serialize)]
struct Statement<'a> {
    licence: &'a str,
    action: &'a str,
    status: &'a str,
    version: i64,
    at: &'a str,
    reason: &'a str,
    actor: &'a str,
}

impl Statement<'_> {
    fn of(event: &storage::LicenceEventRecord) -> Statement<'_> {
        Statement {
            licence: &event.stem,
            action: &event.action,
            status: &event.status,
            version: event.version,
            at: &event.at,
            reason: &event.reason,
            actor: &event.actor,
        }
    }

    fn canonical(&self) -> Result<String, ServiceError> {
        serde_json::to_string(self).map_err(|e| ServiceError::Internal(e.to_string()))
    }
}

/// An event signed with `key`; `signature` is filled in here.
pub(super) fn signed_event(
    key: &SealKey,
    seal_id: &str,
    mut event: storage::LicenceEventRecord,
) -> Result<storage::LicenceEventRecord, ServiceError> {
    let statement = Statement::of(&event).canonical()?;
    let signature = key.sign(statement.as_bytes())?;
    event.seal_id = seal_id.to_string();
    event.signature = base64::engine::general_purpose::STANDARD.encode(signature);
    Ok(event)
}

/// A new event record (unsigned) for `stem` by `actor` (see `Principal::actor`), in effect
/// from `at`.
pub(super) fn event(
    actor: String,
    stem: &str,
    action: &str,
    status: &str,
    version: i64,
    reason: &str,
    at: OffsetDateTime,
) -> Result<storage::LicenceEventRecord, ServiceError> {
    Ok(storage::LicenceEventRecord {
        id: random_id()?,
        stem: stem.to_string(),
        at: rfc3339(at),
        action: action.to_string(),
        status: status.to_string(),
        version,
        reason: reason.to_string(),
        actor,
        seal_id: String::new(),
        signature: String::new(),
    })
}

fn checked_reason(reason: &str) -> Result<&str, ServiceError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ServiceError::InvalidField {
            field: "reason".into(),
            message: format!("give a reason of 1 to {MAX_REASON_CHARS} characters"),
        });
    }
    Ok(reason)
}

impl App {
    /// The licence behind `id` with its newest version, if `principal` is the department that
    /// issued it.
    async fn own_licence(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<
        (
            String,
            storage::LicenceRecord,
            storage::LicenceVersionRecord,
        ),
        ServiceError,
    > {
        let Principal::Department { department_id, .. } = principal else {
            return Err(ServiceError::Forbidden(
                "only the issuing department changes a licence".into(),
            ));
        };
        let (licence, _) = self.find_version(id).await?;
        if &licence.department_id != department_id {
            return Err(ServiceError::Forbidden(
                "only the issuing department changes a licence".into(),
            ));
        }
        let newest = self
            .store
            .licence_version_of(&licence.stem, licence.current_version)
            .await?
            .ok_or_else(|| ServiceError::Internal("licence without its newest version".into()))?;
        Ok((department_id.clone(), licence, newest))
    }

    /// Issues a new version of a licence (its issuing department only): a change (变更) or a
    /// renewal (延续). The previous version stays retrievable and verifies as superseded.
    pub async fn new_licence_version(
        self: &Arc<Self>,
        principal: &Principal,
        id: &str,
        request: NewVersionRequest,
        kind: VersionKind,
    ) -> Result<LicenceView, ServiceError> {
        let reason = checked_reason(&request.reason)?.to_string();
        let (department_id, mut licence, previous) = self.own_licence(principal, id).await?;
        if licence.status != STATUS_VALID {
            return Err(ServiceError::Conflict(format!(
                "the licence is {}; only a valid licence is changed or renewed",
                status_name(&licence.status)
            )));
        }
        let now = OffsetDateTime::now_utc();
        let template = self.templates.get(&licence.kind)?;
        let stored: serde_json::Value = serde_json::from_str(&previous.fields)
            .map_err(|e| ServiceError::Internal(format!("stored fields: {e}")))?;
        let changes = request.fields.unwrap_or(serde_json::Value::Null);
        let checked = template.check_change(&stored, &changes, now.date())?;
        if checked.holder_code != licence.holder_code {
            return Err(ServiceError::InvalidField {
                field: "fields".into(),
                message: "the holder of a licence does not change; issue a new licence".into(),
            });
        }
        if kind == VersionKind::Change && changes.as_object().is_none_or(|c| c.is_empty()) {
            return Err(ServiceError::InvalidField {
                field: "fields".into(),
                message: "a change needs the fields that change".into(),
            });
        }
        let signer = self
            .version_signer(&department_id, request.seal_id.as_deref(), now)
            .await?;
        let identifier = LicenceId::parse(&previous.identifier)
            .and_then(|id| id.next_version())
            .map_err(|e| ServiceError::Conflict(format!("no further version possible: {e}")))?;
        let version = previous.version + 1;
        let (action, audit_action) = match kind {
            VersionKind::Change => ("change", "licence.change"),
            VersionKind::Renewal => ("renew", "licence.renew"),
        };
        let record = signed_event(
            &signer.key,
            &signer.seal.id,
            event(
                principal.actor(),
                &licence.stem,
                action,
                STATUS_VALID,
                version,
                &reason,
                now,
            )?,
        )?;
        let holder_name = checked.holder_name.clone();
        let new_version = NewVersion {
            kind: licence.kind.clone(),
            checked,
            identifier,
        };
        let (version_record, pdf) = self
            .sealed_versions(vec![new_version], &signer)
            .await?
            .pop()
            .ok_or_else(|| ServiceError::Internal("the sealed version went missing".into()))??;
        let pdf_sha256 = version_record.pdf_sha256.clone();
        let mut tx = self.store.begin().await?;
        write::licence_version(&mut tx, &version_record, &licence.kind, &pdf).await?;
        write::licence_event(&mut tx, &record).await?;
        write::licence_holder_name(&mut tx, &licence.stem, &holder_name).await?;
        let receipt = self
            .log(
                &mut tx,
                &audit_event(
                    principal,
                    audit_action,
                    &version_record.identifier,
                    Some(pdf_sha256),
                )?,
            )
            .await?;
        tx.commit().await.map_err(StorageError::from)?;
        self.licences.forget_all();
        licence.current_version = version;
        licence.holder_name = holder_name;
        Ok(LicenceView {
            audit: Some(receipt),
            ..self.view(&licence, &version_record, &signer.department, self.today())
        })
    }

    /// Suspends, resumes, revokes or cancels a licence (its issuing department only).
    pub async fn set_licence_status(
        &self,
        principal: &Principal,
        id: &str,
        request: StatusRequest,
    ) -> Result<LicenceView, ServiceError> {
        let reason = checked_reason(&request.reason)?.to_string();
        let (department_id, mut licence, newest) = self.own_licence(principal, id).await?;
        let status = request.action.next(&licence.status).ok_or_else(|| {
            ServiceError::Conflict(format!(
                "a licence that is {} cannot be {}ed",
                status_name(&licence.status),
                request.action.name().trim_end_matches('e')
            ))
        })?;
        let (department, seal, key) = self.signing_seal(&department_id, None).await?;
        let now = OffsetDateTime::now_utc();
        let action = request.action.name();
        let record = signed_event(
            &key,
            &seal.id,
            event(
                principal.actor(),
                &licence.stem,
                action,
                status,
                newest.version,
                &reason,
                now,
            )?,
        )?;
        let mut tx = self.store.begin().await?;
        write::licence_event(&mut tx, &record).await?;
        let receipt = self
            .log(
                &mut tx,
                &audit_event(principal, &format!("licence.{action}"), &licence.stem, None)?,
            )
            .await?;
        tx.commit().await.map_err(StorageError::from)?;
        self.licences.forget_all();
        licence.status = status.to_string();
        Ok(LicenceView {
            audit: Some(receipt),
            ..self.view(&licence, &newest, &department, self.today())
        })
    }

    /// Every event of a licence, oldest first, with each signature checked against its seal's
    /// certificate.
    pub async fn licence_history(&self, id: &str) -> Result<Vec<LicenceEventView>, ServiceError> {
        let (licence, _) = self.find_version(id).await?;
        let events = self.store.licence_events(&licence.stem).await?;
        let mut certificates: HashMap<String, Vec<u8>> = HashMap::new();
        let mut views = Vec::with_capacity(events.len());
        for event in events {
            if !certificates.contains_key(&event.seal_id) {
                let certificate = self
                    .store
                    .seal(&event.seal_id)
                    .await?
                    .map(|s| s.certificate)
                    .unwrap_or_default();
                certificates.insert(event.seal_id.clone(), certificate);
            }
            let statement = Statement::of(&event).canonical()?;
            let signature_valid = certificates
                .get(&event.seal_id)
                .is_some_and(|der| verifies(der, statement.as_bytes(), &event.signature));
            views.push(LicenceEventView {
                at: event.at,
                action: event.action,
                status_code: event.status,
                version: event.version,
                reason: event.reason,
                actor: event.actor,
                seal_id: event.seal_id,
                statement,
                signature: event.signature,
                signature_valid,
            });
        }
        Ok(views)
    }
}

impl App {
    /// Records the expiry (失效, status `05`) of every licence still recorded as valid whose
    /// validity ended before `today`: an event signed with the issuing department's seal key,
    /// in effect from the day after the last valid day, and an audit entry by `system:expiry`.
    /// Returns how many expired. Running it again records nothing new.
    pub async fn record_expiries(&self, today: Date) -> Result<usize, ServiceError> {
        let mut keys: HashMap<String, (String, SealKey)> = HashMap::new();
        let mut expired = 0;
        loop {
            let lapsed = self
                .store
                .lapsed_licences(&today.to_string(), EXPIRY_BATCH)
                .await?;
            if lapsed.is_empty() {
                return Ok(expired);
            }
            for (licence, valid_to) in lapsed {
                let (seal_id, key) = match keys.entry(licence.department_id.clone()) {
                    Entry::Occupied(known) => known.into_mut(),
                    Entry::Vacant(new) => {
                        let (_, seal, key) = self.signing_seal(new.key(), None).await?;
                        new.insert((seal.id, key))
                    }
                };
                let last_day = Date::parse(&valid_to, &Iso8601::DATE)
                    .map_err(|e| ServiceError::Internal(format!("stored valid_to: {e}")))?;
                let effective = last_day
                    .next_day()
                    .unwrap_or(last_day)
                    .midnight()
                    .assume_utc();
                let record = signed_event(
                    key,
                    seal_id,
                    event(
                        EXPIRY_ACTOR.into(),
                        &licence.stem,
                        "expire",
                        STATUS_EXPIRED,
                        licence.current_version,
                        &format!("有效期届满（至 {valid_to}）"),
                        effective,
                    )?,
                )?;
                let audit = storage::AuditEvent {
                    id: super::audit::entry_id()?,
                    at: rfc3339(OffsetDateTime::now_utc()),
                    actor: EXPIRY_ACTOR.into(),
                    action: "licence.expire".into(),
                    object: licence.stem.clone(),
                    digest: None,
                    outcome: "ok".into(),
                    request_id: None,
                };
                let mut tx = self.store.begin().await?;
                write::licence_event(&mut tx, &record).await?;
                self.log(&mut tx, &audit).await?;
                tx.commit().await.map_err(StorageError::from)?;
                self.licences.forget_all();
                expired += 1;
            }
        }
    }

    /// Runs [`App::record_expiries`] now and then at every `Config::expiry_sweep_every` (an
    /// hour by default), in the background, for as long as the process lives; failures are
    /// logged and retried at the next round.
    pub fn spawn_expiry_sweep(self: &Arc<Self>) {
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(app.expiry_sweep_every);
            loop {
                every.tick().await;
                match app.record_expiries(app.today()).await {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, "recorded expired licences"),
                    Err(e) => tracing::warn!(error = %e, "recording expired licences failed"),
                }
            }
        });
    }
}

/// Whether `signature` (base64) over `message` verifies with the key of certificate `der`.
fn verifies(der: &[u8], message: &[u8], signature: &str) -> bool {
    let Ok((_, certificate)) = X509Certificate::from_der(der) else {
        return false;
    };
    let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(signature) else {
        return false;
    };
    UnparsedPublicKey::new(
        &ECDSA_P256_SHA256_ASN1,
        certificate.public_key().subject_public_key.data.as_ref(),
    )
    .verify(message, &signature)
    .is_ok()
}
