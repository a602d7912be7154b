//! The audit log as a Merkle tree (see [`crate::audit`]): appending entries inside the
//! action's own transaction, signed tree heads, inclusion and consistency proofs, and the
//! full check behind `zhengyin audit check`.

use std::sync::{Arc, Weak};

use base64::Engine;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use utoipa::ToSchema;

use super::{rfc3339, App, Principal, ServiceError};
use crate::audit::merkle::{self, Frontier, Hash};
use crate::audit::receipt::{Receipt, SignedTreeHead};
use crate::audit::{hex, parse_hash, tree_head_statement, Leaf};
use crate::storage::{self, write, LogPlace, StorageError, StoredNode, TreeHeadRecord};

/// Most entries [`App::log_alone`] appends in one transaction.
const MAX_GROUP: usize = 256;

/// An entry waiting for the log writer, and where to send its receipt.
pub(super) struct QueuedEntry {
    event: storage::AuditEvent,
    appended: oneshot::Sender<Result<LogReceipt, ServiceError>>,
}

/// Entries with their places in the tree, and the subtrees they complete.
type Placed<'e> = (Vec<(&'e storage::AuditEvent, LogPlace)>, Vec<StoredNode>);

/// How many entries `audit check` and the entries listing read at a time.
const PAGE: i64 = 5000;
/// Most entries listed by one call.
const MAX_LISTED: i64 = 1000;

/// Where an action was recorded: what a caller keeps to prove later, with a signed tree head
/// and an inclusion proof, that the action is in the log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogReceipt {
    /// The entry's position in the log.
    pub seq: u64,
    /// Its hex leaf hash.
    pub leaf_hash: String,
}

/// An inclusion proof (RFC 9162 §2.1.3).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InclusionProof {
    /// The entry's position.
    pub entry: u64,
    /// The tree the proof is for.
    pub tree_size: u64,
    /// Hex leaf hash of the entry.
    pub leaf_hash: String,
    /// Hex hashes, bottom up.
    pub proof: Vec<String>,
}

/// A consistency proof (RFC 9162 §2.1.4).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsistencyProof {
    /// The older tree's size.
    pub from: u64,
    /// The newer tree's size.
    pub to: u64,
    /// Hex hashes.
    pub proof: Vec<String>,
}

/// An entry of the log, as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogEntry {
    /// Position.
    pub seq: i64,
    /// Random id.
    pub id: String,
    /// RFC 3339 UTC.
    pub at: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub object: String,
    /// Digest of the object.
    #[schema(required = true)]
    pub digest: Option<String>,
    /// How it ended.
    pub outcome: String,
    /// The HTTP request it was made in.
    #[schema(required = true)]
    pub request_id: Option<String>,
    /// Hex leaf hash.
    pub leaf_hash: String,
}

/// What `audit check` found.
#[derive(Debug, Clone, Serialize)]
pub struct AuditCheck {
    /// Entries read.
    pub entries: u64,
    /// Signed tree heads compared.
    pub tree_heads: usize,
    /// The first thing wrong, naming the entry; `None` if the log is intact.
    pub problem: Option<String>,
}

/// A new audit entry's id: the time in milliseconds, then 64 random bits, in hex. Entries
/// come in time order, so their ids go to the end of the id index; random ids put each entry
/// on a random page of it, and writing those pages was most of a busy log's writes.
pub(super) fn entry_id() -> Result<String, ServiceError> {
    let millis = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    Ok(format!(
        "{millis:012x}{}",
        hex(&super::random_bytes::<8>()?)
    ))
}

impl App {
    /// Appends `event` to the audit log inside `tx`, the transaction of the action it records:
    /// takes the next place (locking the log's head until `tx` ends), hashes the entry into
    /// the tree, and signs the new root with the log key. Returns where it went.
    pub(super) async fn log(
        &self,
        tx: &mut storage::Tx,
        event: &storage::AuditEvent,
    ) -> Result<LogReceipt, ServiceError> {
        let mut receipts = self.append(tx, &[event]).await?;
        receipts
            .pop()
            .ok_or_else(|| ServiceError::Internal("an appended entry has no receipt".into()))
    }

