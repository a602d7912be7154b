//! Durable storage: one schema (`migrations/`) for the embedded SQLite default and for
//! PostgreSQL, through sqlx's `Any` driver. Queries use `$N` placeholders, which both accept.
//!
//! Records here are plain data; the layers above turn them into domain types.

mod packing;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

pub use packing::PdfReference;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A uniqueness rule was broken (e.g. a department with that credit code exists).
    #[error("already exists: {0}")]
    Conflict(String),
    /// The database cannot be reached or refused the operation.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored value cannot be read back (a packed PDF whose reference is missing, or that
    /// does not unpack to what was packed).
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StorageError::Conflict(db.message().to_string())
            }
            _ => StorageError::Unavailable(e.to_string()),
        }
    }
}

/// A transaction on the store.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// The database behind the service.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    /// Where to listen for notifications, on PostgreSQL; `None` on SQLite.
    postgres: Option<PostgresUrl>,
    /// Reference PDFs read so far.
    references: Arc<KeptReferences>,
}

/// Reference PDFs ([`PdfReference`]) kept in memory, by the version whose PDF each is and by the
/// seal and kind it is the reference of; emptied when it holds [`KeptReferences::MAX`].
#[derive(Debug, Default)]
struct KeptReferences {
    by_identifier: Mutex<HashMap<String, Arc<PdfReference>>>,
    by_seal_and_kind: Mutex<HashMap<(String, String), Arc<PdfReference>>>,
}

impl KeptReferences {
    /// References kept at most: each holds its PDF and, once used both ways, about twice that
    /// again in prepared dictionaries (60 KB and about 200 KB for a business licence).
    const MAX: usize = 256;

    fn kept<K: Eq + std::hash::Hash + std::borrow::Borrow<Q>, Q: Eq + std::hash::Hash + ?Sized>(
        map: &Mutex<HashMap<K, Arc<PdfReference>>>,
        key: &Q,
    ) -> Option<Arc<PdfReference>> {
        map.lock().ok()?.get(key).cloned()
    }

    fn keep<K: Eq + std::hash::Hash>(
        map: &Mutex<HashMap<K, Arc<PdfReference>>>,
        key: K,
        reference: &Arc<PdfReference>,
    ) {
        if let Ok(mut map) = map.lock() {
            if map.len() >= Self::MAX {
                map.clear();
            }
            map.insert(key, Arc::clone(reference));
        }
    }
}

/// A licence PDF as it is stored.
#[derive(Debug)]
pub enum StoredPdf {
    /// As sealed, when its seal and kind had no reference yet: writing it names it theirs.
    AsSealed(Vec<u8>),
    /// Packed ([`PdfReference::pack`]) against the reference `against`.
    Packed {
        /// The reference PDF.
        against: Arc<PdfReference>,
        /// The packed bytes.
        packed: Vec<u8>,
    },
}

/// A PostgreSQL connection URL, which may hold a password: `Debug` leaves it out.
#[derive(Clone)]
struct PostgresUrl(String);

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresUrl(…)")
    }
}

/// The channel on which a committed licence change is announced (`NOTIFY`, PostgreSQL only).
const LICENCE_CHANGES: &str = "zhengyin_licence_changes";

/// Licence changes committed by any process using the same PostgreSQL database, as `NOTIFY`
/// delivers them (see [`write::licence_event`]).
pub struct LicenceChanges(sqlx::postgres::PgListener);

impl LicenceChanges {
    /// Waits for the next committed change. An error means the connection was lost: changes
    /// committed until a new listener is connected are not announced to this one.
    pub async fn next(&mut self) -> Result<(), StorageError> {
        match self.0.try_recv().await? {
            Some(_) => Ok(()),
            None => Err(StorageError::Unavailable(
                "the connection listening for licence changes was lost".into(),
            )),
        }
    }
}

