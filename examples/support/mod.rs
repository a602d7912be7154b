//! What the benchmark examples share: a fresh installation with one department, licence
//! fields for many distinct holders, issuing in batches, and statistics.

use std::path::PathBuf;
use std::sync::Arc;

use zhengyin::domain::CreditCode;
use zhengyin::service::{App, Config, NewDepartment, Principal};

/// A fresh SQLite installation in a temporary directory, with 厦门市市场监督管理局 registered.
pub struct Bench {
    /// The running application.
    pub app: Arc<App>,
    /// The department's principal.
    pub department: Principal,
    /// Scratch space, removed by [`Bench::finish`]; the installation is in its `data`.
    pub work: PathBuf,
}

impl Bench {
    /// Opens the installation under a directory named after `name` and the process.
    pub async fn start(name: &str) -> Bench {
        let work = std::env::temp_dir().join(format!("zhengyin-{name}-{}", std::process::id()));
        let config = Config::new(work.join("data"), "http://127.0.0.1:8080".into());
        let (app, _) = App::open(&config).await.expect("open installation");
        app.register_department(
            &App::local_admin(),
            NewDepartment {
                name: "厦门市市场监督管理局".into(),
                credit_code: "11350200MB0D00002U".into(),
                division_code: "350200".into(),
                seal_name: Some("行政审批专用章".into()),
                seal_code: Some("3502000012345".into()),
            },
        )
        .await
        .expect("register department");
        let department = app
            .local_department("11350200MB0D00002U")
            .await
            .expect("department");
        Bench {
            app,
            department,
            work,
        }
    }

    /// Closes the application and removes the scratch space.
    pub async fn finish(self) {
        self.app.close().await;
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

/// Issues a licence of `kind` for each of `rows` (field values) as `department`, in batches of
/// 250 with two in flight, as `zhengyin licence import` does; how many were issued.
pub async fn issue_in_batches(
    app: &Arc<App>,
    department: &Principal,
    kind: &str,
    rows: Vec<serde_json::Value>,
) -> usize {
    let mut rows = rows.into_iter();
    let mut running = tokio::task::JoinSet::new();
    let mut issued = 0;
    loop {
        while running.len() < 2 {
            let batch: Vec<serde_json::Value> = rows.by_ref().take(250).collect();
            if batch.is_empty() {
                break;
            }
            let (app, department, kind) = (Arc::clone(app), department.clone(), kind.to_string());
            running.spawn(async move {
                app.issue_licences(&department, &kind, None, batch)
                    .await
                    .expect("a batch")
            });
        }
        let Some(done) = running.join_next().await else {
            return issued;
        };
        issued += done
            .expect("batch task")
            .into_iter()
            .filter(Result::is_ok)
            .count();
    }
}

/// The `n`-th valid credit code after `prefix` (its first 8 to 15 characters): the rest of
/// the organisation code is `n` in decimal, its GB 11714 check character found by trying each,
/// and the code's own check character appended.
pub fn credit_code(prefix: &str, n: usize) -> String {
    let width = 16 - prefix.len();
    let n = n % 10usize.pow(width as u32);
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        .chars()
        .find_map(|c| CreditCode::complete(&format!("{prefix}{n:0width$}{c}")).ok())
        .expect("some organisation check character fits")
        .as_str()
        .to_string()
}

/// The fields of a business licence for the `n`-th holder (distinct for the first 100
/// million).
pub fn business_licence(n: usize) -> serde_json::Value {
    serde_json::json!({
        "credit_code": credit_code("91350203", n),
        "name": format!("厦门市鹭岛数字科技{n}号有限公司"),
        "entity_type": "有限责任公司(自然人投资或控股)",
        "legal_representative": "陈明辉",
        "business_scope": "一般项目:软件开发;信息技术咨询服务;数据处理和存储支持服务。",
        "registered_capital": (100_000 + n % 10_000_000).to_string(),
        "established_on": "2021-03-15",
        "address": format!("福建省厦门市思明区软件园二期观日路{}号", n % 500 + 1)
    })
}

/// The median of `times`.
pub fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Peak resident memory of this process so far, MiB.
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM")
}

/// Resident memory of this process now, MiB.
pub fn rss_mib() -> f64 {
    status_mib("VmRSS")
}

/// A memory figure of `/proc/self/status` (`VmHWM`, `VmRSS`), MiB.
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.strip_prefix(field).is_some_and(|l| l.starts_with(':')))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}
