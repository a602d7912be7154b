//! Load on the whole service over loopback: the real HTTP router serving on a random port, and
//! a load generator with a fixed number of keep-alive connections on a thread of its own,
//! asking `GET /api/v1/verify/licences/{id}` (anonymous, as a service counter's page does) or
//! searching `GET /api/v1/licences?holder=…` (with a department's key) for a fixed time. Prints
//! requests per second and the latency percentiles; every answer must be 200 and genuine.
//!
//! ```text
//! cargo run --release --example loadtest -- [--licences 2000] [--seconds 10] [--connections 32]
//!     [--target verify|search] [--distinct] [--wrk] [--database-url postgres://…/DB]
//! ```
//!
//! `--wrk` loads the service with `wrk` (Debian's package, a C program on one thread) instead
//! of the built-in generator, verifying the same licences in turn; it prints wrk's report. It
//! takes less of the two cores than the built-in generator, which also parses every answer.
//!
//! It issues `--licences` business licences first (none with `--licences 0`, on a database
//! that already has them, such as one filled by `zhengyin licence import`). `--distinct`
//! verifies each licence at most once, so no answer comes from the service's cache of
//! stored-PDF checks (the run stops when the licences run out). SQLite in a temporary
//! directory unless `--database-url` names an existing database (PostgreSQL: an empty one,
//! or one with licences, with the `--data-dir` it was made with); the data directory is a
//! fresh temporary one unless `--data-dir` names one.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::Value;
use sqlx::Row;
use tokio::task::JoinSet;
use zhengyin::service::{App, Config, NewDepartment, Principal};

#[path = "support/mod.rs"]
#[allow(dead_code)] // shared by the examples, each of which uses part of it
mod support;

use support::{business_licence, credit_code, issue_in_batches, peak_rss_mib, rss_mib};

/// What to load and how hard.
#[derive(Parser, Debug)]
struct Args {
    /// Licences to issue before the run.
    #[arg(long, default_value_t = 2000)]
    licences: usize,
    /// Length of the measured run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// `verify` (by identifier) or `search` (by holder).
    #[arg(long, default_value = "verify")]
    target: String,
    /// Verify each licence at most once (no answer from the check cache).
    #[arg(long)]
    distinct: bool,
    /// Load with `wrk` (verification only) instead of the built-in generator.
    #[arg(long)]
    wrk: bool,
    /// An existing database instead of a fresh SQLite one.
    #[arg(long)]
    database_url: Option<String>,
    /// The installation's data directory (kept; it holds the master key that opens the
    /// database's keys), instead of a temporary one.
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

/// The department every licence is issued by.
const CREDIT_CODE: &str = "11350200MB0D00002U";

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let work = std::env::temp_dir().join(format!("zhengyin-loadtest-{}", std::process::id()));
    let config = Config {
        database_url: args.database_url.clone(),
        ..Config::new(
            args.data_dir.clone().unwrap_or_else(|| work.join("data")),
            "http://127.0.0.1:8080".into(),
        )
    };
    let (app, _) = App::open(&config).await.expect("open installation");
    let department = match app.local_department(CREDIT_CODE).await {
        Ok(department) => department,
        Err(_) => {
            register(&app, "厦门市市场监督管理局", CREDIT_CODE, "350200").await;
            app.local_department(CREDIT_CODE).await.expect("department")
        }
    };
    // A department of its own for the search key (keys are shown only when made).
    let search_key = register(
        &app,
        &format!("负载测试查询部门{}", std::process::id()),
        &credit_code("11350100MB", std::process::id() as usize),
        "350100",
    )
    .await;
    issue(&app, &department, args.licences).await;
    let targets = Arc::new(targets(&config, &args).await);
    assert!(!targets.is_empty(), "no licences to load: issue some first");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    app.spawn_licence_watch();
    let router = zhengyin::http::router(Arc::clone(&app));
    tokio::spawn(async move { axum::serve(listener, router).await });

    let rss_before = rss_mib();
    let report = if args.wrk {
        tokio::task::spawn_blocking({
            let (targets, work) = (Arc::clone(&targets), work.clone());
            move || run_wrk(&base, &targets, &work, args.connections, args.seconds)
        })
        .await
        .expect("wrk")
    } else {
        let generator = {
            let (targets, seconds) = (Arc::clone(&targets), args.seconds);
            let (connections, distinct) = (args.connections, args.distinct);
            let search = (args.target == "search").then_some(search_key);
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(load(base, targets, search, seconds, connections, distinct))
            })
        };
        let (mut latencies, elapsed) = generator.join().expect("load generator");
        latencies.sort_unstable();
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
        format!(
            "{} {}: {} requests over {} connections in {:.1} s = {:.0} requests/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            args.target,
            if args.distinct { "(distinct licences)" } else { "(repeating licences)" },
            latencies.len(),
            args.connections,
            elapsed.as_secs_f64(),
            latencies.len() as f64 / elapsed.as_secs_f64(),
            at(0.5),
            at(0.9),
            at(0.99),
            at(1.0),
        )
    };
    println!("{report}");
    println!(
        "database: {}; licences to choose from: {}; server process RSS {:.1} MiB before the run, {:.1} MiB after (peak {:.1} MiB)",
        if args.database_url.is_some() { "PostgreSQL" } else { "SQLite" },
        targets.len(),
        rss_before,
        rss_mib(),
        peak_rss_mib()
    );
    app.close().await;
    let _ = std::fs::remove_dir_all(&work);
}

