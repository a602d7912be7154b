//! The application core that the edges (HTTP, CLI) call: registering departments, issuing and
//! verifying licences, verifying PDFs. It owns the policy — who may do what — and runs every
//! change in one transaction together with its audit event.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::domain::{CreditCode, DivisionCode, HolderCode, IdNumber, LicenceId, TimeZone};
use crate::licence::{LicenceError, Templates};
use crate::pdf::appearance::SealForm;
use crate::pdf::font::{FontProgram, NOTO_SERIF_SC};
use crate::pdf::render::Renderer;
use crate::pki::{MasterKey, PkiError, RootCa, SealKey, ServiceKeyUse, StatusUrls};
pub use crate::seal::Placement;
use crate::storage::{self, write, StorageError, Store};
use crate::tsa::{ExternalAuthority, TimeStampAuthority};

mod audit;
mod holders;
mod issuing;
mod licence_cache;
mod lifecycle;
mod seals;
mod search;
mod trust;
mod verification;

pub use crate::audit::receipt::{Receipt, SignedTreeHead};
pub use audit::{AuditCheck, ConsistencyProof, InclusionProof, LogEntry, LogReceipt};
pub use holders::{HolderIssuer, HolderToken, HolderTokenRequest};
pub use issuing::MAX_BATCH;
pub use lifecycle::{
    LicenceEventView, NewVersionRequest, StatusAction, StatusRequest, VersionKind,
};
pub use seals::{NewSeal, SealRequest, SealView, SealedDocument};
pub use search::{SearchPage, SearchQuery};
pub use verification::{
    LicenceVerification, PdfVerification, SealOrigin, StatusOn, TrustRootView, VerifiedSignature,
};

/// Name of the root CA's entry in the key table.
const ROOT_KEY: &str = "root-ca";
/// Name of the holder-token signer's entry in the key table.
const HOLDER_TOKEN_KEY: &str = "holder-tokens";
/// Name of the audit log key's entry in the key table.
const AUDIT_LOG_KEY: &str = "audit-log";
/// Name of the time-stamping authority's key in the `pki_keys` table.
const TSA_KEY: &str = "time-stamping";
/// Seal certificates are valid this many years.
const SEAL_CERT_YEARS: i64 = 5;
/// Status code of a valid licence on the national platform (有效).
const STATUS_VALID: &str = "01";
/// Audit entries that may wait for the log writer before callers wait to queue theirs.
const LOG_QUEUE_LEN: usize = 4096;

/// Errors of the service layer; each maps to one HTTP status.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    /// No credentials, or credentials that match no key (401).
    #[error("missing or invalid credentials: an API key or a holder token")]
    Unauthenticated,
    /// The caller is known but may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for does not exist (404).
    #[error("{0} not found")]
    NotFound(String),
    /// A request field is invalid; `field` names it (422).
    #[error("{field}: {message}")]
    InvalidField {
        /// The offending field, dotted for nested ones (`fields.credit_code`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The uploaded document cannot be processed (422).
    #[error("{0}")]
    UnprocessableDocument(String),
    /// The request is larger than the service accepts (413).
    #[error("{0}")]
    TooLarge(String),
    /// It already exists (409).
    #[error("{0}")]
    Conflict(String),
    /// The database is unreachable or refused the write (503).
    #[error("storage unavailable")]
    Unavailable(String),
    /// A service this one depends on (an external time-stamping authority) failed (502).
    #[error("{0}")]
    Upstream(String),
    /// A defect or broken installation (500); the detail goes to the log, not the client.
    #[error("internal error")]
    Internal(String),
}

impl From<StorageError> for ServiceError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict(what) => ServiceError::Conflict(what),
            StorageError::Unavailable(why) => ServiceError::Unavailable(why),
            StorageError::Migration(why) => ServiceError::Internal(why.to_string()),
            StorageError::Corrupt(why) => ServiceError::Internal(why),
        }
    }
}

