//! The public verification web page (核验页面): server-rendered HTML that works without
//! JavaScript. A counter uploads a PDF, or a phone opens the URL in a licence's QR code, and
//! reads the verdict in plain Chinese with the seal picture, status, issuer and dates.
//!
//! The pages are a handful of fixed fragments, so they are written with `format!` and one
//! escaping function rather than a template engine.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{ApiError, OptionalCaller, PdfUpload};
use crate::pdf::revisions::ChangeKind;
use crate::service::{
    App, LicenceVerification, LicenceView, PdfVerification, ServiceError, VerifiedSignature,
};

/// The page routes, under `/verify`.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/verify", get(form).post(verify_upload))
        .route("/verify/licence", get(licence_by_query))
        .route("/verify/licences/{id}", get(licence_page))
}

/// `?id=…&on=…` of the licence form.
#[derive(Debug, serde::Deserialize)]
struct LicenceQuery {
    id: String,
    on: Option<String>,
}

/// `?on=…` of a licence page.
#[derive(Debug, serde::Deserialize)]
struct OnQuery {
    on: Option<String>,
}

async fn form() -> Response {
    page(StatusCode::OK, "电子证照与电子印章核验", &upload_form(""))
}

async fn verify_upload(
    State(app): State<Arc<App>>,
    OptionalCaller(caller): OptionalCaller,
    upload: Result<PdfUpload, ApiError>,
) -> Response {
    let outcome = match upload {
        Ok(upload) => {
            let password = upload
                .options
                .get("password")
                .and_then(|p| p.as_str())
                .filter(|p| !p.is_empty())
                .map(str::to_string);
            match upload.pdf() {
                Ok(pdf) => app
                    .verify_pdf(caller.as_ref(), pdf, password)
                    .await
                    .map_err(ApiError),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(verification) => {
            let body = pdf_verdict(&app, &verification).await;
            page(StatusCode::OK, "核验结果", &body)
        }
        Err(ApiError(e)) => error_page(&e),
    }
}

async fn licence_by_query(
    State(app): State<Arc<App>>,
    OptionalCaller(caller): OptionalCaller,
    query: Result<Query<LicenceQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(LicenceQuery { id, on })) = query else {
        return form().await;
    };
    licence_answer(&app, caller, id.trim(), on).await
}

async fn licence_page(
    State(app): State<Arc<App>>,
    OptionalCaller(caller): OptionalCaller,
    Path(id): Path<String>,
    query: Result<Query<OnQuery>, QueryRejection>,
) -> Response {
    let on = query.ok().and_then(|Query(q)| q.on);
    licence_answer(&app, caller, &id, on).await
}

async fn licence_answer(
    app: &App,
    caller: Option<crate::service::Principal>,
    id: &str,
    on: Option<String>,
) -> Response {
    let on = match on.filter(|d| !d.trim().is_empty()) {
        Some(day) => match super::parse_date(&day, "on") {
            Ok(date) => Some(date),
            Err(ApiError(e)) => return error_page(&e),
        },
        None => None,
    };
    match app.verify_licence(caller.as_ref(), id, on).await {
        Ok(answer) => page(StatusCode::OK, "证照核验结果", &licence_verdict(&answer)),
        Err(e) => error_page(&e),
    }
}

/// A whole page around `body`.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · 证印</title><style>{STYLE}</style></head><body><main>\
         <h1>{title}</h1>{body}<p class=\"foot\"><a href=\"/verify\">核验其他文件</a></p>\
         </main></body></html>",
        title = escape(title)
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

const STYLE: &str = "body{font-family:'Noto Serif SC','Songti SC',SimSun,serif;margin:0;\
background:#f6f4ef;color:#222}main{max-width:46rem;margin:0 auto;padding:1.5rem}\
h1{font-size:1.5rem}.verdict{padding:1rem 1.2rem;border-radius:.4rem;font-size:1.25rem;\
margin:1rem 0}.valid{background:#e3f4e1;border:2px solid #2e7d32}.untrusted,.modified\
{background:#fff4d6;border:2px solid #b7791f}.broken,.unsigned,.error{background:#fde2e1;\
border:2px solid #c62828}section{background:#fff;border-radius:.4rem;padding:1rem;margin:1rem 0}\
.seal{float:right;margin:0 0 .5rem 1rem}dl{display:grid;grid-template-columns:8rem 1fr;gap:.3rem}\
dt{color:#666}dd{margin:0;overflow-wrap:anywhere}form{background:#fff;padding:1rem;border-radius:.4rem;margin:1rem 0}\
label{display:block;margin:.5rem 0}.foot{margin-top:2rem}";

fn upload_form(message: &str) -> String {
    format!(
        "{message}<form method=\"post\" action=\"/verify\" enctype=\"multipart/form-data\">\
         <h2>核验盖章文件（PDF）</h2>\
         <label>文件 <input type=\"file\" name=\"file\" id=\"file\" accept=\"application/pdf\" required></label>\
         <label>打开密码（如有） <input type=\"password\" name=\"password\" id=\"password\"></label>\
         <button type=\"submit\" id=\"verify-submit\">核验</button></form>\
         <form method=\"get\" action=\"/verify/licence\"><h2>按证照标识核验</h2>\
         <label>证照标识 <input name=\"id\" id=\"licence-id\" required></label>\
         <label>核验日期（可选） <input type=\"date\" name=\"on\" id=\"on\"></label>\
         <button type=\"submit\" id=\"licence-submit\">查询</button></form>"
    )
}

fn error_page(e: &ServiceError) -> Response {
    let status = ApiError::status_of(e);
    let reason = match e {
        ServiceError::NotFound(_) => "未找到该证照，请检查证照标识。",
        ServiceError::TooLarge(_) => "文件过大。",
        ServiceError::UnprocessableDocument(_) => {
            "文件无法读取：不是 PDF、文件已损坏，或是加密文件而密码不正确。"
        }
        ServiceError::InvalidField { .. } => "请求内容有误，请检查所填内容。",
        _ => "服务暂时无法完成核验，请稍后再试。",
    };
    let message = format!(
        "<div class=\"verdict error\" id=\"verdict\" data-verdict=\"error\">无法核验：{reason}\
         <details><summary>技术细节</summary>{}</details></div>",
        escape(&e.to_string())
    );
    page(status, "无法核验", &upload_form(&message))
}

async fn pdf_verdict(app: &App, verification: &PdfVerification) -> String {
    let mut html = format!(
        "<div class=\"verdict {v}\" id=\"verdict\" data-verdict=\"{v}\">{}</div>",
        escape(&verification.summary),
        v = escape(&verification.verdict)
    );
    if let Some(licence) = &verification.licence {
        html.push_str("<section><h2>本文件是本系统签发的电子证照</h2>");
        html.push_str(&licence_facts(licence));
        html.push_str("</section>");
    }
    for (i, signature) in verification.signatures.iter().enumerate() {
        let picture = match &signature.seal {
            Some(seal) => app.seal_svg(&seal.seal_id).await.ok(),
            None => None,
        };
        html.push_str(&signature_section(i + 1, signature, picture.as_deref()));
    }
    html
}

fn signature_section(
    number: usize,
    signature: &VerifiedSignature,
    picture: Option<&str>,
) -> String {
    let report = &signature.report;
    let subject = report
        .signer
        .as_ref()
        .map(|s| s.subject.as_str())
        .unwrap_or("");
    let mut html = format!(
        "<section class=\"signature\" data-verdict=\"{}\"><h2>第 {number} 个印章：{}</h2>",
        verdict_slug(report.verdict),
        verdict_words(report.verdict)
    );
    if let Some(svg) = picture {
        let _ = write!(html, "<div class=\"seal\">{svg}</div>");
    }
    let organisation = match &signature.seal {
        Some(seal) => format!("{}（{}）", seal.department, seal.credit_code),
        None => rdn(subject, "O").unwrap_or_else(|| subject.to_string()),
    };
    let seal_name = match &signature.seal {
        Some(seal) => seal.seal_name.clone(),
        None => rdn(subject, "OU")
            .or_else(|| rdn(subject, "CN"))
            .unwrap_or_default(),
    };
    let trust = if !report.chain_trusted {
        "不受信任（证书不属于本系统或已登记的外部信任根）".to_string()
    } else if signature.foreign {
        format!(
            "外部信任根（互认）：{}",
            report.trust_anchor_subject.as_deref().unwrap_or("")
        )
    } else {
        "本系统根证书".to_string()
    };
    let integrity = if report.intact() && report.byte_range_well_formed {
        "完整：盖章时的内容未被改动"
    } else {
        "已损坏：签名或被签内容不一致"
    };
    let changes = match report.modification_level {
        ChangeKind::None => "无",
        ChangeKind::SignatureOnly => "其后仅追加了其他印章或验证数据",
        ChangeKind::FormFill => "其后填写了表单",
        ChangeKind::Annotation => "其后添加了批注",
        ChangeKind::ContentChange => "其后改动了内容",
    };
    let _ = write!(
        html,
        "<dl><dt>盖章单位</dt><dd class=\"organisation\">{}</dd><dt>印章</dt><dd>{}</dd>\
         <dt>盖章时间</dt><dd>{}</dd><dt>完整性</dt><dd>{}</dd><dt>信任</dt><dd>{}</dd>\
         <dt>之后的改动</dt><dd>{}</dd><dt>证书序列号</dt><dd>{}</dd><dt>算法</dt><dd>{} / {}</dd></dl>",
        escape(&organisation),
        escape(&seal_name),
        escape(&report.signing_time.as_deref().map_or("未知".into(), beijing_time)),
        integrity,
        escape(&trust),
        changes,
        escape(report.signer.as_ref().map_or("", |s| s.serial_hex.as_str())),
        escape(report.digest_algorithm.as_deref().unwrap_or("?")),
        escape(report.signature_algorithm.as_deref().unwrap_or("?")),
    );
    if !report.problems.is_empty() {
        html.push_str("<details><summary>技术细节</summary><ul>");
        for problem in &report.problems {
            let _ = write!(html, "<li>{}</li>", escape(problem));
        }
        html.push_str("</ul></details>");
    }
    html.push_str("</section>");
    html
}

fn licence_verdict(answer: &LicenceVerification) -> String {
    let licence = &answer.licence;
    let (class, words) = if !answer.genuine {
        ("broken", "证照数据无法验证为真：请勿采信。".to_string())
    } else if licence.status == "valid" {
        ("valid", "证照真实有效。".to_string())
    } else {
        (
            "modified",
            format!(
                "证照真实，但当前状态为：{}。",
                status_words(&licence.status)
            ),
        )
    };
    let mut html = format!(
        "<div class=\"verdict {class}\" id=\"verdict\" data-verdict=\"{}\">{}</div><section>",
        escape(if answer.genuine {
            &licence.status
        } else {
            "not_genuine"
        }),
        escape(&words)
    );
    html.push_str(&licence_facts(licence));
    if let Some(on) = &answer.status_on {
        let _ = write!(
            html,
            "<p id=\"status-on\" data-valid=\"{}\">{} 当日：{}</p>",
            on.valid,
            escape(&on.date),
            if on.valid {
                "有效".to_string()
            } else {
                status_words(&on.status).to_string()
            }
        );
    }
    html.push_str("</section>");
    html
}

fn licence_facts(licence: &LicenceView) -> String {
    format!(
        "<dl><dt>证照名称</dt><dd>{}</dd><dt>证照标识</dt><dd id=\"identifier\">{}</dd>\
         <dt>版本</dt><dd>{}</dd><dt>持证主体</dt><dd>{}（{}）</dd><dt>发证机关</dt><dd>{}</dd>\
         <dt>有效期</dt><dd>{} 至 {}</dd><dt>当前状态</dt><dd id=\"status\">{}</dd>\
         <dt>签发时间</dt><dd>{}</dd></dl>",
        escape(&licence.kind_name),
        escape(&licence.identifier),
        licence.version,
        escape(&licence.holder_name),
        escape(&licence.holder_code),
        escape(&licence.issuer.name),
        escape(&licence.valid_from),
        escape(licence.valid_to.as_deref().unwrap_or("长期")),
        status_words(&licence.status),
        escape(&beijing_time(&licence.issued_at)),
    )
}

/// An RFC 3339 time as Beijing time (UTC+8) to the second, e.g. `2026-11-24 07:59:46
/// （北京时间）`; anything else as it is.
fn beijing_time(rfc3339: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    let Ok(at) = time::OffsetDateTime::parse(rfc3339, &Rfc3339) else {
        return rfc3339.to_string();
    };
    let beijing = at.to_offset(time::macros::offset!(+8));
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second]（北京时间）"
    );
    beijing
        .format(&format)
        .unwrap_or_else(|_| rfc3339.to_string())
}

