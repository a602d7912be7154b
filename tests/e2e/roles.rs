//! The role matrix: administrator, department A (the issuer), department B, a service counter,
//! the licence's holder and an anonymous caller, against every endpoint. 401 and 403 come
//! exactly where the table says; everywhere else the call gets past authorisation (it may
//! still be refused as bad input or a conflict).

use serde_json::{json, Value};

use crate::common::{business_licence_fields, register, Server};

/// How a role is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Past authorisation: neither 401 nor 403.
    Y,
    /// 403.
    F,
    /// 401.
    U,
}
use Expect::{F, U, Y};

/// What a request carries.
enum Body {
    Empty,
    Json(Value),
    Pdf(Vec<u8>),
    Pem(String),
}

const ROLES: [&str; 6] = [
    "admin",
    "department A",
    "department B",
    "counter",
    "holder",
    "anonymous",
];

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_answers_each_role_as_the_matrix_says() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let base = server.base.clone();
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
    let counter = client
        .post(format!("{base}/api/v1/counters"))
        .bearer_auth(&server.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(counter.status(), 201);
    let counter: Value = counter.json().await.unwrap();
    let holder: Value = client
        .post(format!("{base}/api/v1/holder-tokens"))
        .bearer_auth(&server.admin_key)
        .json(&json!({"holder_code": "91350100M000100Y43"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let credentials: [Option<&str>; 6] = [
        Some(&server.admin_key),
        a["api_key"].as_str(),
        b["api_key"].as_str(),
        counter["api_key"].as_str(),
        holder["token"].as_str(),
        None,
    ];
    let issued: Value = client
        .post(format!("{base}/api/v1/licences"))
        .bearer_auth(credentials[1].unwrap())
        .json(&json!({"kind": "business_licence", "fields": business_licence_fields()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let licence = issued["identifier"].as_str().unwrap().to_string();
    let a_id = a["id"].as_str().unwrap();
    let pdf = crate::fixtures::notice();
    let root_pem = std::fs::read_to_string(server.root_pem()).unwrap();
    let new_department = |code: &str| json!({"name": "莆田市市场监督管理局", "credit_code": code, "division_code": "350300"});

    use reqwest::Method;
    let table: Vec<(Method, String, Body, [Expect; 6])> = vec![
        (
            Method::GET,
            "/healthz".into(),
            Body::Empty,
            [Y, Y, Y, Y, Y, Y],
        ),
        (
            Method::GET,
            "/api/v1/root.pem".into(),
            Body::Empty,
            [Y, Y, Y, Y, Y, Y],
        ),
        (
            Method::GET,
            "/api/v1/certificates".into(),
            Body::Empty,
            [Y, Y, Y, Y, Y, Y],
        ),
        (
            Method::POST,
            "/api/v1/departments".into(),
            Body::Json(new_department("11350300MB0F00004X")),
            [Y, F, F, F, F, U],
        ),
        (
            Method::POST,
            "/api/v1/counters".into(),
            Body::Empty,
            [Y, F, F, F, F, U],
        ),
        (
            Method::POST,
            format!("/api/v1/departments/{a_id}/seals"),
            Body::Json(json!({"name": "合同专用章"})),
            [Y, F, F, F, F, U],
        ),
        (
            Method::GET,
            format!("/api/v1/departments/{a_id}/seals"),
            Body::Empty,
            [Y, Y, F, F, F, U],
        ),
        (
            Method::POST,
            "/api/v1/licences".into(),
            Body::Json(json!({"kind": "business_licence", "fields": business_licence_fields()})),
            [F, Y, Y, F, F, U],
        ),
        (
            Method::GET,
            "/api/v1/licences".into(),
            Body::Empty,
            [Y, Y, Y, Y, F, U],
        ),
        (
            Method::GET,
            format!("/api/v1/licences/{licence}/pdf"),
            Body::Empty,
            [Y, Y, Y, Y, Y, U],
        ),
        (
            Method::GET,
            format!("/api/v1/licences/{licence}/qr.png"),
            Body::Empty,
            [Y, Y, Y, Y, Y, U],
        ),
        (
            Method::POST,
            format!("/api/v1/licences/{licence}/versions"),
            Body::Json(
                json!({"fields": {"address": "福建省厦门市思明区软件园二期观日路26号"}, "reason": "住所变更"}),
            ),
            [F, Y, F, F, F, U],
        ),
        (
            Method::POST,
            format!("/api/v1/licences/{licence}/renewals"),
            Body::Json(json!({"reason": "延续"})),
            [F, Y, F, F, F, U],
        ),
        (
            Method::POST,
            format!("/api/v1/licences/{licence}/status"),
            Body::Json(json!({"action": "suspend", "reason": "责令整改"})),
            [F, Y, F, F, F, U],
        ),
        (
            Method::GET,
            format!("/api/v1/licences/{licence}/history"),
            Body::Empty,
            [Y, Y, Y, Y, Y, Y],
        ),
        (
            Method::GET,
            format!("/api/v1/verify/licences/{licence}"),
            Body::Empty,
            [Y, Y, Y, Y, Y, Y],
        ),
        (
            Method::POST,
            "/api/v1/verify/qr".into(),
            Body::Json(json!({"payload": licence})),
            [Y, Y, Y, Y, Y, Y],
        ),
        (
            Method::POST,
            "/api/v1/verify/pdf".into(),
            Body::Pdf(pdf.clone()),
            [Y, Y, Y, Y, Y, Y],
        ),
        (
            Method::POST,
            "/api/v1/trust-roots".into(),
            Body::Pem(root_pem),
            [Y, F, F, F, F, U],
        ),
        (
            Method::GET,
            "/api/v1/trust-roots".into(),
            Body::Empty,
            [Y, Y, Y, Y, Y, Y],
        ),
        (
            Method::DELETE,
            "/api/v1/trust-roots/unknown".into(),
            Body::Empty,
            [Y, F, F, F, F, U],
        ),
        (
            Method::GET,
            "/api/v1/audit/events".into(),
            Body::Empty,
            [Y, F, F, F, F, U],
        ),
        (
            Method::GET,
            "/api/v1/audit/entries?start=0&end=5".into(),
            Body::Empty,
            [Y, F, F, F, F, U],
        ),
        (
            Method::GET,
            "/api/v1/audit/sth".into(),
            Body::Empty,
            [Y, Y, Y, Y, Y, Y],
        ),
        (
            Method::GET,
            "/api/v1/audit/proof/inclusion?entry=0&size=1".into(),
            Body::Empty,
            [Y, Y, Y, Y, Y, Y],
        ),
        (
            Method::GET,
            "/api/v1/audit/proof/consistency?from=1&to=2".into(),
            Body::Empty,
            [Y, Y, Y, Y, Y, Y],
        ),
        (
            Method::POST,
            "/api/v1/seal".into(),
            Body::Pdf(pdf),
            [F, Y, Y, F, F, U],
        ),
        (
            Method::POST,
            "/api/v1/holder-tokens".into(),
            Body::Json(json!({"holder_code": "91350203MA34B6N844"})),
            [Y, F, F, F, F, U],
        ),
        (
            Method::GET,
            "/api/v1/holder/licences".into(),
            Body::Empty,
            [F, F, F, F, Y, U],
        ),
        (
            Method::GET,
            "/api/v1/audit/receipt?entry=0".into(),
            Body::Empty,
            [Y, F, F, F, F, U],
        ),
        (
            Method::GET,
            "/api/v1/crl".into(),
            Body::Empty,
            [Y, Y, Y, Y, Y, Y],
        ),
        (
            Method::POST,
            "/api/v1/ocsp".into(),
            Body::Empty,
            [Y, Y, Y, Y, Y, Y],
        ),
        (
            Method::POST,
            "/api/v1/seals/unknown/revocation".into(),
            Body::Empty,
            [Y, F, F, F, F, U],
        ),
        (Method::POST, "/tsa".into(), Body::Empty, [Y, Y, Y, Y, Y, Y]),
        (
            Method::GET,
            "/verify".into(),
            Body::Empty,
            [Y, Y, Y, Y, Y, Y],
        ),
    ];

    let mut wrong = Vec::new();
    for (method, path, body, expected) in &table {
        for (role, (credential, expect)) in credentials.iter().zip(expected).enumerate() {
            let mut request = client.request(method.clone(), format!("{base}{path}"));
            if let Some(credential) = credential {
                request = request.bearer_auth(credential);
            }
            request = match body {
                Body::Empty => request,
                Body::Json(value) => request.json(value),
                Body::Pdf(bytes) => request
                    .header("content-type", "application/pdf")
                    .body(bytes.clone()),
                Body::Pem(text) => request.body(text.clone()),
            };
            let status = request.send().await.unwrap().status().as_u16();
            let got = match status {
                401 => U,
                403 => F,
                _ => Y,
            };
            if got != *expect {
                wrong.push(format!(
                    "{method} {path} as {}: {status}, expected {expect:?}",
                    ROLES[role]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    server.app.close().await;
}
