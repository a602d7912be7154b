//! The independent validators, run on a signed PDF as a relying party would: pyHanko's command
//! line and its validation API (`tests/tools/pyhanko_report.py`), poppler's `pdfsig` trusting
//! the given root through a throw-away NSS database, and `qpdf --check` for the structure.
//! `scripts/install-test-tools.sh` installs them all.
//!
//! Each tool's reading becomes one JSON object `{"tool", "exit", "signatures", …}`; the
//! verdict is the worst exit over the tools: 0 every signature intact, valid and chaining to
//! the root, the newest covering the whole file, the structure sound; 1 a signature broken or
//! missing, or the file unreadable; 2 intact but untrusted, partly covered, changed in a way
//! the tool does not allow, or structurally damaged.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::test_needs::{tool, venv_program};

/// How to read the file.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// The user password of an encrypted file.
    pub password: Option<String>,
    /// Signatures not chaining to the root are acceptable (files signed by others).
    pub allow_untrusted: bool,
    /// pyHanko reads leniently: by default it refuses to validate signatures in hybrid-reference
    /// files at all.
    pub lenient: bool,
}

/// The worst exit over the tools, and each tool's reading.
pub fn validate_report(root: &Path, pdf: &Path) -> (i32, Vec<Value>) {
    validate_with(root, pdf, &Options::default())
}

/// The worst exit over the tools (0 valid, 1 broken, 2 untrusted, partial or damaged).
pub fn validate(root: &Path, pdf: &Path) -> i32 {
    validate_report(root, pdf).0
}

/// Runs every tool on `pdf`, trusting `root`.
pub fn validate_with(root: &Path, pdf: &Path, options: &Options) -> (i32, Vec<Value>) {
    let readings = vec![
        pyhanko_cli(root, pdf, options),
        pyhanko_api(root, pdf, options),
        pdfsig(root, pdf, options),
        qpdf_check(pdf, options),
    ];
    let exits = readings.iter().map(|r| r["exit"].as_i64().unwrap_or(1));
    let worst = exits.fold(0, |worst, exit| match (worst, exit) {
        (1, _) | (_, 1) => 1,
        (2, _) | (_, 2) => 2,
        _ => 0,
    });
    for reading in &readings {
        eprintln!("{reading}");
    }
    (worst as i32, readings)
}

fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{command:?} runs: {e}"))
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// `pyhanko sign validate`: one line `FIELD:SIGNER_SHA256:STATUS` per signature, STATUS such
/// as `INTACT:TRUSTED,UNTOUCHED`; it exits non-zero when any signature's bottom line fails.
fn pyhanko_cli(root: &Path, pdf: &Path, options: &Options) -> Value {
    let mut command = Command::new(venv_program("pyhanko"));
    command.args(["sign", "validate"]);
    if options.lenient {
        command.arg("--no-strict-syntax");
    }
    command
        .arg("--trust")
        .arg(root)
        .args(["--trust-replace", "--no-revocation-check", "--password"])
        // Always a password (empty: try the empty user password), or pyHanko prompts.
        .arg(options.password.as_deref().unwrap_or(""))
        .arg(pdf);
    let output = run(&mut command);
    let signatures: Vec<Value> = text(&output)
        .lines()
        .filter_map(|line| {
            // The field name and the status may contain ':'; the fingerprint is 64 hex digits.
            let parts: Vec<&str> = line.trim().split(':').collect();
            let at = parts
                .iter()
                .position(|p| p.len() == 64 && p.bytes().all(|b| b.is_ascii_hexdigit()))?;
            let status = parts[at + 1..].join(":");
            Some(json!({
                "field": parts[..at].join(":"),
                "status": status,
                "intact_valid": status.starts_with("INTACT"),
                "trusted": status.starts_with("INTACT:TRUSTED"),
            }))
        })
        .collect();
    let all_intact = !signatures.is_empty() && signatures.iter().all(|s| s["intact_valid"] == true);
    let only_trust_failed = signatures.iter().all(|s| {
        let status = s["status"].as_str().unwrap_or_default();
        !status.contains("ILLEGAL") && !status.contains("OTHER")
    });
    let exit = if !all_intact {
        1
    } else if output.status.success() || (options.allow_untrusted && only_trust_failed) {
        0
    } else {
        2
    };
    json!({"tool": "pyhanko-cli", "exit": exit, "signatures": signatures, "output": text(&output)})
}

