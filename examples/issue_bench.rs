//! Measures issuing one business licence end to end (check fields, assign the identifier,
//! render, seal, store with its audit event) on a fresh SQLite installation.
//!
//! `cargo run --release --example issue_bench [-- COUNT]` prints the median, p90 and mean of
//! COUNT (default 100) sequential issuances, then the rate of issuing 10 × COUNT licences in
//! batches of 250 with two batches in flight, as `zhengyin licence import` does.

use std::time::Instant;

use serde_json::json;
use zhengyin::service::IssueRequest;

#[path = "support/mod.rs"]
#[allow(dead_code)] // shared by the examples, each of which uses part of it
mod support;

use support::{issue_in_batches, median, peak_rss_mib, Bench};

#[tokio::main]
async fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let bench = Bench::start("issue-bench").await;
    let (app, department) = (&bench.app, &bench.department);
    let request = IssueRequest {
        kind: "business_licence".into(),
        fields: json!({
            "credit_code": "91350100M000100Y43",
            "name": "厦门市鹭岛数字科技有限公司",
            "entity_type": "有限责任公司(自然人投资或控股)",
            "legal_representative": "陈明辉",
            "business_scope": "一般项目:软件开发;信息技术咨询服务;数据处理和存储支持服务;集成电路设计。",
            "registered_capital": "10000000",
            "established_on": "2021-03-15",
            "address": "福建省厦门市思明区软件园二期观日路24号301室"
        }),
        issuer: None,
        seal_id: None,
    };
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        app.issue_licence(department, request.clone())
            .await
            .expect("issue");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "issued {count} licences sequentially: median {:.2} ms, p90 {:.2} ms, mean {:.2} ms ({:.0} licences/s)",
        median(times.clone()),
        times[times.len() * 9 / 10],
        mean,
        1000.0 / mean
    );

    let total = count * 10;
    let started = Instant::now();
    let issued = issue_in_batches(
        app,
        department,
        "business_licence",
        vec![request.fields.clone(); total],
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "issued {issued} of {total} licences in batches of 250: {seconds:.2} s ({:.0} licences/s)",
        issued as f64 / seconds
    );
    println!("peak RSS: {:.1} MiB", peak_rss_mib());
    bench.finish().await;
}
