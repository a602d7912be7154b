//! Measures sealing three corpus files (small, 55 pages, 240 KB A3) through the service
//! (load, appearance, incremental update, CMS, audit record), and the same files sealed by
//! pyHanko (`../shared/validate/sign-foreign.sh`, PAdES B-B with a visible widget) in the same
//! run, for the ratio. Needs the validators (`bash ../shared/validate/install.sh`).
//!
//! `cargo run --release --example seal_bench [-- RUNS]` (default 50 runs per file for us, 5
//! for pyHanko, whose figure includes its interpreter start-up as a user would meet it).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use zhengyin::service::{App, Config, NewDepartment, SealRequest};

const FILES: [&str; 3] = [
    "sf-libreoffice-writer.pdf",
    "pdfjs-pdkids-55p.pdf",
    "pdfjs-a3-landscape-1.3.pdf",
];

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Peak resident memory of this process so far, MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let work = std::env::temp_dir().join(format!("zhengyin-seal-bench-{}", std::process::id()));
    let config = Config {
        data_dir: work.join("data"),
        database_url: None,
        public_url: "http://127.0.0.1:8080".into(),
    };
    let (app, _) = App::open(&config).await.expect("open installation");
    app.register_department(
        &App::local_admin(),
        NewDepartment {
            name: "厦门市市场监督管理局".into(),
            credit_code: "11350200MB0D00002U".into(),
            division_code: "350200".into(),
            seal_name: Some("行政审批专用章".into()),
            seal_code: Some("3502000012345".into()),
        },
    )
    .await
    .expect("register department");
    let department = app
        .local_department("11350200MB0D00002U")
        .await
        .expect("department");
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
            app.seal_document(&department, pdf.clone(), SealRequest::default())
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
    app.close().await;
    let _ = std::fs::remove_dir_all(&work);
}