    /// Appends `event`, an action that writes nothing else (a verification, a download), in a
    /// transaction shared with the other such entries waiting at that moment: one commit for
    /// the group, as databases group-commit their logs. Returns once the entry is committed.
    pub(super) async fn log_alone(
        &self,
        event: storage::AuditEvent,
    ) -> Result<LogReceipt, ServiceError> {
        let stopped = || ServiceError::Internal("the audit log writer has stopped".into());
        let (appended, answer) = oneshot::channel();
        self.log_queue
            .send(QueuedEntry { event, appended })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Starts the task behind [`App::log_alone`]: it takes every entry waiting (up to
    /// [`MAX_GROUP`]), appends them in one transaction and answers each. It holds the
    /// application weakly and ends when the application is dropped.
    pub(super) fn spawn_log_writer(app: Weak<App>, mut queue: mpsc::Receiver<QueuedEntry>) {
        tokio::spawn(async move {
            let mut group = Vec::with_capacity(MAX_GROUP);
            let mut head = None;
            while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
                let Some(app) = app.upgrade() else {
                    return;
                };
                let events: Vec<&storage::AuditEvent> = group.iter().map(|q| &q.event).collect();
                match app.append_group(&events, &mut head).await {
                    Ok(receipts) => {
                        for (queued, receipt) in group.drain(..).zip(receipts) {
                            let _ = queued.appended.send(Ok(receipt));
                        }
                    }
                    Err(e) => {
                        for queued in group.drain(..) {
                            let _ = queued.appended.send(Err(e.clone()));
                        }
                    }
                }
            }
        });
    }

    /// Appends `events` in order in one transaction of their own. `head` is the log's head as
    /// this writer last left it: on PostgreSQL the group is appended behind it in one
    /// statement, which takes effect only if no other writer appended since; otherwise, and
    /// after such a miss, behind the head locked in a transaction. `head` is then where the
    /// group ended the log.
    async fn append_group(
        &self,
        events: &[&storage::AuditEvent],
        head: &mut Option<Frontier>,
    ) -> Result<Vec<LogReceipt>, ServiceError> {
        if let Some(known) = head
            .take()
            .filter(|_| self.store.appends_audit_in_one_statement())
        {
            let mut frontier = known.clone();
            let (placed, nodes) = self.place_all(&mut frontier, events)?;
            if self
                .store
                .append_audit_if_head_at(
                    known.size() as i64,
                    &blocks(&known),
                    &placed,
                    &nodes,
                    &blocks(&frontier),
                )
                .await?
            {
                *head = Some(frontier);
                return Ok(receipts(placed));
            }
        }
        let mut tx = self.store.begin().await?;
        let (receipts, frontier) = self.append_behind_locked_head(&mut tx, events).await?;
        tx.commit().await.map_err(StorageError::from)?;
        *head = Some(frontier);
        Ok(receipts)
    }

    /// Appends `events` in order inside `tx`: locks the log's head until `tx` ends, hashes
    /// each entry into the tree and signs the root after the last: one signature covers the
    /// entries appended together, as the tree they end is the tree each of them is in.
    pub(super) async fn append(
        &self,
        tx: &mut storage::Tx,
        events: &[&storage::AuditEvent],
    ) -> Result<Vec<LogReceipt>, ServiceError> {
        Ok(self.append_behind_locked_head(tx, events).await?.0)
    }

    /// [`App::append`], also returning the head the entries end the log at.
    async fn append_behind_locked_head(
        &self,
        tx: &mut storage::Tx,
        events: &[&storage::AuditEvent],
    ) -> Result<(Vec<LogReceipt>, Frontier), ServiceError> {
        let (size, frontier) = write::lock_audit_head(tx).await?;
        let mut frontier = frontier_of(size, &frontier)?;
        let (placed, nodes) = self.place_all(&mut frontier, events)?;
        write::audit_entries(tx, &placed, &nodes, &blocks(&frontier)).await?;
        Ok((receipts(placed), frontier))
    }

    /// Places `events` in order behind `frontier`, signing the root after the last; their
    /// places and the subtrees they complete.
    fn place_all<'e>(
        &self,
        frontier: &mut Frontier,
        events: &[&'e storage::AuditEvent],
    ) -> Result<Placed<'e>, ServiceError> {
        let mut placed = Vec::with_capacity(events.len());
        let mut nodes = Vec::new();
        for (n, &event) in events.iter().enumerate() {
            let (place, completed) = self.place(frontier, event, n + 1 == events.len())?;
            nodes.extend(completed);
            placed.push((event, place));
        }
        Ok((placed, nodes))
    }