/// On PostgreSQL, keeps licence PDFs out of line without compression (`STORAGE EXTERNAL`): their
/// streams are deflated already, so pglz never shrank one (stored size = size), yet trying was
/// 60% of the backend's CPU in a bulk import. Not a migration because SQLite has no such
/// setting; set once, and only looked up on later starts.
async fn store_pdfs_uncompressed(pool: &AnyPool) -> Result<(), StorageError> {
    let storage: String = sqlx::query_scalar(
        "SELECT attstorage::text FROM pg_attribute \
         WHERE attrelid = 'licence_pdfs'::regclass AND attname = 'pdf'",
    )
    .fetch_one(pool)
    .await?;
    if storage != "e" {
        sqlx::query("ALTER TABLE licence_pdfs ALTER COLUMN pdf SET STORAGE EXTERNAL")
            .execute(pool)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Store, StorageError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 16 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        if !sqlite {
            store_pdfs_uncompressed(&pool).await?;
        }
        let postgres = (!sqlite).then(|| PostgresUrl(url.to_string()));
        Ok(Store {
            pool,
            postgres,
            references: Arc::default(),
        })
    }

    /// Listens for licence changes committed from now on, by any process; `None` on SQLite,
    /// which has no notifications.
    pub async fn licence_changes(&self) -> Result<Option<LicenceChanges>, StorageError> {
        let Some(PostgresUrl(url)) = &self.postgres else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(LICENCE_CHANGES).await?;
        Ok(Some(LicenceChanges(listener)))
    }

    /// Whether [`Store::append_audit_if_head_at`] is available: on PostgreSQL, whose
    /// statements can modify data in a `WITH`; SQLite's cannot.
    pub fn appends_audit_in_one_statement(&self) -> bool {
        self.postgres.is_some()
    }

    /// Appends consecutive audit entries, the subtrees they complete and the log's new head
    /// in one statement, its own transaction (one round trip instead of six), which takes
    /// effect only if the head is still `size` entries ending in the `expected_frontier`
    /// subtrees; returns whether it did. Another writer having appended meanwhile is not an
    /// error: the caller places its entries again behind the head it then locks. PostgreSQL
    /// only ([`Store::appends_audit_in_one_statement`]).
    pub async fn append_audit_if_head_at(
        &self,
        size: i64,
        expected_frontier: &[String],
        entries: &[(&AuditEvent, LogPlace)],
        nodes: &[StoredNode],
        frontier: &[String],
    ) -> Result<bool, StorageError> {
        let Some((_, last)) = entries.last() else {
            return Ok(true);
        };
        let entries: Vec<serde_json::Value> = entries
            .iter()
            .map(|(e, place)| {
                serde_json::json!({
                    "id": e.id, "at": e.at, "actor": e.actor, "action": e.action,
                    "object": e.object, "digest": e.digest, "outcome": e.outcome,
                    "request_id": e.request_id, "seq": place.seq, "leaf_hash": place.leaf_hash,
                    "tree_root": place.tree_root, "root_signature": place.root_signature,
                })
            })
            .collect();
        let nodes: Vec<serde_json::Value> = nodes
            .iter()
            .map(|(level, index, hash)| serde_json::json!({"level": level, "idx": index, "hash": hash}))
            .collect();
        let row = sqlx::query(
            "WITH head AS ( \
                 UPDATE audit_log_head SET size = $2, frontier = $3 \
                 WHERE id = 1 AND size = $1 AND frontier = $6 RETURNING size \
             ), entries AS ( \
                 INSERT INTO audit_events (id, at, actor, action, object, digest, outcome, request_id, seq, leaf_hash, tree_root, root_signature) \
                 SELECT e.* FROM head, json_to_recordset($4::json) AS e(id TEXT, at TEXT, actor TEXT, action TEXT, object TEXT, digest TEXT, outcome TEXT, request_id TEXT, seq BIGINT, leaf_hash TEXT, tree_root TEXT, root_signature TEXT) \
             ), nodes AS ( \
                 INSERT INTO audit_nodes (level, idx, hash) \
                 SELECT n.* FROM head, json_to_recordset($5::json) AS n(level INTEGER, idx BIGINT, hash TEXT) \
             ) \
             SELECT COUNT(*) FROM head",
        )
        .bind(size)
        .bind(last.seq + 1)
        .bind(frontier.join(","))
        .bind(serde_json::Value::Array(entries).to_string())
        .bind(serde_json::Value::Array(nodes).to_string())
        .bind(expected_frontier.join(","))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get::<i64, _>(0) == 1)
    }

    /// Starts a transaction.
    pub async fn begin(&self) -> Result<Tx, StorageError> {
        Ok(self.pool.begin().await?)
    }

    /// Refreshes the query planner's statistics (`ANALYZE`, on SQLite and PostgreSQL alike),
    /// as after a bulk import: with statistics from an empty library, PostgreSQL searched a
    /// library of 300,000 licences with parallel scans at a sixth of the speed.
    pub async fn refresh_statistics(&self) -> Result<(), StorageError> {
        sqlx::query("ANALYZE").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A named key of the installation (e.g. the root CA), if it exists.
    pub async fn pki_key(&self, name: &str) -> Result<Option<PkiKeyRecord>, StorageError> {
        let row = sqlx::query("SELECT certificate, sealed_key FROM pki_keys WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| PkiKeyRecord {
            certificate: row.get(0),
            sealed_key: row.get(1),
        }))
    }

    /// Stores a named key; fails with `Conflict` if the name is taken (two first runs racing).
    pub async fn insert_pki_key(
        &self,
        name: &str,
        key: &PkiKeyRecord,
        at: &str,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO pki_keys (name, certificate, sealed_key, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(name)
        .bind(&key.certificate)
        .bind(&key.sealed_key)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether any admin API key exists.
    pub async fn has_admin_key(&self) -> Result<bool, StorageError> {
        let row = sqlx::query("SELECT COUNT(*) FROM api_keys WHERE role = 'admin'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get::<i64, _>(0) > 0)
    }

    /// An API key by id.
    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StorageError> {
        let row =
            sqlx::query("SELECT id, role, department_id, secret_hash FROM api_keys WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|row| ApiKeyRecord {
            id: row.get(0),
            role: row.get(1),
            department_id: row.get(2),
            secret_hash: row.get(3),
        }))
    }

    /// A department by id.
    pub async fn department(&self, id: &str) -> Result<Option<DepartmentRecord>, StorageError> {
        let row = sqlx::query(&format!("{DEPARTMENT_COLUMNS} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(department_from_row))
    }

    /// A department by its credit code.
    pub async fn department_by_code(
        &self,
        credit_code: &str,
    ) -> Result<Option<DepartmentRecord>, StorageError> {
        let row = sqlx::query(&format!("{DEPARTMENT_COLUMNS} WHERE credit_code = $1"))
            .bind(credit_code)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(department_from_row))
    }

    /// The seals of a department, oldest first.
    pub async fn seals_of(&self, department_id: &str) -> Result<Vec<SealRecord>, StorageError> {
        let rows = sqlx::query(&format!(
            "{SEAL_COLUMNS} WHERE department_id = $1 ORDER BY created_at, id"
        ))
        .bind(department_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(seal_from_row).collect())
    }

    /// A seal by id.
    pub async fn seal(&self, id: &str) -> Result<Option<SealRecord>, StorageError> {
        let row = sqlx::query(&format!("{SEAL_COLUMNS} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(seal_from_row))
    }

    /// The revoked seals, oldest revocation first.
    pub async fn revoked_seals(&self) -> Result<Vec<SealRecord>, StorageError> {
        let rows = sqlx::query(&format!(
            "{SEAL_COLUMNS} WHERE revoked_at IS NOT NULL ORDER BY revoked_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(seal_from_row).collect())
    }

    /// Every seal certificate with its department's name and credit code, oldest first: what
    /// the installation publishes for offline verification.
    pub async fn seal_certificates(&self) -> Result<Vec<PublishedSeal>, StorageError> {
        let rows = sqlx::query(
            "SELECT d.name, d.credit_code, s.name, s.certificate FROM seals s \
             JOIN departments d ON d.id = s.department_id ORDER BY s.created_at, s.id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| PublishedSeal {
                department: row.get(0),
                credit_code: row.get(1),
                seal_name: row.get(2),
                certificate: row.get(3),
            })
            .collect())
    }

    /// The licence a stem identifies.
    pub async fn licence(&self, stem: &str) -> Result<Option<LicenceRecord>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {LICENCE_COLUMNS} FROM licences l WHERE l.stem = $1"
        ))
        .bind(stem)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(licence_from_row))
    }

    /// A licence version (by full identifier, or the newest by stem) with its licence and
    /// issuing department, in one query.
    pub async fn licence_in_full(
        &self,
        id: VersionRef<'_>,
    ) -> Result<Option<(LicenceRecord, LicenceVersionRecord, DepartmentRecord)>, StorageError> {
        let (condition, key) = match id {
            VersionRef::Identifier(identifier) => ("v.identifier = $1", identifier),
            VersionRef::Newest(stem) => ("l.stem = $1 AND v.version = l.current_version", stem),
        };
        let row = sqlx::query(&format!(
            "SELECT {LICENCE_COLUMNS}, v.identifier, v.stem, v.version, v.fields, v.valid_from, \
             v.valid_to, v.issued_at, v.seal_id, v.pdf_sha256, v.qr_payload, \
             d.id, d.name, d.credit_code, d.division_code, d.created_at \
             FROM licence_versions v JOIN licences l ON l.stem = v.stem \
             JOIN departments d ON d.id = l.department_id WHERE {condition}"
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| {
            (
                licence_from_row(&row),
                version_at(&row, 8),
                department_at(&row, 18),
            )
        }))
    }

    /// The signed PDF of a licence version, by its full identifier (unpacked if kept packed).
    pub async fn licence_pdf(&self, identifier: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let row = sqlx::query("SELECT pdf, packed_against FROM licence_pdfs WHERE identifier = $1")
            .bind(identifier)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let pdf: Vec<u8> = row.get(0);
        match row.get::<Option<String>, _>(1) {
            None => Ok(Some(pdf)),
            Some(against) => Ok(Some(self.reference(&against).await?.unpack(&pdf)?)),
        }
    }

    /// The reference PDF that is the version `identifier`'s, from memory when kept.
    async fn reference(&self, identifier: &str) -> Result<Arc<PdfReference>, StorageError> {
        if let Some(reference) = KeptReferences::kept(&self.references.by_identifier, identifier) {
            return Ok(reference);
        }
        let pdf: Vec<u8> = sqlx::query_scalar(
            "SELECT pdf FROM licence_pdfs WHERE identifier = $1 AND packed_against IS NULL",
        )
        .bind(identifier)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| {
            StorageError::Corrupt(format!(
                "the reference PDF {identifier} is not kept as sealed"
            ))
        })?;
        let reference = Arc::new(PdfReference::new(identifier, pdf));
        KeptReferences::keep(
            &self.references.by_identifier,
            identifier.to_string(),
            &reference,
        );
        Ok(reference)
    }

    /// The reference that new PDFs sealed with `seal_id` from the template `kind` are packed
    /// against, if one has been named ([`write::licence_version`]).
    pub async fn pdf_reference(
        &self,
        seal_id: &str,
        kind: &str,
    ) -> Result<Option<Arc<PdfReference>>, StorageError> {
        let key = (seal_id.to_string(), kind.to_string());
        let kept = KeptReferences::kept(&self.references.by_seal_and_kind, &key);
        if kept.is_some() {
            return Ok(kept);
        }
        let row = sqlx::query(
            "SELECT r.identifier, p.pdf FROM pdf_references r \
             JOIN licence_pdfs p ON p.identifier = r.identifier \
             WHERE r.seal_id = $1 AND r.kind = $2 AND p.packed_against IS NULL",
        )
        .bind(seal_id)
        .bind(kind)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| {
            let identifier: String = row.get(0);
            let reference = Arc::new(PdfReference::new(&identifier, row.get(1)));
            KeptReferences::keep(&self.references.by_identifier, identifier, &reference);
            KeptReferences::keep(&self.references.by_seal_and_kind, key, &reference);
            reference
        }))
    }

    /// One version of a licence by stem and version number.
    pub async fn licence_version_of(
        &self,
        stem: &str,
        version: i64,
    ) -> Result<Option<LicenceVersionRecord>, StorageError> {
        let row = sqlx::query(&format!(
            "{VERSION_COLUMNS} WHERE stem = $1 AND version = $2"
        ))
        .bind(stem)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(version_from_row))
    }
}

