//! Agreement with the independent validators: for every fixture, every corpus file (when the
//! shared corpus is beside the checkout) and every file our own tests seal, our verifier's judgement of each signature (intact, trusted, modified after
//! signing, covering the whole file) agrees with pyHanko's (`pyhanko_report.py`) and
//! poppler's (`pdfsig`), given the same trust roots and passwords. One test builds the whole
//! set, runs every tool once per file, prints the table (also written to `agreement.md` in the
//! evidence directory) and fails on any disagreement.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::common::{append_update, foreign_pki, register, sign_foreign, tamper, Server};
use crate::fixtures;
use crate::test_needs::{self, tool, venv_program};

const DEPT_A: (&str, &str) = ("厦门市市场监督管理局", "11350200MB0D00002U");
const DEPT_B: (&str, &str) = ("福州市市场监督管理局", "11350100MB0E00003C");
const DIGEST_MISMATCH_PDF: &str = "pdfjs-signed-digest-mismatch.pdf";
/// pyHanko modification levels that do not make a signature "modified" (pyhanko_report.py's
/// own list of acceptable levels); anything else (OTHER) does.
const PYHANKO_ACCEPTABLE: [&str; 4] = ["NONE", "LTA_UPDATES", "FORM_FILLING", "ANNOTATIONS"];
/// What poppler 22.12 says of a later signature made with a certificate the file showed before.
const PDFSIG_SEEN_CERTIFICATE: &str = "Unknown issue with Certificate or corrupted data.";

/// One file to judge.
#[derive(Default)]
struct Case {
    label: String,
    path: PathBuf,
    password: Option<String>,
    /// A foreign root that our server and the tools trust, besides ours, for this file.
    foreign_root: Option<PathBuf>,
    /// pdfsig's NSS database trusting our root (and the foreign one).
    nss: PathBuf,
    /// Our report must have exactly one signature, with this verdict and `foreign` flag.
    expect: Option<(&'static str, bool)>,
    /// See [`malformed_xmp_kept`]: pyHanko's modification judgement does not count.
    malformed_xmp_kept: bool,
    /// pyHanko reads it leniently (a hybrid-reference file, which it refuses otherwise).
    lenient: bool,
}

/// A server with departments A and B registered, and a scratch directory.
struct Bench {
    server: Server,
    client: reqwest::Client,
    work: tempfile::TempDir,
    keys: [String; 2],
    /// pdfsig's NSS database trusting our root only.
    nss: PathBuf,
}

impl Bench {
    async fn start() -> Bench {
        let server = Server::start(None).await;
        let client = reqwest::Client::new();
        let mut keys = vec![];
        for (name, credit_code) in [DEPT_A, DEPT_B] {
            let department = register(&client, &server, name, credit_code).await;
            let key = department["api_key"].as_str().expect("an api_key");
            keys.push(key.to_string());
        }
        let work = tempfile::tempdir().expect("a scratch directory");
        let nss = nss_db(&work.path().join("nss"), &[&server.root_pem()]);
        let keys = keys.try_into().expect("two departments");
        Bench {
            server,
            client,
            work,
            keys,
            nss,
        }
    }

    fn case(&self, label: impl Into<String>, path: PathBuf, password: Option<String>) -> Case {
        let (label, nss) = (label.into(), self.nss.clone());
        Case {
            label,
            path,
            password,
            nss,
            ..Case::default()
        }
    }

    /// A request to `/api/v1/{path}`, as the administrator when `admin`.
    fn request(&self, method: reqwest::Method, path: &str, admin: bool) -> reqwest::RequestBuilder {
        let request = self
            .client
            .request(method, format!("{}/api/v1/{path}", self.server.base));
        if admin {
            return request.bearer_auth(&self.server.admin_key);
        }
        request
    }

    /// `POST /api/v1/seal` as department 0 (A) or 1 (B): the sealed PDF, or the refusal.
    async fn seal(
        &self,
        by: usize,
        pdf: &Path,
        query: &[(&str, &str)],
    ) -> Result<Vec<u8>, Refusal> {
        let body = std::fs::read(pdf).expect("the file to seal is readable");
        let request = self.request(reqwest::Method::POST, "seal", false);
        answer(request.bearer_auth(&self.keys[by]).query(query).body(body)).await
    }