impl From<PkiError> for ServiceError {
    fn from(e: PkiError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

impl From<LicenceError> for ServiceError {
    fn from(e: LicenceError) -> Self {
        match e {
            LicenceError::UnknownKind(kind) => ServiceError::InvalidField {
                field: "kind".into(),
                message: format!("unknown licence kind '{kind}'"),
            },
            LicenceError::Field { field, message } => ServiceError::InvalidField {
                field: format!("fields.{field}"),
                message,
            },
            LicenceError::Template(..) => ServiceError::Internal(e.to_string()),
        }
    }
}

/// How the service is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the SQLite database, the master key and the public certificates live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; `None` means SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// Base URL printed into QR codes, e.g. `https://zz.example.gov.cn`.
    pub public_url: String,
    /// An external identity provider whose tokens identify holders, besides ours.
    pub holder_issuer: Option<HolderIssuer>,
    /// An external RFC 3161 time-stamping authority (`http://…`) that time-stamps seals
    /// instead of the built-in one, which still serves `/tsa`.
    pub tsa_url: Option<String>,
    /// The administrative time zone, in which licence dates are counted.
    pub time_zone: TimeZone,
    /// Where the service reads the time of day for licence dates.
    pub clock: Clock,
    /// How often a serving process records the expiry of lapsed licences.
    pub expiry_sweep_every: Duration,
    /// How often a serving process signs a tree head of the audit log while it grows.
    pub tree_head_every: Duration,
}

impl Config {
    /// An installation in `data_dir` on SQLite, announcing itself as `public_url`, with the
    /// defaults of `zhengyin serve`: China Standard Time, the system clock, an hourly expiry
    /// sweep and a tree head every minute.
    pub fn new(data_dir: PathBuf, public_url: String) -> Config {
        Config {
            data_dir,
            database_url: None,
            public_url,
            holder_issuer: None,
            tsa_url: None,
            time_zone: TimeZone::CHINA,
            clock: Clock::System,
            expiry_sweep_every: Duration::from_secs(3600),
            tree_head_every: Duration::from_secs(60),
        }
    }
}

/// Where the service reads the time of day for licence dates: the system clock, or a fixed
/// instant (to issue as of a given moment, and in tests of the day boundary). Signing times,
/// time-stamps and certificates always use the system clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// Always this instant.
    Fixed(OffsetDateTime),
}

impl Clock {
    /// The time now, by this clock.
    pub fn now(self) -> OffsetDateTime {
        match self {
            Clock::System => OffsetDateTime::now_utc(),
            Clock::Fixed(at) => at,
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An administrator of the installation.
    Admin {
        /// API key id.
        key_id: String,
    },
    /// An issuing department.
    Department {
        /// Department id.
        department_id: String,
        /// Its credit code.
        credit_code: String,
    },
    /// A service counter (窗口): verifies what people present, and reads and downloads from the
    /// library with a stated reason; issues nothing.
    Counter {
        /// API key id.
        key_id: String,
    },
    /// A licence holder (a company or a citizen), signed in with a holder token.
    Holder {
        /// Its credit code or ID number.
        holder_code: HolderCode,
    },
}

impl Principal {
    /// Refuses anyone but an administrator, saying that only an administrator does `what`.
    fn require_admin(&self, what: &str) -> Result<(), ServiceError> {
        match self {
            Principal::Admin { .. } => Ok(()),
            _ => Err(ServiceError::Forbidden(format!(
                "only an administrator {what}"
            ))),
        }
    }

    fn actor(&self) -> String {
        match self {
            Principal::Admin { key_id } => format!("admin:{key_id}"),
            Principal::Department { credit_code, .. } => format!("department:{credit_code}"),
            Principal::Counter { key_id } => format!("counter:{key_id}"),
            Principal::Holder { holder_code } => format!("holder:{holder_code}"),
        }
    }
}

/// What the first start of an installation created.
#[derive(Debug, Default)]
pub struct FirstRun {
    /// The admin API key, shown once.
    pub admin_key: Option<String>,
}

/// A department to register, with its first seal.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "厦门市市场监督管理局",
    "credit_code": "11350200MB0D00002U",
    "division_code": "350200",
    "seal_name": "行政审批专用章",
    "seal_code": "3502000012345"
}))]
pub struct NewDepartment {
    /// Name, e.g. 厦门市市场监督管理局.
    pub name: String,
    /// Unified social credit code.
    pub credit_code: String,
    /// Administrative division code (6 digits).
    pub division_code: String,
    /// Seal name, e.g. 行政审批专用章; defaults to the department's official seal.
    #[serde(default)]
    pub seal_name: Option<String>,
    /// 13-digit seal code, printed along the lower arc.
    #[serde(default)]
    pub seal_code: Option<String>,
}

/// A registered department with its seal and API key.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegisteredDepartment {
    /// Department id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Credit code.
    pub credit_code: String,
    /// Division code.
    pub division_code: String,
    /// Its first seal.
    pub seal: SealView,
    /// The department's API key, shown once.
    pub api_key: String,
}

