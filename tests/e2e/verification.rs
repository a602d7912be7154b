//! The verification service: mutual recognition of foreign seals through registered trust
//! roots, licences verified by identifier, QR payload, PDF and date, encrypted PDFs, bad
//! input, and the record every verification leaves.

use std::path::Path;

use serde_json::{json, Value};

use crate::common::{foreign_pki, licence_pdf, register, sign_foreign, tamper, Server};

const DEPT_A: (&str, &str) = ("厦门市市场监督管理局", "11350200MB0D00002U");

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

/// `POST /api/v1/verify/pdf` with an optional password; the raw response.
async fn verify(
    client: &reqwest::Client,
    server: &Server,
    pdf: &[u8],
    password: Option<&str>,
) -> reqwest::Response {
    let mut request = client
        .post(format!("{}/api/v1/verify/pdf", server.base))
        .body(pdf.to_vec());
    if let Some(password) = password {
        request = request.query(&[("password", password)]);
    }
    request.send().await.unwrap()
}

async fn verified(client: &reqwest::Client, server: &Server, pdf: &[u8]) -> Value {
    let response = verify(client, server, pdf, None).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn add_root(client: &reqwest::Client, server: &Server, pem: &Path) -> reqwest::Response {
    client
        .post(format!("{}/api/v1/trust-roots", server.base))
        .bearer_auth(&server.admin_key)
        .body(std::fs::read(pem).unwrap())
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_seals_are_trusted_only_through_a_registered_root() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let work = tempfile::tempdir().unwrap();
    let pki = foreign_pki(&work.path().join("pki"));
    let sealed = work.path().join("foreign.pdf");
    sign_foreign(&pki, crate::fixtures::notice_path(), &sealed);
    let pdf = std::fs::read(&sealed).unwrap();

    // Unknown root: intact, but untrusted.
    let report = verified(&client, &server, &pdf).await;
    assert_eq!(report["verdict"], "untrusted", "{report}");
    let signature = &report["signatures"][0];
    assert_eq!(signature["indication"], "INDETERMINATE");
    assert_eq!(signature["sub_indication"], "NO_CERTIFICATE_CHAIN_FOUND");
    assert!(
        !report["summary"].as_str().unwrap().contains("篡改"),
        "{report}"
    );
    assert_eq!(signature["digest_matches"], true);
    assert_eq!(signature["signature_valid"], true);
    assert_eq!(signature["chain_trusted"], false);
    assert!(signature["signature_algorithm"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .contains("rsa"));

    // An unrelated root does not help; only the admin may register one; junk is refused.
    let other = add_root(&client, &server, &pki.join("other_root.pem")).await;
    assert_eq!(other.status(), 201);
    let report = verified(&client, &server, &pdf).await;
    assert_eq!(report["verdict"], "untrusted", "{report}");
    let denied = client
        .post(format!("{}/api/v1/trust-roots", server.base))
        .body(std::fs::read(pki.join("root.pem")).unwrap())
        .send()
        .await
        .unwrap();
    problem(denied, 401).await;
    let junk = client
        .post(format!("{}/api/v1/trust-roots", server.base))
        .bearer_auth(&server.admin_key)
        .body("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(junk, 422).await["field"], "body");
    let leaf = add_root(&client, &server, &pki.join("signer.pem")).await;
    let leaf = problem(leaf, 422).await;
    assert!(
        leaf["detail"].as_str().unwrap().contains("not a CA"),
        "{leaf}"
    );

    // The foreign root registered: trusted, and the foreign issuer is named.
    let added = add_root(&client, &server, &pki.join("root.pem")).await;
    assert_eq!(added.status(), 201);
    let added: Value = added.json().await.unwrap();
    assert!(added["subject"]
        .as_str()
        .unwrap()
        .contains("Foreign Seal Root CA"));
    let again = add_root(&client, &server, &pki.join("root.pem")).await;
    problem(again, 409).await;
    let listed: Value = client
        .get(format!("{}/api/v1/trust-roots", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let report = verified(&client, &server, &pdf).await;
    assert_eq!(report["verdict"], "valid", "{report}");
    let signature = &report["signatures"][0];
    assert_eq!(signature["foreign"], true);
    assert!(signature["trust_anchor_subject"]
        .as_str()
        .unwrap()
        .contains("Foreign Seal Root CA"));
    assert!(signature["signer"]["subject"]
        .as_str()
        .unwrap()
        .contains("Foreign Department"));
    assert_eq!(signature["field_name"], "ForeignSeal");
    assert_eq!(signature["covers_whole_file"], true);
    assert_eq!(signature["problems"], json!([]), "{report}");
    // One flipped byte in what pyHanko signed: broken, the digest no longer matches.
    let tampered = tamper(&sealed, &work.path().join("tampered.pdf"));
    let report = verified(&client, &server, &std::fs::read(&tampered).unwrap()).await;
    assert_eq!(report["verdict"], "broken", "{report}");
    assert_eq!(report["signatures"][0]["digest_matches"], false, "{report}");
    assert_eq!(report["signatures"][0]["indication"], "TOTAL_FAILED");
    assert_eq!(report["signatures"][0]["sub_indication"], "HASH_FAILURE");
    assert!(
        report["summary"].as_str().unwrap().contains("篡改"),
        "{report}"
    );

    // Removed again: back to intact but untrusted.
    let removed = client
        .delete(format!(
            "{}/api/v1/trust-roots/{}",
            server.base,
            added["id"].as_str().unwrap()
        ))
        .bearer_auth(&server.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let removed: Value = removed.json().await.unwrap();
    assert!(removed["removed_at"].is_string());
    let report = verified(&client, &server, &pdf).await;
    assert_eq!(report["verdict"], "untrusted", "{report}");
}

fn licence_fields(operating_until: &str) -> Value {
    json!({
        "credit_code": "91350100M000100Y43",
        "name": "厦门市鹭岛数字科技有限公司",
        "entity_type": "有限责任公司(自然人投资或控股)",
        "legal_representative": "陈明辉",
        "business_scope": "一般项目:软件开发;信息技术咨询服务。",
        "registered_capital": "10000000",
        "established_on": "2021-03-15",
        "operating_until": operating_until,
        "address": "福建省厦门市思明区软件园二期观日路24号301室"
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn licences_verify_by_identifier_qr_pdf_and_date() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let department = register(&client, &server, DEPT_A.0, DEPT_A.1).await;
    let key = department["api_key"].as_str().unwrap();
    let issued: Value = client
        .post(format!("{}/api/v1/licences", server.base))
        .bearer_auth(key)
        .json(&json!({ "kind": "business_licence", "fields": licence_fields("2041-03-14") }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let identifier = issued["identifier"].as_str().unwrap();

    let by_id = |on: Option<&str>| {
        let mut request = client.get(format!(
            "{}/api/v1/verify/licences/{identifier}",
            server.base
        ));
        if let Some(on) = on {
            request = request.query(&[("on", on)]);
        }
        async move { request.send().await.unwrap() }
    };
    let today: Value = by_id(None).await.json().await.unwrap();
    assert_eq!(today["genuine"], true, "{today}");
    assert_eq!(today["licence"]["status"], "valid");
    assert!(today["status_on"].is_null());
    for (day, valid, status) in [
        ("2020-01-01", false, "not_yet_issued"),
        ("2040-06-30", true, "valid"),
        ("2041-03-15", false, "expired"),
    ] {
        let answer: Value = by_id(Some(day)).await.json().await.unwrap();
        assert_eq!(answer["status_on"]["valid"], valid, "{day}: {answer}");
        assert_eq!(answer["status_on"]["status"], status, "{day}: {answer}");
    }
    let bad_day = by_id(Some("2041-13-01")).await;
    assert_eq!(problem(bad_day, 422).await["field"], "on");

    // The QR payload printed on the licence is the page URL; a bare identifier works too.
    for payload in [
        format!("{}/verify/licences/{identifier}", server.base),
        identifier.to_string(),
    ] {
        let answer: Value = client
            .post(format!("{}/api/v1/verify/qr", server.base))
            .json(&json!({ "payload": payload, "on": "2030-01-01" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["genuine"], true, "{answer}");
        assert_eq!(answer["licence"]["identifier"], identifier);
        assert_eq!(answer["status_on"]["valid"], true);
    }
    let not_qr = client
        .post(format!("{}/api/v1/verify/qr", server.base))
        .json(&json!({ "payload": "hello world" }))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(not_qr, 422).await["field"], "payload");
    let unknown = client
        .post(format!("{}/api/v1/verify/qr", server.base))
        .json(&json!({ "payload": "https://example.org/verify/licences/nope" }))
        .send()
        .await
        .unwrap();
    problem(unknown, 404).await;

    // The licence PDF itself is recognised.
    let pdf = licence_pdf(&client, &server, key, identifier).await;
    let report = verified(&client, &server, &pdf).await;
    assert_eq!(report["verdict"], "valid", "{report}");
    assert_eq!(report["licence"]["identifier"], identifier);
    assert_eq!(report["signatures"][0]["seal"]["department"], DEPT_A.0);
    assert_eq!(report["signatures"][0]["kind"], "signature");
    assert_eq!(report["signatures"][0]["digest_algorithm"], "SHA-256");
    assert_eq!(report["signatures"][0]["modification_level"], "none");
}

/// A PDF whose one object nests arrays `depth` deep, with a correct cross-reference table.
fn deeply_nested_pdf(depth: usize) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let catalog = pdf.len();
    pdf.extend_from_slice(b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Deep 3 0 R >>\nendobj\n");
    let pages = pdf.len();
    pdf.extend_from_slice(b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n");
    let deep = pdf.len();
    pdf.extend_from_slice(b"3 0 obj\n");
    pdf.extend(std::iter::repeat_n(b'[', depth));
    pdf.extend(std::iter::repeat_n(b']', depth));
    pdf.extend_from_slice(b"\nendobj\n");
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!(
            "xref\n0 4\n0000000000 65535 f \n{catalog:010} 00000 n \n{pages:010} 00000 n \n\
             {deep:010} 00000 n \ntrailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
        )
        .as_bytes(),
    );
    pdf
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_a_problem_and_every_verification_is_recorded() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let department = register(&client, &server, DEPT_A.0, DEPT_A.1).await;
    let key = department["api_key"].as_str().unwrap();
    let sealed = client
        .post(format!("{}/api/v1/seal", server.base))
        .bearer_auth(key)
        .body(crate::fixtures::notice())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();

    let empty = verify(&client, &server, b"", None).await;
    assert_eq!(problem(empty, 422).await["field"], "body");
    let not_pdf = verify(&client, &server, b"GIF89a not a pdf", None).await;
    assert!(problem(not_pdf, 422).await["detail"]
        .as_str()
        .unwrap()
        .contains("not a PDF"));
    let truncated = verify(&client, &server, &sealed[..sealed.len() / 3], None).await;
    assert_eq!(truncated.status(), 422);
    for depth in [1_000, 200_000] {
        let response = verify(&client, &server, &deeply_nested_pdf(depth), None).await;
        let status = response.status().as_u16();
        assert!(status == 200 || status == 422, "depth {depth}: {status}");
        if status == 200 {
            let report: Value = response.json().await.unwrap();
            assert_eq!(report["verdict"], "unsigned");
        }
    }
    let huge = verify(&client, &server, &vec![b' '; 64 * 1024 * 1024 + 1], None).await;
    problem(huge, 413).await;

    // Encrypted: refused without the password, verified with it.
    let locked = crate::fixtures::with(&["encrypted", "aes-128", "user-password"]);
    let password = locked.password.as_deref().unwrap();
    let sealed_locked = client
        .post(format!("{}/api/v1/seal", server.base))
        .bearer_auth(key)
        .query(&[("password", password)])
        .body(locked.bytes())
        .send()
        .await
        .unwrap();
    assert_eq!(sealed_locked.status(), 200);
    let sealed_locked = sealed_locked.bytes().await.unwrap().to_vec();
    let refused = problem(verify(&client, &server, &sealed_locked, None).await, 422).await;
    assert!(
        refused["detail"].as_str().unwrap().contains("password"),
        "{refused}"
    );
    let wrong = verify(&client, &server, &sealed_locked, Some("nope")).await;
    problem(wrong, 422).await;
    let opened = verify(&client, &server, &sealed_locked, Some(password)).await;
    assert_eq!(opened.status(), 200);
    let opened: Value = opened.json().await.unwrap();
    assert_eq!(opened["verdict"], "valid", "{opened}");

    // Anonymous and authenticated verifications are recorded with digest and verdict; the
    // uploaded documents are not stored.
    let as_department = client
        .post(format!("{}/api/v1/verify/pdf", server.base))
        .bearer_auth(key)
        .body(sealed.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(as_department.status(), 200);
    let events: Value = client
        .get(format!("{}/api/v1/audit/events?limit=50", server.base))
        .bearer_auth(&server.admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let verifications: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "verify.pdf")
        .collect();
    assert!(verifications.len() >= 8, "{events}");
    assert!(verifications
        .iter()
        .any(|e| e["actor"] == "anonymous" && e["outcome"] == "valid"));
    assert!(verifications
        .iter()
        .any(|e| e["actor"] == format!("department:{}", DEPT_A.1) && e["outcome"] == "valid"));
    assert!(verifications
        .iter()
        .any(|e| e["outcome"].as_str().unwrap().starts_with("refused")));
    let denied = client
        .get(format!("{}/api/v1/audit/events", server.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    problem(denied, 403).await;
    let database = std::fs::read(server.data.path().join("zhengyin.db")).unwrap_or_default();
    let wal = std::fs::read(server.data.path().join("zhengyin.db-wal")).unwrap_or_default();
    let marker = b"GIF89a not a pdf";
    assert!(
        !database.is_empty(),
        "the SQLite database is where it should be"
    );
    for stored in [&database, &wal] {
        assert!(!stored.windows(marker.len()).any(|w| w == marker));
    }
}
