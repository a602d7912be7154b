//! Shared by the end-to-end tests: a real server on a random port with a fresh database, the
//! external validators, and the PostgreSQL database per test.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::test_needs;
use serde_json::{json, Value};
use zhengyin::pki::MasterKey;
use zhengyin::server::Running;
use zhengyin::service::{App, Config};

/// A running server on its own data directory and database.
pub struct Server {
    pub base: String,
    pub admin_key: String,
    pub data: tempfile::TempDir,
    pub app: Arc<App>,
}

impl Server {
    pub async fn start(database_url: Option<String>) -> Server {
        Server::start_with(database_url, |_| {}).await
    }

    /// Starts with the configuration changed by `configure` (an external identity provider
    /// for holders, an external time-stamping authority, a fixed clock), through the same
    /// start-up as `zhengyin serve`: background tasks included.
    pub async fn start_with(
        database_url: Option<String>,
        configure: impl FnOnce(&mut Config),
    ) -> Server {
        let data = tempfile::tempdir().unwrap();
        let (base, running) = serve(data.path(), database_url, configure).await;
        let admin_key = running
            .first_run
            .admin_key
            .expect("a new installation makes an admin key");
        Server {
            base,
            admin_key,
            data,
            app: running.app,
        }
    }

    /// A second serving process on the same data directory and PostgreSQL database, as a
    /// second instance behind a load balancer runs: its base URL and application.
    pub async fn another_instance(&self, database_url: &str) -> (String, Arc<App>) {
        self.another_instance_with(Some(database_url.to_string()), |_| {})
            .await
    }

    /// A second serving process on the same installation (the data directory, and the
    /// database `database_url`, SQLite's there when `None`), configured by `configure`.
    pub async fn another_instance_with(
        &self,
        database_url: Option<String>,
        configure: impl FnOnce(&mut Config),
    ) -> (String, Arc<App>) {
        let (base, running) = serve(self.data.path(), database_url, configure).await;
        assert!(
            running.first_run.admin_key.is_none(),
            "the installation exists"
        );
        (base, running.app)
    }

    pub fn root_pem(&self) -> PathBuf {
        self.data.path().join("certs/root.pem")
    }
}

/// Serves the installation in `data` on a random port as `zhengyin serve` does (until the
/// test's runtime ends): its base URL and the running service.
async fn serve(
    data: &Path,
    database_url: Option<String>,
    configure: impl FnOnce(&mut Config),
) -> (String, Running) {
    let listener = zhengyin::server::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = Config {
        database_url,
        ..Config::new(data.to_path_buf(), base.clone())
    };
    configure(&mut config);
    let running = zhengyin::server::start(&config, listener, std::future::pending())
        .await
        .unwrap();
    (base, running)
}

