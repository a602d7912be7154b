//! The audit log is a Merkle tree: signed tree heads, inclusion proofs for every entry and
//! consistency proofs between heads check out in ct-merkle (an independent RFC 6962/9162
//! implementation); `zhengyin audit check` passes on the intact log and names the first entry
//! altered, removed or reordered behind the service's back.

use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::Connection;
use zhengyin::audit::{parse_hash, Leaf};

use crate::common::{business_licence_fields, drop_postgres, fresh_postgres, register, Server};

async fn get_json(client: &reqwest::Client, url: String, key: Option<&str>) -> Value {
    let mut request = client.get(url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

fn root_of(head: &Value) -> RootHash<Sha256> {
    let hash = parse_hash(head["root_hash"].as_str().unwrap()).unwrap();
    RootHash::new(hash.into(), head["tree_size"].as_u64().unwrap())
}

fn hashes(proof: &Value) -> Vec<u8> {
    proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| parse_hash(h.as_str().unwrap()).unwrap())
        .collect()
}

/// `zhengyin audit check` on the installation: exit code and the JSON it prints.
fn audit_check(server: &Server, database_url: Option<&str>) -> (Option<i32>, Value) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_zhengyin"));
    command
        .arg("--data-dir")
        .arg(server.data.path())
        .args(["audit", "check"]);
    match database_url {
        Some(url) => command.env("DATABASE_URL", url),
        None => command.env_remove("DATABASE_URL"),
    };
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|_| {
        panic!(
            "audit check printed {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), report)
}

async fn exec(db: &mut sqlx::AnyConnection, statement: &str) {
    sqlx::query(statement).execute(db).await.unwrap();
}

async fn tree_is_provable_and_tampering_is_named(database_url: Option<String>) {
    let server = Server::start(database_url.clone()).await;
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let department = register(
        &client,
        &server,
        "厦门市市场监督管理局",
        "11350200MB0D00002U",
    )
    .await;
    let key = department["api_key"].as_str().unwrap();
    let first = get_json(&client, format!("{base}/api/v1/audit/sth"), None).await;
    assert_eq!(first["tree_size"], 1, "the registration: {first}");

    let mut identifiers = Vec::new();
    let mut receipts = Vec::new();
    for i in 0..3 {
        let response = client
            .post(format!("{base}/api/v1/licences"))
            .bearer_auth(key)
            .header("x-request-id", format!("issue-{i}"))
            .json(&json!({"kind": "business_licence", "fields": business_licence_fields()}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["x-request-id"],
            format!("issue-{i}").as_str()
        );
        let issued: Value = response.json().await.unwrap();
        receipts.push(issued["audit"].clone());
        let id = issued["identifier"].as_str().unwrap().to_string();
        get_json(&client, format!("{base}/api/v1/verify/licences/{id}"), None).await;
        identifiers.push(id);
    }
    // A sealed PDF comes with its receipt: where the stamping went in the log.
    let sealed = client
        .post(format!("{base}/api/v1/seal"))
        .bearer_auth(key)
        .body(crate::fixtures::notice())
        .send()
        .await
        .unwrap();
    assert_eq!(sealed.status(), 200);
    let seal_receipt = (
        sealed.headers()["x-audit-entry"]
            .to_str()
            .unwrap()
            .to_string(),
        sealed.headers()["x-audit-leaf-hash"]
            .to_str()
            .unwrap()
            .to_string(),
    );
    let head = get_json(&client, format!("{base}/api/v1/audit/sth"), None).await;
    let size = head["tree_size"].as_u64().unwrap();
    assert_eq!(
        size, 8,
        "registration, three issues and three verifications, a sealing"
    );

    // The head is signed by the log key, whose certificate is under the root.
    let (_, log_cert) =
        x509_parser::pem::parse_x509_pem(head["log_certificate"].as_str().unwrap().as_bytes())
            .unwrap();
    let log_cert = log_cert.parse_x509().unwrap();
    let root_pem = std::fs::read(server.root_pem()).unwrap();
    let (_, root) = x509_parser::pem::parse_x509_pem(&root_pem).unwrap();
    let root = root.parse_x509().unwrap();
    log_cert.verify_signature(Some(root.public_key())).unwrap();
    let signature = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        head["signature"].as_str().unwrap(),
    )
    .unwrap();
    UnparsedPublicKey::new(
        &ECDSA_P256_SHA256_ASN1,
        log_cert.public_key().subject_public_key.data.as_ref(),
    )
    .verify(head["statement"].as_str().unwrap().as_bytes(), &signature)
    .unwrap();

    // Every entry is in the tree, as its content reads.
    let entries = get_json(
        &client,
        format!("{base}/api/v1/audit/entries?start=0&end={size}"),
        Some(&server.admin_key),
    )
    .await;
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len() as u64, size);
    assert_eq!(entries[1]["action"], "licence.issue");
    // The receipts name the entries that recorded the issues and the sealing.
    for (i, receipt) in receipts.iter().enumerate() {
        let seq = receipt["seq"].as_u64().unwrap() as usize;
        assert_eq!(seq, 1 + 2 * i);
        assert_eq!(entries[seq]["object"], identifiers[i].as_str());
        assert_eq!(entries[seq]["leaf_hash"], receipt["leaf_hash"]);
    }
    assert_eq!(seal_receipt.0, "7");
    assert_eq!(entries[7]["action"], "document.seal");
    assert_eq!(entries[7]["leaf_hash"], seal_receipt.1.as_str());
    assert_eq!(
        entries[1]["request_id"], "issue-0",
        "the caller's request id is recorded"
    );
    assert_eq!(entries[2]["action"], "verify.licence");
    assert_eq!(
        entries[2]["request_id"].as_str().map(str::len),
        Some(24),
        "a request without an id gets one"
    );
    let root = root_of(&head);
    for entry in entries {
        let seq = entry["seq"].as_u64().unwrap();
        let text = |key: &str| entry[key].as_str().unwrap();
        let leaf = serde_json::to_vec(&Leaf {
            seq,
            id: text("id"),
            at: text("at"),
            actor: text("actor"),
            action: text("action"),
            object: text("object"),
            digest: entry["digest"].as_str(),
            outcome: text("outcome"),
            request_id: entry["request_id"].as_str(),
        })
        .unwrap();
        let proof = get_json(
            &client,
            format!("{base}/api/v1/audit/proof/inclusion?entry={seq}&size={size}"),
            None,
        )
        .await;
        let proof = InclusionProof::<Sha256>::try_from_bytes(hashes(&proof)).unwrap();
        root.verify_inclusion(&leaf, seq, &proof)
            .unwrap_or_else(|e| panic!("entry {seq}: {e:?}"));
        let mut forged = leaf.clone();
        forged[10] ^= 1;
        assert!(root.verify_inclusion(&forged, seq, &proof).is_err());
    }
    // The later head extends the first.
    let proof = get_json(
        &client,
        format!("{base}/api/v1/audit/proof/consistency?from=1&to={size}"),
        None,
    )
    .await;
    let proof = ConsistencyProof::<Sha256>::try_from_bytes(hashes(&proof)).unwrap();
    root.verify_consistency(&root_of(&first), &proof).unwrap();
    // Bad proof requests are problems.
    for query in [
        format!("inclusion?entry={size}&size={size}"),
        format!("inclusion?entry=0&size={}", size + 1),
        format!("consistency?from=0&to={size}"),
        "inclusion?entry=x&size=1".to_string(),
    ] {
        let response = client
            .get(format!("{base}/api/v1/audit/proof/{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{query}");
    }
    let denied = client
        .get(format!("{base}/api/v1/audit/entries?start=0&end=1"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);

    // The intact log checks out; then each kind of tampering is named.
    let (code, report) = audit_check(&server, database_url.as_deref());
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["entries"], size);
    let url = database_url.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}",
            server.data.path().join("zhengyin.db").display()
        )
    });
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&url).await.unwrap();
    let problem = |report: &Value| report["problem"].as_str().unwrap_or_default().to_string();

    exec(
        &mut db,
        "UPDATE audit_events SET outcome = 'ok; reason: 核验' WHERE seq = 3",
    )
    .await;
    let (code, report) = audit_check(&server, database_url.as_deref());
    assert_eq!(code, Some(1));
    assert!(problem(&report).starts_with("entry 3 "), "{report}");
    exec(
        &mut db,
        "UPDATE audit_events SET outcome = 'ok' WHERE seq = 3",
    )
    .await;
    assert_eq!(audit_check(&server, database_url.as_deref()).0, Some(0));

    exec(&mut db, "UPDATE audit_events SET seq = 100 WHERE seq = 4").await;
    exec(&mut db, "UPDATE audit_events SET seq = 4 WHERE seq = 5").await;
    exec(&mut db, "UPDATE audit_events SET seq = 5 WHERE seq = 100").await;
    let (code, report) = audit_check(&server, database_url.as_deref());
    assert_eq!(code, Some(1));
    assert!(
        problem(&report).starts_with("entry 4 "),
        "reordered: {report}"
    );
    exec(&mut db, "UPDATE audit_events SET seq = 100 WHERE seq = 4").await;
    exec(&mut db, "UPDATE audit_events SET seq = 4 WHERE seq = 5").await;
    exec(&mut db, "UPDATE audit_events SET seq = 5 WHERE seq = 100").await;

    exec(&mut db, "DELETE FROM audit_events WHERE seq = 2").await;
    let (code, report) = audit_check(&server, database_url.as_deref());
    assert_eq!(code, Some(1));
    assert!(
        problem(&report).starts_with("entry 2 is missing"),
        "{report}"
    );

    // Removing the newest entries and winding the head back is caught by the signed heads.
    exec(&mut db, "DELETE FROM audit_events WHERE seq >= 2").await;
    exec(&mut db, "UPDATE audit_log_head SET size = 2").await;
    let (code, report) = audit_check(&server, database_url.as_deref());
    assert_eq!(code, Some(1));
    assert!(problem(&report).contains("missing"), "truncated: {report}");
    db.close().await.unwrap();
    server.app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_log_on_sqlite() {
    tree_is_provable_and_tampering_is_named(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_log_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    tree_is_provable_and_tampering_is_named(Some(url.clone())).await;
    drop_postgres(&url).await;
}

/// A receipt proves offline that an action was logged: the issuing department (and only it,
/// or an administrator) gets a receipt for its licence's issue entry and for a stamping;
/// `zhengyin verify-receipt` accepts each with the installation's certificates and the file
/// it is about, and refuses another file, an altered leaf or proof, and another root.
#[tokio::test(flavor = "multi_thread")]
async fn receipts_prove_offline_that_an_issuance_and_a_stamping_were_logged() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let market = register(
        &client,
        &server,
        "厦门市市场监督管理局",
        "11350200MB0D00002U",
    )
    .await;
    let key = market["api_key"].as_str().unwrap();
    let other = register(
        &client,
        &server,
        "福州市市场监督管理局",
        "11350100MB0E00003C",
    )
    .await;
    let other_key = other["api_key"].as_str().unwrap();

    let issued: Value = client
        .post(format!("{base}/api/v1/licences"))
        .bearer_auth(key)
        .json(&json!({"kind": "business_licence", "fields": business_licence_fields()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = issued["identifier"].as_str().unwrap();
    let issue_entry = issued["audit"]["seq"].as_u64().unwrap();
    let licence_pdf = client
        .get(format!("{base}/api/v1/licences/{id}/pdf"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let sealed = client
        .post(format!("{base}/api/v1/seal"))
        .bearer_auth(key)
        .body(crate::fixtures::notice())
        .send()
        .await
        .unwrap();
    let seal_entry: u64 = sealed.headers()["x-audit-entry"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let sealed_pdf = sealed.bytes().await.unwrap();

    let receipt_url = |entry: u64| format!("{base}/api/v1/audit/receipt?entry={entry}");
    let issue_receipt = get_json(&client, receipt_url(issue_entry), Some(key)).await;
    assert_eq!(issue_receipt["entry"], issue_entry);
    let seal_receipt = get_json(&client, receipt_url(seal_entry), Some(key)).await;
    get_json(&client, receipt_url(issue_entry), Some(&server.admin_key)).await;
    for (url, caller, status) in [
        (receipt_url(issue_entry), Some(other_key), 403),
        (receipt_url(issue_entry), None, 401),
        (receipt_url(1000), Some(key), 404),
        // Positions past the stored i64 range are simply not in the log.
        (receipt_url(i64::MAX as u64), Some(key), 404),
        (receipt_url(u64::MAX), Some(key), 404),
        (
            format!("{base}/api/v1/audit/receipt?entry=x"),
            Some(key),
            422,
        ),
    ] {
        let mut request = client.get(&url);
        if let Some(caller) = caller {
            request = request.bearer_auth(caller);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{url}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }

    let work = tempfile::tempdir().unwrap();
    let bundle = client
        .get(format!("{base}/api/v1/certificates"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let certs = work.path().join("certificates.pem");
    std::fs::write(&certs, &bundle).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = work.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let licence_path = write("licence.pdf", &licence_pdf);
    let sealed_path = write("sealed.pdf", &sealed_pdf);
    let verify = |receipt: &Value, certs: &std::path::Path, file: &std::path::Path| {
        let receipt = write("receipt.json", receipt.to_string().as_bytes());
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhengyin"))
            .arg("verify-receipt")
            .arg(receipt)
            .arg("--certs")
            .arg(certs)
            .arg("--file")
            .arg(file)
            .env("ZHENGYIN_DATA_DIR", work.path().join("no-installation"))
            .output()
            .unwrap();
        (
            out.status.code(),
            serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, checked, stderr) = verify(&issue_receipt, &certs, &licence_path);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(checked["leaf"]["action"], "licence.issue");
    assert_eq!(checked["leaf"]["object"], id);
    assert_eq!(checked["leaf"]["actor"], "department:11350200MB0D00002U");
    assert_eq!(checked["file_matches"], true);
    assert!(!work.path().join("no-installation").exists());
    let (code, checked, stderr) = verify(&seal_receipt, &certs, &sealed_path);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(checked["leaf"]["action"], "document.seal");

    // Another file than the one logged.
    let (code, checked, stderr) = verify(&issue_receipt, &certs, &sealed_path);
    assert_eq!((code, &checked["file_matches"]), (Some(1), &json!(false)));
    assert!(stderr.contains("not this file"), "{stderr}");
    // The leaf says something else than was logged.
    let mut altered = issue_receipt.clone();
    altered["leaf"] = json!(altered["leaf"]
        .as_str()
        .unwrap()
        .replace("licence.issue", "licence.revoke"));
    let (code, _, stderr) = verify(&altered, &certs, &licence_path);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("not proven"), "{stderr}");
    // A proof hash altered, or the signed root.
    let mut altered = seal_receipt.clone();
    altered["inclusion"][0] = json!(flip_first_digit(&altered["inclusion"][0]));
    assert_eq!(verify(&altered, &certs, &sealed_path).0, Some(1));
    let mut altered = seal_receipt.clone();
    altered["tree_head"]["root_hash"] = json!(flip_first_digit(&altered["tree_head"]["root_hash"]));
    let (code, _, stderr) = verify(&altered, &certs, &sealed_path);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("signature"), "{stderr}");
    // Another installation's root does not vouch for this log key.
    let stranger = Server::start(None).await;
    let foreign = write(
        "foreign.pem",
        &client
            .get(format!("{}/api/v1/certificates", stranger.base))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    );
    let (code, _, stderr) = verify(&issue_receipt, &foreign, &licence_path);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("trusted log key"), "{stderr}");
    server.app.close().await;
    stranger.app.close().await;
}

/// The hex string with its first digit changed.
fn flip_first_digit(hex: &Value) -> String {
    let hex = hex.as_str().unwrap();
    let first = if hex.starts_with('0') { "1" } else { "0" };
    format!("{first}{}", &hex[1..])
}
