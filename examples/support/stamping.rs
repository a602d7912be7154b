//! The library's own stamping (`zhengyin::seal::stamp`) at PAdES B-B, without the service: a
//! round seal for 厦门市市场监督管理局 with a P-256 key under a throw-away root, the impression
//! where the service puts it by default (the last page). Shared by
//! `examples/compare_inprocess.rs` and `benches/inprocess.rs`.

use time::OffsetDateTime;

use zhengyin::pdf::appearance::{SealForm, SealImpression, SealShape};
use zhengyin::pdf::font::{FontProgram, NOTO_SERIF_SC};
use zhengyin::pki::{MasterKey, RootCa, SealKey, SealSubject};
use zhengyin::seal::{Placement, Stamp};

const DEPARTMENT: &str = "厦门市市场监督管理局";

/// A seal key, its certificate chain, the impression and the font, made once.
pub struct Sealer {
    /// The seal key (the licence QR code's signed payload uses it too).
    pub key: SealKey,
    /// The root above the seal certificate, DER: the one trust anchor a verifier needs.
    pub chain: [Vec<u8>; 1],
    impression: SealImpression,
    font: FontProgram,
}

impl Sealer {
    /// A new root and seal key (in memory only).
    pub fn new() -> Sealer {
        let master = MasterKey::from_bytes([7; 32]);
        let stored = RootCa::generate("基准测试根证书", &master).expect("root");
        let root = RootCa::open(stored.certificate_der.clone(), &stored.sealed_key, &master)
            .expect("open root");
        let subject = SealSubject {
            department: DEPARTMENT,
            credit_code: "11350200MB0D00002U",
            seal_name: "行政审批专用章",
            status: None,
        };
        let seal = root.issue_seal(&subject, 5, &master).expect("seal key");
        Sealer {
            key: SealKey::open(seal.certificate_der, &seal.sealed_key, &master).expect("open key"),
            chain: [stored.certificate_der],
            impression: SealImpression {
                shape: SealShape::Round,
                name: DEPARTMENT.into(),
                purpose: Some("行政审批专用章".into()),
                code: Some("3502000012345".into()),
                width_mm: 42.0,
            },
            font: FontProgram::new(NOTO_SERIF_SC).expect("font"),
        }
    }

    /// `pdf` sealed at PAdES B-B: the original bytes plus one incremental update. The
    /// impression is laid out for each file, as a one-off `zhengyin seal` does (the service
    /// lays out each seal once).
    pub fn seal(&self, pdf: &[u8]) -> Vec<u8> {
        let appearance = SealForm::new(&self.impression, &self.font).expect("lays out");
        let stamp = Stamp {
            key: &self.key,
            chain: &self.chain,
            appearance: &appearance,
            placement: Placement::default(),
            signer_name: DEPARTMENT,
            reason: "电子印章盖章",
            location: DEPARTMENT,
            password: None,
            timestamper: None,
        };
        zhengyin::seal::stamp(pdf.to_vec(), &stamp, OffsetDateTime::now_utc())
            .expect("stamp")
            .into_vec()
    }
}
