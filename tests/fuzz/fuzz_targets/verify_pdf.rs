//! Verification of an uploaded PDF: the loader, the signature dictionaries, CMS, certificate
//! paths and the revision analysis. Any input must give a report or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zhengyin::pdf::validate::{verify_pdf, TrustAnchors};

fuzz_target!(|data: &[u8]| {
    let _ = verify_pdf(data, &TrustAnchors::default(), None);
});
