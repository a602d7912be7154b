//! `zhengyin licence import`: issues many licences of one kind from a CSV file (a header row
//! of field keys; list fields as one cell with items separated by ；) or a JSON Lines file (one
//! JSON object of fields per line), with a progress bar.
//!
//! Rows are issued in batches of [`BATCH`], each batch rendered and sealed on every core and
//! stored in one transaction, so nothing is half-written; two batches are in flight, so one is
//! stored while the next renders. A row that fails is reported with its line number and the
//! rest go on. Every issued row is appended to a state file beside the input
//! (`FILE.imported`: line number, tab, identifier), and rows listed there are skipped, so an
//! interrupted run resumes where it stopped. (A crash between a batch's commit and its state
//! lines would issue that batch's rows again on resume.) At the end the database's planner
//! statistics are refreshed, so that searches plan for the library as it now is.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};
use tokio::task::JoinSet;

use super::describe;
use crate::service::{App, Principal, ServiceError};

/// One row of the input: where it is, and its fields.
struct Row {
    /// 1-based line number in the file.
    line: u64,
    fields: Value,
}

/// The state file of an input file.
fn state_path(input: &Path) -> PathBuf {
    let mut name = input.as_os_str().to_owned();
    name.push(".imported");
    PathBuf::from(name)
}

/// The rows of a `.csv` or `.jsonl` file, read one at a time, so that a file of millions of
/// rows is never held in memory.
fn read_rows(input: &Path) -> Result<Box<dyn Iterator<Item = Result<Row, String>>>, String> {
    let shown = input.display().to_string();
    match input.extension().and_then(|e| e.to_str()) {
        Some("csv") => {
            let mut reader = csv::Reader::from_path(input).map_err(|e| format!("{shown}: {e}"))?;
            let headers = reader
                .headers()
                .map_err(|e| format!("{shown}: header row: {e}"))?
                .clone();
            Ok(Box::new(reader.into_records().map(move |record| {
                let record = record.map_err(|e| format!("{shown}: {e}"))?;
                let line = record.position().map_or(0, |p| p.line());
                let fields: Map<String, Value> = headers
                    .iter()
                    .zip(record.iter())
                    .filter(|(_, value)| !value.trim().is_empty())
                    .map(|(key, value)| (key.trim().to_string(), Value::String(value.to_string())))
                    .collect();
                Ok(Row {
                    line,
                    fields: Value::Object(fields),
                })
            })))
        }
        Some("jsonl") => {
            let file = std::fs::File::open(input).map_err(|e| format!("{shown}: {e}"))?;
            let lines = std::io::BufReader::new(file).lines().enumerate();
            Ok(Box::new(lines.filter_map(move |(index, text)| {
                let line = index as u64 + 1;
                let text = match text {
                    Ok(text) if text.trim().is_empty() => return None,
                    Ok(text) => text,
                    Err(e) => return Some(Err(format!("{shown}: line {line}: {e}"))),
                };
                Some(
                    serde_json::from_str(&text)
                        .map(|fields| Row { line, fields })
                        .map_err(|e| format!("{shown}: line {line}: not JSON: {e}")),
                )
            })))
        }
        _ => Err(format!("{shown}: give a .csv or a .jsonl file")),
    }
}

/// Rows issued (and committed) together: large enough that the commit and the per-batch
/// work are a small share, small enough that a failed batch is quickly redone.
const BATCH: usize = 250;
/// Batches in flight: one is stored while the next renders.
const BATCHES_IN_FLIGHT: usize = 2;

/// Line numbers already imported, from the state file.
fn imported_lines(state: &Path) -> Result<HashSet<u64>, String> {
    match std::fs::read_to_string(state) {
        Ok(text) => Ok(text
            .lines()
            .filter_map(|l| l.split('\t').next()?.parse().ok())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashSet::new()),
        Err(e) => Err(format!("{}: {e}", state.display())),
    }
}

/// Imports `input` as licences of `kind` issued by `principal`; exit code 0 if every row is
/// issued (now or before), 1 if some failed.
pub async fn run(
    app: &Arc<App>,
    principal: &Principal,
    input: &Path,
    kind: &str,
    seal_id: Option<String>,
) -> Result<ExitCode, String> {
    let state = state_path(input);
    let done = imported_lines(&state)?;
    // A first reading checks that every row is readable, so a malformed file issues nothing,
    // and counts the rows to issue; the second feeds the batches.
    let mut to_issue = 0u64;
    for row in read_rows(input)? {
        to_issue += u64::from(!done.contains(&row?.line));
    }
    let mut rows =
        read_rows(input)?.filter(|row| row.as_ref().map_or(true, |r| !done.contains(&r.line)));
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&state)
        .map(std::io::BufWriter::new)
        .map_err(|e| format!("{}: {e}", state.display()))?;
    let bar = ProgressBar::new(to_issue);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} licences, {per_sec}, {eta} left")
            .map_err(|e| e.to_string())?,
    );
    let (mut issued_count, mut failed) = (0u64, 0u64);
    let mut stopped = None;
    let mut running = JoinSet::new();
    loop {
        // After a failure of the whole batch no new batch starts and the running ones finish.
        while stopped.is_none() && running.len() < BATCHES_IN_FLIGHT {
            let batch = rows
                .by_ref()
                .take(BATCH)
                .collect::<Result<Vec<Row>, String>>()?;
            if batch.is_empty() {
                break;
            }
            let (app, principal, kind, seal_id) = (
                Arc::clone(app),
                principal.clone(),
                kind.to_string(),
                seal_id.clone(),
            );
            running.spawn(async move {
                let (lines, fields): (Vec<u64>, Vec<Value>) =
                    batch.into_iter().map(|row| (row.line, row.fields)).unzip();
                let issued = app
                    .issue_licences(&principal, &kind, seal_id.as_deref(), fields)
                    .await;
                (lines, issued)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (lines, issued) = joined.map_err(|e| format!("an import task failed: {e}"))?;
        let results = match issued {
            Ok(results) => results,
            Err(e) => {
                let first = lines.first().copied().unwrap_or_default();
                stopped.get_or_insert(format!("the batch from line {first}: {}", describe(&e)));
                continue;
            }
        };
        for (line, result) in lines.into_iter().zip(results) {
            match result {
                Ok(licence) => {
                    writeln!(log, "{line}\t{}", licence.identifier)
                        .map_err(|e| format!("{}: {e}", state.display()))?;
                    issued_count += 1;
                }
                // Not the row's fault (storage, a defect, the time-stamping authority): stop,
                // and leave the row to a later run.
                Err(
                    e @ (ServiceError::Unavailable(_)
                    | ServiceError::Internal(_)
                    | ServiceError::Upstream(_)),
                ) => {
                    stopped.get_or_insert(format!("line {line}: {}", describe(&e)));
                }
                Err(e) => {
                    bar.suspend(|| eprintln!("line {line}: {}", describe(&e)));
                    failed += 1;
                }
            }
            bar.inc(1);
        }
        log.flush()
            .map_err(|e| format!("{}: {e}", state.display()))?;
    }
    if issued_count > 0 {
        if let Err(e) = app.refresh_statistics().await {
            eprintln!(
                "could not refresh the database's statistics: {}",
                describe(&e)
            );
        }
    }
    if let Some(reason) = stopped {
        bar.abandon();
        return Err(format!(
            "{reason}; stopped after issuing {issued_count} (run again to resume)"
        ));
    }
    bar.finish_and_clear();
    eprintln!(
        "issued {issued_count}, skipped {} already imported, failed {failed} (state: {})",
        done.len(),
        state.display()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
