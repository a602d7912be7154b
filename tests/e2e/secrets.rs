//! Secrets stay secret even with every log switched on: a server logging at `trace` handles
//! registration, issuing, sealing, holder sign-in and failed sign-ins, and its log holds no
//! private key (in any encoding), no API key, no holder token and no PDF password; error
//! answers name no secret either.

use serde_json::{json, Value};

use crate::common::{
    assert_absent, business_licence_fields, key_needles, plaintext_keys, ServerProcess,
};

#[tokio::test(flavor = "multi_thread")]
async fn trace_logs_hold_no_secret() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), None, Some("trace"));
    let admin_key = server.admin_key.clone().unwrap();
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let department: Value = client
        .post(format!("{base}/api/v1/departments"))
        .bearer_auth(&admin_key)
        .json(
            &json!({"name": "厦门市市场监督管理局", "credit_code": "11350200MB0D00002U",
            "division_code": "350200"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = department["api_key"].as_str().unwrap().to_string();
    let issued = client
        .post(format!("{base}/api/v1/licences"))
        .bearer_auth(&key)
        .json(&json!({"kind": "business_licence", "fields": business_licence_fields()}))
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), 201);
    let locked = crate::fixtures::with(&["encrypted", "aes-256", "user-password"]);
    let password = locked.password.clone().unwrap();
    let sealed = client
        .post(format!("{base}/api/v1/seal?password={password}"))
        .bearer_auth(&key)
        .body(locked.bytes())
        .send()
        .await
        .unwrap();
    assert_eq!(sealed.status(), 200);
    let token: Value = client
        .post(format!("{base}/api/v1/holder-tokens"))
        .bearer_auth(&admin_key)
        .json(&json!({"holder_code": "91350100M000100Y43"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let listed = client
        .get(format!("{base}/api/v1/holder/licences"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    // A wrong secret under a real key id, and a tampered token: refused without echoing them.
    let (key_id, _) = key.trim_start_matches("zy_").split_once('_').unwrap();
    let wrong_key = format!("zy_{key_id}_{}", "A".repeat(43));
    let tampered_token = format!("{}x", &token[..token.len() - 1]);
    for credential in [&wrong_key, &tampered_token] {
        let refused = client
            .get(format!("{base}/api/v1/licences"))
            .bearer_auth(credential)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
        let body = refused.text().await.unwrap();
        assert!(!body.contains(credential.as_str()), "{body}");
    }
    let log = server.log.lock().unwrap().clone();
    server.kill();

    assert!(
        log.len() > 20_000,
        "trace logging produced {} bytes",
        log.len()
    );
    let url = format!("sqlite://{}", data.path().join("zhengyin.db").display());
    let keys = plaintext_keys(data.path(), &url).await;
    assert_absent(&log, &key_needles(&keys), "the trace log");
    let secret = |api_key: &str| api_key.rsplit_once('_').unwrap().1.to_string();
    for (what, value) in [
        ("the admin key", secret(&admin_key)),
        ("the department key", secret(&key)),
        ("the wrong key", secret(&wrong_key)),
        (
            "the holder token's signature",
            token.rsplit_once('.').unwrap().1.to_string(),
        ),
        ("the PDF password", password.to_string()),
    ] {
        let found = log.windows(value.len()).position(|w| w == value.as_bytes());
        assert!(
            found.is_none(),
            "{what} appears in the trace log at byte {found:?}"
        );
    }
}