    /// Hashes `event` in as the next leaf of `frontier`; its place (with the new root signed,
    /// if `signed`) and the completed nodes.
    fn place(
        &self,
        frontier: &mut Frontier,
        event: &storage::AuditEvent,
        signed: bool,
    ) -> Result<(LogPlace, Vec<StoredNode>), ServiceError> {
        let seq = frontier.size();
        let leaf = leaf_of(seq, event).hash();
        let nodes = frontier
            .push(leaf)
            .into_iter()
            .map(|(id, hash)| (id.level, id.index, hex(&hash)))
            .collect();
        let root = frontier.root();
        let root_signature = if signed {
            let statement = tree_head_statement(seq + 1, &root, &event.at);
            let signature = self.log_key.sign(statement.as_bytes())?;
            base64::engine::general_purpose::STANDARD.encode(signature)
        } else {
            String::new()
        };
        Ok((
            LogPlace {
                seq: seq as i64,
                leaf_hash: hex(&leaf),
                tree_root: hex(&root),
                root_signature,
            },
            nodes,
        ))
    }

    /// Gives the entries written before the log was a Merkle tree their places, oldest first
    /// (once, when an older installation is opened).
    pub(super) async fn place_unplaced_entries(&self) -> Result<(), ServiceError> {
        for event in self.store.unplaced_audit_events().await? {
            let mut tx = self.store.begin().await?;
            let (size, frontier) = write::lock_audit_head(&mut tx).await?;
            let mut frontier = frontier_of(size, &frontier)?;
            let (place, nodes) = self.place(&mut frontier, &event, true)?;
            write::place_audit_entry(&mut tx, &event.id, &place, &nodes, &blocks(&frontier))
                .await?;
            tx.commit().await.map_err(StorageError::from)?;
        }
        Ok(())
    }

    /// Signs and records a tree head for the log as it is now (public: anyone may ask).
    pub async fn sign_tree_head(&self) -> Result<SignedTreeHead, ServiceError> {
        let (size, frontier) = self.store.audit_head().await?;
        let root = frontier_of(size, &frontier)?.root();
        let now = OffsetDateTime::now_utc();
        let timestamp = rfc3339(now);
        let statement = tree_head_statement(size as u64, &root, &timestamp);
        let signature = base64::engine::general_purpose::STANDARD
            .encode(self.log_key.sign(statement.as_bytes())?);
        let record = TreeHeadRecord {
            tree_size: size,
            root_hash: hex(&root),
            signed_at: timestamp.clone(),
            signature: signature.clone(),
        };
        let mut tx = self.store.begin().await?;
        write::tree_head(&mut tx, &record).await?;
        tx.commit().await.map_err(StorageError::from)?;
        Ok(SignedTreeHead {
            tree_size: size as u64,
            root_hash: record.root_hash,
            timestamp,
            signature,
            statement,
            log_certificate: super::pem("CERTIFICATE", self.log_key.certificate_der()),
        })
    }

