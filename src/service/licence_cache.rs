//! Licences as verification last read them, kept in memory for a moment: a counter's page
//! verifies the same licence many times a second, and the database round trip, not the
//! check, had become the cost of an answer. An entry is used for at most
//! [`LICENCE_REFRESH`] (another process's change is seen within it, as with the trust in
//! force) and this process forgets every entry when it changes a licence, so its own changes
//! are seen at once. Writers never read from here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::storage::{DepartmentRecord, LicenceRecord, LicenceVersionRecord};

/// How stale a kept licence may be: the same bound as the trust in force
/// ([`super::trust`]), so a revocation made by another instance is seen within it.
const LICENCE_REFRESH: Duration = Duration::from_secs(1);
/// Most licences kept (about 2 KB each); when full, stale entries go, then all.
const MAX_KEPT: usize = 10_000;

/// A licence version with its licence and issuing department, as read together.
pub(super) type InFull = (LicenceRecord, LicenceVersionRecord, DepartmentRecord);

/// Licences by the identifier or stem they were asked for.
#[derive(Debug, Default)]
pub(super) struct LicenceCache {
    /// Bumped by every local change: a read begun before it is not kept.
    generation: AtomicU64,
    kept: Mutex<HashMap<String, (Instant, Arc<InFull>)>>,
}

impl LicenceCache {
    /// The licence kept for `id`, if read within [`LICENCE_REFRESH`].
    pub fn get(&self, id: &str) -> Option<Arc<InFull>> {
        let kept = self.kept.lock().ok()?;
        let (read_at, found) = kept.get(id)?;
        (read_at.elapsed() < LICENCE_REFRESH).then(|| Arc::clone(found))
    }

    /// The generation to pass to [`LicenceCache::keep`], taken before reading.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps `found`, read for `id` at `read_at` in `generation`, unless a local change
    /// came in between.
    pub fn keep(&self, id: &str, generation: u64, read_at: Instant, found: Arc<InFull>) {
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if kept.len() >= MAX_KEPT {
            kept.retain(|_, (at, _)| at.elapsed() < LICENCE_REFRESH);
            if kept.len() >= MAX_KEPT {
                kept.clear();
            }
        }
        kept.insert(id.to_string(), (read_at, found));
    }

    /// Forgets every licence, after this process changed one (called once the change is
    /// committed).
    pub fn forget_all(&self) {
        if let Ok(mut kept) = self.kept.lock() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            kept.clear();
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