impl Store {
    /// Licences matching `filter`, newest first, with their current versions, `limit` from
    /// `offset`; and how many match in all.
    pub async fn search_licences(
        &self,
        filter: &LicenceFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<(LicenceRecord, LicenceVersionRecord)>), StorageError> {
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        for (column, value) in [
            ("l.holder_code", &filter.holder_code),
            ("l.kind", &filter.kind),
            ("l.status", &filter.status),
            ("l.department_id", &filter.department_id),
        ] {
            if let Some(value) = value {
                values.push(value.clone());
                conditions.push(format!("{column} = ${}", values.len()));
            }
        }
        let filter_sql = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let count_sql = format!("SELECT COUNT(*) FROM licences l{filter_sql}");
        let mut count = sqlx::query(&count_sql);
        for value in &values {
            count = count.bind(value.clone());
        }
        let total: i64 = count.fetch_one(&self.pool).await?.get(0);
        let page_sql = format!(
            "SELECT {LICENCE_COLUMNS}, v.identifier, v.version, v.fields, \
             v.valid_from, v.valid_to, v.issued_at, v.seal_id, v.pdf_sha256, v.qr_payload \
             FROM licences l JOIN licence_versions v \
             ON v.stem = l.stem AND v.version = l.current_version{filter_sql} \
             ORDER BY l.created_at DESC, l.stem LIMIT ${} OFFSET ${}",
            values.len() + 1,
            values.len() + 2
        );
        let mut page = sqlx::query(&page_sql);
        for value in &values {
            page = page.bind(value.clone());
        }
        let rows = page.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        let found = rows
            .into_iter()
            .map(|row| {
                let licence = licence_from_row(&row);
                let version = LicenceVersionRecord {
                    identifier: row.get(8),
                    stem: licence.stem.clone(),
                    version: row.get(9),
                    fields: row.get(10),
                    valid_from: row.get(11),
                    valid_to: row.get(12),
                    issued_at: row.get(13),
                    seal_id: row.get(14),
                    pdf_sha256: row.get(15),
                    qr_payload: row.get(16),
                };
                (licence, version)
            })
            .collect();
        Ok((total, found))
    }