    /// Signs a tree head now and then at every `Config::tree_head_every` (a minute by
    /// default), in the background, while the log grows.
    pub fn spawn_tree_head_signer(self: &Arc<Self>) {
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(app.tree_head_every);
            let mut signed_size = None;
            loop {
                every.tick().await;
                let size = match app.store.audit_head().await {
                    Ok((size, _)) => size,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the audit log head failed");
                        continue;
                    }
                };
                if signed_size == Some(size) {
                    continue;
                }
                match app.sign_tree_head().await {
                    Ok(head) => signed_size = Some(head.tree_size as i64),
                    Err(e) => tracing::warn!(error = %e, "signing a tree head failed"),
                }
            }
        });
    }

    /// The proof that entry `entry` is in the tree of `size` entries.
    pub async fn inclusion_proof(
        &self,
        entry: u64,
        size: u64,
    ) -> Result<InclusionProof, ServiceError> {
        self.check_size(size, "size").await?;
        if entry >= size {
            return Err(invalid("entry", "must be less than size"));
        }
        let ranges = merkle::inclusion_ranges(entry, size);
        let leaf = self.range_hashes(&[(entry, entry + 1)]).await?;
        Ok(InclusionProof {
            entry,
            tree_size: size,
            leaf_hash: hex(&leaf[0]),
            proof: self.range_hexes(&ranges).await?,
        })
    }

    /// The proof that the tree of `to` entries extends the tree of `from`.
    pub async fn consistency_proof(
        &self,
        from: u64,
        to: u64,
    ) -> Result<ConsistencyProof, ServiceError> {
        self.check_size(to, "to").await?;
        if from == 0 || from > to {
            return Err(invalid("from", "must be 1 to `to`"));
        }
        let ranges = merkle::consistency_ranges(from, to);
        Ok(ConsistencyProof {
            from,
            to,
            proof: self.range_hexes(&ranges).await?,
        })
    }

    /// A receipt for entry `entry`: the entry, a freshly signed tree head and the proof that
    /// it includes the entry, checkable offline. For administrators and the entry's own actor.
    pub async fn audit_receipt(
        &self,
        principal: &Principal,
        entry: u64,
    ) -> Result<Receipt, ServiceError> {
        let not_found = || ServiceError::NotFound(format!("audit entry {entry}"));
        // Positions are stored as i64: one past that range is not in the log.
        let start = i64::try_from(entry).map_err(|_| not_found())?;
        let end = start.checked_add(1).ok_or_else(not_found)?;
        let logged = self
            .store
            .audit_entries(start, end)
            .await?
            .pop()
            .ok_or_else(not_found)?;
        if !matches!(principal, Principal::Admin { .. }) && logged.event.actor != principal.actor()
        {
            return Err(ServiceError::Forbidden(
                "a receipt is given to the entry's actor and to administrators".into(),
            ));
        }
        let leaf = serde_json::to_string(&leaf_of(entry, &logged.event))
            .map_err(|e| ServiceError::Internal(format!("serialising a leaf: {e}")))?;
        let tree_head = self.sign_tree_head().await?;
        let proof = self.inclusion_proof(entry, tree_head.tree_size).await?;
        Ok(Receipt {
            entry,
            leaf,
            leaf_hash: proof.leaf_hash,
            inclusion: proof.proof,
            tree_head,
        })
    }

    /// Entries `start..end` of the log (administrators).
    pub async fn log_entries(
        &self,
        principal: &Principal,
        start: i64,
        end: i64,
    ) -> Result<Vec<LogEntry>, ServiceError> {
        principal.require_admin("reads the audit log")?;
        if start < 0 || end < start || end - start > MAX_LISTED {
            return Err(invalid(
                "end",
                &format!("give 0 <= start <= end <= start + {MAX_LISTED}"),
            ));
        }
        Ok(self
            .store
            .audit_entries(start, end)
            .await?
            .into_iter()
            .map(|logged| LogEntry {
                seq: logged.place.seq,
                id: logged.event.id,
                at: logged.event.at,
                actor: logged.event.actor,
                action: logged.event.action,
                object: logged.event.object,
                digest: logged.event.digest,
                outcome: logged.event.outcome,
                request_id: logged.event.request_id,
                leaf_hash: logged.place.leaf_hash,
            })
            .collect())
    }

    /// Recomputes the whole tree from the entries in the database and compares it with what
    /// the log key signed: each entry's own signed root, and every published tree head. Names
    /// the first entry that was altered, removed or reordered.
    pub async fn check_audit_log(&self) -> Result<AuditCheck, ServiceError> {
        let (size, _) = self.store.audit_head().await?;
        let heads = self.store.tree_heads().await?;
        let verify = |statement: &str, signature: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(signature)
                .is_ok_and(|der| self.log_key_verifies(statement.as_bytes(), &der))
        };
        let mut frontier = Frontier::default();
        let mut next_head = heads.iter().peekable();
        let mut problem = None;
        while let Some(head) = next_head.next_if(|h| h.tree_size == 0) {
            problem = problem.or_else(|| self.bad_head(head, &merkle::empty_root(), &verify));
        }
        // The first entry since the last signed one.
        let mut unsigned_from = None;
        let mut start = 0;
        'pages: while problem.is_none() && start < size {
            let page = self.store.audit_entries(start, start + PAGE).await?;
            for logged in &page {
                let seq = frontier.size();
                if logged.place.seq as u64 != seq {
                    problem = Some(format!(
                        "entry {seq} is missing: the log continues at entry {}",
                        logged.place.seq
                    ));
                    break 'pages;
                }
                frontier.push(leaf_of(seq, &logged.event).hash());
                let root = frontier.root();
                if logged.place.root_signature.is_empty() {
                    // Signed with the entries appended after it, by the last of them.
                    unsigned_from.get_or_insert(seq);
                    if seq + 1 == size as u64 {
                        problem = Some(format!(
                            "entry {seq}, the last, carries no signature: it was altered, or \
                             the entries after it removed"
                        ));
                        break 'pages;
                    }
                } else {
                    let statement = tree_head_statement(seq + 1, &root, &logged.event.at);
                    if !verify(&statement, &logged.place.root_signature) {
                        let what = match unsigned_from {
                            Some(from) => format!(
                                "one of entries {from} to {seq} (signed together; the last is {} \
                                 by {} at {})",
                                logged.event.action, logged.event.actor, logged.event.at
                            ),
                            None => format!(
                                "entry {seq} ({} by {} at {})",
                                logged.event.action, logged.event.actor, logged.event.at
                            ),
                        };
                        problem = Some(format!(
                            "{what} was altered or moved: the log key did not sign the log that \
                             ends with entry {seq} as it now reads"
                        ));
                        break 'pages;
                    }
                    unsigned_from = None;
                }
                while let Some(head) = next_head.next_if(|h| h.tree_size as u64 == seq + 1) {
                    if let Some(bad) = self.bad_head(head, &root, &verify) {
                        problem = Some(bad);
                        break 'pages;
                    }
                }
            }
            if page.is_empty() {
                problem = Some(format!(
                    "entry {} is missing: the log's head says it holds {size}",
                    frontier.size()
                ));
                break;
            }
            start += PAGE;
        }
        if problem.is_none() {
            // Heads past the end: entries removed from the end.
            for head in next_head {
                let root = frontier.root();
                problem = if head.tree_size as u64 > frontier.size() {
                    Some(format!(
                        "entries {} to {} are missing: a tree head signed at {} covers {} entries",
                        frontier.size(),
                        head.tree_size - 1,
                        head.signed_at,
                        head.tree_size
                    ))
                } else {
                    self.bad_head(head, &root, &verify)
                };
                if problem.is_some() {
                    break;
                }
            }
        }
        Ok(AuditCheck {
            entries: frontier.size(),
            tree_heads: heads.len(),
            problem,
        })
    }

    /// What is wrong with a signed head of the tree whose root is `root`, if anything.
    fn bad_head(
        &self,
        head: &TreeHeadRecord,
        root: &Hash,
        verify: &impl Fn(&str, &str) -> bool,
    ) -> Option<String> {
        let signed_root = parse_hash(&head.root_hash);
        let statement = signed_root
            .map(|r| tree_head_statement(head.tree_size as u64, &r, &head.signed_at))
            .unwrap_or_default();
        if signed_root.is_none() || !verify(&statement, &head.signature) {
            return Some(format!(
                "the tree head recorded for {} entries at {} is not signed by the log key",
                head.tree_size, head.signed_at
            ));
        }
        (signed_root != Some(*root)).then(|| {
            format!(
                "the entries do not match the tree head signed for {} entries at {}",
                head.tree_size, head.signed_at
            )
        })
    }

    fn log_key_verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok((_, certificate)) =
            x509_parser::parse_x509_certificate(self.log_key.certificate_der())
        else {
            return false;
        };
        UnparsedPublicKey::new(
            &ECDSA_P256_SHA256_ASN1,
            certificate.public_key().subject_public_key.data.as_ref(),
        )
        .verify(message, signature)
        .is_ok()
    }

    async fn check_size(&self, size: u64, field: &str) -> Result<(), ServiceError> {
        let (current, _) = self.store.audit_head().await?;
        if size == 0 || size > current as u64 {
            return Err(invalid(
                field,
                &format!("must be 1 to the log's size, {current}"),
            ));
        }
        Ok(())
    }

    /// The MTHs of `ranges` in hex.
    async fn range_hexes(&self, ranges: &[(u64, u64)]) -> Result<Vec<String>, ServiceError> {
        Ok(self
            .range_hashes(ranges)
            .await?
            .iter()
            .map(|h| hex(h))
            .collect())
    }

    /// The MTHs of `ranges`, from the stored perfect subtrees.
    async fn range_hashes(&self, ranges: &[(u64, u64)]) -> Result<Vec<Hash>, ServiceError> {
        let blocks: Vec<Vec<merkle::NodeId>> =
            ranges.iter().map(|&(a, b)| merkle::blocks(a, b)).collect();
        let ids: Vec<(u32, u64)> = blocks
            .iter()
            .flatten()
            .map(|id| (id.level, id.index))
            .collect();
        let stored = self.store.audit_nodes(&ids).await?;
        blocks
            .iter()
            .map(|range| {
                let hashes = range
                    .iter()
                    .map(|id| {
                        stored
                            .get(&(id.level, id.index))
                            .and_then(|h| parse_hash(h))
                            .ok_or_else(|| {
                                ServiceError::Internal(format!(
                                    "audit node {}/{} is missing or malformed",
                                    id.level, id.index
                                ))
                            })
                    })
                    .collect::<Result<Vec<Hash>, _>>()?;
                Ok(merkle::fold(&hashes))
            })
            .collect()
    }
}

