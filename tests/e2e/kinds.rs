//! Every shipped licence kind over the API, as its department issues it: the PDF validates in
//! pdfsig, pyHanko and qpdf (`validators`), and `pdftotext` gives back every submitted text.

use serde_json::Value;
use zhengyin::domain::CreditCode;

use crate::common::{licence_pdf, register_in, Server};
use crate::validators::validate;

/// A valid credit code for the `n`-th test department of a division (机关, with a GB 11714
/// organisation code `MB` + 6 digits + its check character).
fn department_code(division: &str, n: u32) -> String {
    let body = format!("MB{n:06}");
    let value = |c: char| c.to_digit(36).unwrap();
    let weighted: u32 = body
        .chars()
        .zip([3, 7, 9, 10, 5, 8, 4, 2])
        .map(|(c, w)| value(c) * w)
        .sum();
    let check = match 11 - weighted % 11 {
        10 => 'X',
        11 => '0',
        digit => char::from_digit(digit, 10).unwrap(),
    };
    CreditCode::complete(&format!("11{division}{body}{check}"))
        .unwrap()
        .to_string()
}

/// The texts a licence must show: every string field that is not a number or a date (those
/// are printed in words), and every list item; without whitespace.
fn texts(fields: &Value) -> Vec<String> {
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let mut texts = Vec::new();
    for value in fields.as_object().unwrap().values() {
        match value {
            Value::String(s) if !s.chars().all(|c| c.is_ascii_digit() || c == '-') => {
                texts.push(squeeze(s));
            }
            Value::Array(items) => texts.extend(items.iter().map(|i| squeeze(i.as_str().unwrap()))),
            _ => {}
        }
    }
    texts
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_issues_validates_and_shows_its_fields() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let samples: Value = serde_json::from_str(include_str!("../fixtures/licences.json")).unwrap();
    let work = tempfile::tempdir().unwrap();
    for (n, (kind, sample)) in samples.as_object().unwrap().iter().enumerate() {
        let division = sample["division"].as_str().unwrap();
        let department = sample["department"].as_str().unwrap();
        let registered = register_in(
            &client,
            &server,
            department,
            &department_code(division, n as u32 + 1),
            division,
        )
        .await;
        let key = registered["api_key"].as_str().unwrap();
        let response = client
            .post(format!("{}/api/v1/licences", server.base))
            .bearer_auth(key)
            .json(&serde_json::json!({ "kind": kind, "fields": sample["fields"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{kind}");
        let issued: Value = response.json().await.unwrap();
        let pdf = licence_pdf(
            &client,
            &server,
            key,
            issued["identifier"].as_str().unwrap(),
        )
        .await;
        let path = work.path().join(format!("{kind}.pdf"));
        std::fs::write(&path, &pdf).unwrap();
        assert_eq!(validate(&server.root_pem(), &path), 0, "{kind}");

        let out = std::process::Command::new("pdftotext")
            .arg(&path)
            .arg("-")
            .output()
            .unwrap();
        let text: String = String::from_utf8(out.stdout)
            .unwrap()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        for expected in texts(&sample["fields"]) {
            assert!(
                text.contains(&expected),
                "{kind}: '{expected}' not in {text}"
            );
        }
        assert!(text.contains(department), "{kind}: issuer missing");
    }
    server.app.close().await;
}