    /// Seals a file that must seal; the path of the result.
    async fn sealed(&self, by: usize, pdf: &Path, query: &[(&str, &str)], name: &str) -> PathBuf {
        let sealed = self.seal(by, pdf, query).await;
        let sealed = sealed.unwrap_or_else(|refusal| panic!("sealing {name}: {refusal:?}"));
        let path = self.work.path().join(name);
        std::fs::write(&path, sealed).expect("the scratch directory is writable");
        path
    }

    /// Our verifier's report on a case, its foreign root registered meanwhile.
    async fn verify(&self, case: &Case) -> Result<Value, Refusal> {
        let mut root_id = None;
        if let Some(pem) = &case.foreign_root {
            let pem = std::fs::read_to_string(pem).expect("the root PEM is readable");
            let add = self.request(reqwest::Method::POST, "trust-roots", true);
            let root = answer(add.body(pem)).await.expect("the root registers");
            let root: Value = serde_json::from_slice(&root).expect("a trust root as JSON");
            root_id = Some(root["id"].as_str().expect("a trust root id").to_string());
        }
        let body = std::fs::read(&case.path).expect("the case file is readable");
        let request = self.request(reqwest::Method::POST, "verify/pdf", false);
        let query: Vec<_> = case.password.iter().map(|p| ("password", p)).collect();
        let reply = answer(request.query(&query).body(body)).await;
        if let Some(id) = root_id {
            let remove = self.request(reqwest::Method::DELETE, &format!("trust-roots/{id}"), true);
            answer(remove).await.expect("the root is removed again");
        }
        Ok(serde_json::from_slice(&reply?).expect("/verify/pdf answers JSON"))
    }
}

/// A non-2xx answer: its status and the problem's detail (or the body).
#[derive(Debug)]
struct Refusal {
    status: u16,
    detail: String,
}

/// Sends a request: the body of a 2xx answer, or the refusal.
async fn answer(request: reqwest::RequestBuilder) -> Result<Vec<u8>, Refusal> {
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("the answer is read whole");
    if (200..300).contains(&status) {
        return Ok(body.to_vec());
    }
    let problem: Option<Value> = serde_json::from_slice(&body).ok();
    let detail = match problem.as_ref().and_then(|p| p["detail"].as_str()) {
        Some(detail) => detail.to_string(),
        None => String::from_utf8_lossy(&body).chars().take(200).collect(),
    };
    Err(Refusal { status, detail })
}

/// Makes an NSS database in `dir` that trusts these roots (as `validators` does); its path.
fn nss_db(dir: &Path, roots: &[&Path]) -> PathBuf {
    std::fs::create_dir(dir).expect("an NSS directory");
    let db = format!("sql:{}", dir.display());
    let certutil = |args: &[&str], file: Option<&Path>| {
        let output = Command::new("certutil").args(args).args(file).output();
        let ok = output.is_ok_and(|o| o.status.success());
        assert!(ok, "certutil {args:?} {file:?}");
    };
    certutil(&["-N", "-d", &db, "--empty-password"], None);
    for (i, root) in roots.iter().enumerate() {
        let name = format!("root{i}");
        let trust = ["-A", "-d", &db, "-n", &name, "-t", "C,C,C", "-i"];
        certutil(&trust, Some(root));
    }
    dir.to_path_buf()
}

/// A file to judge as it is and sealed.
struct Input {
    file: String,
    path: PathBuf,
    password: Option<String>,
    lenient: bool,
}

/// Every row of the corpus MANIFEST.tsv in `corpus`; the password is `None` unless the file is
/// encrypted (`user pw "…"`, or empty for `EMPTY user password`).
fn manifest(corpus: &Path) -> Vec<Input> {
    let text = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split('\t').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (file, features) = (column("filename"), column("features"));
    let auto = column("auto_features");
    let rows = lines.filter(|line| !line.trim().is_empty()).map(|line| {
        let cells: Vec<&str> = line.split('\t').collect();
        let cell = |i: usize| cells.get(i).copied().unwrap_or_default();
        let (name, features) = (cell(file).to_string(), cell(features));
        let path = corpus.join(&name);
        let input = |password| Input {
            file: name.clone(),
            path: path.clone(),
            password,
            lenient: false,
        };
        if !features.contains("ENCRYPTED") && !cell(auto).contains("encrypted:") {
            return input(None);
        }
        let quoted = features.split_once("user pw \"");
        let quoted = quoted.and_then(|(_, rest)| rest.split_once('"'));
        let empty = features.contains("EMPTY user password");
        assert!(quoted.is_some() || empty, "{name}: which user password?");
        let password = quoted.map_or("", |(password, _)| password).to_string();
        input(Some(password))
    });
    rows.collect()
}

/// Whether the sealed file keeps the original's /Metadata (same object, same bytes) and that
/// XMP is not well-formed XML (Python's parser rejects it, as pyHanko's lxml does). pyHanko's
/// MetadataUpdateRule re-parses the old and new /Metadata in every revision it reviews, even
/// when the update left it alone, and a parse error makes the whole update OTHER.
fn malformed_xmp_kept(original: &Path, sealed: &Path) -> bool {
    let metadata = |pdf: &Path| {
        let doc = lopdf::Document::load_mem(&std::fs::read(pdf).ok()?).ok()?;
        let id = doc.catalog().ok()?.get(b"Metadata").ok()?;
        let id = id.as_reference().ok()?;
        let stream = doc.get_object(id).ok()?.as_stream().ok()?;
        let xml = stream.decompressed_content();
        Some((id, xml.unwrap_or_else(|_| stream.content.clone())))
    };
    let Some(before) = metadata(original) else {
        return false;
    };
    let check = "import sys, xml.etree.ElementTree as E; E.fromstring(sys.argv[1])";
    let mut python = Command::new("python3");
    python.args(["-c", check]).arg(OsStr::from_bytes(&before.1));
    let well_formed = python.stderr(Stdio::null()).status();
    !well_formed.is_ok_and(|s| s.success()) && metadata(sealed) == Some(before)
}

/// One tool's judgement of one signature; `None` where the tool does not judge it.
struct Reading {
    field: String,
    intact: Option<bool>,
    trusted: Option<bool>,
    modified: Option<bool>,
    covers_whole_file: Option<bool>,
    shown: String,
}

/// `yes` or `no`.
fn yes(flag: bool) -> &'static str {
    ["no", "yes"][usize::from(flag)]
}

