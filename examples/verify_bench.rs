//! Measures verifying a sealed ~100 KB PDF (the Google Docs corpus file sealed by us): the
//! verifier alone (CMS, chain, revision analysis), the whole service path (plus seal lookup and
//! the audit record), its throughput with two concurrent verifiers, and in the same run
//! pyHanko (`pyhanko sign validate`, interpreter start-up included as a user meets it) and
//! poppler's `pdfsig` on the same file, for the ratios. Needs the validators
//! (`bash ../shared/validate/install.sh`).
//!
//! `cargo run --release --example verify_bench [-- RUNS]` (default 200 runs for us, 5 for the
//! external tools).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use zhengyin::pdf::validate::{verify_pdf, TrustAnchors};
use zhengyin::service::SealRequest;

#[path = "support/mod.rs"]
#[allow(dead_code)] // shared by the examples, each of which uses part of it
mod support;

use support::{median, peak_rss_mib, Bench};

const FILE: &str = "sf-google-docs.pdf";

/// Median wall time of running `command` (built afresh by `make`) `runs` times, ms; `None` if
/// it cannot run.
fn time_command(runs: usize, make: impl Fn() -> Command) -> Option<f64> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let output = make().output().ok()?;
        if !output.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&output.stdout));
            return None;
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Some(median(times))
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let bench = Bench::start("verify-bench").await;
    let (app, department, work) = (&bench.app, &bench.department, &bench.work);
    let original = std::fs::read(shared.join("corpus").join(FILE)).expect("corpus file");
    let sealed = app
        .seal_document(department, original, SealRequest::default())
        .await
        .expect("seal")
        .pdf
        .into_vec();
    let sealed_path = work.join("sealed.pdf");
    std::fs::write(&sealed_path, &sealed).expect("write sealed file");
    let root_pem = work.join("data/certs/root.pem");

    let anchors = TrustAnchors::new(vec![app.root_certificate_der().to_vec()]);
    let verifier: Vec<f64> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            let report = verify_pdf(&sealed, &anchors, None).expect("verify");
            assert!(report.all_valid_and_trusted());
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let mut service = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let answer = app
            .verify_pdf(None, sealed.clone(), None)
            .await
            .expect("verify");
        assert!(answer.valid);
        service.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let started = Instant::now();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let app = Arc::clone(app);
            let sealed = sealed.clone();
            tokio::spawn(async move {
                for _ in 0..runs / 2 {
                    app.verify_pdf(None, sealed.clone(), None)
                        .await
                        .expect("verify");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    let per_second = (runs / 2 * 2) as f64 / started.elapsed().as_secs_f64();

    let venv = std::env::var("KIT_VENV").map_or_else(
        |_| {
            Path::new(&std::env::var("HOME").unwrap_or_default())
                .join(".cache/zhengyin-validators/venv")
        },
        Into::into,
    );
    let pyhanko = time_command(5, || {
        let mut command = Command::new(venv.join("bin/pyhanko"));
        command
            .args(["sign", "validate", "--no-revocation-check", "--trust"])
            .arg(&root_pem)
            .arg(&sealed_path);
        command
    });
    let nss = work.join("nssdb");
    std::fs::create_dir_all(&nss).expect("nss dir");
    let nss_ready = Command::new("certutil")
        .args(["-N", "--empty-password", "-d"])
        .arg(format!("sql:{}", nss.display()))
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("certutil")
            .args(["-A", "-n", "root", "-t", "C,C,C", "-d"])
            .arg(format!("sql:{}", nss.display()))
            .arg("-i")
            .arg(&root_pem)
            .status()
            .is_ok_and(|s| s.success());
    let pdfsig = nss_ready
        .then(|| {
            time_command(5, || {
                let mut command = Command::new("pdfsig");
                command
                    .arg("-nssdir")
                    .arg(format!("sql:{}", nss.display()))
                    .arg(&sealed_path);
                command
            })
        })
        .flatten();

    let (verifier, service) = (median(verifier), median(service));
    let ratio = |theirs: Option<f64>| {
        theirs.map_or("(not installed)".to_string(), |t| {
            format!("{t:.1} ms ({:.0}× ours)", t / service)
        })
    };
    println!(
        "sealed {FILE}: {} KB, {runs} runs; verifier alone median {verifier:.2} ms; service \
         (with audit record) median {service:.2} ms; two concurrent verifiers: {per_second:.0} \
         verifications/s",
        sealed.len() / 1024
    );
    println!("pyHanko sign validate: {}", ratio(pyhanko));
    println!("pdfsig: {}", ratio(pdfsig));
    println!("peak RSS: {:.1} MiB", peak_rss_mib());
    bench.finish().await;
}
