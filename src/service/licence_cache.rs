//! Licences as verification last read them, kept in memory for a moment: a counter's page
//! verifies the same licence many times a second, and the database round trip, not the
//! check, had become the cost of an answer. This process forgets every entry when it changes
//! a licence, so its own changes are seen at once. On PostgreSQL every committed change is
//! also announced (`NOTIFY`) to every serving process, which forgets its entries on hearing
//! it ([`App::spawn_licence_watch`]); while it listens an entry is used for up to
//! [`LICENCE_REFRESH_WATCHED`]. Otherwise (SQLite, or the listener's connection lost) an entry
//! is used for at most [`LICENCE_REFRESH`], so another process's change is seen within it, as
//! with the trust in force. Writers never read from here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::task::AbortHandle;

use super::App;
use crate::storage::{DepartmentRecord, LicenceRecord, LicenceVersionRecord};

/// How stale a kept licence may be when changes are not announced: the same bound as the
/// trust in force ([`super::trust`]), so a revocation made by another instance is seen within
/// it.
const LICENCE_REFRESH: Duration = Duration::from_secs(1);
/// How long a kept licence is used while changes are announced to this process: a change
/// forgets it at once, so this only bounds how long a kept licence outlives a listener that
/// failed without noticing.
const LICENCE_REFRESH_WATCHED: Duration = Duration::from_secs(60);
/// How long to wait before listening again after the listener's connection was lost.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);
/// Most licences kept (about 2 KB each); when full, stale entries go, then all.
const MAX_KEPT: usize = 10_000;

/// A licence version with its licence and issuing department, as read together.
pub(super) type InFull = (LicenceRecord, LicenceVersionRecord, DepartmentRecord);

/// Licences by the identifier or stem they were asked for.
#[derive(Debug, Default)]
pub(super) struct LicenceCache {
    /// Bumped by every change this process makes or hears of: a read begun before it is not
    /// kept.
    generation: AtomicU64,
    kept: Mutex<HashMap<String, (Instant, Arc<InFull>)>>,
    /// Whether every committed change is being announced to this process.
    watched: AtomicBool,
    /// The task listening for changes, ended with the cache.
    watcher: Mutex<Option<AbortHandle>>,
}

impl LicenceCache {
    /// The licence kept for `id`, if read recently enough to use.
    pub fn get(&self, id: &str) -> Option<Arc<InFull>> {
        let kept = self.kept.lock().ok()?;
        let (read_at, found) = kept.get(id)?;
        (read_at.elapsed() < self.refresh()).then(|| Arc::clone(found))
    }

    /// The generation to pass to [`LicenceCache::keep`], taken before reading.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps `found`, read for `id` at `read_at` in `generation`, unless a change came in
    /// between.
    pub fn keep(&self, id: &str, generation: u64, read_at: Instant, found: Arc<InFull>) {
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if kept.len() >= MAX_KEPT {
            let refresh = self.refresh();
            kept.retain(|_, (at, _)| at.elapsed() < refresh);
            if kept.len() >= MAX_KEPT {
                kept.clear();
            }
        }
        kept.insert(id.to_string(), (read_at, found));
    }

    /// Forgets every licence, after a change (called once the change is committed).
    pub fn forget_all(&self) {
        if let Ok(mut kept) = self.kept.lock() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            kept.clear();
        }
    }

    /// Records that every change committed from now on is announced to this process (or,
    /// with `false`, no longer is). What was kept before the announcements began may have
    /// missed a change, so it is forgotten.
    fn set_watched(&self, watched: bool) {
        if watched {
            self.forget_all();
        }
        self.watched.store(watched, Ordering::Release);
    }

    /// How long a kept licence is used.
    fn refresh(&self) -> Duration {
        if self.watched.load(Ordering::Acquire) {
            LICENCE_REFRESH_WATCHED
        } else {
            LICENCE_REFRESH
        }
    }
}

impl Drop for LicenceCache {
    fn drop(&mut self) {
        if let Some(watcher) = self.watcher.get_mut().ok().and_then(Option::take) {
            watcher.abort();
        }
    }
}

impl App {
    /// Whether this process hears of every licence change committed by any process (and so
    /// keeps what it read for a minute rather than a second).
    pub fn hears_licence_changes(&self) -> bool {
        self.licences.watched.load(Ordering::Acquire)
    }