/// A service counter's new API key.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewCounter {
    /// Its key id (the actor in the audit log is `counter:<key id>`).
    pub key_id: String,
    /// The API key, shown once.
    pub api_key: String,
}

/// A request to issue a licence.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "kind": "business_licence",
    "fields": {
        "credit_code": "91350100M000100Y43",
        "name": "厦门市鹭岛数字科技有限公司",
        "entity_type": "有限责任公司(自然人投资或控股)",
        "legal_representative": "陈明辉",
        "business_scope": "软件开发;信息技术咨询服务",
        "registered_capital": "10000000",
        "established_on": "2021-03-15",
        "address": "福建省厦门市思明区软件园二期观日路24号301室"
    }
}))]
pub struct IssueRequest {
    /// Template kind, e.g. `business_licence`.
    pub kind: String,
    /// Field values by key (strings), as the kind's template names them.
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
    /// Issue as this department (credit code); must be the caller's own.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Seal to use; defaults to the department's first seal.
    #[serde(default)]
    pub seal_id: Option<String>,
}

/// A licence's public facts, as issued and as verified.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LicenceView {
    /// Full identifier of this version.
    pub identifier: String,
    /// Template kind.
    pub kind: String,
    /// Printed name of the kind.
    pub kind_name: String,
    /// Version number.
    pub version: i64,
    /// Holder's credit code or (masked) ID number.
    pub holder_code: String,
    /// Holder's name.
    pub holder_name: String,
    /// Issuing department.
    pub issuer: IssuerView,
    /// Status code on the national platform (`01` 有效 …).
    pub status_code: String,
    /// Status as of today: `valid`, `expired`, `not_yet_valid`, `superseded`, …
    pub status: String,
    /// First valid day.
    pub valid_from: String,
    /// Last valid day, or `null` for 长期.
    #[schema(required = true)]
    pub valid_to: Option<String>,
    /// When it was issued.
    pub issued_at: String,
    /// Hex SHA-256 of the signed PDF.
    pub pdf_sha256: String,
    /// Where the PDF can be downloaded.
    pub pdf_url: String,
    /// Where this change was recorded in the audit log (in answers to the change itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub audit: Option<LogReceipt>,
}

/// An issuing department as shown in answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuerView {
    /// Name.
    pub name: String,
    /// Credit code.
    pub credit_code: String,
}

/// The running application.
pub struct App {
    store: Store,
    master: MasterKey,
    root: RootCa,
    templates: Templates,
    font: FontProgram,
    public_url: String,
    /// Signs the holder tokens this installation issues.
    holder_signer: SealKey,
    /// Checks holder tokens, ours and an external provider's.
    holder_verifier: holders::HolderVerifier,
    /// Signs the audit log's tree heads.
    log_key: SealKey,
    /// The built-in RFC 3161 time-stamping authority.
    tsa: TimeStampAuthority,
    /// The external authority that time-stamps seals instead, if one is configured.
    external_tsa: Option<ExternalAuthority>,
    /// Verified API keys (SHA-256 of the whole key → principal) so that argon2 runs once per
    /// key and process, not on every request.
    key_cache: Mutex<HashMap<[u8; 32], Principal>>,
    /// Permits for argon2 checks of API keys, one per core: each check takes 19 MiB and a
    /// core, so more at once only cost memory (32 first requests at once took 600 MiB).
    key_checks: tokio::sync::Semaphore,
    /// Trust in force and checks of stored licence PDFs, kept between verifications.
    checks: trust::CheckCache,
    /// Licences as verifications last read them, for a moment.
    licences: licence_cache::LicenceCache,
    /// Seal impressions laid out for stamping, by seal id and department name.
    seal_forms: Mutex<HashMap<(String, String), Arc<SealForm>>>,
    /// Entries for the audit log's group writer ([`App::log_alone`]).
    log_queue: tokio::sync::mpsc::Sender<audit::QueuedEntry>,
    /// Licence dates are counted in this zone, by this clock.
    time_zone: TimeZone,
    clock: Clock,
    expiry_sweep_every: Duration,
    tree_head_every: Duration,
}