/// Our readings. Intact: digest, signature and a well-formed `/ByteRange`; trust and
/// modification are judged of intact signatures only (as our verdict does).
fn our_readings(report: &Value) -> Vec<Reading> {
    let signatures = report["signatures"].as_array().cloned().unwrap_or_default();
    let readings = signatures.iter().map(|s| {
        let flags = [
            "digest_matches",
            "signature_valid",
            "byte_range_well_formed",
        ];
        let intact = flags.iter().all(|flag| s[*flag] == true);
        let trusted = s["chain_trusted"] == true;
        let verdict = s["verdict"].as_str().unwrap_or("?");
        Reading {
            field: s["field_name"].as_str().unwrap_or_default().to_string(),
            intact: Some(intact),
            trusted: intact.then_some(trusted),
            modified: intact.then_some(verdict == "modified"),
            covers_whole_file: Some(s["covers_whole_file"] == true),
            shown: format!("{}/{}/{verdict}", yes(intact), yes(trusted)),
        }
    });
    readings.collect()
}

/// pyHanko's readings. Intact: `intact && valid` and a coverage other than UNCLEAR, which is
/// how pyHanko reports a `/ByteRange` whose gap is not exactly the `/Contents` string (it
/// still calls such a signature "intact": the bytes it names were not changed).
fn pyhanko_readings(signatures: &[Value], malformed_xmp_kept: bool) -> Vec<Reading> {
    let readings = signatures.iter().map(|s| {
        let coverage = s["coverage"].as_str().unwrap_or("None");
        let intact = s["intact"] == true && s["valid"] == true && coverage != "UNCLEAR";
        let trusted = s["trusted"] == true;
        let level = s["modification_level"].as_str().unwrap_or("None");
        let blind = malformed_xmp_kept && level == "OTHER";
        let modified = level != "None" && !PYHANKO_ACCEPTABLE.contains(&level);
        let mut shown = format!("{}/{}/{level}/{coverage}", yes(intact), yes(trusted));
        if blind {
            shown.push_str(" (malformed XMP kept: level not judged)");
        }
        if let Some(error) = s["error"].as_str() {
            shown.push_str(&format!(" ({error})"));
        }
        Reading {
            field: s["field"].as_str().unwrap_or_default().to_string(),
            intact: Some(intact),
            trusted: intact.then_some(trusted),
            modified: (intact && !blind).then_some(modified),
            covers_whole_file: Some(coverage == "ENTIRE_FILE"),
            shown,
        }
    });
    readings.collect()
}

