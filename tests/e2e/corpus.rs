//! Sealing every kind of input end to end: each of our own fixtures (one per trait: encrypted,
//! object streams, hybrid, linearized, rotated, …) and, when the shared real-world corpus is
//! beside the checkout, every file of `../shared/corpus/MANIFEST.tsv`, is sealed through
//! `POST /api/v1/seal` or clearly refused, and every sealed result is judged by the independent
//! validators and by our own verifier. Also: tampering with or appending to a sealed file is
//! reported, sealing keeps the text, and two departments can seal in turn.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{self, append_update, tamper, Server};
use crate::fixtures;
use crate::test_needs;
use crate::validators::{self, Options};

/// (name, credit code) of the department that seals in these tests.
const DEPT_A: (&str, &str) = ("厦门市市场监督管理局", "11350200MB0D00002U");
/// A second department, for sealing a file that is already sealed.
const DEPT_B: (&str, &str) = ("福州市市场监督管理局", "11350100MB0E00003C");
/// The text of department A's seal impression, which text extraction may pick up.
const SEAL_TEXT: [&str; 3] = ["厦门市市场监督管理局", "行政审批专用章", "3502000012345"];
/// Simple, unsigned, unencrypted corpus files whose text is compared before and after sealing.
const TEXT_PDFS: [&str; 2] = ["sf-libreoffice-writer.pdf", "pypdf-chinese-excel-table.pdf"];

/// One file to seal: a fixture or a row of `MANIFEST.tsv`.
struct Entry {
    file: String,
    path: PathBuf,
    kind: Kind,
    /// pyHanko must read it leniently (a hybrid-reference file).
    lenient: bool,
}

/// What the corpus says about a file, as far as sealing it is concerned.
#[derive(Debug)]
enum Kind {
    Ordinary,
    Encrypted { password: String },
    AlreadySigned { old_signature_broken: bool },
    BrokenXref,
}

impl Entry {
    /// A row of `MANIFEST.tsv`, judged by its `features` and `auto_features` columns.
    fn from_manifest(corpus: &Path, file: String, features: &str, auto: &str) -> Entry {
        let kind = if features.contains("ENCRYPTED") || auto.contains("encrypted:") {
            Kind::Encrypted {
                password: user_password(&file, features),
            }
        } else if features.contains("ALREADY SIGNED") || auto.contains("byterange-objects:") {
            Kind::AlreadySigned {
                old_signature_broken: features.contains("DIGEST MISMATCH"),
            }
        } else if features.contains("BROKEN") {
            Kind::BrokenXref
        } else {
            Kind::Ordinary
        };
        Entry {
            path: corpus.join(&file),
            file,
            kind,
            lenient: false,
        }
    }

    /// One of our fixtures, judged by its traits.
    fn from_fixture(fixture: &fixtures::Fixture) -> Entry {
        let kind = if fixture.has("encrypted") {
            Kind::Encrypted {
                password: fixture.password.clone().unwrap_or_default(),
            }
        } else if fixture.has("signed") {
            Kind::AlreadySigned {
                old_signature_broken: false,
            }
        } else if fixture.has("broken-xref") {
            Kind::BrokenXref
        } else {
            Kind::Ordinary
        };
        Entry {
            file: fixture.file.clone(),
            path: fixture.path.clone(),
            kind,
            lenient: fixture.has("hybrid-xref"),
        }
    }

    /// How the validators read it.
    fn options(&self) -> Options {
        Options {
            lenient: self.lenient,
            ..Options::default()
        }
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }
}

impl Kind {
    fn label(&self) -> String {
        match self {
            Kind::Ordinary => "ordinary".into(),
            Kind::Encrypted { password } if password.is_empty() => {
                "encrypted, empty user password".into()
            }
            Kind::Encrypted { password } => format!("encrypted, user password `{password}`"),
            Kind::AlreadySigned {
                old_signature_broken: false,
            } => "already signed".into(),
            Kind::AlreadySigned {
                old_signature_broken: true,
            } => "already signed, old signature broken".into(),
            Kind::BrokenXref => "broken xref".into(),
        }
    }
}