/// The leaf of `event` at position `seq`.
fn leaf_of(seq: u64, event: &storage::AuditEvent) -> Leaf<'_> {
    Leaf {
        seq,
        id: &event.id,
        at: &event.at,
        actor: &event.actor,
        action: &event.action,
        object: &event.object,
        digest: event.digest.as_deref(),
        outcome: &event.outcome,
        request_id: event.request_id.as_deref(),
    }
}

/// The hex hashes of `frontier`'s right-edge subtrees, as the log's head stores them.
fn blocks(frontier: &Frontier) -> Vec<String> {
    frontier.block_hashes().iter().map(|h| hex(h)).collect()
}

/// What each caller is given for its placed entry.
fn receipts(placed: Vec<(&storage::AuditEvent, LogPlace)>) -> Vec<LogReceipt> {
    placed
        .into_iter()
        .map(|(_, place)| LogReceipt {
            seq: place.seq as u64,
            leaf_hash: place.leaf_hash,
        })
        .collect()
}

/// The frontier stored with the log's head.
fn frontier_of(size: i64, blocks: &[String]) -> Result<Frontier, ServiceError> {
    let hashes: Option<Vec<Hash>> = blocks.iter().map(|h| parse_hash(h)).collect();
    hashes
        .and_then(|hashes| Frontier::new(size as u64, &hashes))
        .ok_or_else(|| ServiceError::Internal("the audit log's head is malformed".into()))
}

fn invalid(field: &str, message: &str) -> ServiceError {
    ServiceError::InvalidField {
        field: field.into(),
        message: message.into(),
    }
}
