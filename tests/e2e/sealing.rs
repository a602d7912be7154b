//! Sealing beyond the corpus loop: placement by keyword, multipart uploads, and personal name
//! seals (square and oval) registered next to a department's official seal.

use std::path::Path;
use std::process::Command;

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::common::{register, Server};
use crate::validators::validate;

const DEPT_A: (&str, &str) = ("厦门市市场监督管理局", "11350200MB0D00002U");
const DEPT_B: (&str, &str) = ("福州市市场监督管理局", "11350100MB0E00003C");

/// A word pdftotext finds exactly once on an unrotated page, far enough from the edges that
/// a 42 mm seal centred on it stays where it is; with its centre in default user space.
fn lone_word(pdf: &Path) -> (String, (f32, f32)) {
    let out = Command::new("pdftotext")
        .args(["-bbox"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext runs");
    let html = String::from_utf8_lossy(&out.stdout);
    let attr = |tag: &str, name: &str| -> f32 {
        let start = tag.find(&format!("{name}=\"")).expect(name) + name.len() + 2;
        tag[start..].split('"').next().unwrap().parse().unwrap()
    };
    let page = html.split("<page ").nth(1).expect("a page");
    let (width, height) = (attr(page, "width"), attr(page, "height"));
    let words: Vec<(String, [f32; 4])> = page
        .split("<word ")
        .skip(1)
        .map(|w| {
            let text = w.split('>').nth(1).unwrap().split('<').next().unwrap();
            let rect = ["xMin", "yMin", "xMax", "yMax"].map(|a| attr(w, a));
            (text.to_string(), rect)
        })
        .collect();
    let all_text: String = html.split("<word ").skip(1).collect();
    let margin = 70.0;
    words
        .iter()
        .filter(|(text, [x0, y0, x1, y1])| {
            text.chars().count() >= 4
                && text.chars().all(char::is_alphanumeric)
                && all_text.matches(text.as_str()).count() == 1
                && *x0 > margin
                && *x1 < width - margin
                && *y0 > margin
                && *y1 < height - margin
        })
        .map(|(text, [x0, y0, x1, y1])| (text.clone(), ((x0 + x1) / 2.0, height - (y0 + y1) / 2.0)))
        .next()
        .expect("a lone word away from the edges")
}

/// The /Rect of every signature widget in a PDF, with its page number.
fn signature_widgets(pdf: &[u8]) -> Vec<(u32, [f32; 4])> {
    let doc = lopdf::Document::load_mem(pdf).expect("sealed PDF loads");
    let mut found = Vec::new();
    for (number, page_id) in doc.get_pages() {
        let Ok(annots) = doc
            .get_dictionary(page_id)
            .and_then(|p| p.get_deref(b"Annots", &doc))
            .and_then(lopdf::Object::as_array)
        else {
            continue;
        };
        for annot in annots {
            let Ok(dict) = annot.as_reference().and_then(|id| doc.get_dictionary(id)) else {
                continue;
            };
            if dict.get(b"FT").and_then(lopdf::Object::as_name).ok() == Some(b"Sig") {
                let rect: Vec<f32> = dict
                    .get(b"Rect")
                    .and_then(lopdf::Object::as_array)
                    .unwrap()
                    .iter()
                    .map(|n| n.as_float().unwrap_or_else(|_| n.as_i64().unwrap() as f32))
                    .collect();
                found.push((number, [rect[0], rect[1], rect[2], rect[3]]));
            }
        }
    }
    found
}

async fn seal_multipart(
    client: &reqwest::Client,
    server: &Server,
    key: &str,
    pdf: &[u8],
    options: Option<Value>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = Form::new().part(
        "file",
        Part::bytes(pdf.to_vec())
            .file_name("document.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    if let Some(options) = options {
        form = form.text("options", options.to_string());
    }
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    client
        .post(format!("{}/api/v1/seal", server.base))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn keyword_placement_centres_the_seal_on_the_text() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let key = register(&client, &server, DEPT_A.0, DEPT_A.1).await["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let work = tempfile::tempdir().unwrap();
    // Our own notice, and real-world files when the shared corpus is there.
    let mut inputs = vec![("notice.pdf", crate::fixtures::notice_path().to_path_buf())];
    if let Some(corpus) = crate::test_needs::shared("corpus") {
        for file in ["sf-google-docs.pdf", "pypdf-chinese-excel-table.pdf"] {
            inputs.push((file, corpus.join(file)));
        }
    }
    for (file, path) in inputs {
        let original = std::fs::read(&path).unwrap();
        let (word, (x, y)) = lone_word(&path);
        let response = seal_multipart(
            &client,
            &server,
            &key,
            &original,
            Some(json!({ "keyword": word })),
            &[],
        )
        .await;
        assert_eq!(
            response.status(),
            200,
            "{file}: {}",
            response.text().await.unwrap()
        );
        let sealed = response.bytes().await.unwrap().to_vec();
        assert!(sealed.starts_with(&original), "{file}: incremental update");
        let widgets = signature_widgets(&sealed);
        assert_eq!(widgets.len(), 1, "{file}: {widgets:?}");
        let (page, [x0, y0, x1, y1]) = widgets[0];
        assert_eq!(page, 1, "{file}");
        let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
        assert!(
            (cx - x).abs() < 3.0 && (cy - y).abs() < 3.0,
            "{file}: seal centred at ({cx}, {cy}), '{word}' at ({x}, {y})"
        );
        let out = work.path().join(file);
        std::fs::write(&out, &sealed).unwrap();
        assert_eq!(validate(&server.root_pem(), &out), 0, "{file}");
    }

    let original = crate::fixtures::notice();
    let absent = problem(
        seal_multipart(
            &client,
            &server,
            &key,
            &original,
            Some(json!({ "keyword": "不存在的词" })),
            &[],
        )
        .await,
        422,
    )
    .await;
    assert!(
        absent["detail"].as_str().unwrap().contains("不存在的词"),
        "{absent}"
    );
    let both = problem(
        seal_multipart(
            &client,
            &server,
            &key,
            &original,
            Some(json!({ "keyword": "Lorem", "x_mm": 50 })),
            &[],
        )
        .await,
        422,
    )
    .await;
    assert!(
        both["detail"].as_str().unwrap().contains("not both"),
        "{both}"
    );
    // Keyword over the query string, with the raw body, works the same way.
    let response = client
        .post(format!("{}/api/v1/seal", server.base))
        .bearer_auth(&key)
        .query(&[("keyword", "Lorem"), ("page", "1")])
        .body(original.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_upload_errors_are_problems() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let key = register(&client, &server, DEPT_A.0, DEPT_A.1).await["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let no_file = client
        .post(format!("{}/api/v1/seal", server.base))
        .bearer_auth(&key)
        .multipart(Form::new().text("page", "1"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(no_file, 422).await["field"], "file");
    let original = crate::fixtures::notice();
    let unknown = seal_multipart(
        &client,
        &server,
        &key,
        &original,
        None,
        &[("colour", "blue")],
    )
    .await;
    let unknown = problem(unknown, 422).await;
    assert!(
        unknown["detail"].as_str().unwrap().contains("colour"),
        "{unknown}"
    );
    let bad_json = seal_multipart(
        &client,
        &server,
        &key,
        &original,
        Some(json!(["not", "an", "object"])),
        &[],
    )
    .await;
    assert_eq!(problem(bad_json, 422).await["field"], "options");
    let not_pdf = seal_multipart(&client, &server, &key, b"hello", None, &[]).await;
    problem(not_pdf, 422).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn name_seals_are_registered_and_stamp_valid_signatures() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let a = register(&client, &server, DEPT_A.0, DEPT_A.1).await;
    let b = register(&client, &server, DEPT_B.0, DEPT_B.1).await;
    let (key_a, key_b) = (
        a["api_key"].as_str().unwrap(),
        b["api_key"].as_str().unwrap(),
    );
    let seals_url = format!(
        "{}/api/v1/departments/{}/seals",
        server.base,
        a["id"].as_str().unwrap()
    );
    let add = |key: String, body: Value| {
        let request = client.post(&seals_url).bearer_auth(key).json(&body);
        async move { request.send().await.unwrap() }
    };

    // Only the administrator registers seals, and name seals need a person.
    let by_department = add(
        key_a.into(),
        json!({ "shape": "square", "person_name": "张三" }),
    )
    .await;
    problem(by_department, 403).await;
    let nameless = add(server.admin_key.clone(), json!({ "shape": "square" })).await;
    assert_eq!(problem(nameless, 422).await["field"], "person_name");
    let round_person = add(
        server.admin_key.clone(),
        json!({ "shape": "round", "person_name": "张三" }),
    )
    .await;
    assert_eq!(problem(round_person, 422).await["field"], "person_name");
    let odd_shape = add(server.admin_key.clone(), json!({ "shape": "hexagon" })).await;
    assert_eq!(problem(odd_shape, 422).await["field"], "shape");

    let square = add(
        server.admin_key.clone(),
        json!({ "shape": "square", "person_name": "张三" }),
    )
    .await;
    assert_eq!(square.status(), 201);
    let square: Value = square.json().await.unwrap();
    assert_eq!(square["name"], "法定代表人名章");
    assert!(square["certificate_pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    let oval = add(
        server.admin_key.clone(),
        json!({ "shape": "oval", "name": "个人签名章", "person_name": "欧阳小明", "code": "3502000012346" }),
    )
    .await;
    assert_eq!(oval.status(), 201);
    let oval: Value = oval.json().await.unwrap();

    // The department lists its three seals; another department may not.
    let listed: Value = client
        .get(&seals_url)
        .bearer_auth(key_a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shapes: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["shape"].as_str().unwrap())
        .collect();
    assert_eq!(shapes, ["round", "square", "oval"]);
    let other = client
        .get(&seals_url)
        .bearer_auth(key_b)
        .send()
        .await
        .unwrap();
    problem(other, 403).await;

    // Stamp a document with the square seal (query string), then the oval one (form fields);
    // B may not use A's name seal.
    let original = crate::fixtures::notice();
    let square_id = square["id"].as_str().unwrap();
    let stolen = client
        .post(format!("{}/api/v1/seal", server.base))
        .bearer_auth(key_b)
        .query(&[("seal_id", square_id)])
        .body(original.clone())
        .send()
        .await
        .unwrap();
    problem(stolen, 403).await;
    let first = client
        .post(format!("{}/api/v1/seal", server.base))
        .bearer_auth(key_a)
        .query(&[("seal_id", square_id), ("x_mm", "60"), ("y_mm", "200")])
        .body(original.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let first = first.bytes().await.unwrap().to_vec();
    let second = seal_multipart(
        &client,
        &server,
        key_a,
        &first,
        None,
        &[
            ("seal_id", oval["id"].as_str().unwrap()),
            ("x_mm", "120"),
            ("y_mm", "200"),
        ],
    )
    .await;
    assert_eq!(second.status(), 200);
    let second = second.bytes().await.unwrap().to_vec();
    let widgets = signature_widgets(&second);
    assert_eq!(widgets.len(), 2);
    let size = |r: [f32; 4]| (r[2] - r[0], r[3] - r[1]);
    let mm = 72.0 / 25.4;
    let (w, h) = size(widgets[0].1);
    assert!(
        (w - 20.0 * mm).abs() < 0.5 && (h - 20.0 * mm).abs() < 0.5,
        "square {w}×{h}"
    );
    let (w, h) = size(widgets[1].1);
    assert!(
        (w - 30.0 * mm).abs() < 0.5 && (h - 20.0 * mm).abs() < 0.5,
        "oval {w}×{h}"
    );

    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("name-seals.pdf");
    std::fs::write(&out, &second).unwrap();
    assert_eq!(validate(&server.root_pem(), &out), 0);
    let verified: Value = client
        .post(format!("{}/api/v1/verify/pdf", server.base))
        .body(second.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verified["valid"], true, "{verified}");
    let subjects: Vec<&str> = verified["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["signer"]["subject"].as_str().unwrap())
        .collect();
    assert!(subjects[0].contains("张三"), "{subjects:?}");
    assert!(subjects[1].contains("欧阳小明"), "{subjects:?}");
    // Evidence for people: the page as rendered.
    let _ = Command::new("pdftoppm")
        .args(["-r", "110", "-png", "-singlefile"])
        .arg(&out)
        .arg(crate::test_needs::evidence_dir("sealing").join("name-seals"))
        .status();
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_page_seal_after_a_normal_seal_leaves_both_valid() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let key_a = register(&client, &server, DEPT_A.0, DEPT_A.1).await["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let key_b = register(&client, &server, DEPT_B.0, DEPT_B.1).await["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let seal = |key: String, pdf: Vec<u8>, cross_page: bool| {
        let request = client
            .post(format!("{}/api/v1/seal", server.base))
            .bearer_auth(key)
            .query(&[("cross_page", cross_page.to_string())])
            .body(pdf);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.bytes().await.unwrap().to_vec()
        }
    };
    let original = crate::fixtures::notice();
    let normal = seal(key_a, original, false).await;
    let both = seal(key_b, normal, true).await;
    let report: Value = client
        .post(format!("{}/api/v1/verify/pdf", server.base))
        .body(both)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The slices on pages 1–4 are widgets of the new signature field: part of it, not a
    // change to the first seal's document (pyHanko says the same: FORM_FILLING).
    assert_eq!(report["verdict"], "valid", "{report}");
    let first = &report["signatures"][0];
    assert_eq!(first["modification_level"], "signature_only", "{first}");
    let details = first["modifications"][0]["details"].to_string();
    assert!(details.contains("new signature widget"), "{details}");
    assert!(!details.contains("annotation"), "{details}");
}
