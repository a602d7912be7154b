//! What verifications trust, kept in memory: the roots in force and the revoked seals (read
//! from the database at most once per [`TRUST_REFRESH`], and at once after this process
//! changes them), and the outcome of checking each stored licence PDF, so that verifying a
//! licence by identifier does not re-verify the same signed bytes on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use x509_parser::prelude::{FromDer, X509Certificate};

use super::{App, ServiceError};
use crate::pdf::validate::{RevokedCertificate, TrustAnchors};

/// How stale the trusted roots and revocations may be: another instance's revocation is seen
/// within this time (the CRL we publish is good for a day).
const TRUST_REFRESH: Duration = Duration::from_secs(1);
/// How long a stored PDF's check is reused: after this it is verified again, so a certificate
/// that expired or a PDF changed in the database behind the service is noticed.
const CHECK_LIFETIME: Duration = Duration::from_secs(600);
/// Most stored-PDF checks kept; when full, the cache starts again empty.
const MAX_CHECKS: usize = 100_000;

/// The trust anchors in force and a digest of them.
#[derive(Debug)]
pub(super) struct TrustState {
    /// Roots and revocations for the verifier.
    pub anchors: Arc<TrustAnchors>,
    /// SHA-256 over the roots and revocations: equal digests, equal trust.
    digest: [u8; 32],
    read_at: Instant,
}

/// The outcome of checking a stored licence PDF.
#[derive(Debug, Clone)]
pub(super) struct StoredPdfCheck {
    /// What is wrong with it; empty if nothing.
    pub problems: Vec<String>,
    /// Every signature is intact, unmodified and chains to a trusted root.
    pub valid_and_trusted: bool,
}

/// Checks of stored PDFs by their recorded SHA-256, with the trust they were made under.
#[derive(Debug, Default)]
pub(super) struct CheckCache {
    trust: Mutex<Option<Arc<TrustState>>>,
    checks: Mutex<HashMap<String, KeptCheck>>,
}

/// A check as kept: when it was made, the digest of the trust it was made under, and the
/// outcome.
type KeptCheck = (Instant, [u8; 32], StoredPdfCheck);

impl CheckCache {
    /// Forgets the trust state, after this process changed a root or a revocation.
    pub fn forget_trust(&self) {
        if let Ok(mut trust) = self.trust.lock() {
            *trust = None;
        }
    }

    /// The check of the PDF with this digest made under `trust`, if still fresh.
    pub fn check(&self, pdf_sha256: &str, trust: &TrustState) -> Option<StoredPdfCheck> {
        let checks = self.checks.lock().ok()?;
        let (at, digest, check) = checks.get(pdf_sha256)?;
        (*digest == trust.digest && at.elapsed() < CHECK_LIFETIME).then(|| check.clone())
    }

    /// Keeps the check of the PDF with this digest, made under `trust`.
    pub fn keep(&self, pdf_sha256: &str, trust: &TrustState, check: StoredPdfCheck) {
        if let Ok(mut checks) = self.checks.lock() {
            if checks.len() >= MAX_CHECKS {
                checks.clear();
            }
            checks.insert(
                pdf_sha256.to_string(),
                (Instant::now(), trust.digest, check),
            );
        }
    }
}

impl App {
    /// The roots and revocations in force (from memory when fresh).
    pub(super) async fn trust_state(&self) -> Result<Arc<TrustState>, ServiceError> {
        if let Some(state) = self.checks.trust.lock().ok().and_then(|t| t.clone()) {
            if state.read_at.elapsed() < TRUST_REFRESH {
                return Ok(state);
            }
        }
        let mut roots = vec![self.root.certificate_der().to_vec()];
        roots.extend(
            self.store
                .active_trust_roots()
                .await?
                .into_iter()
                .map(|r| r.certificate),
        );
        let (_, root) = X509Certificate::from_der(self.root.certificate_der())
            .map_err(|e| ServiceError::Internal(format!("root certificate: {e}")))?;
        let revocations = self.revocations().await?;
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        for root in &roots {
            digest.update(&(root.len() as u64).to_be_bytes());
            digest.update(root);
        }
        for revocation in &revocations {
            digest.update(&(revocation.serial.len() as u64).to_be_bytes());
            digest.update(&revocation.serial);
            digest.update(&revocation.at.unix_timestamp().to_be_bytes());
        }
        let revoked = revocations
            .into_iter()
            .map(|revocation| RevokedCertificate {
                issuer: root.subject().as_raw().to_vec(),
                serial: revocation.serial,
                at: revocation.at,
            })
            .collect();
        let state = Arc::new(TrustState {
            anchors: Arc::new(TrustAnchors::new(roots).with_revocations(revoked)),
            digest: digest
                .finish()
                .as_ref()
                .try_into()
                .map_err(|_| ServiceError::Internal("SHA-256 is not 32 bytes".into()))?,
            read_at: Instant::now(),
        });
        if let Ok(mut trust) = self.checks.trust.lock() {
            *trust = Some(Arc::clone(&state));
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust(digest: u8) -> TrustState {
        TrustState {
            anchors: Arc::new(TrustAnchors::default()),
            digest: [digest; 32],
            read_at: Instant::now(),
        }
    }

    #[test]
    fn a_check_is_reused_only_for_the_same_pdf_under_the_same_trust() {
        let cache = CheckCache::default();
        let check = StoredPdfCheck {
            problems: vec!["the seal does not belong to the issuing department".into()],
            valid_and_trusted: true,
        };
        cache.keep("aa", &trust(1), check.clone());
        let reused = cache.check("aa", &trust(1)).expect("kept");
        assert_eq!(reused.problems, check.problems);
        assert!(reused.valid_and_trusted);
        assert!(cache.check("aa", &trust(2)).is_none(), "trust changed");
        assert!(cache.check("bb", &trust(1)).is_none(), "another PDF");
    }
}
