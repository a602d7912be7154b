//! Crashes lose nothing acknowledged: the server process is killed with SIGKILL while 16
//! clients issue licences concurrently; after a restart every licence it acknowledged is there
//! and genuine, 64 issuers at once get distinct identifiers, every licence stored has its
//! issue entry in the audit log, and `zhengyin audit check` passes. On SQLite and PostgreSQL.
//! A database that turns read-only, or a disk that fills up, gives 503 and corrupts nothing.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::common::{business_licence_fields, drop_postgres, fresh_postgres, ServerProcess};

/// Clients issuing at once.
const CLIENTS: usize = 16;
/// Licences the clients set out to issue.
const PLANNED: usize = 10_000;
/// Acknowledged issues after which the server is killed.
const KILL_AFTER: usize = 150;
/// Issuers at once after the restart.
const BURST: usize = 64;

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(actual, status, "{body}");
    body
}

/// Registers the market department on the server process at `base`; returns its API key.
async fn register_department(client: &reqwest::Client, base: &str, admin_key: &str) -> String {
    let department = json_of(
        client
            .post(format!("{base}/api/v1/departments"))
            .bearer_auth(admin_key)
            .json(
                &json!({"name": "厦门市市场监督管理局", "credit_code": "11350200MB0D00002U",
                "division_code": "350200"}),
            )
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    department["api_key"].as_str().unwrap().to_string()
}

async fn crash_while_issuing(database_url: Option<String>) {
    let data = tempfile::tempdir().unwrap();
    let url = database_url.as_deref();
    let first = ServerProcess::start(data.path(), url, None);
    let admin_key = first.admin_key.clone().unwrap();
    let base = first.base.clone();
    let client = reqwest::Client::new();
    let key = register_department(&client, &base, &admin_key).await;

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (client, base, key) = (client.clone(), base.clone(), key.clone());
        let (acknowledged, started) = (Arc::clone(&acknowledged), Arc::clone(&started));
        clients.push(tokio::spawn(async move {
            while started.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < PLANNED {
                let sent = client
                    .post(format!("{base}/api/v1/licences"))
                    .bearer_auth(&key)
                    .json(&json!({"kind": "business_licence", "fields": business_licence_fields()}))
                    .send()
                    .await;
                let Ok(response) = sent else { return };
                if response.status() != 201 {
                    return;
                }
                let Ok(issued) = response.json::<Value>().await else {
                    return;
                };
                let id = issued["identifier"].as_str().unwrap().to_string();
                acknowledged.lock().unwrap().push(id);
            }
        }));
    }
    while acknowledged.lock().unwrap().len() < KILL_AFTER {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    first.kill();
    for client in clients {
        client.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let unique: HashSet<&String> = acknowledged.iter().collect();
    assert_eq!(
        unique.len(),
        acknowledged.len(),
        "an identifier was given twice"
    );
    eprintln!(
        "{} acknowledged before SIGKILL ({CLIENTS} clients)",
        acknowledged.len()
    );

    let second = ServerProcess::start(data.path(), url, None);
    let base = second.base.clone();
    for id in &acknowledged {
        let answer = json_of(
            client
                .get(format!("{base}/api/v1/verify/licences/{id}"))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        assert_eq!(answer["genuine"], true, "{answer}");
    }
    // 64 issuers at once after the restart: every one answered, no identifier given twice.
    let burst: Vec<_> = (0..BURST)
        .map(|_| {
            let request = client
                .post(format!("{base}/api/v1/licences"))
                .bearer_auth(&key)
                .json(&json!({"kind": "business_licence", "fields": business_licence_fields()}));
            tokio::spawn(async move { json_of(request.send().await.unwrap(), 201).await })
        })
        .collect();
    let mut all: HashSet<String> = acknowledged.iter().cloned().collect();
    for issued in burst {
        let issued = issued.await.unwrap();
        assert!(all.insert(issued["identifier"].as_str().unwrap().to_string()));
    }

    // Every licence stored, acknowledged or not, is whole and logged.
    let stored = json_of(
        client
            .get(format!("{base}/api/v1/licences?per_page=1"))
            .bearer_auth(&admin_key)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await["total"]
        .as_u64()
        .unwrap();
    assert!(stored as usize >= acknowledged.len());
    let head = json_of(
        client
            .get(format!("{base}/api/v1/audit/sth"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let size = head["tree_size"].as_u64().unwrap();
    let mut issue_entries = HashSet::new();
    for start in (0..size).step_by(1000) {
        let entries = json_of(
            client
                .get(format!(
                    "{base}/api/v1/audit/entries?start={start}&end={}",
                    (start + 1000).min(size)
                ))
                .bearer_auth(&admin_key)
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        for entry in entries.as_array().unwrap() {
            if entry["action"] == "licence.issue" {
                issue_entries.insert(entry["object"].as_str().unwrap().to_string());
            }
        }
    }
    assert_eq!(
        issue_entries.len() as u64,
        stored,
        "one issue entry per licence"
    );
    for id in &all {
        assert!(issue_entries.contains(id), "{id} is not in the audit log");
    }
    second.kill();
    assert_audit_check_passes(data.path(), url);
}

/// `zhengyin audit check` on the installation exits 0.
fn assert_audit_check_passes(data: &Path, database_url: Option<&str>) {
    let mut check = Command::new(env!("CARGO_BIN_EXE_zhengyin"));
    check.arg("--data-dir").arg(data).args(["audit", "check"]);
    match database_url {
        Some(url) => check.env("DATABASE_URL", url),
        None => check.env_remove("DATABASE_URL"),
    };
    let out = check.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_while_issuing_loses_nothing_on_sqlite() {
    crash_while_issuing(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_while_issuing_loses_nothing_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    crash_while_issuing(Some(url.clone())).await;
    drop_postgres(&url).await;
}

/// A database that turns read-only under the running service: every write is answered with a
/// clear 503 problem, nothing is half-written, and once the database is writable again the
/// service goes on and the audit log checks out.
#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_database_gives_503_and_no_corruption() {
    use sqlx::Connection;
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let server = crate::common::Server::start(Some(url.clone())).await;
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let department = crate::common::register(
        &client,
        &server,
        "厦门市市场监督管理局",
        "11350200MB0D00002U",
    )
    .await;
    let key = department["api_key"].as_str().unwrap().to_string();
    let issue = || {
        client
            .post(format!("{base}/api/v1/licences"))
            .bearer_auth(&key)
            .json(&json!({"kind": "business_licence", "fields": business_licence_fields()}))
            .send()
    };
    json_of(issue().await.unwrap(), 201).await;

    let (admin_url, name) = url.rsplit_once('/').unwrap();
    let mut admin = sqlx::AnyConnection::connect(&format!("{admin_url}/postgres"))
        .await
        .unwrap();
    let set_read_only = |on: bool| {
        [
            format!(
                "ALTER DATABASE {name} SET default_transaction_read_only = {}",
                if on { "on" } else { "off" }
            ),
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            ),
        ]
    };
    for statement in set_read_only(true) {
        sqlx::query(&statement).execute(&mut admin).await.unwrap();
    }
    let refused = json_of(issue().await.unwrap(), 503).await;
    assert_eq!(refused["status"], 503);
    assert!(
        !refused.to_string().contains("read-only"),
        "database details stay in the log: {refused}"
    );
    // Searching is recorded, so it waits for a writable database too.
    let search = client
        .get(format!("{base}/api/v1/licences?per_page=1"))
        .bearer_auth(&server.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(search.status(), 503);

    for statement in set_read_only(false) {
        sqlx::query(&statement).execute(&mut admin).await.unwrap();
    }
    json_of(issue().await.unwrap(), 201).await;
    let found = json_of(
        client
            .get(format!("{base}/api/v1/licences?per_page=1"))
            .bearer_auth(&server.admin_key)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(found["total"], 2, "the refused licence left nothing behind");
    let check = server.app.check_audit_log().await.unwrap();
    assert!(check.problem.is_none(), "{check:?}");
    server.app.close().await;
    admin.close().await.unwrap();
    drop_postgres(&url).await;
}

/// A small tmpfs mounted on a fresh directory, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts one of `size` (e.g. `64m`); `None` (after `test_needs::skip`) where this process
    /// may not mount (not root).
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|out| out.status.success());
        if !mounted {
            crate::test_needs::skip("permission to mount a tmpfs (root)");
            return None;
        }
        Some(SmallDisk { dir })
    }

    /// Bytes in use.
    fn used(&self) -> u64 {
        let out = Command::new("df")
            .args(["--block-size=1", "--output=used"])
            .arg(self.dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines().nth(1).unwrap().trim().parse().unwrap()
    }

    /// Grows or shrinks the disk to `bytes`.
    fn resize(&self, bytes: u64) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={bytes}")])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "remounting at {bytes} bytes");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// The SQLite database's disk fills up under the running service: issuing is answered with a
/// clear 503 problem, nothing is half-written, the database passes SQLite's integrity check,
/// and once there is room again the service goes on and the audit log checks out.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_gives_503_and_no_corruption_on_sqlite() {
    let Some(disk) = SmallDisk::mount("256m") else {
        return;
    };
    let data = disk.dir.path();
    let server = ServerProcess::start(data, None, None);
    let admin_key = server.admin_key.clone().unwrap();
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let key = register_department(&client, &base, &admin_key).await;
    let issue = || {
        client
            .post(format!("{base}/api/v1/licences"))
            .bearer_auth(&key)
            .json(&json!({"kind": "business_licence", "fields": business_licence_fields()}))
            .send()
    };
    let mut acknowledged = vec![json_of(issue().await.unwrap(), 201).await];

    // Leave room for a few licences, then issue until the disk is full.
    disk.resize(disk.used() + 1024 * 1024);
    let mut refused = None;
    for _ in 0..200 {
        let response = issue().await.unwrap();
        match response.status().as_u16() {
            201 => acknowledged.push(response.json().await.unwrap()),
            _ => {
                refused = Some(json_of(response, 503).await);
                break;
            }
        }
    }
    let refused = refused.expect("the disk never filled up");
    assert_eq!(refused["title"], "Storage unavailable", "{refused}");
    assert!(
        !refused.to_string().contains("full"),
        "database details stay in the log: {refused}"
    );
    eprintln!(
        "{} licences acknowledged before the disk was full",
        acknowledged.len()
    );
    // The log says why (its reader thread may be a moment behind the answer).
    let says_why = || {
        String::from_utf8_lossy(&server.log.lock().unwrap()).contains("database or disk is full")
    };
    for _ in 0..100 {
        if says_why() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        says_why(),
        "the log says why: {}",
        String::from_utf8_lossy(&server.log.lock().unwrap())
    );
    disk.resize(256 * 1024 * 1024);
    acknowledged.push(json_of(issue().await.unwrap(), 201).await);
    let found = json_of(
        client
            .get(format!("{base}/api/v1/licences?per_page=1"))
            .bearer_auth(&admin_key)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        found["total"],
        acknowledged.len(),
        "the refused licence left nothing behind"
    );
    for issued in &acknowledged {
        let id = issued["identifier"].as_str().unwrap();
        let answer = json_of(
            client
                .get(format!("{base}/api/v1/verify/licences/{id}"))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        assert_eq!(answer["genuine"], true, "{answer}");
    }
    server.kill();
    let integrity = Command::new("sqlite3")
        .arg(data.join("zhengyin.db"))
        .arg("PRAGMA integrity_check")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&integrity.stdout).trim(), "ok");
    assert_audit_check_passes(data, None);
}
