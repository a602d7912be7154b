//! A licence's life over the API: a permit from a template other than the business licence,
//! changed (a new version; the old one stays retrievable and verifies as superseded),
//! renewed, suspended, resumed and revoked; only by its issuing department; every event
//! signed, and "was it valid on DATE" answered from that history.

use serde_json::{json, Value};

use crate::common::{business_licence_fields, food_permit, register, Server};
use crate::validators::validate;

const MARKET: (&str, &str) = ("厦门市市场监督管理局", "11350200MB0D00002U");
const OTHER: (&str, &str) = ("福州市市场监督管理局", "11350100MB0E00003C");

async fn post(client: &reqwest::Client, url: String, key: &str, body: Value) -> reqwest::Response {
    client
        .post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Issues the food permit as the department with `key`; the JSON answer.
async fn issue_food_permit(client: &reqwest::Client, base: &str, key: &str) -> Value {
    let body = json!({ "kind": "food_business_permit", "fields": food_permit() });
    json_of(
        post(client, format!("{base}/api/v1/licences"), key, body).await,
        201,
    )
    .await
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(actual, status, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permit_is_changed_renewed_suspended_and_revoked_with_signed_history() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let market = register(&client, &server, MARKET.0, MARKET.1).await;
    let other = register(&client, &server, OTHER.0, OTHER.1).await;
    let (key, other_key) = (
        market["api_key"].as_str().unwrap(),
        other["api_key"].as_str().unwrap(),
    );
    let base = &server.base;

    let issued = issue_food_permit(&client, base, key).await;
    let first = issued["identifier"].as_str().unwrap().to_string();
    assert_eq!(issued["kind_name"], "食品经营许可证");
    assert!(issued["valid_to"].is_string(), "five years: {issued}");
    let work = tempfile::tempdir().unwrap();
    let download = |id: String| {
        let request = client
            .get(format!("{base}/api/v1/licences/{id}/pdf"))
            .bearer_auth(key);
        async move {
            request
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec()
        }
    };
    let first_pdf = work.path().join("v1.pdf");
    std::fs::write(&first_pdf, download(first.clone()).await).unwrap();
    assert_eq!(validate(&server.root_pem(), &first_pdf), 0);

    // Another department may not change it.
    let url = |path: &str| format!("{base}/api/v1/licences/{first}/{path}");
    let change = json!({ "fields": { "premises": "福建省厦门市思明区中山路130号" }, "reason": "经营场所变更" });
    let denied = post(&client, url("versions"), other_key, change.clone()).await;
    assert_eq!(denied.status(), 403);
    let no_reason = post(
        &client,
        url("versions"),
        key,
        json!({ "fields": {}, "reason": " " }),
    )
    .await;
    assert_eq!(json_of(no_reason, 422).await["field"], "reason");

    // A change: version 2, same stem and licence number; version 1 superseded.
    let changed = json_of(post(&client, url("versions"), key, change).await, 201).await;
    let second = changed["identifier"].as_str().unwrap().to_string();
    assert_eq!(changed["version"], 2);
    assert_ne!(second, first);
    assert_eq!(
        second[..second.len() - 6],
        first[..first.len() - 6],
        "same stem"
    );
    let old: Value = client
        .get(format!("{base}/api/v1/verify/licences/{first}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(old["genuine"], true, "{old}");
    assert_eq!(old["licence"]["status"], "superseded");
    let second_pdf = work.path().join("v2.pdf");
    std::fs::write(&second_pdf, download(second.clone()).await).unwrap();
    assert_eq!(validate(&server.root_pem(), &second_pdf), 0);
    let text = std::process::Command::new("pdftotext")
        .arg(&second_pdf)
        .arg("-")
        .output()
        .unwrap();
    let text: String = String::from_utf8_lossy(&text.stdout)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(text.contains("中山路130号"), "{text}");

    // Renewal: version 3. Then suspend, resume, revoke; nothing further after revocation.
    let renewed = json_of(
        post(
            &client,
            url("renewals"),
            key,
            json!({ "reason": "有效期届满延续" }),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(renewed["version"], 3);
    // Each change is seen by the very next verification, though the service keeps licences
    // it has just verified in memory.
    let verified_status = |id: String| {
        let client = client.clone();
        async move {
            let answer = json_of(
                client
                    .get(format!("{base}/api/v1/verify/licences/{id}"))
                    .send()
                    .await
                    .expect("verify"),
                200,
            )
            .await;
            answer["licence"]["status"].clone()
        }
    };
    let third = renewed["identifier"]
        .as_str()
        .expect("identifier")
        .to_string();
    assert_eq!(verified_status(third.clone()).await, "valid");
    for (action, status) in [
        ("suspend", "suspended"),
        ("resume", "valid"),
        ("revoke", "revoked"),
    ] {
        let answer = json_of(
            post(
                &client,
                url("status"),
                key,
                json!({ "action": action, "reason": "监督检查" }),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(answer["status"], status, "{action}: {answer}");
        assert_eq!(verified_status(third.clone()).await, status, "{action}");
    }
    let again = post(
        &client,
        url("status"),
        key,
        json!({ "action": "resume", "reason": "x" }),
    )
    .await;
    assert_eq!(again.status(), 409);
    let after = post(&client, url("renewals"), key, json!({ "reason": "x" })).await;
    assert_eq!(after.status(), 409);
    let now: Value = client
        .get(format!("{base}/api/v1/verify/licences/{first}"))
        .query(&[("on", "2020-01-01")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now["status_on"]["status"], "not_yet_issued", "{now}");
    let today_date = time::OffsetDateTime::now_utc().date().to_string();
    for (id, status) in [(first.as_str(), "superseded"), (third.as_str(), "revoked")] {
        let on: Value = client
            .get(format!("{base}/api/v1/verify/licences/{id}"))
            .query(&[("on", today_date.as_str())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(on["status_on"]["status"], status, "{id}: {on}");
        assert_eq!(on["status_on"]["valid"], false);
    }

    // The history: six events, each signed by the department's seal.
    let history: Value = client
        .get(format!("{base}/api/v1/licences/{second}/history"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["issue", "change", "renew", "suspend", "resume", "revoke"]
    );
    for event in history.as_array().unwrap() {
        assert_eq!(event["signature_valid"], true, "{event}");
        assert!(event["statement"]
            .as_str()
            .unwrap()
            .contains(&event["reason"].as_str().unwrap().to_string()));
    }
    let today: Value = client
        .get(format!("{base}/api/v1/verify/licences/{second}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(today["licence"]["status"], "superseded", "{today}");
}

/// Issues three licences (two kinds, two holders), revokes one, and searches.
async fn search_the_library(database_url: Option<String>) {
    let server = Server::start(database_url).await;
    let client = reqwest::Client::new();
    let market = register(&client, &server, MARKET.0, MARKET.1).await;
    let other = register(&client, &server, OTHER.0, OTHER.1).await;
    let (key, other_key) = (
        market["api_key"].as_str().unwrap(),
        other["api_key"].as_str().unwrap(),
    );
    let base = &server.base;
    let business = business_licence_fields();
    let mut identifiers = Vec::new();
    for (kind, fields) in [
        ("food_business_permit", food_permit()),
        ("business_licence", business.clone()),
        ("business_licence", business),
    ] {
        let issued = json_of(
            post(
                &client,
                format!("{base}/api/v1/licences"),
                key,
                json!({ "kind": kind, "fields": fields }),
            )
            .await,
            201,
        )
        .await;
        identifiers.push(issued["identifier"].as_str().unwrap().to_string());
    }
    let revoked = json_of(
        post(
            &client,
            format!("{base}/api/v1/licences/{}/status", identifiers[2]),
            key,
            json!({ "action": "revoke", "reason": "以欺骗手段取得" }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(revoked["status"], "revoked");

    let search = |query: Vec<(&'static str, String)>, key: String| {
        let request = client
            .get(format!("{base}/api/v1/licences"))
            .bearer_auth(key)
            .query(&query);
        async move { request.send().await.unwrap() }
    };
    let all = json_of(search(vec![], other_key.into()).await, 200).await;
    assert_eq!(all["total"], 3);
    assert_eq!(
        all["items"][0]["identifier"], identifiers[2],
        "newest first"
    );
    let by_holder = json_of(
        search(
            vec![("holder", "91350100M000100Y43".into())],
            other_key.into(),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(by_holder["total"], 2);
    let valid_business = json_of(
        search(
            vec![
                ("kind", "business_licence".into()),
                ("status", "valid".into()),
            ],
            key.into(),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(valid_business["total"], 1);
    assert_eq!(valid_business["items"][0]["identifier"], identifiers[1]);
    let paged = json_of(
        search(
            vec![("per_page", "2".into()), ("page", "2".into())],
            key.into(),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(paged["total"], 3);
    assert_eq!(paged["items"].as_array().unwrap().len(), 1);
    assert_eq!(paged["items"][0]["identifier"], identifiers[0]);
    let own = json_of(
        search(vec![("own", "true".into())], other_key.into()).await,
        200,
    )
    .await;
    assert_eq!(own["total"], 0);
    for (query, field) in [
        (vec![("holder", "12345".to_string())], "holder"),
        (vec![("status", "lost".to_string())], "status"),
        (vec![("per_page", "1000".to_string())], "per_page"),
        (vec![("kind", "driving_licence".to_string())], "kind"),
    ] {
        let problem = json_of(search(query, key.into()).await, 422).await;
        assert_eq!(problem["field"], field, "{problem}");
    }
    let anonymous = client
        .get(format!("{base}/api/v1/licences"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // Another department downloads with a stated reason; every download is recorded.
    let pdf_url = format!("{base}/api/v1/licences/{}/pdf", identifiers[0]);
    let download = |key: Option<&str>, reason: Option<&str>| {
        let mut request = client.get(&pdf_url);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(reason) = reason {
            request = request.query(&[("reason", reason)]);
        }
        async move { request.send().await.unwrap() }
    };
    let unexplained = download(Some(other_key), None).await;
    assert_eq!(json_of(unexplained, 422).await["field"], "reason");
    let anonymous = download(None, None).await;
    assert_eq!(json_of(anonymous, 401).await["status"], 401);
    for (who, reason) in [
        (Some(other_key), Some("办理食品经营许可变更核验")),
        (Some(key), None),
        (Some(server.admin_key.as_str()), None),
    ] {
        let response = download(who, reason).await;
        assert_eq!(response.status(), 200);
        assert!(response.bytes().await.unwrap().starts_with(b"%PDF-"));
    }
    let events: Value = client
        .get(format!("{base}/api/v1/audit/events?limit=100"))
        .bearer_auth(&server.admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let downloads: Vec<(String, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "licence.download")
        .map(|e| {
            (
                e["actor"].as_str().unwrap().into(),
                e["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(downloads.len(), 3, "{downloads:?}");
    assert!(downloads.contains(&(
        format!("department:{}", OTHER.1),
        "ok; reason: 办理食品经营许可变更核验".to_string()
    )));
    assert!(downloads
        .iter()
        .any(|(actor, _)| actor.starts_with("admin:")));
    assert!(!downloads.iter().any(|(actor, _)| actor == "anonymous"));
    server.app.close().await;
}

/// Expiry is recorded as a signed 失效 event from the day after the last valid day; "valid on
/// DATE" still answers from history, and an expired licence is no longer renewed.
#[tokio::test(flavor = "multi_thread")]
async fn expiry_is_recorded_as_a_signed_event() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let market = register(&client, &server, MARKET.0, MARKET.1).await;
    let key = market["api_key"].as_str().unwrap();
    let base = &server.base;
    let issued = issue_food_permit(&client, base, key).await;
    let id = issued["identifier"].as_str().unwrap();
    let last_day = time::Date::parse(
        issued["valid_to"].as_str().unwrap(),
        &time::format_description::well_known::Iso8601::DATE,
    )
    .unwrap();
    let day_after = last_day.next_day().unwrap();

    // Nothing lapses before its end; on the day after the last valid day it does, once.
    assert_eq!(server.app.record_expiries(last_day).await.unwrap(), 0);
    let later = day_after.next_day().unwrap();
    assert_eq!(server.app.record_expiries(later).await.unwrap(), 1);
    assert_eq!(server.app.record_expiries(later).await.unwrap(), 0);

    let history = json_of(
        client
            .get(format!("{base}/api/v1/licences/{id}/history"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let expiry = history.as_array().unwrap().last().unwrap();
    assert_eq!(expiry["action"], "expire");
    assert_eq!(expiry["status_code"], "05");
    assert_eq!(expiry["actor"], "system:expiry");
    assert_eq!(expiry["signature_valid"], true, "{expiry}");
    assert!(expiry["at"]
        .as_str()
        .unwrap()
        .starts_with(&day_after.to_string()));

    let on = |day: time::Date| {
        let request = client.get(format!("{base}/api/v1/verify/licences/{id}?on={day}"));
        async move { json_of(request.send().await.unwrap(), 200).await }
    };
    let today_answer = on(time::OffsetDateTime::now_utc().date()).await;
    assert_eq!(today_answer["licence"]["status_code"], "05");
    assert_eq!(today_answer["licence"]["status"], "expired");
    assert_eq!(today_answer["status_on"]["valid"], true, "{today_answer}");
    assert_eq!(on(last_day).await["status_on"]["valid"], true);
    let after = on(day_after).await;
    assert_eq!(after["status_on"]["valid"], false);
    assert_eq!(after["status_on"]["status"], "expired");

    let found = json_of(
        client
            .get(format!("{base}/api/v1/licences?status=expired"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(found["total"], 1);
    let renewal = post(
        &client,
        format!("{base}/api/v1/licences/{id}/renewals"),
        key,
        json!({ "reason": "延续" }),
    )
    .await;
    assert_eq!(json_of(renewal, 409).await["status"], 409);
    server.app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_library_is_searched_on_sqlite() {
    search_the_library(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_library_is_searched_on_postgres() {
    let Some(url) = crate::common::fresh_postgres().await else {
        return;
    };
    search_the_library(Some(url.clone())).await;
    crate::common::drop_postgres(&url).await;
}

/// Two serving processes on one PostgreSQL database: a revocation made through one is seen
/// by the other long before the minute for which the other, listening for announcements of
/// changes, keeps the licence it has just verified: only the announcement explains it; and the
/// verifications one appends in single statements and the actions the other appends under
/// the head's lock make one audit log that checks out whole.
#[tokio::test(flavor = "multi_thread")]
async fn another_instance_sees_a_revocation_at_once_on_postgres() {
    let Some(url) = crate::common::fresh_postgres().await else {
        return;
    };
    let server = Server::start(Some(url.clone())).await;
    let (other_base, other_app) = server.another_instance(&url).await;
    // How long this test waits for the other process: far less than the minute it keeps a
    // licence while listening, and far more than a busy machine needs.
    let patience = std::time::Duration::from_secs(20);
    let since = std::time::Instant::now();
    while !other_app.hears_licence_changes() {
        assert!(
            since.elapsed() < patience,
            "the other instance is not listening"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let client = reqwest::Client::new();
    let market = register(&client, &server, MARKET.0, MARKET.1).await;
    let key = market["api_key"].as_str().unwrap();
    let issued = issue_food_permit(&client, &server.base, key).await;
    let id = issued["identifier"].as_str().unwrap().to_string();
    let status_at = |base: String| {
        let request = client.get(format!("{base}/api/v1/verify/licences/{id}"));
        async move {
            let answer = json_of(request.send().await.unwrap(), 200).await;
            answer["licence"]["status"].as_str().unwrap().to_string()
        }
    };
    for _ in 0..3 {
        assert_eq!(status_at(other_base.clone()).await, "valid");
    }
    let revoked = json_of(
        post(
            &client,
            format!("{}/api/v1/licences/{id}/status", server.base),
            key,
            json!({ "action": "revoke", "reason": "吊销" }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(revoked["status"], "revoked", "{revoked}");
    let since = std::time::Instant::now();
    loop {
        let status = status_at(other_base.clone()).await;
        if status == "revoked" {
            break;
        }
        assert!(
            since.elapsed() < patience,
            "the other instance still answers {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(status_at(server.base.clone()).await, "revoked");
    let check = other_app.check_audit_log().await.unwrap();
    assert_eq!(check.problem, None, "{check:?}");
    assert!(check.entries >= 8, "{check:?}");
    other_app.close().await;
    server.app.close().await;
    crate::common::drop_postgres(&url).await;
}

/// Runs the CLI on the installation in `data` (SQLite).
fn cli(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_zhengyin"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

/// A new installation in `data` with the market regulation department.
fn installation_with_department(data: &std::path::Path) {
    let added = cli(
        data,
        &[
            "dept",
            "add",
            "--name",
            MARKET.0,
            "--credit-code",
            MARKET.1,
            "--division-code",
            "350200",
        ],
    );
    assert!(added.status.success());
}

/// `licence import FILE --kind KIND` as the department: exit code and stderr.
fn import(data: &std::path::Path, file: &std::path::Path, kind: &str) -> (Option<i32>, String) {
    let out = cli(
        data,
        &[
            "licence",
            "import",
            file.to_str().unwrap(),
            "--kind",
            kind,
            "--dept",
            MARKET.1,
        ],
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One JSON Lines row of a business licence.
fn company_row(credit_code: &str, name: &str) -> String {
    json!({
        "credit_code": credit_code,
        "name": name,
        "entity_type": "有限责任公司(自然人投资或控股)",
        "legal_representative": "陈明辉",
        "business_scope": "一般项目:软件开发。",
        "registered_capital": "500000",
        "established_on": "2022-06-01",
        "address": "福建省厦门市思明区软件园二期观日路24号"
    })
    .to_string()
}

/// The line numbers in an import's state file, in order (rows are issued a few at a time, so
/// they are written as they finish).
fn imported_lines(path: &std::path::Path) -> Vec<u64> {
    let mut lines: Vec<u64> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').next().unwrap().parse().unwrap())
        .collect();
    lines.sort_unstable();
    lines
}

#[test]
fn bulk_import_reports_bad_rows_and_resumes() {
    let data = tempfile::tempdir().unwrap();
    installation_with_department(data.path());
    let file = data.path().join("rows.jsonl");
    let write_rows = |second: &str| {
        let lines = [
            company_row("91350100M000100Y43", "厦门市甲科技有限公司"),
            company_row(second, "厦门市乙科技有限公司"),
            String::new(),
            company_row("91350100M000100Y43", "厦门市丙科技有限公司"),
        ];
        std::fs::write(&file, lines.join("\n")).unwrap();
    };
    write_rows("91350100M000100Y44");
    let (code, stderr) = import(data.path(), &file, "business_licence");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("line 2: fields.credit_code"), "{stderr}");
    assert!(
        stderr.contains("issued 2, skipped 0 already imported, failed 1"),
        "{stderr}"
    );
    let state = data.path().join("rows.jsonl.imported");
    assert_eq!(imported_lines(&state), [1, 4]);

    // Again: nothing new is issued; with the row fixed, only that row is.
    let (code, stderr) = import(data.path(), &file, "business_licence");
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("issued 0, skipped 2 already imported, failed 1"),
        "{stderr}"
    );
    write_rows("91350100M000100Y43");
    let (code, stderr) = import(data.path(), &file, "business_licence");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("issued 1, skipped 2 already imported, failed 0"),
        "{stderr}"
    );
    assert_eq!(imported_lines(&state), [1, 2, 4]);

    // CSV: a header of field keys; a list field as one cell with items separated by ；.
    let csv = data.path().join("food.csv");
    std::fs::write(
        &csv,
        "name,credit_code,legal_representative,address,premises,business_form,business_items,supervising_agency,signatory\n\
         厦门市思明区鹭味轩餐饮有限公司,91350203MA34B6N844,林志强,福建省厦门市思明区中山路128号,福建省厦门市思明区中山路128号一层,餐饮服务经营者,热食类食品制售；冷食类食品制售,厦门市思明区市场监督管理局中山所,王立新\n",
    )
    .unwrap();
    let (code, stderr) = import(data.path(), &csv, "food_business_permit");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(imported_lines(&data.path().join("food.csv.imported")), [2]);
    let (code, stderr) = import(
        data.path(),
        &data.path().join("rows.txt"),
        "business_licence",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(".csv or a .jsonl"), "{stderr}");
}

/// 10,000 rows with one bad one (line 5,000): that line is reported, every other row is
/// issued exactly once, and the library holds exactly those licences.
#[test]
fn bulk_import_of_ten_thousand_rows_reports_the_bad_one_by_line() {
    const ROWS: usize = 10_000;
    const BAD_LINE: usize = 5_000;
    let data = tempfile::tempdir().unwrap();
    installation_with_department(data.path());
    let rows: Vec<String> = (1..=ROWS)
        .map(|line| {
            let code = if line == BAD_LINE {
                "91350100M000100Y44"
            } else {
                "91350100M000100Y43"
            };
            company_row(code, &format!("厦门市第{line}号科技有限公司"))
        })
        .collect();
    let file = data.path().join("ten-thousand.jsonl");
    std::fs::write(&file, rows.join("\n")).unwrap();

    let (code, stderr) = import(data.path(), &file, "business_licence");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("line {BAD_LINE}: fields.credit_code")),
        "{stderr}"
    );
    assert!(
        stderr.contains("issued 9999, skipped 0 already imported, failed 1"),
        "{stderr}"
    );
    let state = std::fs::read_to_string(data.path().join("ten-thousand.jsonl.imported")).unwrap();
    let mut lines = std::collections::HashSet::new();
    let mut identifiers = std::collections::HashSet::new();
    for entry in state.lines() {
        let (line, identifier) = entry.split_once('\t').unwrap();
        assert!(lines.insert(line.parse::<usize>().unwrap()));
        assert!(identifiers.insert(identifier.to_string()));
    }
    assert_eq!(lines.len(), ROWS - 1);
    assert!(!lines.contains(&BAD_LINE));

    // The library holds exactly the issued licences.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let config = zhengyin::service::Config::new(
            data.path().to_path_buf(),
            "http://127.0.0.1:8080".into(),
        );
        let (app, _) = zhengyin::service::App::open(&config).await.unwrap();
        let query = zhengyin::service::SearchQuery {
            holder: Some("91350100M000100Y43".into()),
            per_page: Some(1),
            ..Default::default()
        };
        let found = app
            .search_licences(&zhengyin::service::App::local_admin(), query)
            .await
            .unwrap();
        assert_eq!(found.total, (ROWS - 1) as i64);
        app.close().await;
    });

    // Each batch's audit entries carry one signature, on the last: the log checks out, and an
    // entry altered inside a batch is caught by that signature, which names the batch.
    let audit_check = || {
        let out = cli(data.path(), &["audit", "check"]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), report)
    };
    let (code, report) = audit_check();
    assert_eq!(code, Some(0), "{report}");
    assert!(
        report["entries"].as_u64() > Some(ROWS as u64 - 1),
        "{report}"
    );
    runtime.block_on(async {
        use sqlx::Connection as _;
        let url = format!("sqlite://{}", data.path().join("zhengyin.db").display());
        sqlx::any::install_default_drivers();
        let mut db = sqlx::AnyConnection::connect(&url).await.unwrap();
        let unsigned: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE root_signature = ''")
                .fetch_one(&mut db)
                .await
                .unwrap();
        assert!(unsigned > 9_000, "{unsigned} entries signed with others");
        sqlx::query("UPDATE audit_events SET actor = 'someone else' WHERE seq = 100")
            .execute(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();
    });
    let (code, report) = audit_check();
    assert_eq!(code, Some(1), "{report}");
    let problem = report["problem"].as_str().unwrap_or_default();
    assert!(problem.starts_with("one of entries "), "{report}");
    assert!(problem.contains("signed together"), "{report}");
}
