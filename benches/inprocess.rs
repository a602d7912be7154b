//! In-process benchmarks with divan, library level (no service, no database): sealing three
//! corpus files at PAdES B-B with `zhengyin::seal::stamp` (the ~100 KB Google Docs file, 55
//! pages, an A3 page), verifying the Google Docs file so sealed with
//! `zhengyin::pdf::validate::verify_pdf`, laying out and rendering one business licence page
//! (with its signed QR payload) as the service does before sealing it, and packing a sealed
//! licence against another of the same seal for storage and unpacking it. Needs the corpus in
//! `../shared/corpus`.
//!
//! `cargo bench --bench inprocess`

use std::path::Path;

use divan::Bencher;
use serde_json::Value;
use time::macros::date;

use zhengyin::domain::{CreditCode, DivisionCode, LicenceId, LicenceTypeCode, Serial, Version};
use zhengyin::licence::credential::{self, LicenceClaims};
use zhengyin::licence::{CheckedFields, PageFacts, Template, Templates};
use zhengyin::pdf::font::NOTO_SERIF_SC;
use zhengyin::pdf::render::Renderer;
use zhengyin::pdf::validate::{verify_pdf, TrustAnchors};
use zhengyin::storage::PdfReference;

#[path = "../examples/support/stamping.rs"]
mod stamping;

use stamping::Sealer;

const SEALED_FOR_VERIFY: &str = "sf-google-docs.pdf";

fn main() {
    divan::main();
}

fn corpus(file: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[divan::bench(
    args = [SEALED_FOR_VERIFY, "pdfjs-pdkids-55p.pdf", "pdfjs-a3-landscape-1.3.pdf"],
    sample_count = 50,
)]
fn seal_b_b(bencher: Bencher, file: &str) {
    let sealer = Sealer::new();
    let pdf = corpus(file);
    bencher.bench_local(|| sealer.seal(&pdf));
}

#[divan::bench(sample_count = 100)]
fn verify_sealed(bencher: Bencher) {
    let sealer = Sealer::new();
    let sealed = sealer.seal(&corpus(SEALED_FOR_VERIFY));
    let anchors = TrustAnchors::new(sealer.chain.to_vec());
    let report = verify_pdf(&sealed, &anchors, None).expect("verify");
    assert!(report.all_valid_and_trusted(), "{report:?}");
    bencher.bench_local(|| verify_pdf(&sealed, &anchors, None).expect("verify"));
}

/// What the service lays a business licence page out from: the fixture's fields, with `holder`
/// as the holder's name and `serial` as the serial number, and its signed QR payload.
struct LicenceInputs {
    template: Template,
    checked: CheckedFields,
    identifier: String,
    qr_payload: String,
    department: String,
}

impl LicenceInputs {
    fn new(holder: &str, serial: u64) -> LicenceInputs {
        let issued_on = date!(2024 - 05 - 20);
        let templates = Templates::builtin().expect("templates");
        let template = templates.get("business_licence").expect("template").clone();
        let fixtures: Value = serde_json::from_str(include_str!("../tests/fixtures/licences.json"))
            .expect("fixtures");
        let sample = &fixtures["business_licence"];
        let text = |key: &str| sample[key].as_str().expect(key).to_string();
        let mut fields = sample["fields"].clone();
        fields["name"] = Value::from(holder);
        let mut checked = template.check(&fields, issued_on).expect("sample checks");
        let division = DivisionCode::parse(&text("division")).expect("division");
        template
            .assign_number(&mut checked, &division, serial, issued_on)
            .expect("number");
        let issuer = CreditCode::parse("11350200MB0D00002U").expect("credit code");
        let identifier = LicenceId::new(
            &LicenceTypeCode::parse(&template.type_code).expect("type code"),
            &issuer,
            &Serial::from_sequence(serial),
            Version::first(),
        )
        .to_string();
        let claims = LicenceClaims {
            iss: issuer.to_string(),
            sub: identifier.clone(),
            iat: 1_716_163_200,
            kn: template.name.clone(),
            hc: checked.holder_code.clone(),
            hn: checked.holder_name.clone(),
            vf: checked.valid_from.to_string(),
            vt: checked.valid_to.map(|d| d.to_string()),
        };
        let token = credential::sign(&claims, &Sealer::new().key).expect("signed payload");
        let qr_payload = credential::qr_text("http://127.0.0.1:8080", &identifier, &token);
        LicenceInputs {
            template,
            checked,
            identifier,
            qr_payload,
            department: text("department"),
        }
    }

    /// Lays the page out and renders it.
    fn render(&self, renderer: &Renderer) -> Vec<u8> {
        let facts = PageFacts {
            identifier: &self.identifier,
            qr_payload: &self.qr_payload,
            issuer_name: &self.department,
            issued_on: date!(2024 - 05 - 20),
        };
        renderer
            .render(&self.template.layout(&self.checked, &facts, renderer))
            .expect("render")
    }
}

#[divan::bench(sample_count = 30)]
fn render_business_licence(bencher: Bencher) {
    let renderer = Renderer::new(NOTO_SERIF_SC).expect("font");
    let inputs = LicenceInputs::new("厦门市鹭岛数字科技有限公司", 12);
    bencher.bench_local(|| inputs.render(&renderer));
}

/// Two sealed business licences of one seal for different holders: the first is the
/// reference ([`PdfReference`]) the second is stored packed against.
fn sealed_twins() -> (PdfReference, Vec<u8>) {
    let renderer = Renderer::new(NOTO_SERIF_SC).expect("font");
    let sealer = Sealer::new();
    let first =
        sealer.seal(&LicenceInputs::new("厦门市鹭岛数字科技有限公司", 12).render(&renderer));
    let second =
        sealer.seal(&LicenceInputs::new("泉州市晋江安海食品贸易有限公司", 13).render(&renderer));
    (PdfReference::new("first", first), second)
}

#[divan::bench(sample_count = 100)]
fn pack_licence_pdf(bencher: Bencher) {
    let (reference, second) = sealed_twins();
    let packed = reference.pack(&second).expect("pack");
    eprintln!("packed {} of {} bytes", packed.len(), second.len());
    bencher.bench_local(|| reference.pack(&second).expect("pack"));
}

#[divan::bench(sample_count = 100)]
fn unpack_licence_pdf(bencher: Bencher) {
    let (reference, second) = sealed_twins();
    let packed = reference.pack(&second).expect("pack");
    bencher.bench_local(|| reference.unpack(&packed).expect("unpack"));
}