/// The user password the MANIFEST gives (`user pw "…"`, or an `EMPTY user password`).
fn user_password(file: &str, features: &str) -> String {
    if let Some((password, _)) = features
        .split_once("user pw \"")
        .and_then(|(_, rest)| rest.split_once('"'))
    {
        return password.to_string();
    }
    assert!(
        features.contains("EMPTY user password"),
        "{file}: cannot tell its user password from MANIFEST features `{features}`"
    );
    String::new()
}

/// The rows of `MANIFEST.tsv` in `corpus`, columns found by the header.
fn manifest(corpus: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .expect("MANIFEST.tsv has a header")
        .split('\t')
        .collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("MANIFEST.tsv has no `{name}` column"))
    };
    let (file, features, auto) = (
        column("filename"),
        column("features"),
        column("auto_features"),
    );
    let entries: Vec<Entry> = lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            let cell = |i: usize| cells.get(i).copied().unwrap_or_default();
            Entry::from_manifest(corpus, cell(file).to_string(), cell(features), cell(auto))
        })
        .collect();
    assert!(
        entries.len() >= 20,
        "MANIFEST.tsv lists only {} files",
        entries.len()
    );
    entries
}

/// What the independent validators said: the worst exit and the readings that were not OK.
struct Validation {
    code: i32,
    complaints: Vec<String>,
}

impl Validation {
    fn summary(&self) -> String {
        format!("exit {}: {}", self.code, self.complaints.join(" / "))
    }
}

/// Runs the independent validators ([`validators::validate_with`]).
fn validate_with(root: &Path, pdf: &Path, options: &Options) -> Validation {
    let (code, readings) = validators::validate_with(root, pdf, options);
    // Each complaint starts with its tool's name: `pyhanko-cli: {…}`.
    let complaints = readings
        .iter()
        .filter(|reading| reading["exit"] != 0)
        .map(|reading| {
            let mut shown = reading.clone();
            shown["output"] = Value::Null;
            let tool = reading["tool"].as_str().unwrap_or("?");
            format!("{tool}: {shown}").chars().take(600).collect()
        })
        .collect();
    Validation { code, complaints }
}

/// Whether the file's XMP packet is present and not well-formed XML (checked by Python's XML
/// parser, not by anything of ours).
fn xmp_is_malformed(pdf: &[u8]) -> bool {
    let find = |needle: &[u8], from: usize| {
        pdf.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|at| at + from)
    };
    let Some(start) = find(b"<x:xmpmeta", 0) else {
        return false;
    };
    let Some(end) = find(b"</x:xmpmeta>", start) else {
        return true;
    };
    let mut python = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom as m; m.parseString(sys.stdin.buffer.read())",
        ])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    python
        .stdin
        .take()
        .unwrap()
        .write_all(&pdf[start..end + b"</x:xmpmeta>".len()])
        .unwrap();
    !python.wait().unwrap().success()
}

/// `pdftotext FILE -` as a string.
fn pdftotext(pdf: &Path) -> String {
    let output = Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(output.status.success(), "pdftotext {}", pdf.display());
    String::from_utf8(output.stdout).unwrap()
}

