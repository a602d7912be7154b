//! The command line: `serve`, and the same operations as the API for an operator of this
//! installation (who holds its data directory and so acts as administrator).

mod import;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::domain::TimeZone;
use crate::licence::credential;
use crate::pki::chain::CertificateSet;
use crate::server;
use crate::service::{
    App, Config, FirstRun, HolderIssuer, HolderTokenRequest, IssueRequest, NewDepartment, NewSeal,
    Placement, Principal, Receipt, SealRequest,
};

/// Where the first run leaves the admin API key when stderr is not a terminal.
pub const ADMIN_KEY_FILE: &str = "admin.key";

/// zhengyin (证印): electronic licences and electronic seals.
#[derive(Debug, Parser)]
#[command(name = "zhengyin", version, about)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// Data directory: SQLite database, master key, public certificates
    /// [default: $XDG_DATA_HOME/zhengyin or ~/.local/share/zhengyin, outside any checkout].
    #[arg(long, env = "ZHENGYIN_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL (`postgres://…`); SQLite in the data directory when absent.
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Public base URL, printed into licence QR codes.
    #[arg(
        long,
        env = "ZHENGYIN_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    public_url: String,
    /// `iss` of an external identity provider whose ES256 JWTs (`sub` = credit code or ID
    /// number) sign holders in, besides this installation's own holder tokens.
    #[arg(
        long,
        env = "ZHENGYIN_HOLDER_ISSUER",
        global = true,
        requires = "holder_key"
    )]
    holder_issuer: Option<String>,
    /// That provider's signing key: a PEM file with its P-256 `PUBLIC KEY`.
    #[arg(
        long,
        env = "ZHENGYIN_HOLDER_KEY",
        global = true,
        requires = "holder_issuer"
    )]
    holder_key: Option<PathBuf>,
    /// The `aud` that provider's tokens carry, if any.
    #[arg(long, env = "ZHENGYIN_HOLDER_AUDIENCE", global = true)]
    holder_audience: Option<String>,
    /// An external RFC 3161 time-stamping authority (`http://…`) for seals, instead of the
    /// built-in one.
    #[arg(long, env = "ZHENGYIN_TSA_URL", global = true)]
    tsa_url: Option<String>,
    /// The administrative time zone in which licence dates are counted: `Asia/Shanghai`, `UTC`
    /// or an offset such as `+08:00`.
    #[arg(
        long,
        env = "ZHENGYIN_TIME_ZONE",
        default_value = "Asia/Shanghai",
        global = true
    )]
    time_zone: TimeZone,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the HTTP service (initialises a new data directory on first run).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ZHENGYIN_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Check a licence QR code offline, with no service and no database: its signature against
    /// a certificate bundle fetched beforehand from `GET /api/v1/certificates`. Prints the
    /// signed facts as JSON; exit 1 if the code does not check out.
    VerifyQr {
        /// The QR code's text; or give --image.
        #[arg(required_unless_present = "image", conflicts_with = "image")]
        text: Option<String>,
        /// A PNG photo or screenshot of the QR code.
        #[arg(long)]
        image: Option<PathBuf>,
        /// The PEM bundle of root and seal certificates.
        #[arg(long)]
        certs: PathBuf,
    },
    /// Check an audit receipt offline: the tree head is signed by the log key under a root in
    /// the bundle and the proof leads from the entry to it; with --file, the entry's digest is
    /// the file's SHA-256. Prints the logged entry as JSON; exit 1 if it does not check out.
    VerifyReceipt {
        /// The receipt (JSON of `GET /api/v1/audit/receipt`).
        receipt: PathBuf,
        /// The PEM bundle of root certificates (`GET /api/v1/certificates`).
        #[arg(long)]
        certs: PathBuf,
        /// The issued licence or sealed PDF the entry is about.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Commands on this installation (its data directory and database).
    #[command(flatten)]
    Installation(InstallationCommand),
}

