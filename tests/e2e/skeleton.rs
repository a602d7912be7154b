//! The walking skeleton end to end: register, issue, download, validate externally, verify,
//! tamper, roles, bad input, key protection; on SQLite and PostgreSQL; and the CLI.

use std::process::Command;

use serde_json::{json, Value};

use crate::common::{
    assert_absent, business_licence_fields, drop_postgres, fresh_postgres, issue_business_licence,
    key_needles, licence_pdf, plaintext_keys, register, tamper, Server,
};
use crate::validators::validate;

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

/// The whole walking skeleton against one database.
async fn issue_download_validate_verify(database_url: Option<String>) {
    let server = Server::start(database_url.clone()).await;
    let client = reqwest::Client::new();
    let work = tempfile::tempdir().unwrap();

    let a = register(
        &client,
        &server,
        "厦门市市场监督管理局",
        "11350200MB0D00002U",
    )
    .await;
    let b = register(
        &client,
        &server,
        "福州市市场监督管理局",
        "11350100MB0E00003C",
    )
    .await;
    let key_a = a["api_key"].as_str().unwrap();

    // Issue as department A.
    let identifier = issue_business_licence(&client, &server, key_a).await;
    assert!(identifier.starts_with("1.2.156.3005.2."), "{identifier}");

    // Its department downloads it (anonymous callers may not); the external validators
    // accept it.
    let anonymous = client
        .get(format!("{}/api/v1/licences/{identifier}/pdf", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let pdf = client
        .get(format!("{}/api/v1/licences/{identifier}/pdf", server.base))
        .bearer_auth(key_a)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let pdf = pdf.bytes().await.unwrap();
    let licence = work.path().join("licence.pdf");
    std::fs::write(&licence, &pdf).unwrap();
    assert_eq!(
        validate(&server.root_pem(), &licence),
        0,
        "validators reject the licence"
    );

    // A second licence of the seal and kind is kept packed against the first, and comes back
    // whole: the validators accept it.
    let second = issue_business_licence(&client, &server, key_a).await;
    let second_pdf = licence_pdf(&client, &server, key_a, &second).await;
    let second_licence = work.path().join("second.pdf");
    std::fs::write(&second_licence, &second_pdf).unwrap();
    assert_eq!(validate(&server.root_pem(), &second_licence), 0);
    assert_packed(
        &server,
        database_url.as_deref(),
        &identifier,
        &second,
        &second_pdf,
    )
    .await;

    // The text comes back out exactly.
    let text = Command::new("pdftotext")
        .arg(&licence)
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("厦门市鹭岛数字科技有限公司"), "{text}");
    assert!(text.contains("91350100M000100Y43"), "{text}");
    assert!(
        text.contains("营业执照") || text.contains("营 业 执 照"),
        "{text}"
    );

    // A counter verifies it by identifier.
    let verification: Value = client
        .get(format!(
            "{}/api/v1/verify/licences/{identifier}",
            server.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verification["genuine"], true, "{verification}");
    let licence_view = &verification["licence"];
    assert_eq!(licence_view["holder_code"], "91350100M000100Y43");
    assert_eq!(licence_view["issuer"]["credit_code"], "11350200MB0D00002U");
    assert_eq!(licence_view["status"], "valid");
    assert_eq!(licence_view["valid_from"], "2021-03-15");
    assert_eq!(licence_view["valid_to"], Value::Null);
    assert_eq!(licence_view["version"], 1);

    // The untouched PDF verifies, and is recognised as that licence.
    let report: Value = client
        .post(format!("{}/api/v1/verify/pdf", server.base))
        .body(pdf.to_vec())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["licence"]["identifier"], identifier.as_str());

    // One byte flipped inside the signed range: broken for them and for us.
    let tampered = tamper(&licence, &work.path().join("tampered.pdf"));
    assert_eq!(validate(&server.root_pem(), &tampered), 1);
    let report: Value = client
        .post(format!("{}/api/v1/verify/pdf", server.base))
        .body(std::fs::read(&tampered).unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(report["signatures"][0]["digest_matches"], false);

    // Department A cannot issue as department B.
    let response = client
        .post(format!("{}/api/v1/licences", server.base))
        .bearer_auth(key_a)
        .json(&json!({
            "kind": "business_licence",
            "issuer": b["credit_code"],
            "fields": business_licence_fields()
        }))
        .send()
        .await
        .unwrap();
    let body = problem(response, 403).await;
    assert_eq!(body["status"], 403);

    // Nor stamp with B's seal.
    let response = client
        .post(format!("{}/api/v1/licences", server.base))
        .bearer_auth(key_a)
        .json(&json!({
            "kind": "business_licence",
            "seal_id": b["seal"]["id"],
            "fields": business_licence_fields()
        }))
        .send()
        .await
        .unwrap();
    problem(response, 403).await;

    // A wrong check character is a 422 naming the field.
    let mut fields = business_licence_fields();
    fields["credit_code"] = json!("91350100M000100Y44");
    let response = client
        .post(format!("{}/api/v1/licences", server.base))
        .bearer_auth(key_a)
        .json(&json!({"kind": "business_licence", "fields": fields}))
        .send()
        .await
        .unwrap();
    let body = problem(response, 422).await;
    assert_eq!(body["field"], "fields.credit_code", "{body}");

    // No key: 401; an admin cannot issue; unknown licence: 404.
    let response = client
        .post(format!("{}/api/v1/licences", server.base))
        .json(&json!({"kind": "business_licence", "fields": business_licence_fields()}))
        .send()
        .await
        .unwrap();
    problem(response, 401).await;
    let response = client
        .post(format!("{}/api/v1/licences", server.base))
        .bearer_auth(&server.admin_key)
        .json(&json!({"kind": "business_licence", "fields": business_licence_fields()}))
        .send()
        .await
        .unwrap();
    problem(response, 403).await;
    let response = client
        .get(format!(
            "{}/api/v1/verify/licences/nothing-here",
            server.base
        ))
        .send()
        .await
        .unwrap();
    problem(response, 404).await;

    // Not a PDF: 422; too large: 413; both as problem+json.
    let response = client
        .post(format!("{}/api/v1/verify/pdf", server.base))
        .body("hello, not a pdf")
        .send()
        .await
        .unwrap();
    problem(response, 422).await;
    let response = client
        .post(format!("{}/api/v1/verify/pdf", server.base))
        .body(vec![b'%'; zhengyin::http::MAX_BODY_BYTES + 1])
        .send()
        .await
        .unwrap();
    problem(response, 413).await;

    // The private keys are not in the database in plain text.
    assert_keys_not_in_database(&server, database_url.as_deref()).await;
    server.app.close().await;
}

/// Dumps the database (sqlite3 .dump and the raw files, or pg_dump) and checks that no private
/// key appears in it in plain text.
async fn assert_keys_not_in_database(server: &Server, database_url: Option<&str>) {
    let data = server.data.path();
    let sqlite_url = format!("sqlite://{}", data.join("zhengyin.db").display());
    let url = database_url.unwrap_or(&sqlite_url);
    let needles = key_needles(&plaintext_keys(data, url).await);
    let dump = match database_url {
        Some(url) => Command::new("pg_dump").arg(url).output().unwrap().stdout,
        None => {
            let mut dump = Command::new("sqlite3")
                .arg(data.join("zhengyin.db"))
                .arg(".dump")
                .output()
                .unwrap()
                .stdout;
            for file in ["zhengyin.db", "zhengyin.db-wal"] {
                dump.extend(std::fs::read(data.join(file)).unwrap_or_default());
            }
            dump
        }
    };
    assert!(dump.len() > 10_000, "the dump is suspiciously small");
    assert_absent(&dump, &needles, "the database dump");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skeleton_on_sqlite() {
    issue_download_validate_verify(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skeleton_on_postgres() {
    if let Some(url) = fresh_postgres().await {
        issue_download_validate_verify(Some(url.clone())).await;
        assert_pdfs_kept_uncompressed(&url).await;
        drop_postgres(&url).await;
    }
}

/// The first licence's PDF is kept as sealed and is the reference of its seal and kind; the
/// second's is kept packed against it, in less than half the bytes, and `sha256` of what was
/// downloaded is the digest recorded when it was issued.
async fn assert_packed(
    server: &Server,
    database_url: Option<&str>,
    first: &str,
    second: &str,
    second_pdf: &[u8],
) {
    use sqlx::Connection;
    let sqlite_url = format!(
        "sqlite://{}",
        server.data.path().join("zhengyin.db").display()
    );
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(database_url.unwrap_or(&sqlite_url))
        .await
        .unwrap();
    let kept = |identifier: &str| {
        sqlx::query_as::<_, (Option<String>, i64)>(
            "SELECT packed_against, CAST(length(pdf) AS BIGINT) FROM licence_pdfs WHERE identifier = $1",
        )
        .bind(identifier.to_string())
    };
    let (against, _) = kept(first).fetch_one(&mut conn).await.unwrap();
    assert_eq!(against, None, "the first PDF is kept as sealed");
    let (against, stored) = kept(second).fetch_one(&mut conn).await.unwrap();
    assert_eq!(against.as_deref(), Some(first));
    assert!(
        usize::try_from(stored).unwrap() < second_pdf.len() / 2,
        "{stored} bytes stored for a {}-byte PDF",
        second_pdf.len()
    );
    let reference: String = sqlx::query_scalar("SELECT identifier FROM pdf_references")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(reference, first);
    let recorded: String =
        sqlx::query_scalar("SELECT pdf_sha256 FROM licence_versions WHERE identifier = $1")
            .bind(second.to_string())
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        recorded,
        hex::encode(ring::digest::digest(&ring::digest::SHA256, second_pdf))
    );
}

/// Licence PDFs are deflated already: PostgreSQL keeps them out of line as they are, without
/// trying to compress them again (`STORAGE EXTERNAL`).
async fn assert_pdfs_kept_uncompressed(url: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let storage: String = sqlx::query_scalar(
        "SELECT attstorage::text FROM pg_attribute \
         WHERE attrelid = 'licence_pdfs'::regclass AND attname = 'pdf'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(storage, "e", "licence_pdfs.pdf is stored EXTERNAL");
    let pdfs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM licence_pdfs")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(pdfs > 0, "the skeleton stored its licence's PDF");
}

/// The CLI: register, issue from a JSON file, verify; non-zero exit and a message on failure.
#[test]
fn cli_issues_and_verifies() {
    let data = tempfile::tempdir().unwrap();
    let zhengyin = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_zhengyin"))
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "trace")
            .output()
            .unwrap()
    };
    let mut logs = vec![];
    let added = zhengyin(&[
        "dept",
        "add",
        "--name",
        "厦门市市场监督管理局",
        "--credit-code",
        "11350200MB0D00002U",
        "--division-code",
        "350200",
    ]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    logs.extend(&added.stderr);
    let request = data.path().join("request.json");
    std::fs::write(
        &request,
        json!({"kind": "business_licence", "fields": business_licence_fields()}).to_string(),
    )
    .unwrap();
    let pdf = data.path().join("licence.pdf");
    let issued = zhengyin(&[
        "licence",
        "issue",
        "--json",
        request.to_str().unwrap(),
        "--dept",
        "11350200MB0D00002U",
        "--out",
        pdf.to_str().unwrap(),
    ]);
    assert!(
        issued.status.success(),
        "{}",
        String::from_utf8_lossy(&issued.stderr)
    );
    logs.extend(&issued.stderr);
    logs.extend(&issued.stdout);
    let verified = zhengyin(&["verify", pdf.to_str().unwrap()]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );

    let tampered = tamper(&pdf, &data.path().join("tampered.pdf"));
    let rejected = zhengyin(&["verify", tampered.to_str().unwrap()]);
    assert_eq!(rejected.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&rejected.stderr).contains("NOT VALID"));

    // Trace-level logs and outputs of the whole session never show a private key.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sqlite_url = format!("sqlite://{}", data.path().join("zhengyin.db").display());
    let keys = runtime.block_on(plaintext_keys(data.path(), &sqlite_url));
    assert!(logs.len() > 1000, "trace logging produced almost nothing");
    assert_absent(&logs, &key_needles(&keys), "the trace-level logs");

    let missing = zhengyin(&["verify", "/nonexistent.pdf"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("error: /nonexistent.pdf"));

    let bad = zhengyin(&[
        "dept",
        "add",
        "--name",
        "某局",
        "--credit-code",
        "11350200MB0D00002V",
        "--division-code",
        "350200",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("credit_code"));
}
