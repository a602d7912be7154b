//! The OpenAPI document at `/api/v1/openapi.json`: it documents exactly the API routes the
//! router serves, and schemathesis, generating requests from it, gets no 5xx answer.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Value};

use crate::common::{business_licence_fields, licence_pdf, register, Server};

/// Every API operation the router serves, as the document must name it.
const OPERATIONS: [(&str, &str); 36] = [
    ("get", "/healthz"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/root.pem"),
    ("get", "/api/v1/certificates"),
    ("post", "/api/v1/holder-tokens"),
    ("get", "/api/v1/holder/licences"),
    ("post", "/api/v1/departments"),
    ("post", "/api/v1/counters"),
    ("post", "/api/v1/departments/{id}/seals"),
    ("get", "/api/v1/departments/{id}/seals"),
    ("post", "/api/v1/licences"),
    ("get", "/api/v1/licences"),
    ("get", "/api/v1/licences/{id}/pdf"),
    ("get", "/api/v1/licences/{id}/qr.png"),
    ("post", "/api/v1/licences/{id}/versions"),
    ("post", "/api/v1/licences/{id}/renewals"),
    ("post", "/api/v1/licences/{id}/status"),
    ("get", "/api/v1/licences/{id}/history"),
    ("get", "/api/v1/verify/licences/{id}"),
    ("post", "/api/v1/verify/qr"),
    ("post", "/api/v1/verify/pdf"),
    ("post", "/api/v1/trust-roots"),
    ("get", "/api/v1/trust-roots"),
    ("delete", "/api/v1/trust-roots/{id}"),
    ("get", "/api/v1/audit/events"),
    ("get", "/api/v1/audit/sth"),
    ("get", "/api/v1/audit/proof/inclusion"),
    ("get", "/api/v1/audit/proof/consistency"),
    ("get", "/api/v1/audit/entries"),
    ("get", "/api/v1/audit/receipt"),
    ("post", "/api/v1/seal"),
    ("post", "/api/v1/archive"),
    ("get", "/api/v1/crl"),
    ("post", "/api/v1/ocsp"),
    ("post", "/api/v1/seals/{id}/revocation"),
    ("post", "/tsa"),
];

/// Operations anyone may call without a credential (the rest need `bearer`, or take it
/// optionally).
const PUBLIC: [&str; 11] = [
    "get /healthz",
    "get /api/v1/crl",
    "post /api/v1/ocsp",
    "get /api/v1/openapi.json",
    "get /api/v1/root.pem",
    "get /api/v1/certificates",
    "get /api/v1/licences/{id}/history",
    "get /api/v1/trust-roots",
    "get /api/v1/audit/sth",
    "get /api/v1/audit/proof/inclusion",
    "get /api/v1/audit/proof/consistency",
];

/// Operations where a credential is optional (it is checked when given).
const OPTIONAL_AUTH: [&str; 4] = [
    "post /tsa",
    "get /api/v1/verify/licences/{id}",
    "post /api/v1/verify/qr",
    "post /api/v1/verify/pdf",
];

#[tokio::test(flavor = "multi_thread")]
async fn the_document_names_exactly_the_routes_served() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}/api/v1/openapi.json", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let document: Value = response.json().await.unwrap();

    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        document["openapi"]
    );
    assert_eq!(document["info"]["title"], "zhengyin");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    let bearer = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");

    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            // Who may call it, as the document says.
            let security: Vec<Value> = operation["security"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let expected_security = if PUBLIC.contains(&name.as_str()) {
                vec![]
            } else if OPTIONAL_AUTH.contains(&name.as_str()) {
                vec![json!({}), json!({"bearer": []})]
            } else {
                vec![json!({"bearer": []})]
            };
            assert_eq!(security, expected_security, "security of {name}");
            // Every error it documents is problem+json.
            for (status, answer) in operation["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        answer["content"]["application/problem+json"].is_object(),
                        "{name} answers {status} without problem+json: {answer}"
                    );
                }
            }
            assert!(operation["tags"].as_array().is_some_and(|t| t.len() == 1));
            documented.insert((method.clone(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    let missing: Vec<_> = expected.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "undocumented: {missing:?}; documented but not expected: {extra:?}"
    );

    // And the router serves each of them: the method is allowed on the path, and the answer
    // is not the fallback's "route not found".
    for (method, path) in OPERATIONS {
        let url = format!("{}{}", server.base, path.replace("{id}", "x"));
        let response = client
            .request(method.to_uppercase().parse().unwrap(), &url)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_ne!(status, 405, "{method} {path} is not routed");
        assert!(
            !body.contains("route not found"),
            "{method} {path} is not routed: {status} {body}"
        );
    }
}

/// Examples schemathesis generates per operation.
const MAX_EXAMPLES: usize = 20;
/// At least this many cases in all: schemathesis's phases (examples, coverage, fuzzing) make
/// about 1,450 with this seed and budget; far fewer would mean most operations went unexercised.
const MIN_CASES: u64 = 400;
/// The seed of every run: a failure is reproduced with the same seed.
const SEED: &str = "20261206";

/// What one schemathesis run found.
struct Run {
    /// Test cases generated.
    cases: u64,
    /// Server errors (the `not_a_server_error` check failed).
    server_errors: u64,
}

/// Runs schemathesis on the document with `key`, in `work` (its config and report go there).
async fn schemathesis(server: &Server, work: &Path, who: &str, key: &str) -> Run {
    let report = work.join(format!("{who}.json"));
    let mut command = std::process::Command::new(crate::test_needs::schemathesis_program());
    command
        .current_dir(work)
        .env(
            "SCHEMATHESIS_HOOKS",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/schemathesis_hooks.py"),
        )
        .env("ZY_SAMPLE_PDF", work.join("licence.pdf"))
        .env("ZY_SAMPLE_PEM", server.root_pem())
        .arg("--config-file")
        .arg(work.join("schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", server.base))
        .args(["--checks", "not_a_server_error"])
        .args(["-H", &format!("Authorization: Bearer {key}")])
        // A budget in cases and a fixed seed, never in seconds: the same run on a busy machine.
        .args(["--max-examples", &MAX_EXAMPLES.to_string()])
        .args(["--seed", SEED])
        .args(["--request-timeout", "20"])
        .args(["--generation-database", "none", "--no-color"])
        .args(["--report", "json", "--report-json-path"])
        .arg(&report);
    // Off the runtime's workers, so that the in-process server keeps answering.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_slice(
        &std::fs::read(&report).unwrap_or_else(|e| panic!("no report ({e}): {stdout}")),
    )
    .unwrap();
    let run = Run {
        cases: report["test_cases"]["generated"].as_u64().unwrap(),
        server_errors: report["test_cases"]["with_failures"].as_u64().unwrap(),
    };
    eprintln!(
        "schemathesis as {who}: {} test cases, {} server errors, {} errors, {:.1} s, seed {SEED}",
        run.cases,
        run.server_errors,
        report["test_cases"]["errored"],
        report["running_time"].as_f64().unwrap_or_default(),
    );
    assert!(
        output.status.success(),
        "schemathesis as {who} failed ({}, seed {SEED}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    run
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_server_error() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let work = tempfile::tempdir().unwrap();
    let department = register(
        &client,
        &server,
        "厦门市市场监督管理局",
        "11350200MB0D00002U",
    )
    .await;
    let key = department["api_key"].as_str().unwrap().to_string();
    let issued: Value = client
        .post(format!("{}/api/v1/licences", server.base))
        .bearer_auth(&key)
        .json(&json!({"kind": "business_licence", "fields": business_licence_fields()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let identifier = issued["identifier"].as_str().unwrap();
    let pdf = licence_pdf(&client, &server, &key, identifier).await;
    assert!(pdf.starts_with(b"%PDF-"));
    std::fs::write(work.path().join("licence.pdf"), &pdf).unwrap();

    // The identifiers that exist, so that requests reach past "not found" most of the time.
    let stem = identifier.rsplitn(3, '.').nth(2).unwrap();
    let config = format!(
        r#"[dictionaries.licence]
values = ["{identifier}", "{stem}"]

[dictionaries.department]
values = ["{department}"]

[[operations]]
include-path-regex = "^/api/v1/(verify/)?licences/\\{{id\\}}"
parameters = {{ "path.id" = {{ dictionary = "licence", probability = 0.8 }} }}

[[operations]]
include-path = "/api/v1/departments/{{id}}/seals"
parameters = {{ "path.id" = {{ dictionary = "department", probability = 0.8 }} }}
"#,
        department = department["id"].as_str().unwrap()
    );
    std::fs::write(work.path().join("schemathesis.toml"), config).unwrap();

    let admin = schemathesis(&server, work.path(), "admin", &server.admin_key).await;
    let department = schemathesis(&server, work.path(), "department", &key).await;
    for run in [&admin, &department] {
        assert_eq!(run.server_errors, 0);
        assert!(
            run.cases >= MIN_CASES,
            "only {} test cases (seed {SEED})",
            run.cases
        );
    }
}