    /// Listens for licence changes committed by any process (PostgreSQL's `NOTIFY`; nothing
    /// to do on SQLite) and forgets every kept licence at each, so that a serving process
    /// sees another's revocation at once and may keep licences longer; listens again after
    /// [`RELISTEN_AFTER`] when the connection is lost. The task ends with the application.
    pub fn spawn_licence_watch(self: &Arc<Self>) {
        let app = Arc::downgrade(self);
        let store = self.store.clone();
        let task = tokio::spawn(async move {
            loop {
                match store.licence_changes().await {
                    Ok(None) => return,
                    Ok(Some(mut changes)) => {
                        let Some(lost) = forget_at_each_change(&app, &mut changes).await else {
                            return;
                        };
                        tracing::warn!(error = %lost, "stopped hearing of licence changes");
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot listen for licence changes"),
                }
                tokio::time::sleep(RELISTEN_AFTER).await;
            }
        });
        if let Ok(mut watcher) = self.licences.watcher.lock() {
            if let Some(previous) = watcher.replace(task.abort_handle()) {
                previous.abort();
            }
        }
    }
}

/// Forgets the kept licences of `app` at each change `changes` announces, until the
/// connection is lost (the error) or the application is gone (`None`).
async fn forget_at_each_change(
    app: &Weak<App>,
    changes: &mut crate::storage::LicenceChanges,
) -> Option<crate::storage::StorageError> {
    app.upgrade()?.licences.set_watched(true);
    loop {
        let change = changes.next().await;
        let app = app.upgrade()?;
        match change {
            Ok(()) => app.licences.forget_all(),
            Err(lost) => {
                app.licences.set_watched(false);
                return Some(lost);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn licence(status: &str) -> Arc<InFull> {
        let licence = LicenceRecord {
            stem: "stem".into(),
            kind: "business_licence".into(),
            department_id: "d".into(),
            holder_code: "h".into(),
            holder_name: "n".into(),
            current_version: 1,
            status: status.into(),
            created_at: "2026-11-24T00:00:00Z".into(),
        };
        let version = LicenceVersionRecord {
            identifier: "id".into(),
            stem: "stem".into(),
            version: 1,
            fields: "{}".into(),
            valid_from: "2026-11-24".into(),
            valid_to: None,
            issued_at: "2026-11-24T00:00:00Z".into(),
            seal_id: "s".into(),
            pdf_sha256: "00".into(),
            qr_payload: None,
        };
        let department = DepartmentRecord {
            id: "d".into(),
            name: "厦门市市场监督管理局".into(),
            credit_code: "11350200MB0D00002U".into(),
            division_code: "350200".into(),
            created_at: "2026-11-24T00:00:00Z".into(),
        };
        Arc::new((licence, version, department))
    }

    #[test]
    fn a_kept_licence_is_used_until_stale() {
        let cache = LicenceCache::default();
        let generation = cache.generation();
        cache.keep("id", generation, Instant::now(), licence("01"));
        assert_eq!(cache.get("id").expect("kept").0.status, "01");
        assert!(cache.get("other").is_none());
        let long_ago = Instant::now()
            .checked_sub(LICENCE_REFRESH)
            .expect("the clock started over a second ago");
        cache.keep("old", generation, long_ago, licence("01"));
        assert!(cache.get("old").is_none(), "read too long ago");
    }

    #[test]
    fn announced_changes_let_a_licence_be_kept_longer_and_forget_what_was_kept() {
        let cache = LicenceCache::default();
        let before = cache.generation();
        cache.keep("id", before, Instant::now(), licence("01"));
        cache.set_watched(true);
        assert!(
            cache.get("id").is_none(),
            "read before changes were announced: it may have missed one"
        );
        let two_seconds_ago = Instant::now()
            .checked_sub(2 * LICENCE_REFRESH)
            .expect("the clock started over two seconds ago");
        cache.keep("id", cache.generation(), two_seconds_ago, licence("01"));
        assert!(
            cache.get("id").is_some(),
            "kept while changes are announced"
        );
        cache.set_watched(false);
        assert!(cache.get("id").is_none(), "stale once they are not");
    }

    #[test]
    fn a_local_change_forgets_kept_licences_and_reads_begun_before_it() {
        let cache = LicenceCache::default();
        let before = cache.generation();
        cache.keep("id", before, Instant::now(), licence("01"));
        cache.forget_all();
        assert!(cache.get("id").is_none(), "forgotten");
        cache.keep("id", before, Instant::now(), licence("01"));
        assert!(
            cache.get("id").is_none(),
            "a read begun before the change may have seen the old licence"
        );
        cache.keep("id", cache.generation(), Instant::now(), licence("04"));
        assert_eq!(cache.get("id").expect("kept").0.status, "04");
    }
}
