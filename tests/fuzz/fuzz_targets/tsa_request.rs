//! The time-stamping authority on any request body (what `POST /tsa` accepts from anyone) and
//! the audit receipt check on any JSON: an answer or an error, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zhengyin::audit::receipt::Receipt;
use zhengyin::pki::chain::CertificateSet;
use zhengyin::pki::{MasterKey, RootCa, SealKey, ServiceKeyUse};
use zhengyin::tsa::TimeStampAuthority;

/// One authority under a throw-away root, made once.
fn authority() -> &'static TimeStampAuthority {
    static AUTHORITY: OnceLock<TimeStampAuthority> = OnceLock::new();
    AUTHORITY.get_or_init(|| {
        let master = MasterKey::from_bytes([3; 32]);
        let stored = RootCa::generate("fuzz", &master).unwrap();
        let root = RootCa::open(stored.certificate_der.clone(), &stored.sealed_key, &master).unwrap();
        let issued = root
            .issue_service_key("fuzz tsa", ServiceKeyUse::TimeStamping, None, 1, &master)
            .unwrap();
        let key = SealKey::open(issued.certificate_der, &issued.sealed_key, &master).unwrap();
        TimeStampAuthority::new(key, vec![stored.certificate_der]).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = authority().respond(data, time::OffsetDateTime::UNIX_EPOCH);
    if let Ok(receipt) = serde_json::from_slice::<Receipt>(data) {
        let _ = receipt.check(&CertificateSet::default(), Some(data));
    }
});