impl App {
    /// Opens (and on first run initialises) an installation: data directory, master key,
    /// database and migrations, root CA, admin key.
    pub async fn open(config: &Config) -> Result<(Arc<App>, FirstRun), ServiceError> {
        let io = |e: std::io::Error| ServiceError::Internal(format!("data directory: {e}"));
        std::fs::create_dir_all(config.data_dir.join("certs")).map_err(io)?;
        let master = MasterKey::load_or_create(&config.data_dir.join("master.key"))?;
        let url = config.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                config.data_dir.join("zhengyin.db").display()
            )
        });
        let store = Store::connect(&url).await?;
        let mut first_run = FirstRun::default();
        let root_record = match store.pki_key(ROOT_KEY).await? {
            Some(record) => record,
            None => {
                let issued = RootCa::generate("证印 zhengyin", &master)?;
                let record = storage::PkiKeyRecord {
                    certificate: issued.certificate_der,
                    sealed_key: issued.sealed_key,
                };
                store
                    .insert_pki_key(ROOT_KEY, &record, &now_rfc3339())
                    .await?;
                record
            }
        };
        let root = RootCa::open(root_record.certificate, &root_record.sealed_key, &master)?;
        let public_url = config.public_url.trim_end_matches('/').to_string();
        let status = status_urls(&public_url);
        let holder_signer = service_key(
            &store,
            &root,
            &master,
            HOLDER_TOKEN_KEY,
            "证印 zhengyin 持证主体身份令牌",
            ServiceKeyUse::Signing,
            &status,
        )
        .await?;
        let log_key = service_key(
            &store,
            &root,
            &master,
            AUDIT_LOG_KEY,
            crate::audit::receipt::LOG_KEY_NAME,
            ServiceKeyUse::Signing,
            &status,
        )
        .await?;
        let tsa_key = service_key(
            &store,
            &root,
            &master,
            TSA_KEY,
            "证印 zhengyin 时间戳服务",
            ServiceKeyUse::TimeStamping,
            &status,
        )
        .await?;
        let tsa = TimeStampAuthority::new(tsa_key, vec![root.certificate_der().to_vec()])
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let holder_verifier = holders::HolderVerifier::new(
            &holder_signer,
            &public_url,
            config.holder_issuer.clone(),
        )?;
        std::fs::write(
            config.data_dir.join("certs").join("root.pem"),
            pem("CERTIFICATE", root.certificate_der()),
        )
        .map_err(io)?;
        let font =
            FontProgram::new(NOTO_SERIF_SC).map_err(|e| ServiceError::Internal(e.to_string()))?;
        // Licence kinds beyond the built-in six (or replacing them) are TOML files in
        // `<data dir>/templates`.
        let extra_templates = config.data_dir.join("templates");
        let templates = if extra_templates.is_dir() {
            Templates::load_dir(&extra_templates)?
        } else {
            Templates::builtin()?
        };
        let (log_queue, queued) = tokio::sync::mpsc::channel(LOG_QUEUE_LEN);
        let app = Arc::new_cyclic(|app| {
            App::spawn_log_writer(app.clone(), queued);
            App {
                store,
                master,
                root,
                templates,
                seal_forms: Mutex::default(),
                font,
                public_url,
                holder_signer,
                holder_verifier,
                log_key,
                tsa,
                external_tsa: config.tsa_url.clone().map(ExternalAuthority::new),
                key_cache: Mutex::new(HashMap::new()),
                key_checks: tokio::sync::Semaphore::new(
                    std::thread::available_parallelism().map_or(1, |n| n.get()),
                ),
                checks: trust::CheckCache::default(),
                licences: licence_cache::LicenceCache::default(),
                log_queue,
                time_zone: config.time_zone,
                clock: config.clock,
                expiry_sweep_every: config.expiry_sweep_every,
                tree_head_every: config.tree_head_every,
            }
        });
        app.place_unplaced_entries().await?;
        if !app.store.has_admin_key().await? {
            let mut tx = app.store.begin().await?;
            let key = app.new_api_key(&mut tx, "admin", None).await?;
            tx.commit().await.map_err(StorageError::from)?;
            first_run.admin_key = Some(key);
        }
        Ok((app, first_run))
    }

    /// Answers an RFC 3161 time-stamp request (DER `TimeStampReq`) with a DER
    /// `TimeStampResp`, for anyone; a granted token is recorded with its serial and imprint.
    pub async fn timestamp(
        &self,
        caller: Option<&Principal>,
        request: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        let answer = self
            .tsa
            .respond(request, OffsetDateTime::now_utc())
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        if let Some((serial, imprint)) = &answer.granted {
            self.record(caller, "tsa.timestamp", serial, Some(imprint), "granted")
                .await?;
        }
        Ok(answer.response)
    }

    /// The authority that time-stamps seals: the external one if configured, else ours.
    fn seal_timestamper(&self) -> &dyn crate::pdf::sign::TimeStamper {
        match &self.external_tsa {
            Some(external) => external,
            None => &self.tsa,
        }
    }

    /// Today in the administrative time zone: the day licences are issued, changed and judged.
    pub fn today(&self) -> Date {
        self.time_zone.date_of(self.clock.now())
    }

    /// The root certificate, DER.
    pub fn root_certificate_der(&self) -> &[u8] {
        self.root.certificate_der()
    }

    /// Refreshes the database's query planner statistics, as a bulk import ends.
    pub async fn refresh_statistics(&self) -> Result<(), ServiceError> {
        Ok(self.store.refresh_statistics().await?)
    }

    /// Closes the database.
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Resolves a bearer credential to a principal: an API key (`zy_<id>_<secret>`) or a
    /// holder token (a JWT).
    pub async fn authenticate(&self, api_key: &str) -> Result<Principal, ServiceError> {
        if holders::is_token(api_key) {
            return self.authenticate_holder(api_key);
        }
        let fingerprint = sha256(api_key.as_bytes());
        if let Some(principal) = self.cached_principal(&fingerprint) {
            return Ok(principal);
        }
        let (id, secret) = api_key
            .strip_prefix("zy_")
            .and_then(|rest| rest.split_once('_'))
            .ok_or(ServiceError::Unauthenticated)?;
        let record = self
            .store
            .api_key(id)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let _permit = self
            .key_checks
            .acquire()
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        // Another request with this key may have been checked while this one waited.
        if let Some(principal) = self.cached_principal(&fingerprint) {
            return Ok(principal);
        }
        let secret = secret.to_string();
        let hash = record.secret_hash.clone();
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(secret.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        if !matches {
            return Err(ServiceError::Unauthenticated);
        }
        let principal = match (record.role.as_str(), record.department_id) {
            ("admin", _) => Principal::Admin { key_id: record.id },
            ("counter", _) => Principal::Counter { key_id: record.id },
            ("department", Some(department_id)) => {
                let department = self
                    .store
                    .department(&department_id)
                    .await?
                    .ok_or(ServiceError::Unauthenticated)?;
                Principal::Department {
                    department_id,
                    credit_code: department.credit_code,
                }
            }
            _ => return Err(ServiceError::Unauthenticated),
        };
        if let Ok(mut cache) = self.key_cache.lock() {
            cache.insert(fingerprint, principal.clone());
        }
        Ok(principal)
    }

    /// The principal of an operator working on this installation's data directory (the CLI):
    /// holding the master key, they act as administrator.
    pub fn local_admin() -> Principal {
        Principal::Admin {
            key_id: "local".into(),
        }
    }

    /// The principal of a registered department, for an operator of this installation.
    pub async fn local_department(&self, credit_code: &str) -> Result<Principal, ServiceError> {
        let department = self
            .store
            .department_by_code(credit_code.trim())
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("department {credit_code}")))?;
        Ok(Principal::Department {
            department_id: department.id,
            credit_code: department.credit_code,
        })
    }

    /// The principal of the department owning a seal, for an operator of this installation.
    pub async fn local_department_of_seal(&self, seal_id: &str) -> Result<Principal, ServiceError> {
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
        Ok(Principal::Department {
            department_id: department.id,
            credit_code: department.credit_code,
        })
    }

    fn cached_principal(&self, fingerprint: &[u8; 32]) -> Option<Principal> {
        self.key_cache.lock().ok()?.get(fingerprint).cloned()
    }

    /// Makes an API key for a service counter (admin only); the key is shown once.
    pub async fn add_counter(&self, principal: &Principal) -> Result<NewCounter, ServiceError> {
        principal.require_admin("adds service counters")?;
        let mut tx = self.store.begin().await?;
        let api_key = self.new_api_key(&mut tx, "counter", None).await?;
        let key_id = api_key
            .strip_prefix("zy_")
            .and_then(|rest| rest.split_once('_'))
            .map(|(id, _)| id.to_string())
            .unwrap_or_default();
        self.log(
            &mut tx,
            &audit_event(principal, "counter.add", &format!("counter:{key_id}"), None)?,
        )
        .await?;
        tx.commit().await.map_err(StorageError::from)?;
        Ok(NewCounter { key_id, api_key })
    }

    /// Registers a department with its first seal (admin only): makes the seal key and its
    /// certificate under the root, and the department's API key.
    pub async fn register_department(
        &self,
        principal: &Principal,
        new: NewDepartment,
    ) -> Result<RegisteredDepartment, ServiceError> {
        principal.require_admin("registers departments")?;
        let invalid = |field: &str, message: String| ServiceError::InvalidField {
            field: field.into(),
            message,
        };
        let name = new.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 40 {
            return Err(invalid("name", "must be 1 to 40 characters".into()));
        }
        let credit_code = CreditCode::parse(&new.credit_code)
            .map_err(|e| invalid("credit_code", e.to_string()))?;
        let division_code = DivisionCode::parse(&new.division_code)
            .map_err(|e| invalid("division_code", e.to_string()))?;
        let department = storage::DepartmentRecord {
            id: random_id()?,
            name,
            credit_code: credit_code.to_string(),
            division_code: division_code.to_string(),
            created_at: now_rfc3339(),
        };
        let seal = self.make_seal(
            &department.id,
            &department.name,
            &department.credit_code,
            NewSeal {
                name: new.seal_name,
                code: new.seal_code,
                ..NewSeal::default()
            },
            "seal_",
        )?;
        let mut tx = self.store.begin().await?;
        write::department(&mut tx, &department)
            .await
            .map_err(|e| match e {
                StorageError::Conflict(_) => ServiceError::Conflict(format!(
                    "a department with credit code {} is already registered",
                    department.credit_code
                )),
                other => other.into(),
            })?;
        write::seal(&mut tx, &seal).await?;
        let api_key = self
            .new_api_key(&mut tx, "department", Some(&department.id))
            .await?;
        self.log(
            &mut tx,
            &audit_event(
                principal,
                "department.register",
                &department.credit_code,
                None,
            )?,
        )
        .await?;
        tx.commit().await.map_err(StorageError::from)?;
        Ok(RegisteredDepartment {
            id: department.id,
            name: department.name,
            credit_code: department.credit_code,
            division_code: department.division_code,
            seal: SealView::of(&seal),
            api_key,
        })
    }

    /// The signed PDF of a licence version (a full identifier, or a stem for the newest), for
    /// a caller allowed to have it ([`App::may_download`]); every download is recorded.
    pub async fn licence_pdf(
        &self,
        caller: Option<&Principal>,
        id: &str,
        reason: Option<&str>,
    ) -> Result<(String, Vec<u8>), ServiceError> {
        let (licence, version) = self.find_version(id).await?;
        let reason = self.may_download(caller, &licence, reason)?;
        let pdf = self
            .store
            .licence_pdf(&version.identifier)
            .await?
            .ok_or_else(|| ServiceError::Internal("licence version without its PDF".into()))?;
        self.record_download(caller, "licence.download", &version, reason)
            .await?;
        Ok((version.identifier, pdf))
    }

    /// Who may download a licence (PDF or QR image): its holder, its issuing department, an
    /// administrator, and another department with a stated reason (证照库里有的, 由部门自行下载).
    /// Returns the reason, trimmed.
    fn may_download<'r>(
        &self,
        caller: Option<&Principal>,
        licence: &storage::LicenceRecord,
        reason: Option<&'r str>,
    ) -> Result<Option<&'r str>, ServiceError> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > 500) {
            return Err(ServiceError::InvalidField {
                field: "reason".into(),
                message: "must be at most 500 characters".into(),
            });
        }
        match caller {
            None => Err(ServiceError::Unauthenticated),
            Some(Principal::Admin { .. }) => Ok(reason),
            Some(Principal::Counter { .. }) if reason.is_none() => {
                Err(ServiceError::InvalidField {
                    field: "reason".into(),
                    message: "a service counter downloads a licence with a stated reason".into(),
                })
            }
            Some(Principal::Counter { .. }) => Ok(reason),
            Some(Principal::Holder { holder_code }) => {
                if holder_code.to_string() == licence.holder_code {
                    Ok(reason)
                } else {
                    Err(ServiceError::Forbidden(
                        "a holder downloads only its own licences".into(),
                    ))
                }
            }
            Some(Principal::Department { department_id, .. }) => {
                if *department_id != licence.department_id && reason.is_none() {
                    return Err(ServiceError::InvalidField {
                        field: "reason".into(),
                        message:
                            "a department downloads another department's licence with a stated reason"
                                .into(),
                    });
                }
                Ok(reason)
            }
        }
    }

    /// Records a download of a licence version, with the stated reason.
    async fn record_download(
        &self,
        caller: Option<&Principal>,
        action: &str,
        version: &storage::LicenceVersionRecord,
        reason: Option<&str>,
    ) -> Result<(), ServiceError> {
        let outcome = reason.map_or_else(|| "ok".to_string(), |r| format!("ok; reason: {r}"));
        self.record(
            caller,
            action,
            &version.identifier,
            Some(&version.pdf_sha256),
            &outcome,
        )
        .await
    }

    /// Appends one event to the audit trail, in a transaction of its own: who (anonymous when
    /// `caller` is `None`), did what, to what, and how it ended.
    async fn record(
        &self,
        caller: Option<&Principal>,
        action: &str,
        object: &str,
        digest: Option<&str>,
        outcome: &str,
    ) -> Result<(), ServiceError> {
        let event = storage::AuditEvent {
            id: audit::entry_id()?,
            at: now_rfc3339(),
            actor: caller.map_or_else(|| "anonymous".to_string(), Principal::actor),
            action: action.into(),
            object: object.into(),
            digest: digest.map(str::to_string),
            outcome: outcome.chars().take(600).collect(),
            request_id: current_request_id(),
        };
        self.log_alone(event).await?;
        Ok(())
    }

    /// A licence version by full identifier, or the newest by stem, with its licence.
    async fn find_version(
        &self,
        id: &str,
    ) -> Result<(storage::LicenceRecord, storage::LicenceVersionRecord), ServiceError> {
        let (licence, version, _) = self.find_in_full(id).await?;
        Ok((licence, version))
    }

    /// A licence version (by full identifier, or the newest by stem) with its licence and
    /// issuing department, in one query.
    async fn find_in_full(&self, id: &str) -> Result<licence_cache::InFull, ServiceError> {
        let found = match LicenceId::parse(id) {
            Ok(parsed) => {
                let identifier = parsed.to_string();
                self.store
                    .licence_in_full(storage::VersionRef::Identifier(&identifier))
                    .await?
            }
            Err(_) => {
                self.store
                    .licence_in_full(storage::VersionRef::Newest(id))
                    .await?
            }
        };
        found.ok_or_else(|| ServiceError::NotFound(format!("licence {id}")))
    }

    fn view(
        &self,
        licence: &storage::LicenceRecord,
        version: &storage::LicenceVersionRecord,
        department: &storage::DepartmentRecord,
        today: Date,
    ) -> LicenceView {
        let kind_name = self
            .templates
            .get(&licence.kind)
            .map(|t| t.name.clone())
            .unwrap_or_else(|_| licence.kind.clone());
        LicenceView {
            identifier: version.identifier.clone(),
            kind: licence.kind.clone(),
            kind_name,
            version: version.version,
            holder_code: mask_holder_code(&licence.holder_code),
            holder_name: licence.holder_name.clone(),
            issuer: IssuerView {
                name: department.name.clone(),
                credit_code: department.credit_code.clone(),
            },
            status_code: licence.status.clone(),
            status: status_today(licence, version, today),
            valid_from: version.valid_from.clone(),
            valid_to: version.valid_to.clone(),
            issued_at: version.issued_at.clone(),
            pdf_sha256: version.pdf_sha256.clone(),
            pdf_url: format!(
                "{}/api/v1/licences/{}/pdf",
                self.public_url, version.identifier
            ),
            audit: None,
        }
    }

    async fn new_api_key(
        &self,
        tx: &mut storage::Tx,
        role: &str,
        department_id: Option<&str>,
    ) -> Result<String, ServiceError> {
        let id = random_id()?;
        let mut secret = [0u8; 32];
        SystemRandom::new()
            .fill(&mut secret)
            .map_err(|_| ServiceError::Internal("random generator failed".into()))?;
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let mut salt = [0u8; 16];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| ServiceError::Internal("random generator failed".into()))?;
        let salt =
            SaltString::encode_b64(&salt).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let hash = Argon2::default()
            .hash_password(secret.as_bytes(), &salt)
            .map_err(|e| ServiceError::Internal(e.to_string()))?
            .to_string();
        let record = storage::ApiKeyRecord {
            id: id.clone(),
            role: role.into(),
            department_id: department_id.map(str::to_string),
            secret_hash: hash,
        };
        write::api_key(tx, &record, &now_rfc3339()).await?;
        Ok(format!("zy_{id}_{secret}"))
    }
}

