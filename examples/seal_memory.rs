//! Measures the peak memory of `zhengyin seal` on a large PDF at the default level (PAdES B-T,
//! the built-in time-stamping authority). The target is a peak resident set under twice the
//! file's size.
//!
//! `cargo run --release --example seal_memory [-- IN.pdf [OUT.pdf]]`
//!
//! Without IN, writes a 50 MB image-heavy PDF first (41 A4 pages, each an uncompressed
//! 640×640 RGB image of pseudo-random pixels and a line of text; the same bytes every time) to
//! `$TMPDIR/zhengyin-seal-memory-50mb.pdf`, streaming it so that making it costs little
//! memory. OUT defaults to IN with `.sealed.pdf` in place of `.pdf`. A fresh installation with
//! one department is made in a temporary directory, then a child process runs the command line
//! on it (`zhengyin --data-dir D seal IN OUT --dept CODE`, through `zhengyin::cli` as the binary
//! does) and reports its peak resident set (VmHWM), so that neither making the installation
//! nor the test file counts. Prints the file's size, that peak and their ratio; the root
//! certificate is copied to OUT with `.root.pem` in place of `.pdf`, for
//! `../shared/validate/validate.sh OUT.root.pem OUT`.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::Parser;
use zhengyin::cli::Cli;

#[path = "support/mod.rs"]
#[allow(dead_code)] // shared by the examples, each of which uses part of it
mod support;

use support::{peak_rss_mib, Bench};

/// Pages of the generated file, and the side of each page's square image in pixels.
const PAGES: usize = 41;
const IMAGE_SIDE: usize = 640;
/// The first argument that makes this process the child running the command line.
const CHILD: &str = "zhengyin";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|first| first == CHILD) {
        // As `src/main.rs`, then the peak on stdout for the parent.
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .init();
        let code = zhengyin::cli::run(Cli::parse_from(&args)).await;
        println!("{}", peak_rss_mib());
        return code;
    }
    let input = args.first().map_or_else(
        || {
            let path = std::env::temp_dir().join("zhengyin-seal-memory-50mb.pdf");
            write_image_pdf(&path).expect("write the test PDF");
            path
        },
        PathBuf::from,
    );
    let output = args.get(1).map_or_else(
        || input.with_extension("").with_extension("sealed.pdf"),
        PathBuf::from,
    );
    let Bench { app, work, .. } = Bench::start("seal-memory").await;
    app.close().await;
    let data_dir = work.join("data");
    let child = Command::new(std::env::current_exe().expect("this program"))
        .arg(CHILD)
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("seal")
        .args([&input, &output])
        .args(["--dept", "11350200MB0D00002U"])
        .stderr(Stdio::inherit())
        .output()
        .expect("run the child");
    assert!(child.status.success(), "zhengyin seal failed");
    let peak: f64 = String::from_utf8_lossy(&child.stdout)
        .lines()
        .last()
        .and_then(|line| line.parse().ok())
        .expect("the child's peak");
    let root = output.with_extension("root.pem");
    std::fs::copy(data_dir.join("certs/root.pem"), &root).expect("copy the root certificate");
    let _ = std::fs::remove_dir_all(&work);

    let size = std::fs::metadata(&input).expect("input").len();
    let size_mib = size as f64 / (1024.0 * 1024.0);
    println!(
        "input:  {} ({size} bytes, {size_mib:.1} MiB)",
        input.display()
    );
    println!(
        "output: {} ({} bytes); root certificate: {}",
        output.display(),
        std::fs::metadata(&output).map_or(0, |m| m.len()),
        root.display()
    );
    println!(
        "peak RSS of `zhengyin seal` (VmHWM): {peak:.1} MiB = {:.2} × the file size",
        peak / size_mib
    );
    ExitCode::SUCCESS
}

/// Writes a PDF of [`PAGES`] pages, each showing a random-looking image and its page number,
/// one object at a time, with a classic cross-reference table.
fn write_image_pdf(path: &Path) -> std::io::Result<()> {
    let mut out = Counting {
        inner: BufWriter::new(File::create(path)?),
        written: 0,
    };
    let mut offsets = Vec::with_capacity(3 + 3 * PAGES);
    out.write_all(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n")?;
    let page_id = |page: usize| 4 + 3 * page;
    let kids: Vec<String> = (0..PAGES).map(|p| format!("{} 0 R", page_id(p))).collect();
    let mut object = |out: &mut Counting, id: usize, body: &[u8]| {
        offsets.push(out.written);
        writeln!(out, "{id} 0 obj")?;
        out.write_all(body)?;
        out.write_all(b"\nendobj\n")
    };
    object(&mut out, 1, b"<</Type/Catalog/Pages 2 0 R>>")?;
    let pages = format!("<</Type/Pages/Kids[{}]/Count {PAGES}>>", kids.join(" "));
    object(&mut out, 2, pages.as_bytes())?;
    object(
        &mut out,
        3,
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
    )?;
    // xorshift64: pixels that do not compress, the same in every run.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut pixels = vec![0u8; IMAGE_SIDE * IMAGE_SIDE * 3];
    for page in 0..PAGES {
        let id = page_id(page);
        let dict = format!(
            "<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents {} 0 R\
             /Resources<</Font<</F1 3 0 R>>/XObject<</Im0 {} 0 R>>>>>>",
            id + 1,
            id + 2
        );
        object(&mut out, id, dict.as_bytes())?;
        let content = format!(
            "q 495 0 0 495 50 250 cm /Im0 Do Q BT /F1 14 Tf 50 200 Td (Page {}) Tj ET",
            page + 1
        );
        let stream = format!(
            "<</Length {}>>\nstream\n{content}\nendstream",
            content.len()
        );
        object(&mut out, id + 1, stream.as_bytes())?;
        for chunk in pixels.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let mut image = format!(
            "<</Type/XObject/Subtype/Image/Width {IMAGE_SIDE}/Height {IMAGE_SIDE}\
             /ColorSpace/DeviceRGB/BitsPerComponent 8/Length {}>>\nstream\n",
            pixels.len()
        )
        .into_bytes();
        image.extend_from_slice(&pixels);
        image.extend_from_slice(b"\nendstream");
        object(&mut out, id + 2, &image)?;
    }
    let xref = out.written;
    write!(out, "xref\n0 {}\n0000000000 65535 f\r\n", offsets.len() + 1)?;
    for offset in &offsets {
        write!(out, "{offset:010} 00000 n\r\n")?;
    }
    write!(
        out,
        "trailer\n<</Size {}/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n",
        offsets.len() + 1
    )?;
    out.inner.flush()
}

/// A writer that counts what it writes, for the cross-reference offsets.
struct Counting {
    inner: BufWriter<File>,
    written: usize,
}

impl Write for Counting {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
