//! Prints business licence fields for COUNT distinct holders as JSON Lines, the input of
//! `zhengyin licence import` for the bulk-issuing figures:
//!
//! ```text
//! cargo run --release --example licence_rows -- 20000 > rows.jsonl
//! DATABASE_URL=postgres://…/DB zhengyin licence import rows.jsonl --kind business_licence --dept CODE
//! ```
//!
//! `-- COUNT FIRST` starts at holder FIRST (default 0), to add rows to a library.

use std::io::Write;

#[path = "support/mod.rs"]
#[allow(dead_code)] // shared by the examples, each of which uses part of it
mod support;

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let count = match args.next() {
        Some(Ok(count)) => count,
        _ => {
            eprintln!("usage: licence_rows COUNT [FIRST]");
            std::process::exit(2);
        }
    };
    let first = args.next().and_then(Result::ok).unwrap_or(0);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for n in first..first + count {
        if writeln!(out, "{}", support::business_licence(n)).is_err() {
            std::process::exit(1);
        }
    }
    if out.flush().is_err() {
        std::process::exit(1);
    }
}
