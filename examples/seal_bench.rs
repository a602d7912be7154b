//! Measures sealing three corpus files (small, 55 pages, 240 KB A3) at PAdES B-B through the
//! service (load, appearance, incremental update, CMS, audit record), and the same files sealed by
//! pyHanko (`../shared/validate/sign-foreign.sh`, PAdES B-B with a visible widget) in the same
//! run, for the ratio. Needs the validators (`bash ../shared/validate/install.sh`).
//!
//! `cargo run --release --example seal_bench [-- RUNS]` (default 50 runs per file for us, 5
//! for pyHanko, whose figure includes its interpreter start-up as a user would meet it).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use zhengyin::seal::SealLevel;
use zhengyin::service::SealRequest;

#[path = "support/mod.rs"]
#[allow(dead_code)] // shared by the examples, each of which uses part of it
mod support;

use support::{median, peak_rss_mib, Bench};

const FILES: [&str; 3] = [
    "sf-libreoffice-writer.pdf",
    "pdfjs-pdkids-55p.pdf",
    "pdfjs-a3-landscape-1.3.pdf",
];

/// PAdES B-B, as pyHanko's `addsig` without a time-stamping authority makes.
fn b_b() -> SealRequest {
    SealRequest {
        level: SealLevel::Basic,
        ..SealRequest::default()
    }
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let bench = Bench::start("seal-bench").await;
    let (app, department, work) = (&bench.app, &bench.department, &bench.work);
    let pki = work.join("foreign-pki");
    let made = Command::new("bash")
        .arg(shared.join("validate/make-foreign-pki.sh"))
        .arg(&pki)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);

    println!("| file | size | zhengyin median | pyHanko median | ratio |");
    println!("|---|---|---|---|---|");
    for file in FILES {
        let path = shared.join("corpus").join(file);
        let pdf = std::fs::read(&path).expect("corpus file");
        let mut ours = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            app.seal_document(department, pdf.clone(), b_b())
                .await
                .expect("seal");
            ours.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let ours = median(ours);
        let theirs = made.then(|| {
            median(
                (0..5)
                    .map(|_| {
                        let started = Instant::now();
                        let ok = Command::new("bash")
                            .arg(shared.join("validate/sign-foreign.sh"))
                            .arg(&pki)
                            .arg(&path)
                            .arg(work.join("pyhanko.pdf"))
                            .output()
                            .map(|o| o.status.success())
                            .unwrap_or(false);
                        assert!(ok, "pyHanko failed on {file}");
                        started.elapsed().as_secs_f64() * 1000.0
                    })
                    .collect(),
            )
        });
        match theirs {
            Some(theirs) => println!(
                "| {file} | {} KB | {ours:.2} ms | {theirs:.0} ms | {:.0}× |",
                pdf.len() / 1024,
                theirs / ours
            ),
            None => println!(
                "| {file} | {} KB | {ours:.2} ms | (pyHanko not installed) | |",
                pdf.len() / 1024
            ),
        }
    }
    println!(
        "peak RSS of the zhengyin process: {:.1} MiB",
        peak_rss_mib()
    );
    bench.finish().await;
}
