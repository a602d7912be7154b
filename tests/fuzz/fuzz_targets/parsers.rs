//! The domain parsers and the QR payload check, on any text: a value or an error, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zhengyin::domain::{
    CreditCode, DivisionCode, HolderCode, IdNumber, LicenceId, LicenceTypeCode, Money, Serial,
    Version,
};
use zhengyin::licence::credential::{scan, verify_offline};
use zhengyin::pki::chain::CertificateSet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = CreditCode::parse(text);
    let _ = IdNumber::parse(text);
    let _ = HolderCode::parse(text);
    let _ = DivisionCode::parse(text);
    let _ = LicenceId::parse(text);
    let _ = LicenceTypeCode::parse(text);
    let _ = Serial::parse(text);
    let _ = Version::parse(text);
    let _ = Money::parse(text);
    let _ = scan(text);
    let _ = verify_offline(text, &CertificateSet::default(), time::Date::MIN);
    let _ = CertificateSet::from_pem(data);
});
