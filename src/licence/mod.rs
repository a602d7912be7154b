//! Licence kinds as data: a template (`templates/*.toml`) declares a kind's typed fields, its
//! validity rule, the format of its printed number and its page layout; this module loads and
//! validates templates, checks submitted fields against one and lays out the page.
//!
//! The six shipped kinds are compiled in ([`Templates::builtin`]), so a fresh installation needs
//! no files; [`Templates::load_dir`] adds (or replaces, by kind) the templates of a directory,
//! so a new kind is a new file and no Rust change.
//!
//! # Template format
//!
//! Lengths are millimetres from the page's top-left corner, sizes points. Unknown keys are
//! errors; every problem is reported with the file and the entry (`fields[3].type`).
//!
//! Top level: `kind` (machine name, `a-z0-9_`), `name` (printed, 营业执照), `type_code`
//! (GB/T 36904: authority credit code + 3 digits), `department_type` (`market_regulation` …),
//! `holder_code_field` (a required `credit_code` or `id_number` field), `holder_name_field` (a
//! required `text` field), and `validity`, one of:
//! - `{ years = N }`: from the issue date to the day before its N-th anniversary;
//! - `{ fields = { from = "KEY", to = "KEY" } }`: from a required `date` field to a
//!   `period_end` field (长期 when absent), the business licence's 营业期限;
//! - `"indefinite"`: from the issue date, no end.
//!
//! `[[fields]]`: `key`, `label` (full-width spaces may spread it: 名　　称), `type`, `required`,
//! and the row's place: `at = [x, y]` (label's left edge and baseline), `width_mm` (label and
//! value), optional `value_offset_mm` (default `[page]`'s), `label_above = true` (value under
//! the label), `height_mm` (room for a wrapping value; default one line). Types: `text`,
//! `long_text` (wraps), `credit_code` (option `prefix = "12"`), `id_number`, `date`
//! (`YYYY-MM-DD`, printed 2024年05月20日), `period_end` (prints the whole period), `money`
//! (yuan, printed 人民币壹仟万元整), `enum` (`values = ["…", …]`, or `[{ value = "…", code =
//! "1" }, …]` where a number format uses the code), `list` (a JSON array of strings; `join =
//! "lines"` or `"semicolons"`). A value that would not fit its row even at 6 pt is refused;
//! one that does not fit at the page's size is set smaller.
//!
//! `[number]` (optional): `key` (where the number is stored with the fields), `format` (see
//! below), `label`, and the row keys `at`, `width_mm`, `value_offset_mm`, `label_above`. Format
//! placeholders: `{year}`, `{division}` (the department's 6-digit division code),
//! `{province}` (闽 …), `{serial}` / `{serial:06}` (exactly one), `{code:KEY}`, `{check}`
//! (ISO/IEC 7064 MOD 11,10 over the digits before it).
//!
//! `[period]` (optional): where the validity period is printed: `format` with `{from}` and
//! `{to}` (e.g. `"自{from}至{to}"`), `label` and the row keys.
//!
//! Page: `[page]` `width_mm`, `height_mm`, `font_size_pt`, `value_offset_mm`, `identifier_at`,
//! `frames = [{ inset_mm, line_width_pt, colour? }]`; `[title]` `text`, `at` (centre,
//! baseline), `size_pt`, `letter_spacing_pt?`, `colour?`; `[[texts]]` fixed text: `text`, `at`,
//! `size_pt`, `align?` (`left`/`center`/`right`), `width_mm?` (wraps), `letter_spacing_pt?`,
//! `line_height?`, `colour?`; `[[lines]]` rules: `from`, `to`, `width_pt`, `colour?`; `[qr]`
//! `at` (top-left), `size_mm`, `caption?`; `[issuer]` `label`, `at`, `width_mm`,
//! `value_offset_mm?`; `[issue_date]` the same with `label` optional; `[seal]` `centre` (must
//! lie over the issuer's line). Colours are `#RRGGBB`; frames, rules and the title default to
//! red, texts to black. Every row and the QR code must lie inside the innermost frame and
//! clear of each other.

mod check;
pub mod credential;
mod layout;
mod number;
mod template;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;
use time::Date;

pub use layout::chinese_date;
pub use template::Template;

/// Errors of the licence layer.
#[derive(Debug, thiserror::Error)]
pub enum LicenceError {
    /// No template of that kind.
    #[error("unknown licence kind '{0}'")]
    UnknownKind(String),
    /// A submitted field is missing, unknown or invalid; `field` names it.
    #[error("{field}: {message}")]
    Field {
        /// The field's key.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A template cannot be used: it does not parse or is inconsistent (when loading), a
    /// template directory cannot be read, or the template's number format cannot number this
    /// licence (when issuing). A defect of the installation, not of the request.
    #[error("{0}")]
    Template(TemplateProblem),
}

/// What is wrong with a template, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    /// The template's file (its name for a built-in one, its path for a loaded one).
    pub file: String,
    /// The offending entry as a path into the file, e.g. `fields[3].type`; `None` when the
    /// problem is the file as a whole (it cannot be read).
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TemplateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "template {}: {field}: {}", self.file, self.message),
            None => write!(f, "template {}: {}", self.file, self.message),
        }
    }
}

