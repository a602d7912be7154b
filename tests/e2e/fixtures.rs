//! The project's own input PDFs, made at test time so that every clone can run the tests: a
//! four-page notice with Chinese and Latin text rendered by our renderer, and from it one file
//! per trait the real-world corpus covers (encrypted with RC4-128, AES-128 and AES-256 with an
//! empty and a non-empty user password, cross-reference and object streams, a hybrid file, a
//! linearized one, several incremental updates, pages rotated 90° and 270°, crop boxes off the
//! media box, form fields, a file already signed by pyHanko, a broken cross-reference table),
//! derived by `tests/tools/make_fixtures.py` with qpdf, pypdf and pyHanko.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;
use zhengyin::pdf::font::NOTO_SERIF_SC;
use zhengyin::pdf::render::{Align, Document, Item, Page, Renderer, Rgb};

use crate::test_needs::{tool, venv_program};

/// A word that occurs once in the notice, on its first page, for keyword placement.
pub const LONE_WORD: &str = "Lorem";
/// The notice's title, on its first page.
pub const TITLE: &str = "关于推进电子证照互认互验工作的通知";

/// One generated file.
#[derive(Debug, Clone, Deserialize)]
pub struct Fixture {
    /// Its file name, e.g. `enc-aes-256-userpw.pdf`.
    pub file: String,
    /// Its traits, e.g. `encrypted`, `aes-256`, `user-password`.
    pub traits: Vec<String>,
    /// Its user password, when encrypted.
    pub password: Option<String>,
    /// Where it is.
    #[serde(skip)]
    pub path: PathBuf,
}

impl Fixture {
    /// Whether it has `trait_name`.
    pub fn has(&self, trait_name: &str) -> bool {
        self.traits.iter().any(|t| t == trait_name)
    }

    /// Its bytes.
    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }
}

/// Every fixture, made once per test process.
pub fn all() -> &'static [Fixture] {
    static MADE: OnceLock<Vec<Fixture>> = OnceLock::new();
    MADE.get_or_init(make)
}

/// The fixture named `file`.
pub fn named(file: &str) -> &'static Fixture {
    all()
        .iter()
        .find(|f| f.file == file)
        .unwrap_or_else(|| panic!("no fixture {file}"))
}

/// The first fixture with every one of `traits`.
pub fn with(traits: &[&str]) -> &'static Fixture {
    all()
        .iter()
        .find(|f| traits.iter().all(|t| f.has(t)))
        .unwrap_or_else(|| panic!("no fixture with {traits:?}"))
}

/// The plain notice: four pages, a classic cross-reference table, nothing else.
pub fn notice() -> Vec<u8> {
    named("plain.pdf").bytes()
}

/// Where the plain notice is.
pub fn notice_path() -> &'static Path {
    &named("plain.pdf").path
}

/// Where the fixtures are: a directory of the test build, made afresh by each test process.
fn directory() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fixtures-{}", std::process::id()))
}

fn make() -> Vec<Fixture> {
    let dir = directory();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.join("base.pdf");
    std::fs::write(&base, render_notice(4)).unwrap();
    let output = std::process::Command::new(venv_program("python"))
        .arg(tool("make_fixtures.py"))
        .arg(&base)
        .arg(&dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("make_fixtures.py runs");
    assert!(
        output.status.success(),
        "make_fixtures.py failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let listing = std::fs::read(dir.join("fixtures.json")).unwrap();
    let mut fixtures: Vec<Fixture> = serde_json::from_slice(&listing).unwrap();
    for fixture in &mut fixtures {
        fixture.path = dir.join(&fixture.file);
    }
    fixtures
}

/// The notice cut to its first page (one page cannot carry a cross-page seal).
pub fn one_page_notice() -> Vec<u8> {
    render_notice(1)
}

/// A notice of `pages` A4 pages in Chinese, with a Latin paragraph on the first page.
fn render_notice(pages: usize) -> Vec<u8> {
    let text = |x_mm, y_mm, size_pt, text: &str| Item::Text {
        x_mm,
        y_mm,
        size_pt,
        text: text.to_string(),
        color: Rgb(0, 0, 0),
        align: Align::Left,
        max_width_mm: Some(160.0),
        line_height: 1.6,
        letter_spacing_pt: 0.0,
    };
    let body = "各区人民政府，市直各部门：为落实“最多跑一次”改革，推进电子证照在政务服务中的\
                共享互认，凡是能通过网络核验的信息，不得要求办事人重复提供。现将有关事项通知如下。";
    let pages = (1..=pages)
        .map(|n| {
            let mut items = vec![text(25.0, 30.0, 11.0, &format!("第 {n} 页 共 {pages} 页"))];
            if n == 1 {
                items.push(text(25.0, 45.0, 18.0, TITLE));
                items.push(text(
                    25.0,
                    70.0,
                    11.0,
                    &format!("{LONE_WORD} ipsum dolor sit amet, consectetur adipiscing elit."),
                ));
            }
            items.push(text(25.0, 90.0, 12.0, body));
            items.push(text(
                25.0,
                200.0,
                12.0,
                &format!("{n}. 电子证照与纸质证照具有同等法律效力。"),
            ));
            Page {
                width_mm: 210.0,
                height_mm: 297.0,
                items,
            }
        })
        .collect();
    let document = Document {
        title: "电子证照互认互验通知".into(),
        pages,
        shared_text: String::new(),
    };
    Renderer::new(NOTO_SERIF_SC)
        .expect("the shipped font loads")
        .render(&document)
        .expect("the notice renders")
}