/// A fresh PostgreSQL database for one test, or `None` (after [`test_needs::skip`]: under CI
/// that fails the test) when no server answers.
pub async fn fresh_postgres() -> Option<String> {
    use sqlx::Connection;
    let admin_url = std::env::var("ZHENGYIN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    sqlx::any::install_default_drivers();
    let mut conn = match sqlx::AnyConnection::connect(&admin_url).await {
        Ok(conn) => conn,
        Err(e) => {
            test_needs::skip(&format!("PostgreSQL at {admin_url} ({e})"));
            return None;
        }
    };
    let name = format!(
        "zy_test_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').unwrap().0;
    Some(format!("{base}/{name}"))
}

/// Flips one byte inside the newest signature's signed range and writes the result to `out`:
/// the case of the first letter of the `/Producer`, `/Creator` or `/Title` string, else of a
/// letter in the middle of the first signed range (so the file still parses, and only the
/// cryptographic check can notice); returns `out`.
pub fn tamper(pdf: &Path, out: &Path) -> PathBuf {
    let mut bytes = std::fs::read(pdf).unwrap();
    let [start, first_len, second, second_len] = last_byte_range(&bytes);
    let signed = |at: usize| {
        (start..start + first_len).contains(&at) || (second..second + second_len).contains(&at)
    };
    let letter_from = |from: usize| (from..bytes.len()).find(|&at| bytes[at].is_ascii_alphabetic());
    let in_string = [&b"/Producer ("[..], b"/Creator (", b"/Title ("]
        .iter()
        .filter_map(|key| find(&bytes, key).and_then(|at| letter_from(at + key.len())))
        .find(|&at| signed(at));
    let at = in_string
        .or_else(|| letter_from(start + first_len / 2).filter(|&at| signed(at)))
        .unwrap_or(start + first_len / 2);
    bytes[at] ^= if bytes[at].is_ascii_alphabetic() {
        0x20
    } else {
        0x01
    };
    std::fs::write(out, bytes).unwrap();
    out.to_path_buf()
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Runs one of the project's Python test tools (`tests/tools`) in the test tools' virtual
/// environment; it must succeed.
pub fn run_tool(name: &str, args: &[&std::ffi::OsStr]) {
    let output = Command::new(test_needs::venv_program("python"))
        .arg(test_needs::tool(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{name} runs: {e}"));
    assert!(
        output.status.success(),
        "{name} {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Makes another organisation's PKI in `dir` (`root.pem`, `signer.pem` with its key, and an
/// unrelated `other_root.pem`); returns `dir`.
pub fn foreign_pki(dir: &Path) -> PathBuf {
    run_tool("foreign_pki.py", &[dir.as_os_str()]);
    dir.to_path_buf()
}

/// Seals `input` into `out` with pyHanko as that organisation's system would (PAdES B-B, a
/// visible field `ForeignSeal` on page 1).
pub fn sign_foreign(pki: &Path, input: &Path, out: &Path) {
    run_tool(
        "sign_foreign.py",
        &[pki.as_os_str(), input.as_os_str(), out.as_os_str()],
    );
}

/// Appends an incremental update that changes page 1 after signing (an annotation saying
/// "AMOUNT DUE: 1,000,000" and a new title), as an attacker would.
pub fn append_update(signed: &Path, out: &Path) {
    run_tool("append_update.py", &[signed.as_os_str(), out.as_os_str()]);
}

/// The four numbers of the last `/ByteRange [a b c d]` in the file.
fn last_byte_range(pdf: &[u8]) -> [usize; 4] {
    let key = b"/ByteRange";
    let at = pdf
        .windows(key.len())
        .rposition(|w| w == key)
        .expect("a /ByteRange");
    let text = String::from_utf8_lossy(&pdf[at + key.len()..(at + 120).min(pdf.len())]);
    let inside = text
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'));
    let numbers: Vec<usize> = inside
        .expect("/ByteRange [ … ]")
        .0
        .split_whitespace()
        .map(|n| n.parse().expect("a number"))
        .collect();
    numbers.try_into().expect("four numbers")
}

/// Drops a database made by [`fresh_postgres`].
pub async fn drop_postgres(url: &str) {
    use sqlx::Connection;
    let (base, name) = url.rsplit_once('/').unwrap();
    let mut conn = sqlx::AnyConnection::connect(&format!("{base}/postgres"))
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// Issues a business licence (the sample fields) with the department key `key`; its identifier. A new licence is
/// version 1 and valid.
pub async fn issue_business_licence(
    client: &reqwest::Client,
    server: &Server,
    key: &str,
) -> String {
    let response = client
        .post(format!("{}/api/v1/licences", server.base))
        .bearer_auth(key)
        .json(&json!({"kind": "business_licence", "fields": business_licence_fields()}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let issued: Value = response.json().await.unwrap();
    assert_eq!(issued["version"], 1);
    assert_eq!(issued["status"], "valid");
    issued["identifier"].as_str().unwrap().to_string()
}

/// Downloads the signed PDF of the licence version `identifier` with `key`.
pub async fn licence_pdf(
    client: &reqwest::Client,
    server: &Server,
    key: &str,
    identifier: &str,
) -> Vec<u8> {
    let response = client
        .get(format!("{}/api/v1/licences/{identifier}/pdf", server.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "downloading {identifier}");
    response.bytes().await.unwrap().to_vec()
}

/// Registers a department in division 350200 with its seal through the API as the admin; the
/// JSON answer.
pub async fn register(
    client: &reqwest::Client,
    server: &Server,
    name: &str,
    credit_code: &str,
) -> Value {
    register_in(client, server, name, credit_code, "350200").await
}

/// Registers a department in `division` with its seal through the API as the admin.
pub async fn register_in(
    client: &reqwest::Client,
    server: &Server,
    name: &str,
    credit_code: &str,
    division: &str,
) -> Value {
    let response = client
        .post(format!("{}/api/v1/departments", server.base))
        .bearer_auth(&server.admin_key)
        .json(&json!({
            "name": name,
            "credit_code": credit_code,
            "division_code": division,
            "seal_name": "行政审批专用章",
            "seal_code": "3502000012345"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

/// The fields of a business licence (营业执照) for 91350100M000100Y43.
pub fn business_licence_fields() -> Value {
    json!({
        "credit_code": "91350100M000100Y43",
        "name": "厦门市鹭岛数字科技有限公司",
        "entity_type": "有限责任公司(自然人投资或控股)",
        "legal_representative": "陈明辉",
        "business_scope": "一般项目:软件开发;信息技术咨询服务;数据处理和存储支持服务;集成电路设计;网络与信息安全软件开发;人工智能应用软件开发。(除依法须经批准的项目外,凭营业执照依法自主开展经营活动)",
        "registered_capital": "10000000",
        "established_on": "2021-03-15",
        "address": "福建省厦门市思明区软件园二期观日路24号301室"
    })
}

/// The fields of a food business permit (食品经营许可证) for 91350203MA34B6N844.
pub fn food_permit() -> Value {
    json!({
        "name": "厦门市思明区鹭味轩餐饮有限公司",
        "credit_code": "91350203MA34B6N844",
        "legal_representative": "林志强",
        "address": "福建省厦门市思明区中山路128号",
        "premises": "福建省厦门市思明区中山路128号一层、二层",
        "business_form": "餐饮服务经营者",
        "business_items": ["预包装食品销售（含冷藏冷冻食品）", "热食类食品制售"],
        "supervising_agency": "厦门市思明区市场监督管理局中山市场监督管理所",
        "signatory": "王立新"
    })
}

/// The plaintext private keys of an installation: every sealed key in the database opened
/// with its master key. Tests look for these bytes where they must never be.
pub async fn plaintext_keys(data_dir: &Path, database_url: &str) -> Vec<Vec<u8>> {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let master = MasterKey::load_or_create(&data_dir.join("master.key")).unwrap();
    let mut conn = sqlx::AnyConnection::connect(database_url).await.unwrap();
    let mut keys = vec![];
    for row in sqlx::query("SELECT certificate, sealed_key FROM seals")
        .fetch_all(&mut conn)
        .await
        .unwrap()
    {
        let certificate: Vec<u8> = row.get(0);
        let sealed: Vec<u8> = row.get(1);
        keys.push(master.open(&sealed, &certificate).unwrap());
    }
    // The root's key is bound to its name, the service keys (holder tokens, audit log) to
    // their certificates.
    for row in sqlx::query("SELECT name, certificate, sealed_key FROM pki_keys")
        .fetch_all(&mut conn)
        .await
        .unwrap()
    {
        let (name, certificate, sealed): (String, Vec<u8>, Vec<u8>) =
            (row.get(0), row.get(1), row.get(2));
        let bound_to = if name == "root-ca" {
            name.into_bytes()
        } else {
            certificate
        };
        keys.push(master.open(&sealed, &bound_to).unwrap());
    }
    assert!(keys.len() >= 4);
    keys
}

/// Every representation of a key a dump or a log could show: raw bytes, hex, base64, and the
/// 32-byte private scalar inside the PKCS#8 document.
pub fn key_needles(keys: &[Vec<u8>]) -> Vec<Vec<u8>> {
    use base64::Engine;
    let mut needles = vec![];
    for key in keys {
        let scalar = key[36..68].to_vec();
        for bytes in [key.clone(), scalar] {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            needles.push(hex.clone().into_bytes());
            needles.push(hex.to_uppercase().into_bytes());
            needles.push(
                base64::engine::general_purpose::STANDARD
                    .encode(&bytes)
                    .into_bytes(),
            );
            needles.push(bytes);
        }
    }
    needles
}

pub fn assert_absent(haystack: &[u8], needles: &[Vec<u8>], what: &str) {
    for (i, needle) in needles.iter().enumerate() {
        let found = haystack
            .windows(needle.len())
            .position(|w| w == needle.as_slice());
        assert!(
            found.is_none(),
            "a private key (representation {i}) appears in {what} at byte {found:?}"
        );
    }
}

/// A `zhengyin serve` process on a random port.
pub struct ServerProcess {
    child: Child,
    pub base: String,
    /// The admin key, on the first start of an installation.
    pub admin_key: Option<String>,
    /// Everything it has written to stderr (its log).
    pub log: Arc<Mutex<Vec<u8>>>,
}

impl ServerProcess {
    /// Starts `zhengyin serve` on `data` (and `database_url`), logging at `log_filter`.
    pub fn start(
        data: &Path,
        database_url: Option<&str>,
        log_filter: Option<&str>,
    ) -> ServerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_zhengyin"));
        command
            .arg("--data-dir")
            .arg(data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stderr(Stdio::piped());
        match database_url {
            Some(url) => command.env("DATABASE_URL", url),
            None => command.env_remove("DATABASE_URL"),
        };
        if let Some(filter) = log_filter {
            command.env("RUST_LOG", filter);
        }
        let mut child = command.spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let base = loop {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "the server stopped before printing its address"
            );
            log.lock().unwrap().extend(line.as_bytes());
            let line = line.trim_end();
            if let Some(address) = line.strip_prefix("zhengyin listening on ") {
                break address.to_string();
            }
        };
        // Not on a terminal, the first run leaves the admin key in a file, not in the log.
        let admin_key = std::fs::read_to_string(data.join(zhengyin::cli::ADMIN_KEY_FILE)).ok();
        // Keep reading the log so the server never blocks on a full pipe.
        let collected = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut chunk = [0; 8192];
            while let Ok(n @ 1..) = stderr.read(&mut chunk) {
                collected.lock().unwrap().extend(&chunk[..n]);
            }
        });
        ServerProcess {
            child,
            base,
            admin_key,
            log,
        }
    }

    /// SIGKILL: no shutdown, no flushing (what dropping it does too).
    pub fn kill(self) {
        drop(self);
    }
}

impl Drop for ServerProcess {
    /// A server is killed with its test, even one that fails.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
