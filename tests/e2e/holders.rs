//! Holders list and download their own licences (PDF and QR image) with a holder token, ours
//! or an external identity provider's; the QR code printed on the licence is readable and
//! checks out offline against the published certificates, and online with the status.

use std::process::Command;

use serde_json::{json, Value};
use zhengyin::licence::credential;
use zhengyin::service::HolderIssuer;

use crate::common::{business_licence_fields, food_permit, register, Server};

const MARKET: (&str, &str) = ("厦门市市场监督管理局", "11350200MB0D00002U");
/// The business licence's holder.
const COMPANY: &str = "91350100M000100Y43";
/// The food permit's holder.
const RESTAURANT: &str = "91350203MA34B6N844";
/// `iss` of the test's external identity provider.
const PROVIDER: &str = "https://id.fujian.example.gov.cn";

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(actual, status, "{body}");
    body
}

/// A GET with an optional bearer credential.
async fn get(client: &reqwest::Client, url: String, bearer: Option<&str>) -> reqwest::Response {
    let mut request = client.get(url);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    request.send().await.unwrap()
}

#[derive(serde::Serialize)]
struct ProviderClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    exp: i64,
}

/// A token from the external identity provider, signed with its key.
fn provider_token(key: &rcgen::KeyPair, iss: &str, sub: &str, exp_in_seconds: i64) -> String {
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + exp_in_seconds;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &ProviderClaims { iss, sub, exp },
        &jsonwebtoken::EncodingKey::from_ec_der(&key.serialize_der()),
    )
    .unwrap()
}