/// Registers a department; its API key.
async fn register(app: &App, name: &str, credit_code: &str, division_code: &str) -> String {
    app.register_department(
        &App::local_admin(),
        NewDepartment {
            name: name.into(),
            credit_code: credit_code.into(),
            division_code: division_code.into(),
            seal_name: None,
            seal_code: None,
        },
    )
    .await
    .expect("register department")
    .api_key
}

/// Issues `count` business licences to distinct holders, in batches.
async fn issue(app: &Arc<App>, department: &Principal, count: usize) {
    let started = Instant::now();
    let rows = (0..count).map(business_licence).collect();
    let issued = issue_in_batches(app, department, "business_licence", rows).await;
    assert_eq!(issued, count, "every licence is issued");
    if count > 0 {
        eprintln!(
            "issued {count} licences in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
}

/// What the run asks for: licence identifiers to verify, or holder codes to search.
async fn targets(config: &Config, args: &Args) -> Vec<String> {
    let url = config
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", config.data_dir.join("zhengyin.db").display()));
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.expect("database");
    let column = match args.target.as_str() {
        "verify" => "v.identifier",
        "search" => "l.holder_code",
        other => panic!("--target is verify or search, not {other}"),
    };
    let sql = format!(
        "SELECT {column} FROM licences l JOIN licence_versions v ON v.stem = l.stem AND v.version = l.current_version ORDER BY l.stem LIMIT 2000000"
    );
    let rows = sqlx::query(&sql).fetch_all(&pool).await.expect("targets");
    pool.close().await;
    let mut targets: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    // A fixed shuffle, so consecutive requests do not ask for neighbouring rows.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for i in (1..targets.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        targets.swap(i, (state % (i as u64 + 1)) as usize);
    }
    targets
}

/// Runs `wrk` on one thread with `connections` connections for `seconds` after a two-second
/// warm-up, verifying `targets` in turn (a Lua script names them); its report, with the
/// latency distribution.
fn run_wrk(
    base: &str,
    targets: &[String],
    work: &std::path::Path,
    connections: usize,
    seconds: u64,
) -> String {
    std::fs::create_dir_all(work).expect("work directory");
    let script = work.join("verify.lua");
    let names: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
    std::fs::write(
        &script,
        format!(
            "local ids = {{{}}}\nlocal n = 0\nrequest = function()\n  n = n % #ids + 1\n  return wrk.format(\"GET\", \"/api/v1/verify/licences/\" .. ids[n])\nend\n",
            names.join(",")
        ),
    )
    .expect("wrk script");
    let wrk = |seconds: u64| {
        let output = std::process::Command::new("wrk")
            .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s")])
            .args(["--latency", "-s"])
            .arg(&script)
            .arg(base)
            .output()
            .expect("wrk (Debian package wrk) on PATH");
        assert!(output.status.success(), "wrk failed: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    // A warm-up, as the built-in generator has: the first verification of each licence
    // checks its PDF.
    wrk(2);
    wrk(seconds)
}

/// Runs `connections` request loops for `seconds` after a one-second warm-up, verifying
/// `targets` or, given a key, searching for them as holders; the latency of each measured
/// request (µs) and the measured time.
async fn load(
    base: String,
    targets: Arc<Vec<String>>,
    search_key: Option<String>,
    seconds: u64,
    connections: usize,
    distinct: bool,
) -> (Vec<u32>, Duration) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .expect("client");
    let next = Arc::new(AtomicUsize::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut loops = JoinSet::new();
    for _ in 0..connections {
        let (client, base, targets) = (client.clone(), base.clone(), Arc::clone(&targets));
        let (next, measuring, stop) =
            (Arc::clone(&next), Arc::clone(&measuring), Arc::clone(&stop));
        let search_key = search_key.clone();
        loops.spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if distinct && n >= targets.len() {
                    break;
                }
                let target = &targets[n % targets.len()];
                let started = Instant::now();
                let request = match &search_key {
                    Some(key) => client
                        .get(format!("{base}/api/v1/licences"))
                        .query(&[("holder", target.as_str())])
                        .bearer_auth(key),
                    None => client.get(format!("{base}/api/v1/verify/licences/{target}")),
                };
                let response = request.send().await.expect("request");
                let status = response.status();
                let body: Value = response.json().await.expect("JSON answer");
                assert!(status.is_success(), "{status}: {body}");
                assert!(
                    body["genuine"].as_bool().unwrap_or(true) && body["total"] != 0,
                    "a wrong answer: {body}"
                );
                if measuring.load(Ordering::Relaxed) {
                    latencies.push(started.elapsed().as_micros() as u32);
                }
            }
            latencies
        });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let deadline = tokio::time::sleep(Duration::from_secs(seconds));
    tokio::pin!(deadline);
    let mut latencies = Vec::new();
    loop {
        tokio::select! {
            () = &mut deadline => break,
            done = loops.join_next() => match done {
                Some(done) => latencies.extend(done.expect("load loop")),
                None => break,
            },
        }
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    while let Some(done) = loops.join_next().await {
        latencies.extend(done.expect("load loop"));
    }
    (latencies, elapsed)
}