/// The project's pyHanko API script: one JSON object with every signature's details.
fn pyhanko_api(root: &Path, pdf: &Path, options: &Options) -> Value {
    let mut command = Command::new(venv_program("python"));
    command
        .arg(tool("pyhanko_report.py"))
        .arg("--trust")
        .arg(root);
    if let Some(password) = &options.password {
        command.args(["--password", password]);
    }
    if options.allow_untrusted {
        command.arg("--allow-untrusted");
    }
    if options.lenient {
        command.arg("--no-strict");
    }
    let output = run(command.arg(pdf));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("pyhanko_report.py gave no report ({e}): {}", text(&output)))
}

/// poppler's `pdfsig`, trusting `root` through a throw-away NSS database.
fn pdfsig(root: &Path, pdf: &Path, options: &Options) -> Value {
    let nss = tempfile::tempdir().expect("a scratch directory");
    let db = format!("sql:{}", nss.path().display());
    let made = run(Command::new("certutil").args(["-N", "-d", &db, "--empty-password"]));
    assert!(made.status.success(), "certutil -N: {}", text(&made));
    let trusted = run(Command::new("certutil")
        .args(["-A", "-d", &db, "-n", "root", "-t", "C,C,C", "-i"])
        .arg(root));
    assert!(trusted.status.success(), "certutil -A: {}", text(&trusted));
    let mut command = Command::new("pdfsig");
    command.args(["-nssdir", &db]);
    if let Some(password) = &options.password {
        command.args(["-upw", password]);
    }
    let output = run(command.arg(pdf));
    let raw = text(&output);
    let signatures: Vec<Value> = parse_pdfsig(&raw)
        .into_iter()
        .map(|entry| {
            let get = |key: &str| entry.get(key).map(String::as_str);
            let validation = get("Signature Validation").unwrap_or_default();
            let certificate = get("Certificate Validation").unwrap_or_default();
            let kind = get("Signature Type").unwrap_or_default();
            // poppler does not verify document time-stamps: those are not judged.
            let judged = !(matches!(kind, "ETSI.RFC3161" | "unknown")
                && validation == "Signature has not yet been verified.");
            json!({
                "field": get("Signature Field Name"),
                "sig_type": kind,
                "signature_validation": validation,
                "certificate_validation": certificate,
                "intact_valid": validation == "Signature is Valid.",
                "trusted": certificate == "Certificate is Trusted.",
                "total_document_signed": get("Total document signed").is_some(),
                "judged": judged,
            })
        })
        .collect();
    let judged: Vec<&Value> = signatures.iter().filter(|s| s["judged"] == true).collect();
    let newest_partial = signatures
        .last()
        .is_some_and(|s| s["judged"] == true && s["total_document_signed"] == false);
    let exit = if judged.is_empty() || judged.iter().any(|s| s["intact_valid"] == false) {
        1
    } else if (!options.allow_untrusted && judged.iter().any(|s| s["trusted"] == false))
        || newest_partial
    {
        2
    } else {
        0
    };
    json!({"tool": "pdfsig", "exit": exit, "signatures": signatures, "output": raw})
}

/// pdfsig's text as one map per signature (`Signature #N:` block): a line `  - Key: value`
/// gives an entry, `  - Total document signed` a key with an empty value. Signature fields
/// that are not signed ("The signature form field is not signed.") are left out.
pub fn parse_pdfsig(text: &str) -> Vec<HashMap<String, String>> {
    let mut entries: Vec<HashMap<String, String>> = vec![];
    for line in text.lines() {
        if line.starts_with("Signature #") {
            entries.push(HashMap::new());
        }
        if let (Some(entry), Some(item)) = (entries.last_mut(), line.trim().strip_prefix("- ")) {
            let (key, value) = item.split_once(": ").unwrap_or((item, ""));
            entry.insert(key.to_string(), value.to_string());
        }
    }
    entries.retain(|entry| entry.contains_key("Signature Validation"));
    entries
}

/// `qpdf --check`: 0 clean, 3 warnings only (still usable); anything else is damage.
fn qpdf_check(pdf: &Path, options: &Options) -> Value {
    let mut command = Command::new("qpdf");
    command.arg("--check");
    if let Some(password) = &options.password {
        command.arg(format!("--password={password}"));
    }
    let output = run(command.arg(pdf));
    let code = output.status.code().unwrap_or(-1);
    let exit = if matches!(code, 0 | 3) { 0 } else { 2 };
    json!({"tool": "qpdf-check", "exit": exit, "qpdf_exit": code, "output": text(&output)})
}