fn verdict_slug(verdict: crate::pdf::validate::Verdict) -> &'static str {
    use crate::pdf::validate::Verdict;
    match verdict {
        Verdict::Valid => "valid",
        Verdict::Untrusted => "untrusted",
        Verdict::Modified => "modified",
        Verdict::Revoked => "revoked",
        Verdict::Broken => "broken",
    }
}

fn verdict_words(verdict: crate::pdf::validate::Verdict) -> &'static str {
    use crate::pdf::validate::Verdict;
    match verdict {
        Verdict::Valid => "有效",
        Verdict::Untrusted => "完整但不受信任",
        Verdict::Modified => "盖章后文件被改动",
        Verdict::Revoked => "印章证书已吊销",
        Verdict::Broken => "无效（已被篡改）",
    }
}

fn status_words(status: &str) -> &'static str {
    match status {
        "valid" => "有效",
        "superseded" => "已被新版本替代",
        "suspended" => "暂扣",
        "revoked" => "撤销",
        "cancelled" => "注销",
        "expired" => "已过期（失效）",
        "not_yet_valid" => "尚未生效",
        "not_yet_issued" => "当时尚未签发",
        _ => "无效",
    }
}

/// The value of the first `key=value` part of a subject name like `C=CN, O=…, CN=…`.
fn rdn(subject: &str, key: &str) -> Option<String> {
    subject
        .split(", ")
        .find_map(|part| part.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
}

/// Escapes text for HTML element content and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_subject_parts() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let subject = "C=CN, O=厦门市市场监督管理局, OU=公章, CN=厦门市市场监督管理局公章";
        assert_eq!(rdn(subject, "O").as_deref(), Some("厦门市市场监督管理局"));
        assert_eq!(rdn(subject, "OU").as_deref(), Some("公章"));
        assert_eq!(
            rdn(subject, "CN").as_deref(),
            Some("厦门市市场监督管理局公章")
        );
        assert_eq!(rdn(subject, "L"), None);
        assert_eq!(
            beijing_time("2026-11-23T23:59:46.904270166Z"),
            "2026-11-24 07:59:46（北京时间）"
        );
        assert_eq!(beijing_time("D:2026"), "D:2026");
    }
}