    /// Licences still recorded as valid (`01`) whose newest version's validity ended before
    /// `day` (`YYYY-MM-DD`), with that version's last valid day; at most `limit`.
    pub async fn lapsed_licences(
        &self,
        day: &str,
        limit: i64,
    ) -> Result<Vec<(LicenceRecord, String)>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {LICENCE_COLUMNS}, v.valid_to FROM licences l JOIN licence_versions v \
             ON v.stem = l.stem AND v.version = l.current_version \
             WHERE l.status = '01' AND v.valid_to IS NOT NULL AND v.valid_to < $1 \
             ORDER BY v.valid_to, l.stem LIMIT $2"
        ))
        .bind(day)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| (licence_from_row(row), row.get(8)))
            .collect())
    }

    /// The licence version whose signed PDF has this hex SHA-256, with its licence.
    pub async fn licence_by_pdf_digest(
        &self,
        pdf_sha256: &str,
    ) -> Result<Option<(LicenceRecord, LicenceVersionRecord)>, StorageError> {
        let row = sqlx::query(&format!("{VERSION_COLUMNS} WHERE pdf_sha256 = $1"))
            .bind(pdf_sha256)
            .fetch_optional(&self.pool)
            .await?;
        let Some(version) = row.map(version_from_row) else {
            return Ok(None);
        };
        Ok(self.licence(&version.stem).await?.map(|l| (l, version)))
    }
}

/// The audit log.
impl Store {
    /// The log's size and the hashes of its right-edge subtrees, unlocked.
    pub async fn audit_head(&self) -> Result<(i64, Vec<String>), StorageError> {
        let row = sqlx::query("SELECT size, frontier FROM audit_log_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(audit_head_from_row(&row))
    }

    /// The stored hashes of these perfect subtrees `(level, index)`; missing ones are absent.
    pub async fn audit_nodes(
        &self,
        ids: &[(u32, u64)],
    ) -> Result<HashMap<(u32, u64), String>, StorageError> {
        let mut found = HashMap::new();
        for chunk in ids.chunks(50) {
            let conditions: Vec<String> = (0..chunk.len())
                .map(|i| format!("(level = ${} AND idx = ${})", 2 * i + 1, 2 * i + 2))
                .collect();
            let sql = format!(
                "SELECT level, idx, hash FROM audit_nodes WHERE {}",
                conditions.join(" OR ")
            );
            let mut query = sqlx::query(&sql);
            for (level, index) in chunk {
                query = query.bind(i64::from(*level)).bind(*index as i64);
            }
            for row in query.fetch_all(&self.pool).await? {
                let (level, index): (i64, i64) = (row.get(0), row.get(1));
                found.insert((level as u32, index as u64), row.get(2));
            }
        }
        Ok(found)
    }

    /// Entries `start..end` of the log, in order.
    pub async fn audit_entries(
        &self,
        start: i64,
        end: i64,
    ) -> Result<Vec<LoggedAuditEvent>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, object, digest, outcome, request_id, seq, leaf_hash, tree_root, root_signature \
             FROM audit_events WHERE seq >= $1 AND seq < $2 ORDER BY seq",
        )
        .bind(start)
        .bind(end)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| LoggedAuditEvent {
                event: audit_event_from_row(row),
                place: LogPlace {
                    seq: row.get(8),
                    leaf_hash: row.get(9),
                    tree_root: row.get(10),
                    root_signature: row.get(11),
                },
            })
            .collect())
    }

    /// Entries written before the log was a Merkle tree, oldest first.
    pub async fn unplaced_audit_events(&self) -> Result<Vec<AuditEvent>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, object, digest, outcome, request_id FROM audit_events \
             WHERE seq IS NULL ORDER BY at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(audit_event_from_row).collect())
    }

    /// Every signed tree head, by size then time.
    pub async fn tree_heads(&self) -> Result<Vec<TreeHeadRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT tree_size, root_hash, signed_at, signature FROM audit_tree_heads \
             ORDER BY tree_size, signed_at",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| TreeHeadRecord {
                tree_size: row.get(0),
                root_hash: row.get(1),
                signed_at: row.get(2),
                signature: row.get(3),
            })
            .collect())
    }
}

impl Store {
    /// The foreign trust roots in force (not removed), oldest first.
    pub async fn active_trust_roots(&self) -> Result<Vec<TrustRootRecord>, StorageError> {
        let rows = sqlx::query(&format!(
            "{TRUST_ROOT_COLUMNS} WHERE removed_at IS NULL ORDER BY added_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(trust_root_from_row).collect())
    }

    /// A trust root by id, removed or not.
    pub async fn trust_root(&self, id: &str) -> Result<Option<TrustRootRecord>, StorageError> {
        let row = sqlx::query(&format!("{TRUST_ROOT_COLUMNS} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(trust_root_from_row))
    }

    /// The seal whose certificate is exactly these DER bytes.
    pub async fn seal_by_certificate(
        &self,
        certificate: &[u8],
    ) -> Result<Option<SealRecord>, StorageError> {
        let row = sqlx::query(&format!("{SEAL_COLUMNS} WHERE certificate = $1"))
            .bind(certificate)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(seal_from_row))
    }

    /// A licence's events, oldest first.
    pub async fn licence_events(
        &self,
        stem: &str,
    ) -> Result<Vec<LicenceEventRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, stem, at, action, status, version, reason, actor, seal_id, signature \
             FROM licence_events WHERE stem = $1 ORDER BY at, id",
        )
        .bind(stem)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| LicenceEventRecord {
                id: row.get(0),
                stem: row.get(1),
                at: row.get(2),
                action: row.get(3),
                status: row.get(4),
                version: row.get(5),
                reason: row.get(6),
                actor: row.get(7),
                seal_id: row.get(8),
                signature: row.get(9),
            })
            .collect())
    }

    /// The newest audit events, newest first.
    pub async fn recent_audit_events(&self, limit: i64) -> Result<Vec<AuditEvent>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, object, digest, outcome, request_id FROM audit_events \
             ORDER BY at DESC, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(audit_event_from_row).collect())
    }
}

