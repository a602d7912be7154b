//! Sealing an uploaded PDF end to end (loading for an incremental update, placement, the
//! impression, embedding and signing) with a seal key made once. Any input must give a sealed
//! file or an error, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zhengyin::pdf::appearance::{SealForm, SealImpression, SealShape};
use zhengyin::pdf::font::{FontProgram, NOTO_SERIF_SC};
use zhengyin::pki::{MasterKey, RootCa, SealKey, SealSubject};
use zhengyin::seal::{stamp, Placement, Stamp};

struct Fixture {
    key: SealKey,
    chain: Vec<Vec<u8>>,
    appearance: SealForm,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let master = MasterKey::from_bytes([3; 32]);
        let stored = RootCa::generate("模糊测试根", &master).unwrap();
        let root =
            RootCa::open(stored.certificate_der.clone(), &stored.sealed_key, &master).unwrap();
        let subject = SealSubject {
            department: "厦门市市场监督管理局",
            credit_code: "11350200MB0D00002U",
            seal_name: "行政审批专用章",
            status: None,
        };
        let issued = root.issue_seal(&subject, 5, &master).unwrap();
        Fixture {
            key: SealKey::open(issued.certificate_der, &issued.sealed_key, &master).unwrap(),
            chain: vec![stored.certificate_der],
            appearance: SealForm::new(
                &SealImpression {
                    shape: SealShape::Round,
                    name: "厦门市市场监督管理局".into(),
                    purpose: Some("行政审批专用章".into()),
                    code: Some("3502000012345".into()),
                    width_mm: 42.0,
                },
                &FontProgram::new(NOTO_SERIF_SC).unwrap(),
            )
            .unwrap(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let request = Stamp {
        key: &fixture.key,
        chain: &fixture.chain,
        appearance: &fixture.appearance,
        placement: Placement::default(),
        signer_name: "厦门市市场监督管理局",
        reason: "模糊测试",
        location: "厦门",
        password: None,
        timestamper: None,
    };
    let _ = stamp(data.to_vec(), &request, time::OffsetDateTime::UNIX_EPOCH);
});
