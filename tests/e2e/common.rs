//! Shared by the end-to-end tests: a real server on a random port with a fresh database, the
//! external validators, and the PostgreSQL database per test.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use zhengyin::pki::MasterKey;
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
    /// for holders, an external time-stamping authority).
    pub async fn start_with(
        database_url: Option<String>,
        configure: impl FnOnce(&mut Config),
    ) -> Server {
        let data = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = Config {
            data_dir: data.path().to_path_buf(),
            database_url,
            public_url: base.clone(),
            holder_issuer: None,
            tsa_url: None,
        };
        configure(&mut config);
        let (app, first_run) = App::open(&config).await.unwrap();
        let admin_key = first_run
            .admin_key
            .expect("a new installation makes an admin key");
        app.spawn_licence_watch();
        let router = zhengyin::http::router(Arc::clone(&app));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Server {
            base,
            admin_key,
            data,
            app,
        }
    }

    /// A second serving process on the same data directory and PostgreSQL database, as a
    /// second instance behind a load balancer runs: its base URL and application.
    pub async fn another_instance(&self, database_url: &str) -> (String, Arc<App>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = Config {
            data_dir: self.data.path().to_path_buf(),
            database_url: Some(database_url.to_string()),
            public_url: base.clone(),
            holder_issuer: None,
            tsa_url: None,
        };
        let (app, first_run) = App::open(&config).await.unwrap();
        assert!(first_run.admin_key.is_none(), "the installation exists");
        app.spawn_licence_watch();
        let router = zhengyin::http::router(Arc::clone(&app));
        tokio::spawn(async move { axum::serve(listener, router).await });
        (base, app)
    }

    pub fn root_pem(&self) -> PathBuf {
        self.data.path().join("certs/root.pem")
    }
}

/// A fresh PostgreSQL database for one test, or `None` when no server is reachable.
pub async fn fresh_postgres() -> Option<String> {
    use sqlx::Connection;
    let admin_url = std::env::var("ZHENGYIN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    sqlx::any::install_default_drivers();
    let mut conn = match sqlx::AnyConnection::connect(&admin_url).await {
        Ok(conn) => conn,
        Err(e) => {
            eprintln!("PostgreSQL not reachable at {admin_url} ({e}): PostgreSQL run skipped");
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

pub fn shared(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(path)
}

/// Runs validate.sh and returns its exit code (0 valid, 1 broken, 2 untrusted/partial).
pub fn validate(root: &Path, pdf: &Path) -> i32 {
    validate_report(root, pdf).0
}

/// Runs validate.sh: its exit code and the JSON line of each tool.
pub fn validate_report(root: &Path, pdf: &Path) -> (i32, Vec<Value>) {
    let output = Command::new("bash")
        .arg(shared("validate/validate.sh"))
        .arg(root)
        .arg(pdf)
        .output()
        .expect("validate.sh runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}");
    let lines = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    (output.status.code().unwrap_or(-1), lines)
}

/// The pyHanko command of the validators' virtualenv (made by `validate/install.sh`).
pub fn pyhanko() -> PathBuf {
    let cache = std::env::var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(&std::env::var("HOME").unwrap()).join(".cache"));
    std::env::var("KIT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| cache.join("zhengyin-validators/venv"))
        .join("bin/pyhanko")
}

/// Flips one byte inside the newest signature's signed range (`tamper.py`); returns `out`.
pub fn tamper(pdf: &Path, out: &Path) -> PathBuf {
    let status = Command::new("python3")
        .arg(shared("validate/tamper.py"))
        .arg(pdf)
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success());
    out.to_path_buf()
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