pub mod write {
    use super::*;

    /// Marks a seal revoked at `at`; false if it does not exist or was revoked already.
    pub async fn revoke_seal(tx: &mut Tx, seal_id: &str, at: &str) -> Result<bool, StorageError> {
        let done =
            sqlx::query("UPDATE seals SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(seal_id)
                .bind(at)
                .execute(&mut **tx)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Inserts a department.
    pub async fn department(tx: &mut Tx, d: &DepartmentRecord) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO departments (id, name, credit_code, division_code, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&d.id)
        .bind(&d.name)
        .bind(&d.credit_code)
        .bind(&d.division_code)
        .bind(&d.created_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Inserts a seal.
    pub async fn seal(tx: &mut Tx, s: &SealRecord) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO seals (id, department_id, name, seal_code, certificate, sealed_key, created_at, shape, person_name) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&s.id)
        .bind(&s.department_id)
        .bind(&s.name)
        .bind(&s.seal_code)
        .bind(&s.certificate)
        .bind(&s.sealed_key)
        .bind(&s.created_at)
        .bind(&s.shape)
        .bind(&s.person_name)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Inserts an API key (its secret already hashed).
    pub async fn api_key(tx: &mut Tx, k: &ApiKeyRecord, at: &str) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO api_keys (id, role, department_id, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&k.id)
        .bind(&k.role)
        .bind(&k.department_id)
        .bind(&k.secret_hash)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Takes `count` consecutive serial numbers of a department for a licence kind (numbers
    /// start at 1) and returns the first.
    pub async fn next_serials(
        tx: &mut Tx,
        department_id: &str,
        kind: &str,
        count: i64,
    ) -> Result<u64, StorageError> {
        let updated = sqlx::query(
            "UPDATE serial_counters SET next_value = next_value + $3 \
             WHERE department_id = $1 AND kind = $2 RETURNING next_value - $3",
        )
        .bind(department_id)
        .bind(kind)
        .bind(count)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = updated {
            return Ok(row.get::<i64, _>(0).unsigned_abs());
        }
        sqlx::query(
            "INSERT INTO serial_counters (department_id, kind, next_value) VALUES ($1, $2, $3)",
        )
        .bind(department_id)
        .bind(kind)
        .bind(count + 1)
        .execute(&mut **tx)
        .await?;
        Ok(1)
    }

    /// Inserts a new licence with its first version and that version's signed PDF.
    pub async fn licence(
        tx: &mut Tx,
        l: &LicenceRecord,
        v: &LicenceVersionRecord,
        pdf: &StoredPdf,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO licences (stem, kind, department_id, holder_code, holder_name, current_version, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&l.stem)
        .bind(&l.kind)
        .bind(&l.department_id)
        .bind(&l.holder_code)
        .bind(&l.holder_name)
        .bind(l.current_version)
        .bind(&l.status)
        .bind(&l.created_at)
        .execute(&mut **tx)
        .await?;
        licence_version(tx, v, &l.kind, pdf).await
    }

    /// Inserts one version of a licence of template `kind` with its signed PDF; a PDF stored
    /// as sealed becomes the reference of its seal and kind unless another was named first.
    pub async fn licence_version(
        tx: &mut Tx,
        v: &LicenceVersionRecord,
        kind: &str,
        pdf: &StoredPdf,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO licence_versions (identifier, stem, version, fields, valid_from, valid_to, issued_at, seal_id, pdf_sha256, qr_payload) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&v.identifier)
        .bind(&v.stem)
        .bind(v.version)
        .bind(&v.fields)
        .bind(&v.valid_from)
        .bind(&v.valid_to)
        .bind(&v.issued_at)
        .bind(&v.seal_id)
        .bind(&v.pdf_sha256)
        .bind(&v.qr_payload)
        .execute(&mut **tx)
        .await?;
        let (bytes, against) = match pdf {
            StoredPdf::AsSealed(pdf) => (pdf, None),
            StoredPdf::Packed { against, packed } => (packed, Some(against.identifier())),
        };
        sqlx::query(
            "INSERT INTO licence_pdfs (identifier, pdf, packed_against) VALUES ($1, $2, $3)",
        )
        .bind(&v.identifier)
        .bind(bytes)
        .bind(against)
        .execute(&mut **tx)
        .await?;
        if against.is_none() {
            sqlx::query(
                "INSERT INTO pdf_references (seal_id, kind, identifier) VALUES ($1, $2, $3) \
                 ON CONFLICT (seal_id, kind) DO NOTHING",
            )
            .bind(&v.seal_id)
            .bind(kind)
            .bind(&v.identifier)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Records the event that made a licence, whose row [`licence`] wrote in the same
    /// transaction with the event's status and version. No one can have read the licence
    /// before, so nothing is announced.
    pub async fn first_licence_event(
        tx: &mut Tx,
        e: &LicenceEventRecord,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO licence_events (id, stem, at, action, status, version, reason, actor, seal_id, signature) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&e.id)
        .bind(&e.stem)
        .bind(&e.at)
        .bind(&e.action)
        .bind(&e.status)
        .bind(e.version)
        .bind(&e.reason)
        .bind(&e.actor)
        .bind(&e.seal_id)
        .bind(&e.signature)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Records a licence event and sets the licence's status and current version to the
    /// event's; on PostgreSQL, the change is announced to every listener
    /// ([`Store::licence_changes`]) when `tx` commits.
    pub async fn licence_event(tx: &mut Tx, e: &LicenceEventRecord) -> Result<(), StorageError> {
        first_licence_event(tx, e).await?;
        sqlx::query("UPDATE licences SET status = $1, current_version = $2 WHERE stem = $3")
            .bind(&e.status)
            .bind(e.version)
            .bind(&e.stem)
            .execute(&mut **tx)
            .await?;
        if tx.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
            // Delivered to every listener when `tx` commits, not before, and not if it fails.
            sqlx::query(&format!("NOTIFY {LICENCE_CHANGES}"))
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Sets the holder's name shown for a licence (a new version may rename the holder).
    pub async fn licence_holder_name(
        tx: &mut Tx,
        stem: &str,
        name: &str,
    ) -> Result<(), StorageError> {
        sqlx::query("UPDATE licences SET holder_name = $1 WHERE stem = $2")
            .bind(name)
            .bind(stem)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Inserts a foreign trust root.
    pub async fn trust_root(tx: &mut Tx, r: &TrustRootRecord) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO trust_roots (id, subject, certificate, sha256, added_at, removed_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&r.id)
        .bind(&r.subject)
        .bind(&r.certificate)
        .bind(&r.sha256)
        .bind(&r.added_at)
        .bind(&r.removed_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Marks a trust root removed at `at`; false if it was not in force.
    pub async fn remove_trust_root(tx: &mut Tx, id: &str, at: &str) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "UPDATE trust_roots SET removed_at = $1 WHERE id = $2 AND removed_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Locks the head of the audit log until the transaction ends (so entries get their
    /// places one at a time) and returns its size and the hashes of its right-edge subtrees.
    pub async fn lock_audit_head(tx: &mut Tx) -> Result<(i64, Vec<String>), StorageError> {
        let row = sqlx::query(
            "UPDATE audit_log_head SET size = size WHERE id = 1 RETURNING size, frontier",
        )
        .fetch_one(&mut **tx)
        .await?;
        Ok(audit_head_from_row(&row))
    }

    /// Appends consecutive audit entries at their places, with the subtrees they complete, in
    /// multi-row statements, and moves the head past the last; inside the transaction that
    /// locked the head.
    pub async fn audit_entries(
        tx: &mut Tx,
        entries: &[(&AuditEvent, LogPlace)],
        nodes: &[StoredNode],
        frontier: &[String],
    ) -> Result<(), StorageError> {
        let Some((_, last)) = entries.last() else {
            return Ok(());
        };
        for chunk in entries.chunks(ROWS_PER_INSERT) {
            let sql = values_statement(
                tx,
                "INSERT INTO audit_events (id, at, actor, action, object, digest, outcome, request_id, seq, leaf_hash, tree_root, root_signature) VALUES ",
                12,
                chunk.len(),
            );
            // A single entry (an action's own) is the common statement worth keeping
            // prepared; groups vary in size and would crowd the statement cache.
            let mut insert = sqlx::query(&sql).persistent(chunk.len() == 1);
            for (e, place) in chunk {
                insert = insert
                    .bind(&e.id)
                    .bind(&e.at)
                    .bind(&e.actor)
                    .bind(&e.action)
                    .bind(&e.object)
                    .bind(&e.digest)
                    .bind(&e.outcome)
                    .bind(&e.request_id)
                    .bind(place.seq)
                    .bind(&place.leaf_hash)
                    .bind(&place.tree_root)
                    .bind(&place.root_signature);
            }
            insert.execute(&mut **tx).await?;
        }
        store_nodes(tx, nodes).await?;
        move_audit_head(tx, last.seq + 1, frontier).await
    }

    /// Gives an entry written before the log was a Merkle tree its place.
    pub async fn place_audit_entry(
        tx: &mut Tx,
        id: &str,
        place: &LogPlace,
        nodes: &[StoredNode],
        frontier: &[String],
    ) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE audit_events SET seq = $1, leaf_hash = $2, tree_root = $3, root_signature = $4 WHERE id = $5",
        )
        .bind(place.seq)
        .bind(&place.leaf_hash)
        .bind(&place.tree_root)
        .bind(&place.root_signature)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        advance_audit_head(tx, place, nodes, frontier).await
    }

    /// Stores the subtrees an entry completed and moves the head past it.
    async fn advance_audit_head(
        tx: &mut Tx,
        place: &LogPlace,
        nodes: &[StoredNode],
        frontier: &[String],
    ) -> Result<(), StorageError> {
        store_nodes(tx, nodes).await?;
        move_audit_head(tx, place.seq + 1, frontier).await
    }

    /// Stores completed subtrees of the log, many per statement.
    async fn store_nodes(tx: &mut Tx, nodes: &[StoredNode]) -> Result<(), StorageError> {
        for chunk in nodes.chunks(ROWS_PER_INSERT) {
            let sql = values_statement(
                tx,
                "INSERT INTO audit_nodes (level, idx, hash) VALUES ",
                3,
                chunk.len(),
            );
            let mut insert = sqlx::query(&sql).persistent(false);
            for (level, index, hash) in chunk {
                insert = insert
                    .bind(i64::from(*level))
                    .bind(*index as i64)
                    .bind(hash);
            }
            insert.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Sets the head of the log: its size and right-edge subtrees.
    async fn move_audit_head(
        tx: &mut Tx,
        size: i64,
        frontier: &[String],
    ) -> Result<(), StorageError> {
        sqlx::query("UPDATE audit_log_head SET size = $1, frontier = $2 WHERE id = 1")
            .bind(size)
            .bind(frontier.join(","))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Rows per multi-row `INSERT`, so that a statement's placeholders stay within every
    /// backend's limit (SQLite's is 32,766).
    const ROWS_PER_INSERT: usize = 32;

    /// `start` followed by `rows` groups of `columns` placeholders for the backend of `tx`:
    /// anonymous on SQLite, `(?, ?), (?, ?)`, numbered on PostgreSQL, `($1, $2), ($3, $4)`
    /// (sqlx's `QueryBuilder` writes `?` for the `Any` driver, which PostgreSQL does not).
    /// SQLite looks numbered placeholders up by name, one by one, at parse and at bind time,
    /// so a statement with them costs the square of its placeholders: those lookups were 5% of
    /// the CPU of a busy verification service.
    fn values_statement(tx: &Tx, start: &str, columns: usize, rows: usize) -> String {
        let numbered = tx.backend_name() != <sqlx::Sqlite as sqlx::Database>::NAME;
        let mut sql = String::with_capacity(start.len() + rows * columns * 6);
        sql.push_str(start);
        for row in 0..rows {
            sql.push_str(if row == 0 { "(" } else { ", (" });
            for column in 0..columns {
                if column > 0 {
                    sql.push_str(", ");
                }
                if numbered {
                    sql.push('$');
                    sql.push_str(&(row * columns + column + 1).to_string());
                } else {
                    sql.push('?');
                }
            }
            sql.push(')');
        }
        sql
    }

    /// Records a signed tree head.
    pub async fn tree_head(tx: &mut Tx, head: &TreeHeadRecord) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO audit_tree_heads (tree_size, root_hash, signed_at, signature) VALUES ($1, $2, $3, $4)",
        )
        .bind(head.tree_size)
        .bind(&head.root_hash)
        .bind(&head.signed_at)
        .bind(&head.signature)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

const DEPARTMENT_COLUMNS: &str =
    "SELECT id, name, credit_code, division_code, created_at FROM departments";
const SEAL_COLUMNS: &str =
    "SELECT id, department_id, name, seal_code, certificate, sealed_key, created_at, shape, person_name, revoked_at FROM seals";
const TRUST_ROOT_COLUMNS: &str =
    "SELECT id, subject, certificate, sha256, added_at, removed_at FROM trust_roots";
const VERSION_COLUMNS: &str = "SELECT identifier, stem, version, fields, valid_from, valid_to, issued_at, seal_id, pdf_sha256, qr_payload FROM licence_versions";
/// The columns of [`licence_from_row`], from `licences l`.
const LICENCE_COLUMNS: &str = "l.stem, l.kind, l.department_id, l.holder_code, l.holder_name, \
     l.current_version, l.status, l.created_at";

fn department_from_row(row: AnyRow) -> DepartmentRecord {
    department_at(&row, 0)
}

/// A department from the columns of [`DEPARTMENT_COLUMNS`] starting at column `at`.
fn department_at(row: &AnyRow, at: usize) -> DepartmentRecord {
    DepartmentRecord {
        id: row.get(at),
        name: row.get(at + 1),
        credit_code: row.get(at + 2),
        division_code: row.get(at + 3),
        created_at: row.get(at + 4),
    }
}

fn seal_from_row(row: AnyRow) -> SealRecord {
    SealRecord {
        id: row.get(0),
        department_id: row.get(1),
        name: row.get(2),
        seal_code: row.get(3),
        certificate: row.get(4),
        sealed_key: row.get(5),
        created_at: row.get(6),
        shape: row.get(7),
        person_name: row.get(8),
        revoked_at: row.get(9),
    }
}

fn trust_root_from_row(row: AnyRow) -> TrustRootRecord {
    TrustRootRecord {
        id: row.get(0),
        subject: row.get(1),
        certificate: row.get(2),
        sha256: row.get(3),
        added_at: row.get(4),
        removed_at: row.get(5),
    }
}

fn version_from_row(row: AnyRow) -> LicenceVersionRecord {
    version_at(&row, 0)
}

/// A licence version from the columns of [`VERSION_COLUMNS`] starting at column `at`.
fn version_at(row: &AnyRow, at: usize) -> LicenceVersionRecord {
    LicenceVersionRecord {
        identifier: row.get(at),
        stem: row.get(at + 1),
        version: row.get(at + 2),
        fields: row.get(at + 3),
        valid_from: row.get(at + 4),
        valid_to: row.get(at + 5),
        issued_at: row.get(at + 6),
        seal_id: row.get(at + 7),
        pdf_sha256: row.get(at + 8),
        qr_payload: row.get(at + 9),
    }
}

/// The log's size and the hashes of its right-edge subtrees, from `size, frontier`.
fn audit_head_from_row(row: &AnyRow) -> (i64, Vec<String>) {
    let frontier: String = row.get(1);
    (
        row.get(0),
        frontier
            .split(',')
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

fn audit_event_from_row(row: &AnyRow) -> AuditEvent {
    AuditEvent {
        id: row.get(0),
        at: row.get(1),
        actor: row.get(2),
        action: row.get(3),
        object: row.get(4),
        digest: row.get(5),
        outcome: row.get(6),
        request_id: row.get(7),
    }
}

fn licence_from_row(row: &AnyRow) -> LicenceRecord {
    LicenceRecord {
        stem: row.get(0),
        kind: row.get(1),
        department_id: row.get(2),
        holder_code: row.get(3),
        holder_name: row.get(4),
        current_version: row.get(5),
        status: row.get(6),
        created_at: row.get(7),
    }
}

/// A stored key of the installation (e.g. the root CA).
#[derive(Debug, Clone)]
pub struct PkiKeyRecord {
    /// DER certificate.
    pub certificate: Vec<u8>,
    /// Private key sealed under the master key.
    pub sealed_key: Vec<u8>,
}

/// An issuing department.
#[derive(Debug, Clone)]
pub struct DepartmentRecord {
    /// Random id.
    pub id: String,
    /// Name, e.g. 厦门市市场监督管理局.
    pub name: String,
    /// Unified social credit code.
    pub credit_code: String,
    /// Administrative division code.
    pub division_code: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// A registered electronic seal.
#[derive(Debug, Clone)]
pub struct SealRecord {
    /// Random id.
    pub id: String,
    /// Owning department.
    pub department_id: String,
    /// Seal name, e.g. 行政审批专用章.
    pub name: String,
    /// 13-digit seal code, if registered.
    pub seal_code: Option<String>,
    /// DER certificate of the seal key.
    pub certificate: Vec<u8>,
    /// PKCS#8 key sealed under the master key.
    pub sealed_key: Vec<u8>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// Outline: `round`, `square` or `oval`.
    pub shape: String,
    /// The person a name seal (square or oval) belongs to.
    pub person_name: Option<String>,
    /// When its certificate was revoked, RFC 3339 UTC.
    pub revoked_at: Option<String>,
}

/// A seal certificate as published, with whose it is.
#[derive(Debug, Clone)]
pub struct PublishedSeal {
    /// Department name.
    pub department: String,
    /// Department credit code.
    pub credit_code: String,
    /// Seal name.
    pub seal_name: String,
    /// DER certificate.
    pub certificate: Vec<u8>,
}

/// A foreign root certificate trusted for verification.
#[derive(Debug, Clone)]
pub struct TrustRootRecord {
    /// Random id.
    pub id: String,
    /// Subject name, for people.
    pub subject: String,
    /// DER certificate.
    pub certificate: Vec<u8>,
    /// Hex SHA-256 of the DER.
    pub sha256: String,
    /// RFC 3339 UTC.
    pub added_at: String,
    /// When it stopped being trusted, RFC 3339 UTC.
    pub removed_at: Option<String>,
}

/// An API key (hash only).
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    /// Public key id (the part of the key before the secret).
    pub id: String,
    /// `admin` or `department`.
    pub role: String,
    /// The department a department key acts for.
    pub department_id: Option<String>,
    /// Argon2 PHC string of the secret.
    pub secret_hash: String,
}

/// A licence: the stable identity across versions.
#[derive(Debug, Clone)]
pub struct LicenceRecord {
    /// Identifier without version and check character.
    pub stem: String,
    /// Template kind, e.g. `business_licence`.
    pub kind: String,
    /// Issuing department.
    pub department_id: String,
    /// Holder's credit code or ID number.
    pub holder_code: String,
    /// Holder's name.
    pub holder_name: String,
    /// Newest version number.
    pub current_version: i64,
    /// National-platform status code, e.g. `01` (有效).
    pub status: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// One signed version of a licence.
#[derive(Debug, Clone)]
pub struct LicenceVersionRecord {
    /// Full identifier (with version and check character).
    pub identifier: String,
    /// Stable stem.
    pub stem: String,
    /// Version number.
    pub version: i64,
    /// Field values as JSON.
    pub fields: String,
    /// First valid day, `YYYY-MM-DD`.
    pub valid_from: String,
    /// Last valid day, `YYYY-MM-DD`; `None` for 长期.
    pub valid_to: Option<String>,
    /// RFC 3339 UTC.
    pub issued_at: String,
    /// Seal that signed it.
    pub seal_id: String,
    /// Hex SHA-256 of the PDF.
    pub pdf_sha256: String,
    /// Text of the QR code printed on it (URL and signed payload); `None` for versions
    /// issued before QR codes were signed.
    pub qr_payload: Option<String>,
}

/// Which version of a licence to read.
#[derive(Debug, Clone, Copy)]
pub enum VersionRef<'a> {
    /// The version with this full identifier.
    Identifier(&'a str),
    /// The newest version of the licence with this stem.
    Newest(&'a str),
}

/// What to search licences by; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct LicenceFilter {
    /// Holder's credit code or ID number.
    pub holder_code: Option<String>,
    /// Template kind.
    pub kind: Option<String>,
    /// Status code (`01` …).
    pub status: Option<String>,
    /// Issuing department.
    pub department_id: Option<String>,
}

/// One state change of a licence.
#[derive(Debug, Clone)]
pub struct LicenceEventRecord {
    /// Random id.
    pub id: String,
    /// The licence.
    pub stem: String,
    /// When it took effect, RFC 3339 UTC.
    pub at: String,
    /// `issue`, `change`, `renew`, `suspend`, `resume`, `revoke`, `cancel` or `expire`.
    pub action: String,
    /// Status code after the event.
    pub status: String,
    /// Current version after the event.
    pub version: i64,
    /// Why (as the department gave it).
    pub reason: String,
    /// Who, e.g. `department:<credit code>`.
    pub actor: String,
    /// The seal whose key signed the event.
    pub seal_id: String,
    /// Base64 ECDSA signature over the event's canonical JSON (see the service layer).
    pub signature: String,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Random id.
    pub id: String,
    /// RFC 3339 UTC.
    pub at: String,
    /// Who: `admin:<key id>`, `department:<credit code>`, `anonymous`.
    pub actor: String,
    /// What, e.g. `licence.issue`.
    pub action: String,
    /// On what, e.g. a licence identifier.
    pub object: String,
    /// Hex SHA-256 of the object's bytes, where there are bytes.
    #[schema(required = true)]
    pub digest: Option<String>,
    /// `ok` or a short failure reason.
    pub outcome: String,
    /// The HTTP request it was made in, if any.
    #[schema(required = true)]
    pub request_id: Option<String>,
}

/// A perfect subtree of the audit log to store: level, index and hex hash.
pub type StoredNode = (u32, u64, String);

/// An audit entry's place in the Merkle log.
#[derive(Debug, Clone)]
pub struct LogPlace {
    /// Position, from 0.
    pub seq: i64,
    /// Hex leaf hash.
    pub leaf_hash: String,
    /// Hex root of the log of `seq + 1` entries.
    pub tree_root: String,
    /// The log key's signature (base64 DER ECDSA) over that tree head; empty for an entry
    /// appended with others before the last of them, whose signature covers them all.
    pub root_signature: String,
}

/// An audit entry with its place in the log.
#[derive(Debug, Clone)]
pub struct LoggedAuditEvent {
    /// The entry.
    pub event: AuditEvent,
    /// Where it is.
    pub place: LogPlace,
}

/// A tree head signed for publication.
#[derive(Debug, Clone)]
pub struct TreeHeadRecord {
    /// Entries in the tree.
    pub tree_size: i64,
    /// Hex root hash.
    pub root_hash: String,
    /// RFC 3339 UTC.
    pub signed_at: String,
    /// Base64 DER ECDSA signature of the log key.
    pub signature: String,
}