/// An HTTP answer, read whole.
struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Reply {
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Reply {
            status: response.status().as_u16(),
            content_type,
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    fn is_pdf(&self) -> bool {
        self.status == 200 && self.content_type == "application/pdf"
    }

    /// The `detail` of an RFC 9457 problem, or why this is not one.
    fn problem_detail(&self) -> Result<String, String> {
        if self.content_type != "application/problem+json" {
            return Err(format!(
                "content-type `{}`, not a problem",
                self.content_type
            ));
        }
        let problem: Value = serde_json::from_slice(&self.body).map_err(|e| e.to_string())?;
        problem["detail"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("a problem without detail: {problem}"))
    }

    fn describe(&self) -> String {
        let text: String = String::from_utf8_lossy(&self.body)
            .chars()
            .take(300)
            .collect();
        format!("HTTP {} {}: {text}", self.status, self.content_type)
    }
}

/// A running server with department A registered, and a scratch directory.
struct Bench {
    server: Server,
    client: reqwest::Client,
    work: tempfile::TempDir,
    key_a: String,
}

impl Bench {
    async fn start() -> Bench {
        let server = Server::start(None).await;
        let client = reqwest::Client::new();
        let key_a = register(&client, &server, DEPT_A).await;
        Bench {
            server,
            client,
            work: tempfile::tempdir().unwrap(),
            key_a,
        }
    }

    fn root(&self) -> PathBuf {
        self.server.root_pem()
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.work.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// `POST /api/v1/seal` with these query parameters.
    async fn seal(&self, key: &str, pdf: &[u8], query: &[(&str, &str)]) -> Reply {
        let request = self
            .client
            .post(format!("{}/api/v1/seal", self.server.base))
            .bearer_auth(key)
            .query(query)
            .body(pdf.to_vec());
        Reply::read(request.send().await.unwrap()).await
    }

    /// Seals a file that must seal, as department A.
    async fn sealed(&self, pdf: &[u8]) -> Vec<u8> {
        let reply = self.seal(&self.key_a, pdf, &[]).await;
        assert!(reply.is_pdf(), "{}", reply.describe());
        reply.body
    }

    /// Our verifier's JSON answer, or what went wrong.
    async fn try_verify(&self, pdf: &[u8]) -> Result<Value, String> {
        let response = self
            .client
            .post(format!("{}/api/v1/verify/pdf", self.server.base))
            .body(pdf.to_vec())
            .send()
            .await
            .unwrap();
        let reply = Reply::read(response).await;
        if reply.status != 200 {
            return Err(format!("/verify/pdf answered {}", reply.describe()));
        }
        serde_json::from_slice(&reply.body).map_err(|e| e.to_string())
    }

    async fn verify(&self, pdf: &[u8]) -> Value {
        self.try_verify(pdf).await.unwrap()
    }
}

async fn register(
    client: &reqwest::Client,
    server: &Server,
    (name, credit_code): (&str, &str),
) -> String {
    let department = common::register(client, server, name, credit_code).await;
    department["api_key"].as_str().unwrap().to_string()
}

/// The signatures of a /verify/pdf report, oldest first.
fn signatures(report: &Value) -> &[Value] {
    report["signatures"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Whether a signature of a report has every one of these flags set.
fn all_set(signature: &Value, flags: &[&str]) -> bool {
    flags.iter().all(|flag| signature[*flag] == true)
}

/// Our verifier flags this signature as broken or malformed, and says why.
fn reported_broken(signature: &Value) -> bool {
    let sound = [
        "digest_matches",
        "signature_valid",
        "byte_range_well_formed",
    ];
    !all_set(signature, &sound)
        && signature["problems"]
            .as_array()
            .is_some_and(|problems| !problems.is_empty())
}

/// What a signature made by us must be: intact, trusted, covering the whole file.
const OURS_OK: [&str; 4] = [
    "digest_matches",
    "signature_valid",
    "chain_trusted",
    "covers_whole_file",
];

/// One attempt to seal one corpus file: a row of the table, and what went wrong.
struct Attempt {
    file: String,
    traits: String,
    http: String,
    validate: String,
    outcome: String,
    failures: Vec<String>,
}

impl Attempt {
    fn new(file: &str, traits: String) -> Attempt {
        Attempt {
            file: file.to_string(),
            traits,
            http: "—".into(),
            validate: "—".into(),
            outcome: String::new(),
            failures: vec![],
        }
    }

    fn check(&mut self, ok: bool, failure: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(failure());
        }
    }

    fn row(&self) -> String {
        let outcome = if self.failures.is_empty() {
            self.outcome.clone()
        } else {
            format!("**FAIL** {}", self.outcome)
        };
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        format!(
            "| {} | {} | {} | {} | {} |",
            cell(&self.file),
            cell(&self.traits),
            cell(&self.http),
            cell(&self.validate),
            cell(&outcome)
        )
    }

    /// Records the validators' exit code (with a note on the options used) and checks it.
    fn record_validation(&mut self, validation: &Validation, accepted: &[i32], note: &str) {
        self.validate = format!("{} {note}", validation.code).trim_end().to_string();
        self.check(accepted.contains(&validation.code), || {
            format!("validators: {}", validation.summary())
        });
    }

    /// A sealed PDF was expected: records "sealed", or the failure.
    fn expect_sealed(&mut self, reply: &Reply) -> bool {
        if reply.is_pdf() {
            self.outcome = "sealed".into();
            return true;
        }
        self.outcome = "not sealed".into();
        self.failures
            .push(format!("expected a sealed PDF, got {}", reply.describe()));
        false
    }

    /// The answer is our input followed by exactly one incremental update.
    fn check_incremental(&mut self, original: &[u8], sealed: &[u8]) {
        let appended = sealed.strip_prefix(original);
        self.check(appended.is_some(), || {
            "the output does not start with the input bytes (not an incremental update)".into()
        });
        if let Some(appended) = appended {
            let updates = count(appended, b"startxref");
            self.check(updates == 1, || {
                format!("{updates} startxref after the input bytes, expected one update")
            });
        }
    }

    /// A refusal must be a 422 problem+json, mentioning one of `topics` if any are given.
    fn check_refusal(&mut self, reply: &Reply, topics: &[&str]) {
        match reply.problem_detail() {
            Ok(detail) => {
                self.outcome = format!("refused: {detail}");
                let lower = detail.to_lowercase();
                self.check(reply.status == 422, || {
                    format!("refused with {}", reply.describe())
                });
                self.check(
                    topics.is_empty() || topics.iter().any(|t| lower.contains(t)),
                    || format!("the refusal does not mention any of {topics:?}: {detail}"),
                );
            }
            Err(why) => {
                self.outcome = "no clear answer".into();
                self.failures.push(format!("{why}; {}", reply.describe()));
            }
        }
    }
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// What a refusal of an encrypted file must talk about.
const ENCRYPTION_TOPICS: [&str; 4] = ["encrypt", "password", "加密", "密码"];

/// Seals one corpus file (twice for an encrypted one with a password: without and with it)
/// and judges the answers by the file's traits.
async fn seal_entry(bench: &Bench, entry: &Entry) -> Vec<Attempt> {
    let original = entry.bytes();
    let label = entry.kind.label();
    match &entry.kind {
        Kind::Ordinary => vec![seal_ordinary(bench, entry, &original, label).await],
        Kind::AlreadySigned {
            old_signature_broken,
        } => vec![seal_signed(bench, entry, &original, label, *old_signature_broken).await],
        Kind::BrokenXref => vec![seal_broken(bench, entry, &original, label).await],
        Kind::Encrypted { password } => {
            let mut given = vec![None, Some("not-the-password")];
            if !password.is_empty() {
                given.push(Some(password.as_str()));
            }
            let mut attempts = vec![];
            for given in given {
                let traits = match given {
                    Some(given) if given == password.as_str() => {
                        format!("{label}; password given")
                    }
                    Some(_) => format!("{label}; wrong password given"),
                    None => label.clone(),
                };
                attempts
                    .push(seal_encrypted(bench, entry, &original, traits, password, given).await);
            }
            attempts
        }
    }
}

/// Sends a corpus file to be sealed as department A and starts its row; never a 5xx.
async fn send_for_sealing(
    bench: &Bench,
    entry: &Entry,
    original: &[u8],
    traits: String,
    password: Option<&str>,
) -> (Attempt, Reply) {
    let mut attempt = Attempt::new(&entry.file, traits);
    let query: Vec<(&str, &str)> = password.map(|p| ("password", p)).into_iter().collect();
    let reply = bench.seal(&bench.key_a, original, &query).await;
    attempt.http = reply.status.to_string();
    attempt.check(reply.status < 500, || {
        format!("server error: {}", reply.describe())
    });
    (attempt, reply)
}

/// Plain files: sealed incrementally, accepted by the validators and by our verifier.
async fn seal_ordinary(bench: &Bench, entry: &Entry, original: &[u8], traits: String) -> Attempt {
    let (mut attempt, reply) = send_for_sealing(bench, entry, original, traits, None).await;
    if !attempt.expect_sealed(&reply) {
        return attempt;
    }
    attempt.check_incremental(original, &reply.body);
    let path = bench.write(&format!("sealed-{}", entry.file), &reply.body);
    let validation = validate_with(&bench.root(), &path, &entry.options());
    attempt.record_validation(&validation, &[0], "");
    check_verified_valid(bench, &mut attempt, &reply.body, 1).await;
    attempt
}

/// Our verifier says the sealed file is valid, with `expected` signatures.
async fn check_verified_valid(
    bench: &Bench,
    attempt: &mut Attempt,
    sealed: &[u8],
    expected: usize,
) {
    match bench.try_verify(sealed).await {
        Ok(report) => {
            attempt.check(report["valid"] == true, || {
                format!("/verify/pdf: not valid: {report}")
            });
            let found = signatures(&report).len();
            attempt.check(found == expected, || {
                format!("/verify/pdf: {found} signatures, expected {expected}")
            });
        }
        Err(why) => attempt.failures.push(why),
    }
}

/// Files signed by others: our seal is added incrementally, the old signatures stay as they
/// were, ours is intact, trusted and covers the whole file.
async fn seal_signed(
    bench: &Bench,
    entry: &Entry,
    original: &[u8],
    traits: String,
    old_signature_broken: bool,
) -> Attempt {
    let before = bench.try_verify(original).await;
    let (mut attempt, reply) = send_for_sealing(bench, entry, original, traits, None).await;
    let before = before.unwrap_or_else(|why| {
        attempt.failures.push(format!("the original: {why}"));
        Value::Null
    });
    if old_signature_broken {
        attempt.check(
            before["valid"] == false && signatures(&before).iter().any(reported_broken),
            || format!("/verify/pdf does not report the broken old signature: {before}"),
        );
    }
    let before = signatures(&before).to_vec();
    attempt.check(!before.is_empty(), || {
        "/verify/pdf finds no signature in the already-signed original".into()
    });
    if !attempt.expect_sealed(&reply) {
        return attempt;
    }
    attempt.check_incremental(original, &reply.body);
    let path = bench.write(&format!("sealed-{}", entry.file), &reply.body);
    // Signed by others: their signers are not ours to trust.
    let options = Options {
        allow_untrusted: true,
        ..entry.options()
    };
    let validation = validate_with(&bench.root(), &path, &options);
    if xmp_is_malformed(original) {
        // pyHanko refuses every later revision of a file whose existing XMP metadata is not
        // well-formed XML (its metadata rule re-reads the old /Metadata; pyHanko cannot even
        // sign such a file itself). Then only pyHanko may complain; pdfsig and qpdf must not.
        attempt.record_validation(&validation, &[0, 2], "(untrusted allowed; malformed XMP)");
        attempt.check(
            validation
                .complaints
                .iter()
                .all(|line| line.starts_with("pyhanko")),
            || format!("validators: {}", validation.summary()),
        );
    } else {
        let accepted: &[i32] = if old_signature_broken { &[1, 2] } else { &[0] };
        attempt.record_validation(&validation, accepted, "(untrusted allowed)");
    }
    match bench.try_verify(&reply.body).await {
        Ok(report) => check_signatures_kept(&mut attempt, &before, signatures(&report)),
        Err(why) => attempt.failures.push(format!("the sealed file: {why}")),
    }
    attempt
}

/// After sealing: the earlier signatures unchanged in name and digest verdict, ours last and
/// sound.
fn check_signatures_kept(attempt: &mut Attempt, before: &[Value], after: &[Value]) {
    attempt.check(after.len() == before.len() + 1, || {
        format!(
            "{} signatures before sealing, {} after",
            before.len(),
            after.len()
        )
    });
    for (old, new) in before.iter().zip(after) {
        attempt.check(
            old["field_name"] == new["field_name"]
                && old["digest_matches"] == new["digest_matches"],
            || format!("an earlier signature changed: before {old}, after {new}"),
        );
    }
    match after.last() {
        Some(ours) if after.len() > before.len() => attempt.check(all_set(ours, &OURS_OK), || {
            format!("our signature is not sound: {ours}")
        }),
        _ => attempt
            .failures
            .push("our signature is missing from the report".into()),
    }
}

/// Broken-xref files: sealed (repaired) with a result everyone accepts, or refused clearly.
async fn seal_broken(bench: &Bench, entry: &Entry, original: &[u8], traits: String) -> Attempt {
    let (mut attempt, reply) = send_for_sealing(bench, entry, original, traits, None).await;
    if !reply.is_pdf() {
        attempt.check_refusal(&reply, &[]);
        return attempt;
    }
    let incremental = reply.body.starts_with(original);
    attempt.outcome = if incremental {
        "sealed (incremental)".into()
    } else {
        "sealed (rewritten)".into()
    };
    let path = bench.write(&format!("sealed-{}", entry.file), &reply.body);
    let validation = validate_with(&bench.root(), &path, &entry.options());
    attempt.record_validation(&validation, &[0], "");
    check_verified_valid(bench, &mut attempt, &reply.body, 1).await;
    attempt
}

/// Encrypted files: sealed with a result that validates with the password, or a 422 about
/// encryption or the password.
async fn seal_encrypted(
    bench: &Bench,
    entry: &Entry,
    original: &[u8],
    traits: String,
    password: &str,
    given: Option<&str>,
) -> Attempt {
    let (mut attempt, reply) = send_for_sealing(bench, entry, original, traits, given).await;
    // A file with an empty user password opens for anyone (as in any viewer, whatever is
    // typed); otherwise only with its password.
    let opens = password.is_empty() || given == Some(password);
    if !opens {
        attempt.check(!reply.is_pdf(), || {
            "sealed although the password was missing or wrong".into()
        });
        attempt.check_refusal(&reply, &ENCRYPTION_TOPICS);
        return attempt;
    }
    if !attempt.expect_sealed(&reply) {
        return attempt;
    }
    attempt.outcome = "sealed".into();
    attempt.check_incremental(original, &reply.body);
    let path = bench.write(&format!("sealed-{}", entry.file), &reply.body);
    let options = Options {
        password: Some(password.to_string()),
        ..entry.options()
    };
    let validation = validate_with(&bench.root(), &path, &options);
    attempt.record_validation(&validation, &[0], "(with the password)");
    attempt
}

/// Seals every entry and fails with every failure found, after printing the table.
async fn seal_all(entries: Vec<Entry>) {
    let bench = Bench::start().await;
    let mut attempts = vec![];
    for entry in entries {
        eprintln!("sealing {} ({:?})", entry.file, entry.kind);
        attempts.extend(seal_entry(&bench, &entry).await);
    }
    println!("\n| file | traits | HTTP | validators | outcome |\n|---|---|---|---|---|");
    for attempt in &attempts {
        println!("{}", attempt.row());
    }
    let failures: Vec<String> = attempts
        .iter()
        .flat_map(|a| a.failures.iter().map(move |f| format!("{}: {f}", a.file)))
        .collect();
    bench.server.app.close().await;
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_is_sealed_or_clearly_refused() {
    let entries: Vec<Entry> = fixtures::all().iter().map(Entry::from_fixture).collect();
    let traits: std::collections::BTreeSet<&str> = fixtures::all()
        .iter()
        .flat_map(|f| f.traits.iter().map(String::as_str))
        .collect();
    for covered in [
        "rc4-128",
        "aes-128",
        "aes-256",
        "empty-user-password",
        "user-password",
        "xref-stream",
        "object-streams",
        "hybrid-xref",
        "linearized",
        "incremental-updates",
        "rotate-90",
        "rotate-270",
        "cropbox",
        "acroform",
        "signed",
        "broken-xref",
    ] {
        assert!(
            traits.contains(covered),
            "no fixture is {covered}: {traits:?}"
        );
    }
    seal_all(entries).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_file_is_sealed_or_clearly_refused() {
    let Some(corpus) = test_needs::shared("corpus") else {
        return;
    };
    seal_all(manifest(&corpus)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_then_tampered_or_appended_is_reported() {
    let bench = Bench::start().await;
    let original = fixtures::notice();
    let sealed = bench.write("sealed.pdf", &bench.sealed(&original).await);

    let tampered = tamper(&sealed, &bench.work.path().join("tampered.pdf"));
    let validation = validate_with(&bench.root(), &tampered, &Options::default());
    assert_eq!(validation.code, 1, "{}", validation.summary());
    let report = bench.verify(&std::fs::read(&tampered).unwrap()).await;
    assert_eq!(report["valid"], false, "{report}");
    let last = signatures(&report).last().expect("a signature");
    assert_eq!(last["digest_matches"], false, "{report}");

    let appended = bench.work.path().join("appended.pdf");
    append_update(&sealed, &appended);
    let report = bench.verify(&std::fs::read(&appended).unwrap()).await;
    assert_eq!(report["valid"], false, "{report}");
    let last = signatures(&report).last().expect("a signature");
    assert_eq!(last["covers_whole_file"], false, "{report}");
    assert!(
        last["bytes_after"].as_u64().is_some_and(|n| n > 0),
        "{report}"
    );
    let validation = validate_with(&bench.root(), &appended, &Options::default());
    assert_ne!(validation.code, 0, "{}", validation.summary());
    bench.server.app.close().await;
}

/// The lines of `original` (blank ones aside) outside a longest common subsequence with the
/// lines of `sealed`: the ones missing from it or moved out of order.
fn lines_missing_in_order(original: &str, sealed: &str) -> Vec<String> {
    let ours: Vec<&str> = original
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .collect();
    let theirs: Vec<&str> = sealed.lines().map(str::trim_end).collect();
    // lcs[i][j]: length of a longest common subsequence of ours[i..] and theirs[j..]
    let mut lcs = vec![vec![0usize; theirs.len() + 1]; ours.len() + 1];
    for i in (0..ours.len()).rev() {
        for j in (0..theirs.len()).rev() {
            lcs[i][j] = if ours[i] == theirs[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut missing) = (0, 0, vec![]);
    while i < ours.len() {
        if j < theirs.len() && ours[i] == theirs[j] {
            (i, j) = (i + 1, j + 1);
        } else if j < theirs.len() && lcs[i][j + 1] >= lcs[i + 1][j] {
            j += 1;
        } else {
            missing.push(ours[i].to_string());
            i += 1;
        }
    }
    missing
}

/// The lines of `sealed` that are not lines of `original` (as a multiset) and hold anything
/// but characters of our seal's text.
fn lines_not_from_the_seal(original: &str, sealed: &str) -> Vec<String> {
    let mut unmatched: Vec<&str> = original.lines().map(str::trim_end).collect();
    let seal_chars: String = SEAL_TEXT.concat();
    sealed
        .lines()
        .map(str::trim_end)
        .filter(|line| match unmatched.iter().position(|o| o == line) {
            Some(i) => {
                unmatched.swap_remove(i);
                false
            }
            None => true,
        })
        .filter(|line| {
            !line
                .chars()
                .all(|c| c.is_whitespace() || seal_chars.contains(c))
        })
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealing_keeps_the_text() {
    let bench = Bench::start().await;
    // Our notice, and real-world files when the shared corpus is there.
    let mut inputs = vec![("notice.pdf", fixtures::notice_path().to_path_buf())];
    if let Some(corpus) = test_needs::shared("corpus") {
        inputs.extend(TEXT_PDFS.map(|file| (file, corpus.join(file))));
    }
    for (file, path) in inputs {
        let sealed = bench.write(file, &bench.sealed(&std::fs::read(&path).unwrap()).await);
        let (before, after) = (pdftotext(&path), pdftotext(&sealed));
        assert!(
            before.trim().len() > 20,
            "{file}: hardly any text to compare: {before}"
        );
        let missing = lines_missing_in_order(&before, &after);
        let foreign = lines_not_from_the_seal(&before, &after);
        assert!(
            missing.is_empty() && foreign.is_empty(),
            "{file}: lines of the original missing or out of order after sealing: {missing:?}; \
             new lines that are not seal text: {foreign:?}\n\
             --- original ---\n{before}\n--- sealed ---\n{after}"
        );
    }
    bench.server.app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealing_twice_keeps_both_valid() {
    let bench = Bench::start().await;
    let key_b = register(&bench.client, &bench.server, DEPT_B).await;
    let original = fixtures::notice();
    let once = bench.sealed(&original).await;
    let reply = bench.seal(&key_b, &once, &[]).await;
    assert!(reply.is_pdf(), "{}", reply.describe());
    let twice = reply.body;
    assert!(
        twice.starts_with(&once),
        "the second seal is not an incremental update"
    );

    let path = bench.write("twice.pdf", &twice);
    let validation = validate_with(&bench.root(), &path, &Options::default());
    assert_eq!(validation.code, 0, "{}", validation.summary());
    let report = bench.verify(&twice).await;
    assert_eq!(report["valid"], true, "{report}");
    let sigs = signatures(&report);
    assert_eq!(sigs.len(), 2, "{report}");
    for (signature, (name, _)) in sigs.iter().zip([DEPT_A, DEPT_B]) {
        let flags = ["digest_matches", "signature_valid", "chain_trusted"];
        assert!(all_set(signature, &flags), "{signature}");
        let subject = signature["signer"]["subject"].as_str().unwrap_or_default();
        assert!(
            subject.contains(name),
            "expected {name} as signer: {signature}"
        );
    }
    assert_eq!(sigs[1]["covers_whole_file"], true, "{report}");
    bench.server.app.close().await;
}

/// The cross-page seal (骑缝章): one signature whose impression is cut into one slice per page,
/// slice i on the right edge of page i; a normal seal by another department on top keeps both
/// valid; a one-page document is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_page_seal_spans_every_page() {
    let bench = Bench::start().await;
    let original = fixtures::notice();
    let reply = bench
        .seal(&bench.key_a, &original, &[("cross_page", "true")])
        .await;
    assert!(reply.is_pdf(), "{}", reply.describe());
    let sealed = reply.body;
    let path = bench.write("cross-page.pdf", &sealed);
    let validation = validate_with(&bench.root(), &path, &Options::default());
    assert_eq!(validation.code, 0, "{}", validation.summary());
    let report = bench.verify(&sealed).await;
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(signatures(&report).len(), 1, "one signature for all slices");

    // Every page carries one new annotation at its right edge; the slices add up to the
    // whole 42 mm impression.
    let doc = lopdf::Document::load_mem(&sealed).unwrap();
    let mut total_width = 0.0;
    for (number, page_id) in doc.get_pages() {
        let page = doc.get_dictionary(page_id).unwrap();
        let annots = page.get(b"Annots").unwrap().as_array().unwrap();
        let annotation = doc
            .get_dictionary(annots.last().unwrap().as_reference().unwrap())
            .unwrap();
        let rect: Vec<f32> = annotation
            .get(b"Rect")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_float().unwrap())
            .collect();
        let media = page.get(b"MediaBox").map_or(595.276, |b| {
            b.as_array().unwrap()[2].as_float().unwrap_or(595.276)
        });
        assert!(
            (rect[2] - media).abs() < 1.0,
            "page {number}: the slice is not at the right edge: {rect:?}"
        );
        assert!(annotation.has(b"AP"), "page {number}: no appearance");
        total_width += rect[2] - rect[0];
    }
    let diameter = 42.0 * 72.0 / 25.4;
    assert!((total_width - diameter).abs() < 0.5, "{total_width}");

    // A second department's normal seal on top: both valid.
    let key_b = register(&bench.client, &bench.server, DEPT_B).await;
    let reply = bench.seal(&key_b, &sealed, &[("page", "1")]).await;
    assert!(reply.is_pdf(), "{}", reply.describe());
    let path = bench.write("cross-page-then-normal.pdf", &reply.body);
    let validation = validate_with(&bench.root(), &path, &Options::default());
    assert_eq!(validation.code, 0, "{}", validation.summary());
    assert_eq!(signatures(&bench.verify(&reply.body).await).len(), 2);

    // One page cannot carry a cross-page seal.
    let one_page = fixtures::one_page_notice();
    let reply = bench
        .seal(&bench.key_a, &one_page, &[("cross_page", "true")])
        .await;
    assert_eq!(reply.status, 422, "{}", reply.describe());
    bench.server.app.close().await;
}