/// Where the root of the installation at `public_url` publishes certificate status.
fn status_urls(public_url: &str) -> StatusUrls {
    StatusUrls {
        crl: format!("{public_url}/api/v1/crl"),
        ocsp: format!("{public_url}/api/v1/ocsp"),
    }
}

/// The key of one of the installation's own services, made under the root on first use.
async fn service_key(
    store: &Store,
    root: &RootCa,
    master: &MasterKey,
    name: &str,
    common_name: &str,
    usage: ServiceKeyUse,
    status: &StatusUrls,
) -> Result<SealKey, ServiceError> {
    let record = match store.pki_key(name).await? {
        Some(record) => record,
        None => {
            let issued = root.issue_service_key(common_name, usage, Some(status), 20, master)?;
            let record = storage::PkiKeyRecord {
                certificate: issued.certificate_der,
                sealed_key: issued.sealed_key,
            };
            store.insert_pki_key(name, &record, &now_rfc3339()).await?;
            record
        }
    };
    Ok(SealKey::open(
        record.certificate,
        &record.sealed_key,
        master,
    )?)
}

/// The licence's state on `today`, from its status code and validity period.
fn status_today(
    licence: &storage::LicenceRecord,
    version: &storage::LicenceVersionRecord,
    today: Date,
) -> String {
    if version.version < licence.current_version {
        return "superseded".into();
    }
    if licence.status != STATUS_VALID {
        return status_name(&licence.status).into();
    }
    let day = today.to_string();
    if day < version.valid_from {
        "not_yet_valid".into()
    } else if version.valid_to.as_ref().is_some_and(|to| &day > to) {
        "expired".into()
    } else {
        "valid".into()
    }
}

