//! The service's day and what a serving process does by itself: licence dates are counted in
//! the administrative time zone (Beijing time by default), a serving process records the
//! expiry of lapsed licences and signs tree heads of the audit log without being asked, and
//! a status change names the state the licence is in.

use std::time::Duration;

use serde_json::{json, Value};
use time::macros::time;
use time::{Date, OffsetDateTime};
use zhengyin::service::{Clock, Config};

use crate::common::{food_permit, licence_pdf, register, Server};

const MARKET: (&str, &str) = ("厦门市市场监督管理局", "11350200MB0D00002U");

/// How long a test waits for a background task that runs every 100 ms: generous, so that a
/// busy machine never fails it; a working task is seen within the first few rounds.
const PATIENCE: Duration = Duration::from_secs(60);

/// A server configured by `configure`, with the market regulator registered and a food
/// permit issued: the server, a client, the regulator's key and the permit as issued.
async fn with_a_permit(
    configure: impl FnOnce(&mut Config),
) -> (Server, reqwest::Client, String, Value) {
    let server = Server::start_with(None, configure).await;
    let client = reqwest::Client::new();
    let registered = register(&client, &server, MARKET.0, MARKET.1).await;
    let key = registered["api_key"].as_str().unwrap().to_string();
    let response = client
        .post(format!("{}/api/v1/licences", server.base))
        .bearer_auth(&key)
        .json(&json!({ "kind": "food_business_permit", "fields": food_permit() }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let issued = response.json().await.unwrap();
    (server, client, key, issued)
}

fn date(text: &Value) -> Date {
    let format = time::format_description::well_known::Iso8601::DATE;
    Date::parse(text.as_str().expect("a date"), &format).expect("an ISO date")
}

/// Waits until `ready` holds, checking every 50 ms, for at most [`PATIENCE`].
async fn eventually<F: std::future::Future<Output = bool>>(mut ready: impl FnMut() -> F) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if ready().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn a_licence_issued_late_at_night_utc_is_dated_by_the_beijing_day() {
    // 23:30 UTC is 07:30 the next morning in Beijing.
    let utc_day = OffsetDateTime::now_utc().date();
    let at = utc_day.with_time(time!(23:30)).assume_utc();
    let beijing_day = utc_day.next_day().unwrap();
    let (server, client, key, issued) =
        with_a_permit(|config| config.clock = Clock::Fixed(at)).await;
    assert_eq!(date(&issued["valid_from"]), beijing_day, "{issued}");
    assert_eq!(issued["status"], "valid", "{issued}");
    let id = issued["identifier"].as_str().unwrap();
    let pdf = licence_pdf(&client, &server, &key, id).await;
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("permit.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let text = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout)
        .unwrap()
        .replace(char::is_whitespace, "");
    let printed = format!(
        "{}年{:02}月{:02}日",
        beijing_day.year(),
        u8::from(beijing_day.month()),
        beijing_day.day()
    );
    assert!(text.contains(&printed), "发证日期 {printed} not in: {text}");

    let verified: Value = client
        .get(format!("{}/api/v1/verify/licences/{id}", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Judged on the Beijing day, it has begun (on the UTC day it would not yet be valid).
    assert_eq!(verified["licence"]["status"], "valid", "{verified}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_serving_process_records_expiries_by_itself() {
    let (server, client, _, issued) = with_a_permit(|_| {}).await;
    let id = issued["identifier"].as_str().unwrap().to_string();
    let lapsed = date(&issued["valid_to"])
        .next_day()
        .unwrap()
        .next_day()
        .unwrap();

    // The same installation served again, on a day after the permit lapsed, sweeping often.
    let (base, _app) = server
        .another_instance_with(None, |config| {
            config.clock = Clock::Fixed(lapsed.with_time(time!(12:00)).assume_utc());
            config.expiry_sweep_every = Duration::from_millis(100);
        })
        .await;
    let history = || {
        let request = client.get(format!("{base}/api/v1/licences/{id}/history"));
        async move {
            let events: Value = request.send().await.unwrap().json().await.unwrap();
            events.as_array().unwrap().clone()
        }
    };
    let expired = eventually(|| async {
        history()
            .await
            .last()
            .is_some_and(|event| event["action"] == "expire")
    })
    .await;
    assert!(expired, "no expiry recorded: {:?}", history().await);
    let last = history().await.last().cloned().unwrap();
    assert_eq!(last["status_code"], "05", "{last}");
    assert_eq!(last["signature_valid"], true, "{last}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_serving_process_signs_tree_heads_while_the_log_grows() {
    let server = Server::start_with(None, |config| {
        config.tree_head_every = Duration::from_millis(100);
    })
    .await;
    let tree_heads = || async { server.app.check_audit_log().await.unwrap().tree_heads };
    assert!(
        eventually(|| async { tree_heads().await >= 1 }).await,
        "no tree head signed"
    );
    let before = tree_heads().await;
    let client = reqwest::Client::new();
    register(&client, &server, MARKET.0, MARKET.1).await;
    assert!(
        eventually(|| async { tree_heads().await > before }).await,
        "no tree head signed after the log grew"
    );
    let check = server.app.check_audit_log().await.unwrap();
    assert!(check.problem.is_none(), "{check:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_status_change_that_does_not_apply_names_the_licence_state() {
    let (server, client, key, issued) = with_a_permit(|_| {}).await;
    let id = issued["identifier"].as_str().unwrap();
    let response = client
        .post(format!("{}/api/v1/licences/{id}/status", server.base))
        .bearer_auth(&key)
        .json(&json!({ "action": "resume", "reason": "恢复" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["detail"], "a licence that is valid cannot be resumed",
        "{problem}"
    );
}
