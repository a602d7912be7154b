//! Time-stamps (PAdES B-T) from the built-in RFC 3161 authority: a seal is time-stamped by
//! default and pyHanko finds the token intact and trusted; B-B leaves it out; pyHanko itself
//! signs with `--timestamp-url` pointing at our `/tsa`; bad requests are answered properly.
//! Revocation: the root's CRL, and signatures judged at the time a time-stamp proves.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{register, Server};
use crate::test_needs::venv_program;
use crate::validators::validate_report;

/// pyHanko signs the small corpus PDF into `out` with its own key and certificate (PEM files),
/// asking `tsa_url` for the signature time-stamp; off the async runtime, so that the
/// in-process server keeps answering.
async fn pyhanko_sign(key_pem: &Path, cert_pem: &Path, tsa_url: String, out: &Path) -> Output {
    let (key_pem, cert_pem, out) = (key_pem.to_owned(), cert_pem.to_owned(), out.to_owned());
    tokio::task::spawn_blocking(move || {
        Command::new(venv_program("pyhanko"))
            .args([
                "sign",
                "addsig",
                "--field",
                "Sig1",
                "--timestamp-url",
                &tsa_url,
            ])
            .args(["--use-pades", "pemder", "--no-pass", "--key"])
            .arg(key_pem)
            .arg("--cert")
            .arg(cert_pem)
            .arg(crate::fixtures::notice_path())
            .arg(out)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// Our verifier's report (`POST /api/v1/verify/pdf`).
async fn verify(client: &reqwest::Client, base: &str, pdf: &[u8]) -> Value {
    let response = client
        .post(format!("{base}/api/v1/verify/pdf"))
        .body(pdf.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// pyHanko's status of the one signature in a report of the validators.
fn pyhanko_status(report: &[Value]) -> String {
    let cli = report
        .iter()
        .find(|line| line["tool"] == "pyhanko-cli")
        .expect("a pyhanko-cli line");
    cli["signatures"][0]["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn seals_are_time_stamped_and_pyhanko_uses_our_authority() {
    let server = Server::start(None).await;
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
    let input = crate::fixtures::notice();
    let work = tempfile::tempdir().unwrap();

    // Default level B-T, and B-B on request.
    for (query, stamped) in [("", true), ("?level=B-B", false)] {
        let response = client
            .post(format!("{base}/api/v1/seal{query}"))
            .bearer_auth(key)
            .body(input.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let path = work.path().join("sealed.pdf");
        std::fs::write(&path, response.bytes().await.unwrap()).unwrap();
        let (code, report) = validate_report(&server.root_pem(), &path);
        assert_eq!(code, 0, "{query}");
        let status = pyhanko_status(&report);
        assert_eq!(
            status.contains("TIMESTAMP_TOKEN<INTACT:TRUSTED>"),
            stamped,
            "{query}: {status}"
        );
        let ours = verify(&client, &base, &std::fs::read(&path).unwrap()).await;
        assert_eq!(ours["verdict"], "valid", "{ours}");
        let timestamp = &ours["signatures"][0]["timestamp"];
        if stamped {
            assert_eq!(timestamp["valid"], true, "{ours}");
            assert!(timestamp["authority"]
                .as_str()
                .unwrap()
                .contains("时间戳服务"));
            assert!(timestamp["time"].as_str().unwrap().starts_with("20"));
        } else {
            assert!(timestamp.is_null(), "{ours}");
        }
    }

    // The token altered inside /Contents (outside the signed range: the seal stays intact):
    // its policy OID 1.3.6.1.4.1.32473.3161.1 becomes …3161.2, so its own signature breaks.
    let sealed = client
        .post(format!("{base}/api/v1/seal"))
        .bearer_auth(key)
        .body(input.clone())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let policy = b"2B0601040181FD59985901";
    let at = sealed
        .windows(policy.len())
        .position(|w| w == policy)
        .expect("the token's policy in /Contents");
    let mut altered = sealed.clone();
    altered[at + policy.len() - 1] = b'2';
    let ours = verify(&client, &base, &altered).await;
    assert_eq!(ours["verdict"], "untrusted", "{ours}");
    assert_eq!(ours["signatures"][0]["timestamp"]["valid"], false, "{ours}");
    assert_eq!(ours["signatures"][0]["signature_valid"], true, "{ours}");
    let path = work.path().join("altered-token.pdf");
    std::fs::write(&path, &altered).unwrap();
    let (code, report) = validate_report(&server.root_pem(), &path);
    assert_ne!(code, 0, "pyHanko and pdfsig must not accept it either");
    assert!(!pyhanko_status(&report).contains("TIMESTAMP_TOKEN<INTACT:TRUSTED>"));
    let bad_level = client
        .post(format!("{base}/api/v1/seal?level=B-X"))
        .bearer_auth(key)
        .body(input.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(bad_level.status(), 422);

    // pyHanko signs with its own key and asks our /tsa for the signature time-stamp.
    let key_pem = work.path().join("signer-key.pem");
    let cert_pem = work.path().join("signer.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=pyHanko signer"])
        .arg("-keyout")
        .arg(&key_pem)
        .arg("-out")
        .arg(&cert_pem)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let signed = work.path().join("pyhanko-signed.pdf");
    let url = format!("{base}/tsa");
    let sign = pyhanko_sign(&key_pem, &cert_pem, url, &signed).await;
    let validate = {
        let (cert_pem, signed) = (cert_pem.clone(), signed.clone());
        let root = server.root_pem();
        tokio::task::spawn_blocking(move || {
            Command::new(venv_program("pyhanko"))
                .args([
                    "sign",
                    "validate",
                    "--no-revocation-check",
                    "--trust-replace",
                ])
                .arg("--trust")
                .arg(&root)
                .arg("--trust")
                .arg(&cert_pem)
                .arg(&signed)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    assert!(
        sign.status.success(),
        "{}",
        String::from_utf8_lossy(&sign.stderr)
    );
    let verdict = String::from_utf8_lossy(&validate.stdout);
    assert!(
        validate.status.success() && verdict.contains("TIMESTAMP_TOKEN<INTACT:TRUSTED>"),
        "{verdict}{}",
        String::from_utf8_lossy(&validate.stderr)
    );
    // The token pyHanko got is in the audit log.
    let events: Value = client
        .get(format!("{base}/api/v1/audit/events?limit=20"))
        .bearer_auth(&server.admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["action"] == "tsa.timestamp" && event["outcome"] == "granted"),
        "{events}"
    );

    // Not a time-stamp request: a problem; a malformed one: a rejection reply.
    let wrong_type = client
        .post(format!("{base}/tsa"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 422);
    let junk = client
        .post(format!("{base}/tsa"))
        .header("content-type", "application/timestamp-query")
        .body("junk")
        .send()
        .await
        .unwrap();
    assert_eq!(junk.status(), 200);
    assert_eq!(
        junk.headers()["content-type"],
        "application/timestamp-reply"
    );
    let reply = junk.bytes().await.unwrap();
    assert_eq!(reply[4..7], [0x02, 0x01, 0x02], "status: rejection");
    server.app.close().await;
}

/// Revoking a seal: the root's CRL lists its certificate and its OCSP responder answers
/// revoked (openssl checks both signatures; pyHanko finds the CRL through the certificate's
/// cRLDistributionPoints and calls the seal revoked), the seal no longer stamps, and our
/// verifier keeps a seal (and a licence) time-stamped before the revocation valid while
/// refusing one without a time-stamp and one made afterwards with the stolen key (signed by
/// pyHanko, time-stamped by our authority).
#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_seal_is_refused_unless_a_time_stamp_proves_it_older() {
    let server = Server::start(None).await;
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
    let seal_id = department["seal"]["id"].as_str().unwrap();
    let input = crate::fixtures::notice();
    let seal = |level: &'static str| {
        let request = client
            .post(format!("{base}/api/v1/seal?level={level}"))
            .bearer_auth(key)
            .body(input.clone());
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.bytes().await.unwrap().to_vec(),
            )
        }
    };
    let (_, time_stamped) = seal("B-T").await;
    let (_, plain) = seal("B-B").await;
    // A licence issued with the seal: its PDF is time-stamped too.
    let issued: Value = client
        .post(format!("{base}/api/v1/licences"))
        .bearer_auth(key)
        .json(&serde_json::json!({"kind": "business_licence", "fields": crate::common::business_licence_fields()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let licence_pdf = client
        .get(format!(
            "{base}/api/v1/licences/{}/pdf",
            issued["identifier"].as_str().unwrap()
        ))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    // Times are whole seconds on the CRL and in tokens; a time-stamp in the revocation's own
    // second does not prove the seal older, so the revocation comes a second later.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // The root's OCSP responder, asked by openssl: good now, revoked after.
    let work = tempfile::tempdir().unwrap();
    let seal_pem = work.path().join("seal.pem");
    std::fs::write(
        &seal_pem,
        department["seal"]["certificate_pem"].as_str().unwrap(),
    )
    .unwrap();
    let ask_ocsp = || {
        let (root, seal_pem, url) = (
            server.root_pem(),
            seal_pem.clone(),
            format!("{base}/api/v1/ocsp"),
        );
        tokio::task::spawn_blocking(move || {
            let out = Command::new("openssl")
                .args(["ocsp", "-url", &url, "-issuer"])
                .arg(&root)
                .arg("-CAfile")
                .arg(&root)
                .arg("-cert")
                .arg(&seal_pem)
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr)
        })
    };
    let said = ask_ocsp().await.unwrap();
    assert!(
        said.contains("Response verify OK") && said.contains(": good"),
        "{said}"
    );

    let revoke = |caller: &str| {
        client
            .post(format!("{base}/api/v1/seals/{seal_id}/revocation"))
            .bearer_auth(caller)
            .send()
    };
    assert_eq!(revoke(key).await.unwrap().status(), 403);
    let revoked: Value = revoke(&server.admin_key)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let revoked_at = revoked["revoked_at"].as_str().unwrap().to_string();
    assert_eq!(revoke(&server.admin_key).await.unwrap().status(), 409);
    assert_eq!(
        seal("B-T").await.0,
        404,
        "no seal in force is left to stamp with"
    );

    let said = ask_ocsp().await.unwrap();
    assert!(
        said.contains("Response verify OK") && said.contains(": revoked"),
        "{said}"
    );

    // The CRL, signed by the root, lists the seal certificate.
    let crl = client
        .get(format!("{base}/api/v1/crl"))
        .send()
        .await
        .unwrap();
    assert_eq!(crl.headers()["content-type"], "application/pkix-crl");
    std::fs::write(work.path().join("crl.der"), crl.bytes().await.unwrap()).unwrap();
    let checked = Command::new("openssl")
        .args([
            "crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text", "-CAfile",
        ])
        .arg(server.root_pem())
        .current_dir(work.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&checked.stdout).into_owned()
        + &String::from_utf8_lossy(&checked.stderr);
    assert!(text.contains("verify OK"), "{text}");
    let certificate_pem = revoked["certificate_pem"].as_str().unwrap();
    let (_, certificate) = x509_parser::pem::parse_x509_pem(certificate_pem.as_bytes()).unwrap();
    let serial = certificate.parse_x509().unwrap().raw_serial_as_string();
    assert!(
        text.to_uppercase()
            .contains(&serial.replace(':', "").to_uppercase()),
        "{serial} in {text}"
    );

    // Sealed and time-stamped before the revocation: still valid for us, the licence too.
    let ours = verify(&client, &base, &time_stamped).await;
    assert_eq!(ours["verdict"], "valid", "{ours}");
    assert_eq!(ours["signatures"][0]["revoked_at"], revoked_at.as_str());
    let ours = verify(&client, &base, &licence_pdf).await;
    assert_eq!(ours["verdict"], "valid", "{ours}");
    assert_eq!(ours["signatures"][0]["timestamp"]["valid"], true, "{ours}");
    assert_eq!(ours["signatures"][0]["revoked_at"], revoked_at.as_str());
    // Without a time-stamp nothing proves it older: revoked, for us and for pyHanko, which
    // fetched our CRL.
    let ours = verify(&client, &base, &plain).await;
    assert_eq!(ours["verdict"], "revoked", "{ours}");
    assert!(ours["summary"].as_str().unwrap().contains("吊销"), "{ours}");
    let path = work.path().join("plain.pdf");
    std::fs::write(&path, &plain).unwrap();
    let root = server.root_pem();
    let pyhanko_says = tokio::task::spawn_blocking(move || {
        Command::new(venv_program("pyhanko"))
            .args(["sign", "validate", "--trust-replace", "--trust"])
            .arg(root)
            .arg(path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&pyhanko_says.stdout);
    assert!(
        !pyhanko_says.status.success() && said.contains("INTACT:REVOKED"),
        "{said}"
    );

    // pyHanko's AdES validation agrees: the time-stamp is proof of existence before the
    // revocation; without it the seal is revoked.
    let ades = |pdf: Vec<u8>| {
        let path = work.path().join("ades.pdf");
        std::fs::write(&path, pdf).unwrap();
        let root = server.root_pem();
        tokio::task::spawn_blocking(move || {
            let out = Command::new(venv_program("pyhanko"))
                .args([
                    "sign",
                    "adesverify",
                    "--executive-summary",
                    "--trust-replace",
                    "--trust",
                ])
                .arg(root)
                .arg(path)
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
    };
    let said = ades(time_stamped.clone()).await.unwrap();
    assert!(said.trim_end().ends_with(":VALID"), "{said}");
    let said = ades(plain.clone()).await.unwrap();
    assert!(said.trim_end().ends_with(":INVALID"), "{said}");

    // The stolen key signs afterwards (pyHanko, our authority's time-stamp): revoked.
    let database = format!(
        "sqlite://{}",
        server.data.path().join("zhengyin.db").display()
    );
    let stolen = crate::common::plaintext_keys(server.data.path(), &database).await[0].clone();
    let key_pem = work.path().join("stolen.pem");
    std::fs::write(&key_pem, zhengyin::service::pem("PRIVATE KEY", &stolen)).unwrap();
    let cert_pem = work.path().join("seal.pem");
    std::fs::write(&cert_pem, certificate_pem).unwrap();
    let forged = work.path().join("forged.pdf");
    let url = format!("{base}/tsa");
    let signed = pyhanko_sign(&key_pem, &cert_pem, url, &forged).await;
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let ours = verify(&client, &base, &std::fs::read(&forged).unwrap()).await;
    assert_eq!(ours["verdict"], "revoked", "{ours}");
    assert_eq!(ours["signatures"][0]["timestamp"]["valid"], true, "{ours}");
    let said = ades(std::fs::read(&forged).unwrap()).await.unwrap();
    assert!(!said.trim_end().ends_with(":VALID"), "{said}");
    server.app.close().await;
}

/// B-LT adds the validation data (certificates and the CRL) in a DSS update; B-LTA adds a
/// document time-stamp over everything. pyHanko, pdfsig and qpdf accept both; pyHanko's AdES
/// validation finds the archival time-stamp and judges the seal valid. A B-T seal is brought
/// to B-LTA later and renewed, and every signature stays valid.
#[tokio::test(flavor = "multi_thread")]
async fn long_term_levels_carry_validation_data_and_an_archive_time_stamp() {
    let server = Server::start(None).await;
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
    let input = crate::fixtures::notice();
    let work = tempfile::tempdir().unwrap();
    for level in ["B-LT", "B-LTA"] {
        let response = client
            .post(format!("{base}/api/v1/seal?level={level}"))
            .bearer_auth(key)
            .body(input.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{level}");
        let sealed = response.bytes().await.unwrap().to_vec();
        let path = work.path().join(format!("{level}.pdf"));
        std::fs::write(&path, &sealed).unwrap();

        // The DSS holds the seal's, the root's and the authority's certificates and the CRL.
        let doc = lopdf::Document::load_mem(&sealed).unwrap();
        let catalog = doc.catalog().unwrap();
        let dss = doc
            .dereference(catalog.get(b"DSS").unwrap())
            .unwrap()
            .1
            .as_dict()
            .unwrap()
            .clone();
        let count = |key: &[u8]| dss.get(key).unwrap().as_array().unwrap().len();
        assert_eq!((count(b"Certs"), count(b"CRLs")), (3, 1), "{level}");

        let (code, report) = validate_report(&server.root_pem(), &path);
        let status = pyhanko_status(&report);
        assert!(
            status.starts_with("INTACT:TRUSTED,TIMESTAMP_TOKEN<INTACT:TRUSTED>"),
            "{level}: {status}"
        );
        let pdfsig = report.iter().find(|line| line["tool"] == "pdfsig").unwrap();
        assert_eq!(pdfsig["signatures"][0]["intact_valid"], true, "{level}");
        let ours = verify(&client, &base, &sealed).await;
        assert_eq!(ours["verdict"], "valid", "{level}: {ours}");
        let root = server.root_pem();
        let ades = tokio::task::spawn_blocking(move || {
            Command::new(venv_program("pyhanko"))
                .args([
                    "sign",
                    "adesverify",
                    "--pretty-print",
                    "--trust-replace",
                    "--trust",
                ])
                .arg(root)
                .arg(path)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let ades = String::from_utf8_lossy(&ades.stdout).into_owned()
            + &String::from_utf8_lossy(&ades.stderr);
        assert!(ades.contains("judged VALID"), "{level}: {ades}");
        if level == "B-LT" {
            // The DSS update follows the seal: the validators want the newest signature to
            // cover the whole file, which only a document time-stamp restores.
            assert!(status.contains("EXTENDED_WITH_LTA_UPDATES"), "{status}");
            assert!(ades.contains("No document timestamps"), "{ades}");
        } else {
            assert_eq!(code, 0, "the validators accept B-LTA");
            let signatures = ours["signatures"].as_array().unwrap();
            assert_eq!(signatures.len(), 2);
            assert_eq!(signatures[1]["kind"], "document_timestamp");
            assert_eq!(signatures[1]["verdict"], "valid");
            assert!(ades.contains("AdES time slide"), "{ades}");
        }
    }

    // A B-T seal brought to B-LTA later, then renewed: three signatures, all valid.
    let mut document = client
        .post(format!("{base}/api/v1/seal?level=B-T"))
        .bearer_auth(key)
        .body(input.clone())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    for _ in 0..2 {
        let response = client
            .post(format!("{base}/api/v1/archive"))
            .bearer_auth(key)
            .body(document)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("x-audit-entry"));
        document = response.bytes().await.unwrap().to_vec();
    }
    let path = work.path().join("renewed.pdf");
    std::fs::write(&path, &document).unwrap();
    assert_eq!(validate_report(&server.root_pem(), &path).0, 0);
    let ours = verify(&client, &base, &document).await;
    let kinds: Vec<(&str, &str)> = ours["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["kind"].as_str().unwrap(), s["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("signature", "valid"),
            ("document_timestamp", "valid"),
            ("document_timestamp", "valid")
        ]
    );
    let unsigned = client
        .post(format!("{base}/api/v1/archive"))
        .bearer_auth(key)
        .body(input.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 422);
    server.app.close().await;
}

/// With an external time-stamping authority configured (here another installation's `/tsa`),
/// seals are time-stamped by it: the token verifies once that installation's root is trusted,
/// and the authority has the token in its audit log. An authority that cannot be reached
/// gives 502 and no file; B-B needs none.
#[tokio::test(flavor = "multi_thread")]
async fn an_external_authority_time_stamps_the_seals() {
    let client = reqwest::Client::new();
    let authority = Server::start(None).await;
    let tsa_url = format!("{}/tsa", authority.base);
    let server = Server::start_with(None, |config| config.tsa_url = Some(tsa_url)).await;
    let base = server.base.clone();
    let department = register(
        &client,
        &server,
        "厦门市市场监督管理局",
        "11350200MB0D00002U",
    )
    .await;
    let key = department["api_key"].as_str().unwrap();
    let trusted = client
        .post(format!("{base}/api/v1/trust-roots"))
        .bearer_auth(&server.admin_key)
        .body(std::fs::read(authority.root_pem()).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(trusted.status(), 201);
    let input = crate::fixtures::notice();
    let sealed = client
        .post(format!("{base}/api/v1/seal"))
        .bearer_auth(key)
        .body(input.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(sealed.status(), 200);
    let sealed = sealed.bytes().await.unwrap();
    let ours = verify(&client, &base, &sealed).await;
    assert_eq!(ours["verdict"], "valid", "{ours}");
    assert_eq!(ours["signatures"][0]["timestamp"]["valid"], true, "{ours}");
    let events: Value = client
        .get(format!("{}/api/v1/audit/events?limit=5", authority.base))
        .bearer_auth(&authority.admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["action"] == "tsa.timestamp"),
        "{events}"
    );

    let unreachable = Server::start_with(None, |config| {
        config.tsa_url = Some("http://127.0.0.1:9/tsa".into())
    })
    .await;
    let department = register(
        &client,
        &unreachable,
        "厦门市市场监督管理局",
        "11350200MB0D00002U",
    )
    .await;
    let key = department["api_key"].as_str().unwrap();
    for (level, status) in [("B-T", 502), ("B-B", 200)] {
        let response = client
            .post(format!("{}/api/v1/seal?level={level}", unreachable.base))
            .bearer_auth(key)
            .body(input.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{level}");
        if status == 502 {
            let problem: Value = response.json().await.unwrap();
            assert!(
                problem["detail"].as_str().unwrap().contains("127.0.0.1:9"),
                "{problem}"
            );
        }
    }
    for installation in [&server, &authority, &unreachable] {
        installation.app.close().await;
    }
}
