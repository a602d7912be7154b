//! zhengyin in-process, warm: the median time of one seal or one verification inside this
//! process, key and font loading and a first warm-up run excluded. The zhengyin half of
//! `examples/compare.sh`'s in-process rows (pyHanko's is `examples/compare_pyhanko.py`):
//!
//! `cargo run --release --example compare_inprocess -- seal RUNS OUT_DIR IN.pdf...` seals each
//! file RUNS times with the library's `zhengyin::seal::stamp` at PAdES B-B (no service, no
//! database) and writes the last result to OUT_DIR/NAME, and the seal certificate's throw-away
//! root to OUT_DIR/root.der;
//! `cargo run --release --example compare_inprocess -- verify RUNS ROOT.pem SEALED.pdf`
//! verifies the file RUNS times with `zhengyin::pdf::validate::verify_pdf` against the root
//! and fails unless every signature is valid and trusted. Both print `NAME<TAB>median ms`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use zhengyin::pdf::validate::{verify_pdf, TrustAnchors};

#[path = "support/stamping.rs"]
mod stamping;

/// Runs `work` once to warm up, then `runs` times: the median wall time in ms and the last
/// result.
fn median_ms<T>(runs: usize, mut work: impl FnMut() -> T) -> (f64, T) {
    let mut result = work();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            result = work();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], result)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: compare_inprocess seal RUNS OUT_DIR IN.pdf... | verify RUNS ROOT.pem SEALED.pdf";
    let (mode, runs, rest) = match args.as_slice() {
        [mode, runs, rest @ ..] if rest.len() >= 2 => (mode, runs.parse().expect(usage), rest),
        _ => panic!("{usage}"),
    };
    match mode.as_str() {
        "seal" => {
            let sealer = stamping::Sealer::new();
            let out_dir = PathBuf::from(&rest[0]);
            std::fs::write(out_dir.join("root.der"), &sealer.chain[0]).expect("write root");
            for input in rest[1..].iter().map(Path::new) {
                let pdf = read(input);
                let (median, sealed) = median_ms(runs, || sealer.seal(&pdf));
                std::fs::write(out_dir.join(name(input)), sealed).expect("write sealed file");
                println!("{}\t{median:.3}", name(input));
            }
        }
        "verify" => {
            let pem = read(Path::new(&rest[0]));
            let (_, root) = x509_parser::pem::parse_x509_pem(&pem).expect("root PEM");
            let anchors = TrustAnchors::new(vec![root.contents]);
            let sealed_path = Path::new(&rest[1]);
            let sealed = read(sealed_path);
            let (median, report) = median_ms(runs, || {
                verify_pdf(&sealed, &anchors, None).expect("verify")
            });
            assert!(
                !report.signatures.is_empty() && report.all_valid_and_trusted(),
                "{}: not valid and trusted: {report:?}",
                sealed_path.display()
            );
            println!("{}\t{median:.3}", name(sealed_path));
        }
        _ => panic!("{usage}"),
    }
}
