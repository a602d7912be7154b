//! The verification web page in a real browser: headless Chromium driven through chromedriver's
//! W3C WebDriver HTTP API. Uploads a sealed PDF, a tampered copy, a licence and a non-PDF, opens
//! a licence's QR-code URL and uses the licence form; screenshots go to the evidence directory
//! (`test_needs::evidence_dir`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{issue_business_licence, licence_pdf, register, tamper, Server};

/// How long to wait for chromedriver to answer or a page to change: generous, for a busy
/// machine; a working browser answers within a second.
const PATIENCE: Duration = Duration::from_secs(60);
/// The W3C web element identifier: the key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver child process in its own process group with its own `TMPDIR` (where Chromium
/// keeps its profile): on drop the group is killed and the directory removed.
struct Chromedriver {
    child: Child,
    _tmp: tempfile::TempDir,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// The first of `candidates` that exists; fails the test (never skips) when none does.
fn installed(candidates: &[&str]) -> PathBuf {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .unwrap_or_else(|| {
            panic!(
                "none of {candidates:?} exists: install Chromium with \
                 `apt-get install -y chromium chromium-driver` (see .ci/run)"
            )
        })
}

/// One WebDriver session in headless Chromium.
struct WebDriver {
    http: reqwest::Client,
    /// `{chromedriver}/session/{id}`.
    session: String,
    _driver: Chromedriver,
}

impl WebDriver {
    /// Starts chromedriver on a free port and opens a headless session, retrying for up to ten
    /// seconds while chromedriver starts listening.
    async fn start() -> WebDriver {
        let driver = installed(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
        let binary = installed(&["/usr/bin/chromium", "/usr/lib/chromium/chromium"]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let tmp = tempfile::tempdir().unwrap();
        let mut command = Command::new(driver);
        command
            .arg(format!("--port={port}"))
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = Chromedriver {
            child: command.spawn().expect("chromedriver starts"),
            _tmp: tmp,
        };
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1600"]
            }
        }}});
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + PATIENCE;
        let response = loop {
            match http
                .post(format!("{base}/session"))
                .json(&capabilities)
                .send()
                .await
            {
                Ok(response) => break response.json::<Value>().await.unwrap(),
                Err(e) if Instant::now() > deadline => panic!("chromedriver not answering: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        let id = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {response}"));
        WebDriver {
            session: format!("{base}/session/{id}"),
            http,
            _driver: driver,
        }
    }

    /// Sends one command; the answer's `value`, or its `value` as the error.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let ok = response.status().is_success();
        let mut answer: Value = response.json().await.unwrap();
        let value = answer["value"].take();
        if ok {
            Ok(value)
        } else {
            Err(value)
        }
    }

    /// [`WebDriver::call`] that fails the test on a WebDriver error.
    async fn command(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        match self.call(method, path, body).await {
            Ok(value) => value,
            Err(error) => panic!("WebDriver {path}: {error}\n{}", self.source().await),
        }
    }

    /// The current page's HTML, for failure messages.
    async fn source(&self) -> String {
        match self.call(Method::GET, "/source", None).await {
            Ok(Value::String(html)) => html,
            other => format!("(no page source: {other:?})"),
        }
    }

    /// Navigates to `url` and waits for the page to load.
    async fn goto(&self, url: &str) {
        self.command(Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The element matching the CSS selector `css`; fails the test when there is none.
    async fn find(&self, css: &str) -> String {
        let query = json!({"using": "css selector", "value": css});
        let found = self.command(Method::POST, "/element", Some(query)).await;
        found[ELEMENT].as_str().unwrap().to_string()
    }

    /// Like [`WebDriver::find`], polling for up to [`PATIENCE`] while the page changes.
    async fn wait_for(&self, css: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        let query = json!({"using": "css selector", "value": css});
        loop {
            if let Ok(found) = self
                .call(Method::POST, "/element", Some(query.clone()))
                .await
            {
                return found[ELEMENT].as_str().unwrap().to_string();
            }
            if Instant::now() > deadline {
                panic!(
                    "no {css} within {PATIENCE:?}; the page is:\n{}",
                    self.source().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An attribute of an element (empty when absent).
    async fn attribute(&self, element: &str, name: &str) -> String {
        let path = format!("/element/{element}/attribute/{name}");
        let value = self.command(Method::GET, &path, None).await;
        value.as_str().unwrap_or_default().to_string()
    }

    /// The rendered text of an element.
    async fn text(&self, element: &str) -> String {
        let path = format!("/element/{element}/text");
        let value = self.command(Method::GET, &path, None).await;
        value.as_str().unwrap().to_string()
    }

    /// Clicks an element.
    async fn click(&self, element: &str) {
        let path = format!("/element/{element}/click");
        self.command(Method::POST, &path, Some(json!({}))).await;
    }

    /// Types `text` into an element; for a file input, `text` is the path of the file to upload.
    async fn send_keys(&self, element: &str, text: &str) {
        let path = format!("/element/{element}/value");
        self.command(Method::POST, &path, Some(json!({"text": text})))
            .await;
    }

    /// Saves a PNG of the viewport as `name` in the evidence directory.
    async fn screenshot(&self, name: &str) {
        let png = self.command(Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::write(crate::test_needs::evidence_dir("browser").join(name), png).unwrap();
    }

    /// Uploads `file` with the PDF form on `/verify`; the verdict element and its `data-verdict`.
    async fn upload(&self, base: &str, file: &Path) -> (String, String) {
        self.goto(&format!("{base}/verify")).await;
        let input = self.find("#file").await;
        self.send_keys(&input, file.to_str().unwrap()).await;
        self.click(&self.find("#verify-submit").await).await;
        let verdict = self.wait_for("#verdict").await;
        let slug = self.attribute(&verdict, "data-verdict").await;
        (verdict, slug)
    }
}

/// Issues a business licence and seals a corpus PDF over the API, then checks what the web page
/// shows for each in Chromium.
#[tokio::test(flavor = "multi_thread")]
async fn verification_page_in_a_browser() {
    let server = Server::start(None).await;
    let client = reqwest::Client::new();
    let work = tempfile::tempdir().unwrap();
    let department = register(
        &client,
        &server,
        "厦门市市场监督管理局",
        "11350200MB0D00002U",
    )
    .await;
    let key = department["api_key"].as_str().unwrap();

    let identifier = issue_business_licence(&client, &server, key).await;
    let licence = work.path().join("licence.pdf");
    std::fs::write(
        &licence,
        licence_pdf(&client, &server, key, &identifier).await,
    )
    .unwrap();

    let response = client
        .post(format!("{}/api/v1/seal", server.base))
        .bearer_auth(key)
        .body(crate::fixtures::notice())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let sealed = work.path().join("sealed.pdf");
    std::fs::write(&sealed, response.bytes().await.unwrap()).unwrap();
    let tampered = tamper(&sealed, &work.path().join("tampered.pdf"));
    let not_pdf = work.path().join("notes.txt");
    std::fs::write(&not_pdf, "这不是 PDF 文件\n").unwrap();

    let browser = WebDriver::start().await;
    let base = server.base.as_str();

    // The sealed document: valid, with the department and the seal picture.
    let (verdict, slug) = browser.upload(base, &sealed).await;
    let words = browser.text(&verdict).await;
    assert_eq!(slug, "valid", "{words}");
    assert!(words.contains("印章有效"), "{words}");
    let organisation = browser.text(&browser.find("dd.organisation").await).await;
    assert!(
        organisation.contains("厦门市市场监督管理局"),
        "{organisation}"
    );
    browser.find(".seal svg").await;
    browser.screenshot("verify-valid.png").await;

    // One byte flipped: broken.
    let (verdict, slug) = browser.upload(base, &tampered).await;
    let words = browser.text(&verdict).await;
    assert_eq!(slug, "broken", "{words}");
    assert!(words.contains("印章无效"), "{words}");
    browser.screenshot("verify-broken.png").await;

    // The licence PDF is valid and recognised as that licence.
    let (_, slug) = browser.upload(base, &licence).await;
    assert_eq!(slug, "valid");
    let shown = browser.text(&browser.find("#identifier").await).await;
    assert_eq!(shown, identifier);

    // The URL in the licence's QR code.
    browser
        .goto(&format!("{base}/verify/licences/{identifier}"))
        .await;
    let verdict = browser.wait_for("#verdict").await;
    assert_eq!(browser.attribute(&verdict, "data-verdict").await, "valid");
    assert_eq!(browser.text(&browser.find("#status").await).await, "有效");
    let shown = browser.text(&browser.find("#identifier").await).await;
    assert_eq!(shown, identifier);
    browser.screenshot("licence.png").await;

    // The licence form on /verify gives the same answer.
    browser.goto(&format!("{base}/verify")).await;
    browser
        .send_keys(&browser.find("#licence-id").await, &identifier)
        .await;
    browser.click(&browser.find("#licence-submit").await).await;
    let verdict = browser.wait_for("#verdict").await;
    assert_eq!(browser.attribute(&verdict, "data-verdict").await, "valid");
    let shown = browser.text(&browser.find("#identifier").await).await;
    assert_eq!(shown, identifier);

    // Not a PDF: an HTML error page with the form again, not JSON.
    let (verdict, slug) = browser.upload(base, &not_pdf).await;
    let words = browser.text(&verdict).await;
    assert_eq!(slug, "error", "{words}");
    assert!(words.contains("无法核验"), "{words}");
    browser.find("#file").await;
    browser.screenshot("verify-error.png").await;
}