/// The built-in templates, by file name.
const BUILTIN: &[(&str, &str)] = &[
    (
        "business_licence.toml",
        include_str!("../../templates/business_licence.toml"),
    ),
    (
        "food_business_permit.toml",
        include_str!("../../templates/food_business_permit.toml"),
    ),
    (
        "work_safety_permit.toml",
        include_str!("../../templates/work_safety_permit.toml"),
    ),
    (
        "construction_planning_permit.toml",
        include_str!("../../templates/construction_planning_permit.toml"),
    ),
    (
        "housing_presale_permit.toml",
        include_str!("../../templates/housing_presale_permit.toml"),
    ),
    (
        "public_institution_certificate.toml",
        include_str!("../../templates/public_institution_certificate.toml"),
    ),
];

/// All licence kinds the service knows.
#[derive(Debug, Clone)]
pub struct Templates {
    by_kind: BTreeMap<String, Template>,
}

impl Templates {
    /// The templates shipped with the service (compiled in).
    pub fn builtin() -> Result<Templates, LicenceError> {
        let mut by_kind = BTreeMap::new();
        for (file, text) in BUILTIN {
            let template = Template::parse(file, text)?;
            if let Some(earlier) = by_kind.insert(template.kind.clone(), template) {
                return Err(duplicate_kind(&earlier, file));
            }
        }
        Ok(Templates { by_kind })
    }

    /// The built-in templates plus every `*.toml` file directly in `dir` (in file-name order).
    /// A file whose kind is built in replaces the built-in template; two files of `dir` with
    /// the same kind are an error. Every template is validated; the first problem is
    /// returned, naming the file and the entry.
    pub fn load_dir(dir: &Path) -> Result<Templates, LicenceError> {
        let unreadable = |path: &Path, e: std::io::Error| {
            LicenceError::Template(TemplateProblem {
                file: path.display().to_string(),
                field: None,
                message: e.to_string(),
            })
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| unreadable(dir, e))? {
            let path = entry.map_err(|e| unreadable(dir, e))?.path();
            if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        let mut templates = Templates::builtin()?;
        let mut loaded: BTreeMap<String, Template> = BTreeMap::new();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| unreadable(&path, e))?;
            let file = path.display().to_string();
            let template = Template::parse(&file, &text)?;
            if let Some(earlier) = loaded.insert(template.kind.clone(), template) {
                return Err(duplicate_kind(&earlier, &file));
            }
        }
        templates.by_kind.extend(loaded);
        Ok(templates)
    }

    /// The template of `kind`.
    pub fn get(&self, kind: &str) -> Result<&Template, LicenceError> {
        self.by_kind
            .get(kind)
            .ok_or_else(|| LicenceError::UnknownKind(kind.to_string()))
    }
}

/// The error for a second template of a kind already defined in `earlier`'s file.
fn duplicate_kind(earlier: &Template, file: &str) -> LicenceError {
    LicenceError::Template(TemplateProblem {
        file: file.to_string(),
        field: Some("kind".into()),
        message: format!(
            "kind '{}' is already defined by {}",
            earlier.kind,
            earlier.source()
        ),
    })
}

/// A checked field value in its canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// Every field type but `list`: one string (dates `YYYY-MM-DD`, money with two decimals).
    Text(String),
    /// A `list` field: its items, in order.
    List(Vec<String>),
}

/// Submitted fields after checking: canonical values, and the licence-level facts derived from
/// them.
#[derive(Debug, Clone)]
pub struct CheckedFields {
    /// Canonical values by key, as stored; after [`Template::assign_number`], the licence
    /// number too, under the key the template gives it.
    pub values: BTreeMap<String, FieldValue>,
    /// The holder's credit code or ID number.
    pub holder_code: String,
    /// The holder's name.
    pub holder_name: String,
    /// First valid day.
    pub valid_from: Date,
    /// Last valid day; `None` for 长期 (no end).
    pub valid_to: Option<Date>,
    /// The printed licence number (许可证编号, 编号), once assigned at issue time; `None` before,
    /// and for kinds that print no number.
    pub number: Option<String>,
}

/// What the page shows besides the fields.
pub struct PageFacts<'a> {
    /// The licence identifier, printed small at the foot of the page.
    pub identifier: &'a str,
    /// Text of the QR code (the verification URL).
    pub qr_payload: &'a str,
    /// The issuing department's name (登记机关, 发证机关).
    pub issuer_name: &'a str,
    /// Issue date (发证日期).
    pub issued_on: Date,
}