/// What works on an installation, opened (or initialised) first.
#[derive(Debug, Subcommand)]
enum InstallationCommand {
    /// Departments.
    Dept {
        #[command(subcommand)]
        command: DeptCommand,
    },
    /// Licences.
    Licence {
        #[command(subcommand)]
        command: LicenceCommand,
    },
    /// Stamp a PDF with a department's seal (an incremental PAdES signature with the visible
    /// impression).
    Seal {
        /// The PDF to stamp.
        input: PathBuf,
        /// Where to write the stamped PDF.
        output: PathBuf,
        /// Seal id (its department stamps); or give --dept for that department's first seal.
        #[arg(long = "seal", required_unless_present = "dept")]
        seal_id: Option<String>,
        /// Credit code of the stamping department.
        #[arg(long)]
        dept: Option<String>,
        /// 1-based page (default: the last).
        #[arg(long)]
        page: Option<usize>,
        /// Centre, millimetres from the left of the displayed page.
        #[arg(long = "x", requires = "y_mm")]
        x_mm: Option<f32>,
        /// Centre, millimetres from the top of the displayed page.
        #[arg(long = "y", requires = "x_mm")]
        y_mm: Option<f32>,
        /// Centre the seal on the last place this text appears (on --page, if given), e.g. the
        /// department's name under the text.
        #[arg(long, conflicts_with_all = ["x_mm", "cross_page"])]
        keyword: Option<String>,
        /// A cross-page seal (骑缝章): one slice of the impression on the right edge of every
        /// page.
        #[arg(long, conflicts_with_all = ["page", "x_mm"])]
        cross_page: bool,
        /// User password of an encrypted PDF.
        #[arg(long, env = "ZHENGYIN_PDF_PASSWORD")]
        password: Option<String>,
        /// PAdES level: B-B, B-T (time-stamped by the built-in authority), B-LT (plus
        /// validation data) or B-LTA (plus a document time-stamp).
        #[arg(long, default_value = "B-T")]
        level: crate::seal::SealLevel,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Holders (持证主体).
    Holder {
        #[command(subcommand)]
        command: HolderCommand,
    },
    /// Verify the seals on a PDF against this installation's root and the registered foreign
    /// roots; prints the JSON report; exit 1 if any seal is not valid.
    Verify {
        /// The PDF.
        file: PathBuf,
        /// User password of an encrypted PDF.
        #[arg(long, env = "ZHENGYIN_PDF_PASSWORD")]
        password: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum DeptCommand {
    /// Register a department with its first seal; prints its API key once.
    Add {
        /// Name, e.g. 厦门市市场监督管理局.
        #[arg(long)]
        name: String,
        /// Unified social credit code.
        #[arg(long)]
        credit_code: String,
        /// Administrative division code (6 digits).
        #[arg(long)]
        division_code: String,
        /// Seal name, e.g. 行政审批专用章.
        #[arg(long)]
        seal_name: Option<String>,
        /// 13-digit seal code.
        #[arg(long)]
        seal_code: Option<String>,
    },
    /// Register another seal for a department, e.g. a square name seal:
    /// `--shape square --person-name 张三`; prints the seal.
    AddSeal {
        /// Credit code of the department.
        #[arg(long)]
        dept: String,
        /// Seal name, e.g. 合同专用章 or 法定代表人名章.
        #[arg(long)]
        name: Option<String>,
        /// Outline: round (default), square or oval.
        #[arg(long, value_parser = ["round", "square", "oval"])]
        shape: Option<String>,
        /// The person of a square or oval name seal.
        #[arg(long)]
        person_name: Option<String>,
        /// 13-digit seal code.
        #[arg(long)]
        code: Option<String>,
    },
    /// List a department's seals.
    Seals {
        /// Credit code of the department.
        #[arg(long)]
        dept: String,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the audit log's Merkle tree from the database and compare it with what the
    /// log key signed; prints the result as JSON and names the first entry altered, removed or
    /// reordered (exit 1).
    Check,
}

#[derive(Debug, Subcommand)]
enum HolderCommand {
    /// Issue a holder token (as the identity provider would after login); prints it as JSON.
    Token {
        /// The holder's credit code or ID number.
        holder_code: String,
        /// Hours until it expires.
        #[arg(long, default_value_t = 8)]
        hours: i64,
    },
}

#[derive(Debug, Subcommand)]
enum LicenceCommand {
    /// Issue many licences of one kind from a CSV (header row of field keys) or JSON Lines
    /// file as a department; failed rows are reported by line number, and a run resumes where
    /// it stopped (state in FILE.imported). Exit 1 if a row failed.
    Import {
        /// The `.csv` or `.jsonl` file.
        file: PathBuf,
        /// Licence kind, e.g. `food_business_permit`.
        #[arg(long)]
        kind: String,
        /// Credit code of the issuing department.
        #[arg(long)]
        dept: String,
        /// Seal to sign with (default: the department's first).
        #[arg(long = "seal")]
        seal_id: Option<String>,
    },
    /// Issue a licence from a JSON file `{"kind": …, "fields": {…}}` as a department.
    Issue {
        /// The request file.
        #[arg(long)]
        json: PathBuf,
        /// Credit code of the issuing department.
        #[arg(long)]
        dept: String,
        /// Where to write the signed PDF.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs the command line and returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    match execute(cli).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

async fn execute(cli: Cli) -> Result<ExitCode, String> {
    let command = match cli.command {
        Command::VerifyQr { text, image, certs } => {
            return verify_qr_offline(text.as_deref(), image.as_deref(), &certs)
        }
        Command::VerifyReceipt {
            receipt,
            certs,
            file,
        } => return verify_receipt_offline(&receipt, &certs, file.as_deref()),
        Command::Serve { listen } => return serve(&config(cli.global)?, &listen).await,
        Command::Installation(command) => command,
    };
    let config = config(cli.global)?;
    let (app, first_run) = App::open(&config).await.map_err(|e| describe(&e))?;
    announce(&config, &first_run)?;
    let result = match command {
        InstallationCommand::Dept {
            command:
                DeptCommand::Add {
                    name,
                    credit_code,
                    division_code,
                    seal_name,
                    seal_code,
                },
        } => {
            let new = NewDepartment {
                name,
                credit_code,
                division_code,
                seal_name,
                seal_code,
            };
            let registered = app
                .register_department(&App::local_admin(), new)
                .await
                .map_err(|e| describe(&e))?;
            print_json(&registered)
        }
        InstallationCommand::Dept {
            command:
                DeptCommand::AddSeal {
                    dept,
                    name,
                    shape,
                    person_name,
                    code,
                },
        } => {
            let department_id = department_id(&app, &dept).await?;
            let shape = shape
                .map(|s| serde_json::from_value(serde_json::Value::String(s)))
                .transpose()
                .map_err(|e| format!("--shape: {e}"))?;
            let new = NewSeal {
                name,
                shape,
                person_name,
                code,
            };
            let seal = app
                .add_seal(&App::local_admin(), &department_id, new)
                .await
                .map_err(|e| describe(&e))?;
            print_json(&seal)
        }
        InstallationCommand::Dept {
            command: DeptCommand::Seals { dept },
        } => {
            let department_id = department_id(&app, &dept).await?;
            let seals = app
                .seals(&App::local_admin(), &department_id)
                .await
                .map_err(|e| describe(&e))?;
            print_json(&seals)
        }
        InstallationCommand::Licence {
            command:
                LicenceCommand::Import {
                    file,
                    kind,
                    dept,
                    seal_id,
                },
        } => {
            let principal = app
                .local_department(&dept)
                .await
                .map_err(|e| describe(&e))?;
            import::run(&app, &principal, &file, &kind, seal_id).await
        }
        InstallationCommand::Licence {
            command: LicenceCommand::Issue { json, dept, out },
        } => {
            let text =
                std::fs::read_to_string(&json).map_err(|e| format!("{}: {e}", json.display()))?;
            let request: IssueRequest =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))?;
            let principal = app
                .local_department(&dept)
                .await
                .map_err(|e| describe(&e))?;
            let issued = app
                .issue_licence(&principal, request)
                .await
                .map_err(|e| describe(&e))?;
            if let Some(out) = out {
                let (_, pdf) = app
                    .licence_pdf(Some(&principal), &issued.identifier, None)
                    .await
                    .map_err(|e| describe(&e))?;
                std::fs::write(&out, pdf).map_err(|e| format!("{}: {e}", out.display()))?;
            }
            print_json(&issued)
        }
        InstallationCommand::Audit {
            command: AuditCommand::Check,
        } => {
            let check = app.check_audit_log().await.map_err(|e| describe(&e))?;
            print_json(&check)?;
            Ok(if check.problem.is_none() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        InstallationCommand::Holder {
            command: HolderCommand::Token { holder_code, hours },
        } => {
            let request = HolderTokenRequest {
                holder_code,
                hours: Some(hours),
            };
            let token = app
                .issue_holder_token(&App::local_admin(), request)
                .await
                .map_err(|e| describe(&e))?;
            print_json(&token)
        }
        InstallationCommand::Seal {
            input,
            output,
            seal_id,
            dept,
            page,
            x_mm,
            y_mm,
            keyword,
            cross_page,
            password,
            level,
        } => {
            let pdf = std::fs::read(&input).map_err(|e| format!("{}: {e}", input.display()))?;
            let principal = match (&dept, &seal_id) {
                (Some(dept), _) => app.local_department(dept).await,
                (None, Some(seal_id)) => app.local_department_of_seal(seal_id).await,
                (None, None) => return Err("give --seal ID or --dept CREDIT_CODE".into()),
            }
            .map_err(|e| describe(&e))?;
            let request = SealRequest {
                seal_id,
                placement: Placement {
                    page,
                    x_mm,
                    y_mm,
                    keyword,
                    cross_page,
                },
                password,
                level,
            };
            let sealed = app
                .seal_document(&principal, pdf, request)
                .await
                .map_err(|e| describe(&e))?;
            std::fs::File::create(&output)
                .and_then(|file| sealed.pdf.write_to(file))
                .map_err(|e| format!("{}: {e}", output.display()))?;
            eprintln!("sealed {} → {}", input.display(), output.display());
            Ok(ExitCode::SUCCESS)
        }
        InstallationCommand::Verify { file, password } => {
            let pdf = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let verification = app
                .verify_pdf(None, pdf, password)
                .await
                .map_err(|e| describe(&e))?;
            print_json(&verification)?;
            if verification.valid {
                eprintln!("VALID: {}", verification.summary);
                Ok(ExitCode::SUCCESS)
            } else {
                let reasons: Vec<String> = verification
                    .signatures
                    .iter()
                    .flat_map(|s| s.report.problems.clone())
                    .collect();
                eprintln!(
                    "NOT VALID: {}",
                    if reasons.is_empty() {
                        "the file carries no seal".to_string()
                    } else {
                        reasons.join("; ")
                    }
                );
                Ok(ExitCode::from(1))
            }
        }
    };
    app.close().await;
    result
}

/// The installation the global options describe.
fn config(global: GlobalArgs) -> Result<Config, String> {
    let holder_issuer = match (global.holder_issuer, global.holder_key) {
        (Some(issuer), Some(key)) => Some(HolderIssuer {
            issuer,
            audience: global.holder_audience,
            public_key_pem: std::fs::read_to_string(&key)
                .map_err(|e| format!("{}: {e}", key.display()))?,
        }),
        _ => None,
    };
    Ok(Config {
        database_url: global.database_url,
        holder_issuer,
        tsa_url: global.tsa_url,
        time_zone: global.time_zone,
        ..Config::new(
            global.data_dir.unwrap_or_else(default_data_dir),
            global.public_url,
        )
    })
}

/// `$XDG_DATA_HOME/zhengyin`, else `~/.local/share/zhengyin`, else `./zhengyin-data`: by
/// default the master key lives outside the source tree.
fn default_data_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")));
    match base {
        Some(base) => base.join("zhengyin"),
        None => PathBuf::from("zhengyin-data"),
    }
}

fn announce(config: &Config, first_run: &FirstRun) -> Result<(), String> {
    let Some(key) = &first_run.admin_key else {
        return Ok(());
    };
    eprintln!(
        "initialised {}\nroot certificate: {}",
        config.data_dir.display(),
        config.data_dir.join("certs").join("root.pem").display()
    );
    // On a terminal the key is shown once; anywhere else (a service manager, a pipe) stderr is
    // a log, which must never hold a secret, so the key goes to a file only its owner reads.
    if std::io::stderr().is_terminal() {
        eprintln!("admin API key (shown once, keep it safe): {key}");
        return Ok(());
    }
    let path = config.data_dir.join(ADMIN_KEY_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(&path)
        .and_then(|mut file| file.write_all(key.as_bytes()))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!(
        "admin API key written to {} (read it, keep it safe, delete the file)",
        path.display()
    );
    Ok(())
}

async fn serve(config: &Config, listen: &str) -> Result<ExitCode, String> {
    let listener = server::bind(listen).await.map_err(|e| e.to_string())?;
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let running = server::start(config, listener, shutdown)
        .await
        .map_err(|e| match e {
            server::StartError::Open(e) => describe(&e),
            e => e.to_string(),
        })?;
    announce(config, &running.first_run)?;
    eprintln!("zhengyin listening on http://{}", running.address);
    running
        .stopped()
        .await
        .map_err(|e| format!("server stopped: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<ExitCode, String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// The message for an operator: the error, plus the hidden detail of internal errors.
fn describe(e: &crate::service::ServiceError) -> String {
    use crate::service::ServiceError::{Internal, Unavailable};
    match e {
        Internal(detail) | Unavailable(detail) => format!("{e}: {detail}"),
        _ => e.to_string(),
    }
}

/// `zhengyin verify-qr`: the offline check of a licence QR code.
fn verify_qr_offline(
    text: Option<&str>,
    image: Option<&std::path::Path>,
    certs: &std::path::Path,
) -> Result<ExitCode, String> {
    let text = match (text, image) {
        (Some(text), _) => text.to_string(),
        (None, Some(image)) => {
            let png = std::fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
            credential::read_qr_png(&png).map_err(|e| format!("{}: {e}", image.display()))?
        }
        (None, None) => return Err("give the QR code's text or --image FILE.png".into()),
    };
    let bundle = std::fs::read(certs).map_err(|e| format!("{}: {e}", certs.display()))?;
    let set = CertificateSet::from_pem(&bundle).map_err(|e| format!("{}: {e}", certs.display()))?;
    let today = TimeZone::CHINA.date_of(time::OffsetDateTime::now_utc());
    match credential::verify_offline(&text, &set, today) {
        Ok(check) => print_json(&check),
        Err(e) => {
            eprintln!("not genuine: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn verify_receipt_offline(
    receipt: &std::path::Path,
    certs: &std::path::Path,
    file: Option<&std::path::Path>,
) -> Result<ExitCode, String> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let parsed: Receipt = serde_json::from_slice(&read(receipt)?)
        .map_err(|e| format!("{}: not a receipt: {e}", receipt.display()))?;
    let set =
        CertificateSet::from_pem(&read(certs)?).map_err(|e| format!("{}: {e}", certs.display()))?;
    let file_bytes = file.map(read).transpose()?;
    match parsed.check(&set, file_bytes.as_deref()) {
        Ok(checked) if checked.file_matches == Some(false) => {
            print_json(&checked)?;
            eprintln!("the entry's digest is not this file's SHA-256");
            Ok(ExitCode::from(1))
        }
        Ok(checked) => print_json(&checked),
        Err(e) => {
            eprintln!("not proven: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The id of the department with this credit code.
async fn department_id(app: &App, credit_code: &str) -> Result<String, String> {
    match app.local_department(credit_code).await {
        Ok(Principal::Department { department_id, .. }) => Ok(department_id),
        Ok(_) => Err("not a department".into()),
        Err(e) => Err(describe(&e)),
    }
}