/// The name of a national-platform status code.
fn status_name(code: &str) -> &'static str {
    match code {
        "01" => "valid",
        "02" => "suspended",
        "03" | "07" => "revoked",
        "04" => "cancelled",
        "05" => "expired",
        _ => "invalid",
    }
}

/// Holder codes as shown in answers: identity numbers masked, credit codes as they are.
fn mask_holder_code(code: &str) -> String {
    IdNumber::parse(code)
        .map(|id| id.masked())
        .unwrap_or_else(|_| code.to_string())
}

fn audit_event(
    principal: &Principal,
    action: &str,
    object: &str,
    digest: Option<String>,
) -> Result<storage::AuditEvent, ServiceError> {
    Ok(storage::AuditEvent {
        id: audit::entry_id()?,
        at: now_rfc3339(),
        actor: principal.actor(),
        action: action.into(),
        object: object.into(),
        digest,
        outcome: "ok".into(),
        request_id: current_request_id(),
    })
}

tokio::task_local! {
    /// The id of the HTTP request being served, set by the edge for the request's whole
    /// handling; audit entries record it.
    static REQUEST_ID: String;
}

/// Runs `work` as the handling of request `id`: the audit entries it writes carry the id.
pub async fn in_request<F: std::future::Future>(id: String, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// A fresh random request id.
pub fn new_request_id() -> String {
    random_id().unwrap_or_else(|_| "unidentified".into())
}

/// The id of the request being handled, if this runs inside one.
fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

fn random_id() -> Result<String, ServiceError> {
    Ok(hex(&random_bytes::<12>()?))
}

/// The licence renderer, made on first use and shared by every [`App`] in the process: it
/// parses the font's character map and copies out the common glyphs (about 200 ms), which a
/// command that issues nothing should not pay, nor every test's app again. Threads that need
/// it meanwhile wait for the one making it: a bulk import's workers each making their own
/// took the import's peak RSS from 128 to 325 MiB.
fn renderer() -> Result<&'static Renderer, ServiceError> {
    static RENDERER: OnceLock<Result<Renderer, String>> = OnceLock::new();
    RENDERER
        .get_or_init(|| Renderer::new(NOTO_SERIF_SC).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| ServiceError::Internal(e.clone()))
}

/// `N` bytes from the system's random generator.
fn random_bytes<const N: usize>() -> Result<[u8; N], ServiceError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ServiceError::Internal("random generator failed".into()))?;
    Ok(bytes)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

pub use crate::audit::hex;

/// PEM armour.
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}