/// pdfsig's readings. Not judged: document timestamps (poppler 22.12 does not verify them:
/// "Signature has not yet been verified."); the certificate of a signature that is not valid
/// (pdfsig prints none); and the trust of a later signature by the same signer as an earlier
/// one, which poppler 22.12 answers with "Unknown issue with Certificate or corrupted data."
/// although it trusts the very same certificate on the first signature (a poppler bug).
fn pdfsig_readings(entries: &[HashMap<String, String>]) -> Vec<Reading> {
    let signer = |e: &HashMap<String, String>| e.get("Signer full Distinguished Name").cloned();
    let readings = entries.iter().enumerate().map(|(i, e)| {
        let get = |key: &str| e.get(key).map_or("—", String::as_str);
        let validation = get("Signature Validation");
        let timestamp = matches!(get("Signature Type"), "ETSI.RFC3161" | "unknown")
            && validation == "Signature has not yet been verified.";
        let intact = (!timestamp).then_some(validation == "Signature is Valid.");
        let certificate = get("Certificate Validation");
        let seen_before = certificate == PDFSIG_SEEN_CERTIFICATE
            && entries[..i]
                .iter()
                .any(|earlier| signer(earlier) == signer(e));
        let judged = intact == Some(true) && certificate != "—" && !seen_before;
        let quirk = ["", " (same signer again: poppler quirk, not judged)"];
        Reading {
            field: get("Signature Field Name").to_string(),
            intact,
            trusted: judged.then_some(certificate == "Certificate is Trusted."),
            modified: None,
            covers_whole_file: (!timestamp).then_some(e.contains_key("Total document signed")),
            shown: format!(
                "{validation} / {certificate}{}",
                quirk[usize::from(seen_before)]
            ),
        }
    });
    readings.collect()
}

