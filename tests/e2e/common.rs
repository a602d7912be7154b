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
        let data = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = Config {
            data_dir: data.path().to_path_buf(),
            database_url,
            public_url: base.clone(),
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

/// Registers a department with its seal through the API as the admin; the JSON answer.
pub async fn register(
    client: &reqwest::Client,
    server: &Server,
    name: &str,
    credit_code: &str,
) -> Value {
    let response = client
        .post(format!("{}/api/v1/departments", server.base))
        .bearer_auth(&server.admin_key)
        .json(&json!({
            "name": name,
            "credit_code": credit_code,
            "division_code": "350200",
            "seal_name": "行政审批专用章",
            "seal_code": "3502000012345"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}