/// Renders the area of page 1 around the QR code (`x`, `y`, `size` in mm) at 300 dpi, without
/// anti-aliasing (as a printer would), and reads it.
fn qr_on_page(pdf: &std::path::Path, x: f32, y: f32, size: f32) -> String {
    let px = |mm: f32| ((mm / 25.4) * 300.0) as i64;
    let margin = px(6.0);
    let out = pdf.with_extension("");
    let status = Command::new("pdftoppm")
        .args([
            "-r",
            "300",
            "-aa",
            "no",
            "-aaVector",
            "no",
            "-png",
            "-singlefile",
        ])
        .args(["-f", "1", "-l", "1"])
        .args(["-x", &(px(x) - margin).to_string()])
        .args(["-y", &(px(y) - margin).to_string()])
        .args(["-W", &(px(size) + 2 * margin).to_string()])
        .args(["-H", &(px(size) + 2 * margin).to_string()])
        .arg(pdf)
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let png = std::fs::read(out.with_extension("png")).unwrap();
    let evidence = crate::test_needs::evidence_dir("holders");
    std::fs::write(evidence.join("licence-qr.png"), &png).unwrap();
    credential::read_qr_png(&png).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn holders_download_their_own_licences_and_the_qr_code_checks_out_offline() {
    let provider_key = rcgen::KeyPair::generate().unwrap();
    let server = Server::start_with(None, |config| {
        config.holder_issuer = Some(HolderIssuer {
            issuer: PROVIDER.into(),
            audience: None,
            public_key_pem: provider_key.public_key_pem(),
        })
    })
    .await;
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let market = register(&client, &server, MARKET.0, MARKET.1).await;
    let key = market["api_key"].as_str().unwrap();
    let work = tempfile::tempdir().unwrap();

    let issue = |body: Value| {
        let request = client
            .post(format!("{base}/api/v1/licences"))
            .bearer_auth(key)
            .json(&body);
        async move { json_of(request.send().await.unwrap(), 201).await }
    };
    let licence =
        issue(json!({"kind": "business_licence", "fields": business_licence_fields()})).await;
    let permit = issue(json!({"kind": "food_business_permit", "fields": food_permit()})).await;
    let identifier = licence["identifier"].as_str().unwrap().to_string();
    let permit_id = permit["identifier"].as_str().unwrap().to_string();

    // Only the administrator (the stand-in identity provider) issues holder tokens.
    let token_request = |bearer: &str, body: Value| {
        let request = client
            .post(format!("{base}/api/v1/holder-tokens"))
            .bearer_auth(bearer)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    json_of(
        token_request(key, json!({"holder_code": COMPANY})).await,
        403,
    )
    .await;
    let bad = json_of(
        token_request(
            &server.admin_key,
            json!({"holder_code": "91350100M000100Y44"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(bad["field"], "holder_code");
    let issued = json_of(
        token_request(
            &server.admin_key,
            json!({"holder_code": COMPANY, "hours": 1}),
        )
        .await,
        201,
    )
    .await;
    let company = issued["token"].as_str().unwrap().to_string();

    // The holder lists its own licences, and only those.
    let listed = json_of(
        get(
            &client,
            format!("{base}/api/v1/holder/licences"),
            Some(&company),
        )
        .await,
        200,
    )
    .await;
    let listed: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["identifier"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [identifier.as_str()]);
    json_of(
        get(&client, format!("{base}/api/v1/holder/licences"), Some(key)).await,
        403,
    )
    .await;
    json_of(
        get(&client, format!("{base}/api/v1/holder/licences"), None).await,
        401,
    )
    .await;
    // A token whose claims were altered (another holder) is refused.
    let parts: Vec<&str> = company.split('.').collect();
    let claims = base64_url(
        &serde_json::to_vec(
            &json!({"iss": base, "aud": "zhengyin-holder", "sub": RESTAURANT,
            "iat": 0, "exp": 4_000_000_000u64}),
        )
        .unwrap(),
    );
    let forged = format!("{}.{claims}.{}", parts[0], parts[2]);
    for bad in [forged.as_str(), "a.b.c", "not-a-key"] {
        json_of(
            get(&client, format!("{base}/api/v1/holder/licences"), Some(bad)).await,
            401,
        )
        .await;
    }
    // Holders do not search the library or issue.
    json_of(
        get(&client, format!("{base}/api/v1/licences"), Some(&company)).await,
        403,
    )
    .await;

    // Its own PDF and QR image, not another holder's; anonymous callers get neither.
    let pdf_url = |id: &str| format!("{base}/api/v1/licences/{id}/pdf");
    let qr_url = |id: &str| format!("{base}/api/v1/licences/{id}/qr.png");
    let pdf = get(&client, pdf_url(&identifier), Some(&company)).await;
    assert_eq!(pdf.status(), 200);
    let pdf = pdf.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let pdf_path = work.path().join("licence.pdf");
    std::fs::write(&pdf_path, &pdf).unwrap();
    for url in [pdf_url(&permit_id), qr_url(&permit_id)] {
        json_of(get(&client, url.clone(), Some(&company)).await, 403).await;
        json_of(get(&client, url, None).await, 401).await;
    }
    let png = get(&client, qr_url(&identifier), Some(&company)).await;
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    let png = png.bytes().await.unwrap();
    let png_path = work.path().join("qr.png");
    std::fs::write(&png_path, &png).unwrap();

    // The QR image says what the printed licence's QR code says (business licence: 34 mm at
    // 240, 18 mm): the verification URL with the department's signed payload.
    let text = credential::read_qr_png(&png).unwrap();
    assert_eq!(qr_on_page(&pdf_path, 240.0, 18.0, 34.0), text);
    let (url, token) = text.split_once('#').unwrap();
    assert_eq!(url, format!("{base}/verify/licences/{identifier}"));
    assert_eq!(token.split('.').count(), 3);

    // Offline: the certificate bundle, fetched once, is all a counter needs.
    let bundle = get(&client, format!("{base}/api/v1/certificates"), None).await;
    assert_eq!(bundle.status(), 200);
    let bundle_path = work.path().join("certificates.pem");
    std::fs::write(&bundle_path, bundle.bytes().await.unwrap()).unwrap();
    let offline = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_zhengyin"))
            .arg("verify-qr")
            .args(args)
            .arg("--certs")
            .arg(&bundle_path)
            .env("ZHENGYIN_DATA_DIR", work.path().join("no-installation"))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = offline(&["--image", png_path.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    let check: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(check["claims"]["sub"], identifier.as_str());
    assert_eq!(check["claims"]["hc"], COMPANY);
    assert_eq!(check["claims"]["hn"], "厦门市鹭岛数字科技有限公司");
    assert_eq!(check["claims"]["iss"], MARKET.1);
    assert_eq!(check["claims"]["kn"], "营业执照");
    assert_eq!(check["within_validity"], true);
    assert!(!work.path().join("no-installation").exists());
    // One character of the payload changed: not genuine.
    let mut altered = text.clone().into_bytes();
    let at = url.len() + 1 + token.find('.').unwrap() + 5;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let (code, _, stderr) = offline(&[&altered]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("not genuine"), "{stderr}");

    // Online: the same check plus the current status.
    let verify_qr = |payload: &str| {
        let request = client
            .post(format!("{base}/api/v1/verify/qr"))
            .json(&json!({ "payload": payload }));
        async move { json_of(request.send().await.unwrap(), 200).await }
    };
    let online = verify_qr(&text).await;
    assert_eq!(online["genuine"], true, "{online}");
    assert_eq!(online["licence"]["status"], "valid");
    assert_eq!(online["qr_signature"]["valid"], true);
    assert_eq!(online["qr_signature"]["claims"]["hc"], COMPANY);
    let forged = verify_qr(&altered).await;
    assert_eq!(forged["genuine"], false, "{forged}");
    assert_eq!(forged["qr_signature"]["valid"], false);

    // The external identity provider's tokens sign holders in too; expired or foreign ones
    // do not.
    let external = provider_token(&provider_key, PROVIDER, RESTAURANT, 600);
    let theirs = json_of(
        get(
            &client,
            format!("{base}/api/v1/holder/licences"),
            Some(&external),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(theirs[0]["identifier"], permit_id.as_str());
    let png = get(&client, qr_url(&permit_id), Some(&external)).await;
    assert_eq!(png.status(), 200);
    for bad in [
        provider_token(&provider_key, PROVIDER, RESTAURANT, -600),
        provider_token(&provider_key, "https://elsewhere.example", RESTAURANT, 600),
        provider_token(
            &rcgen::KeyPair::generate().unwrap(),
            PROVIDER,
            RESTAURANT,
            600,
        ),
    ] {
        json_of(
            get(
                &client,
                format!("{base}/api/v1/holder/licences"),
                Some(&bad),
            )
            .await,
            401,
        )
        .await;
    }

    // Every holder action is on record, under the holder's name.
    let events = json_of(
        get(
            &client,
            format!("{base}/api/v1/audit/events?limit=200"),
            Some(&server.admin_key),
        )
        .await,
        200,
    )
    .await;
    let actions: Vec<(String, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (actor, action) in [
        (format!("holder:{COMPANY}"), "holder.list"),
        (format!("holder:{COMPANY}"), "licence.download"),
        (format!("holder:{COMPANY}"), "licence.qr"),
        (format!("holder:{RESTAURANT}"), "licence.qr"),
        ("anonymous".to_string(), "verify.qr"),
    ] {
        assert!(
            actions.contains(&(actor.clone(), action.to_string())),
            "{actor} {action} missing from {actions:?}"
        );
    }
    server.app.close().await;
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