/// Starts `pyhanko_report.py` on a case, trusting our root and its foreign root.
fn start_pyhanko(case: &Case, our_root: &Path) -> Child {
    let mut command = Command::new(venv_program("python"));
    command.arg(tool("pyhanko_report.py"));
    command.arg("--trust").arg(our_root);
    if let Some(root) = &case.foreign_root {
        command.arg("--trust").arg(root);
    }
    if let Some(password) = &case.password {
        command.arg("--password").arg(password);
    }
    if case.lenient {
        command.arg("--no-strict");
    }
    command
        .arg(&case.path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.spawn().expect("pyhanko_report.py starts")
}

/// pyHanko's signatures, or why it could not read the file (its exit 3).
fn pyhanko_signatures(child: Child) -> Result<Vec<Value>, String> {
    let output = child.wait_with_output().expect("pyhanko_report.py runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let verdict: Value = serde_json::from_str(last).unwrap_or_else(|e| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        panic!("pyhanko_report.py gave no verdict ({e}): {stdout}{stderr}")
    });
    if verdict["exit"] == 3 {
        let error = verdict["error"].as_str().unwrap_or("?");
        return Err(format!("unreadable: {error}"));
    }
    Ok(verdict["signatures"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// pdfsig's signatures of a case, or why it read none.
fn pdfsig(case: &Case) -> Result<Vec<HashMap<String, String>>, String> {
    let mut command = Command::new("pdfsig");
    command
        .arg("-nssdir")
        .arg(format!("sql:{}", case.nss.display()));
    if let Some(password) = &case.password {
        command.arg("-upw").arg(password);
    }
    let output = command.arg(&case.path).output().expect("pdfsig runs");
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    let entries = crate::validators::parse_pdfsig(&text);
    if entries.is_empty() && !text.contains("does not contain any signatures") {
        return Err(text.trim().lines().last().unwrap_or("pdfsig failed").into());
    }
    Ok(entries)
}

/// One property of a reading.
type Property = fn(&Reading) -> Option<bool>;

/// The properties compared signature by signature.
const PROPERTIES: [(&str, Property); 4] = [
    ("intact", |r| r.intact),
    ("trusted", |r| r.trusted),
    ("modified", |r| r.modified),
    ("covers whole file", |r| r.covers_whole_file),
];

/// Each tool's name and readings of one file, or why it read nothing.
type ToolReadings = [(&'static str, Result<Vec<Reading>, String>); 3];

/// Text for a markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// `tool value` for each judging tool, comma-separated.
fn each<T: std::fmt::Display>(judged: &[(&str, T)]) -> String {
    let each: Vec<String> = judged
        .iter()
        .map(|(tool, v)| format!("{tool} {v}"))
        .collect();
    each.join(", ")
}

/// Where the tools disagree about the `i`th signature (field name or a property).
fn differences(at: &[(&str, &Reading)]) -> Vec<String> {
    let mut differ = vec![];
    if at.iter().any(|(_, r)| r.field != at[0].1.field) {
        let names: Vec<(&str, &str)> = at.iter().map(|(t, r)| (*t, r.field.as_str())).collect();
        differ.push(format!("field names: {}", each(&names)));
    }
    for (property, of) in PROPERTIES {
        let judged: Vec<(&str, bool)> = at.iter().filter_map(|(t, r)| Some((*t, of(r)?))).collect();
        if judged.iter().any(|(_, v)| *v != judged[0].1) {
            differ.push(format!("{property}: {}", each(&judged)));
        }
    }
    differ
}

/// Compares the tools on one file, signatures matched by order: the table rows and the
/// disagreements. A tool that cannot read a file others find signatures in disagrees, except
/// pyHanko, whose strict reader gives up on some damaged files (then the others must agree).
fn compare(label: &str, tools: &ToolReadings) -> (Vec<String>, Vec<String>) {
    let read: Vec<(&str, &[Reading])> = tools
        .iter()
        .filter_map(|(t, r)| Some((*t, r.as_deref().ok()?)))
        .collect();
    let n = read.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
    let mut disagreements: Vec<String> = tools
        .iter()
        .filter(|(tool, _)| n > 0 && *tool != "pyHanko")
        .filter_map(|(tool, r)| {
            Some(format!(
                "{label}: {tool} cannot read it: {}",
                r.as_ref().err()?
            ))
        })
        .collect();
    if read.iter().any(|(_, r)| r.len() != n) {
        let counts: Vec<(&str, usize)> = read.iter().map(|(t, r)| (*t, r.len())).collect();
        disagreements.push(format!(
            "{label}: signature counts differ: {}",
            each(&counts)
        ));
    }
    let mut rows = vec![];
    for i in 0..n.max(1) {
        let at: Vec<(&str, &Reading)> = read
            .iter()
            .filter_map(|(t, r)| Some((*t, r.get(i)?)))
            .collect();
        let differ = differences(&at);
        let shown = tools.iter().map(|(_, result)| match result {
            Err(why) => cell(why),
            Ok(r) => r.get(i).map_or("no signatures".into(), |r| cell(&r.shown)),
        });
        let shown: Vec<String> = shown.collect();
        let sig = at.first().map_or("—".into(), |(_, r)| {
            format!("{} {}", i + 1, cell(&r.field))
        });
        let note = if differ.is_empty() {
            "agree".into()
        } else {
            cell(&differ.join("; "))
        };
        rows.push(format!(
            "| {} | {sig} | {} | {note} |",
            cell(label),
            shown.join(" | ")
        ));
        disagreements.extend(differ.iter().map(|d| format!("{label} #{}: {d}", i + 1)));
    }
    (rows, disagreements)
}

/// Whether our report has exactly one signature with this verdict and `foreign` flag (and,
/// when foreign, a signer issued by the foreign CA).
fn check_expectation(report: &Value, (verdict, foreign): (&str, bool)) -> Result<(), String> {
    let one = match report["signatures"].as_array().map(Vec::as_slice) {
        Some([one]) => one,
        _ => return Err("expected exactly one signature".into()),
    };
    let issuer = one["signer"]["issuer"].as_str().unwrap_or_default();
    let ok = one["verdict"] == verdict
        && one["foreign"] == foreign
        && (!foreign || issuer.contains("Foreign Seal Root CA"));
    ok.then_some(())
        .ok_or_else(|| format!("expected `{verdict}`, foreign {foreign}"))
}

/// Runs the three verifiers on one case: its table rows, and its disagreements and failed
/// expectations.
async fn judge(bench: &Bench, case: &Case) -> (Vec<String>, Vec<String>) {
    let pyhanko = start_pyhanko(case, &bench.server.root_pem());
    let ours = bench.verify(case).await;
    let pdfsig = pdfsig(case).map(|entries| pdfsig_readings(&entries));
    let pyhanko = pyhanko_signatures(pyhanko);
    let pyhanko = pyhanko.map(|s| pyhanko_readings(&s, case.malformed_xmp_kept));
    let mut failures = vec![];
    if let (Some(expected), Ok(report)) = (case.expect, &ours) {
        let failed = check_expectation(report, expected).err();
        failures.extend(failed.map(|e| format!("{}: {e}: {report}", case.label)));
    }
    let ours = ours.map(|report| our_readings(&report)).map_err(|refusal| {
        if refusal.status != 422 || case.expect.is_some() {
            failures.push(format!("{}: our verifier answered {refusal:?}", case.label));
        }
        format!("refused ({}): {}", refusal.status, refusal.detail)
    });
    let tools: ToolReadings = [("ours", ours), ("pyHanko", pyhanko), ("pdfsig", pdfsig)];
    let (rows, disagreements) = compare(&case.label, &tools);
    failures.extend(disagreements);
    (rows, failures)
}

/// Every input as-is and sealed by department A; a refusal to seal is a row of its own.
async fn input_cases(bench: &Bench, inputs: Vec<Input>) -> Vec<Result<Case, String>> {
    let mut cases = vec![];
    for input in inputs {
        let Input {
            file,
            path,
            password,
            lenient,
        } = input;
        let mut plain = bench.case(file.clone(), path.clone(), password.clone());
        plain.lenient = lenient;
        if file == DIGEST_MISMATCH_PDF {
            // Its /ByteRange gap leaves out the `<>` around /Contents: broken for us.
            plain.expect = Some(("broken", false));
        }
        cases.push(Ok(plain));
        let query: Vec<(&str, &str)> = password.iter().map(|p| ("password", p.as_str())).collect();
        let label = format!("sealed A: {file}");
        match bench.seal(0, &path, &query).await {
            Ok(sealed) => {
                let sealed_path = bench.work.path().join(format!("sealed-{file}"));
                std::fs::write(&sealed_path, sealed).expect("the scratch directory is writable");
                let mut case = bench.case(label, sealed_path, password);
                case.malformed_xmp_kept = malformed_xmp_kept(&path, &case.path);
                case.lenient = lenient;
                cases.push(Ok(case));
            }
            Err(refusal) if refusal.status == 422 => {
                let detail = cell(&refusal.detail);
                let row = format!("| {label} | — | refused (422): {detail} | | | not sealed |");
                cases.push(Err(row));
            }
            Err(refusal) => panic!("{label}: {refusal:?}"),
        }
    }
    cases
}

/// The sequences our own tests seal on the four-page notice: twice, tampered, appended to,
/// cross-page either order.
async fn sealed_cases(bench: &Bench) -> Vec<Case> {
    let notice = fixtures::notice_path();
    let once = bench.sealed(0, notice, &[], "notice-a.pdf").await;
    let a_b = bench.sealed(1, &once, &[], "notice-a-b.pdf").await;
    let a_a = bench.sealed(0, &once, &[], "notice-a-a.pdf").await;
    let tampered = tamper(&once, &bench.work.path().join("notice-a-tampered.pdf"));
    let appended = bench.work.path().join("notice-a-appended.pdf");
    append_update(&once, &appended);
    let (cross, first) = ([("cross_page", "true")], [("page", "1")]);
    let normal_cross = bench.sealed(1, &once, &cross, "notice-a-bx.pdf").await;
    let cross_only = bench.sealed(1, notice, &cross, "notice-bx.pdf").await;
    let cross_normal = bench
        .sealed(0, &cross_only, &first, "notice-bx-a.pdf")
        .await;
    let cases = [
        ("notice: A then B", a_b),
        ("notice: A twice", a_a),
        ("notice: A, tampered", tampered),
        ("notice: A, then append_update.py", appended),
        ("notice: A, then B cross-page", normal_cross),
        ("notice: B cross-page, then A", cross_normal),
    ];
    let cases = cases
        .into_iter()
        .map(|(label, path)| bench.case(label, path, None));
    cases.collect()
}

/// A file sealed by a foreign PKI (pyHanko), judged with no foreign root registered, with its
/// root, and with an unrelated root.
fn foreign_cases(bench: &Bench) -> Vec<Case> {
    let pki = foreign_pki(&bench.work.path().join("foreign-pki"));
    let signed = bench.work.path().join("foreign-signed.pdf");
    sign_foreign(&pki, fixtures::notice_path(), &signed);
    let states = [
        ("foreign: no root", None, ("untrusted", false)),
        ("foreign: its root", Some("root"), ("valid", true)),
        (
            "foreign: other root",
            Some("other_root"),
            ("untrusted", false),
        ),
    ];
    let cases = states.into_iter().map(|(label, root, expected)| {
        let mut case = bench.case(label, signed.clone(), None);
        if let Some(root) = root {
            let pem = pki.join(format!("{root}.pem"));
            let nss = pki.join(format!("nss-{root}"));
            case.nss = nss_db(&nss, &[&bench.server.root_pem(), &pem]);
            case.foreign_root = Some(pem);
        }
        case.expect = Some(expected);
        case
    });
    cases.collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agreement_with_pyhanko_and_pdfsig() {
    let started = std::time::Instant::now();
    let bench = Bench::start().await;
    // Our fixtures, and the real-world corpus when it is beside the checkout.
    let mut inputs: Vec<Input> = fixtures::all()
        .iter()
        .map(|f| Input {
            file: f.file.clone(),
            path: f.path.clone(),
            password: f.password.clone(),
            lenient: f.has("hybrid-xref"),
        })
        .collect();
    if let Some(corpus) = test_needs::shared("corpus") {
        inputs.extend(manifest(&corpus));
    }
    let mut cases = input_cases(&bench, inputs).await;
    cases.extend(sealed_cases(&bench).await.into_iter().map(Ok));
    cases.extend(foreign_cases(&bench).into_iter().map(Ok));
    let (mut rows, mut failures) = (vec![], vec![]);
    for case in &cases {
        match case {
            Ok(case) => {
                eprintln!("judging {}", case.label);
                let (case_rows, case_failures) = judge(&bench, case).await;
                rows.extend(case_rows);
                failures.extend(case_failures);
            }
            Err(refused) => rows.push(refused.clone()),
        }
    }
    let judged = cases.iter().filter(|c| c.is_ok()).count();
    let listed: String = failures
        .iter()
        .map(|f| format!("- {}\n", cell(f)))
        .collect();
    let table = format!(
        "| file | sig | ours intact/trusted/verdict | pyHanko intact/trusted/level/coverage | \
         pdfsig validation / certificate | agreement |\n|---|---|---|---|---|---|\n{}\n\n\
         {judged} files judged in {:.0} s; {} disagreements or failed expectations:\n{listed}",
        rows.join("\n"),
        started.elapsed().as_secs_f64(),
        failures.len(),
    );
    println!("\n{table}");
    let evidence = crate::test_needs::evidence_dir("agreement");
    std::fs::write(evidence.join("agreement.md"), &table).expect("agreement.md is written");
    bench.server.app.close().await;
    let all = failures.join("\n");
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{all}",
        failures.len()
    );
}
