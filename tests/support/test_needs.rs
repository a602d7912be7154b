//! What a test needs from outside the project, and what happens when it is missing.
//!
//! The real-world material in `../shared` beside the checkout (the corpus of PDFs, interop
//! documents, the OFD checker) and the infrastructure some tests use (PostgreSQL, a tmpfs)
//! are extras: a clone without them still runs every other test. Outside CI a test whose need
//! is missing says so in one line and passes without asserting anything; under `CI=true`
//! the same absence fails the test, so CI can never be green for tests it did not run.
//!
//! Compiled into the unit tests (`src/lib.rs`) and the end-to-end tests (`tests/e2e`).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Whether this is CI's run (`CI=true`), where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// The calling test cannot run (in whole or in part) without `missing`: under CI this panics;
/// elsewhere it writes `SKIPPED in <test>: what needs <missing>` straight to the process's
/// stderr (past the test harness's capture, so the line shows in the run's output) and the
/// caller leaves out what needs it.
pub fn skip(missing: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    assert!(
        !in_ci(),
        "{test} needs {missing}, and CI (CI=true) runs every test"
    );
    let _ = writeln!(std::io::stderr(), "SKIPPED in {test}: what needs {missing}");
}

/// The project's own directory (the checkout).
pub fn project_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/<path>` beside the checkout, or `None` after [`skip`] when it is not there.
pub fn shared(path: &str) -> Option<PathBuf> {
    let full = project_dir().join("../shared").join(path);
    if full.exists() {
        Some(full)
    } else {
        skip(&format!(
            "{} (the shared real-world material)",
            full.display()
        ));
        None
    }
}

/// The bytes of `../shared/corpus/<name>`, or `None` after [`skip`].
pub fn corpus(name: &str) -> Option<Vec<u8>> {
    let path = shared(&format!("corpus/{name}"))?;
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// One of the project's own test tools in `tests/tools`.
pub fn tool(name: &str) -> PathBuf {
    project_dir().join("tests/tools").join(name)
}

/// Where `scripts/install-test-tools.sh` puts its virtual environments.
pub fn tools_home() -> PathBuf {
    if let Some(home) = std::env::var_os("ZHENGYIN_TEST_TOOLS") {
        return PathBuf::from(home);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("zhengyin-test-tools")
}

/// A program of the test tools' virtual environment (`python`, `pyhanko`).
pub fn venv_program(name: &str) -> PathBuf {
    installed(tools_home().join("venv/bin").join(name))
}

/// The `schemathesis` command, installed in a virtual environment of its own.
pub fn schemathesis_program() -> PathBuf {
    installed(tools_home().join("schemathesis-venv/bin/schemathesis"))
}

fn installed(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-test-tools.sh (the README's test command does)",
        path.display()
    );
    path
}

/// Where tests leave what a person may want to look at (rendered pages, screenshots, the
/// agreement table): `$ZHENGYIN_EVIDENCE_DIR/<name>`, or by default a directory of this test
/// process's own under the system's temporary directory, so that two checkouts testing at
/// once never write into each other's files.
pub fn evidence_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("ZHENGYIN_EVIDENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("zhengyin-evidence-{}", std::process::id()))
        });
    let dir = base.join(name);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}
