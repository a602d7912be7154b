//! Shared by the end-to-end tests: a real server on a random port with a fresh database, the
//! external validators, and the PostgreSQL database per test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::{json, Value};
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
        Server::start_with(database_url, None).await
    }

    /// Starts with an external identity provider for holders.
    pub async fn start_with(
        database_url: Option<String>,
        holder_issuer: Option<zhengyin::service::HolderIssuer>,
    ) -> Server {
        let data = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = Config {
            data_dir: data.path().to_path_buf(),
            database_url,
            public_url: base.clone(),
            holder_issuer,
        };
        let (app, first_run) = App::open(&config).await.unwrap();
        let admin_key = first_run
            .admin_key
            .expect("a new installation makes an admin key");
        let router = zhengyin::http::router(Arc::clone(&app));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Server {
            base,
            admin_key,
            data,
            app,
        }
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
    let output = Command::new("bash")
        .arg(shared("validate/validate.sh"))
        .arg(root)
        .arg(pdf)
        .output()
        .expect("validate.sh runs");
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    output.status.code().unwrap_or(-1)
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
