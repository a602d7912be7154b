//! Licence kinds as data: a template (`templates/*.toml`) declares a kind's typed fields and its
//! page layout; this module checks submitted fields against it and lays out the page.

use std::collections::BTreeMap;

use serde::Deserialize;
use time::Date;

use crate::domain::{CreditCode, IdNumber, Money};
use crate::pdf::render::{Align, Document, Item, Page, Rgb};

/// Errors in licence data.
#[derive(Debug, thiserror::Error)]
pub enum LicenceError {
    /// No template of that kind.
    #[error("unknown licence kind '{0}'")]
    UnknownKind(String),
    /// A field is missing, unknown or invalid; `field` names it.
    #[error("{field}: {message}")]
    Field {
        /// The field's key.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A built-in template does not parse (a packaging defect, caught by tests).
    #[error("template {0} is malformed: {1}")]
    Template(&'static str, String),
}

/// The built-in templates, by file name.
const BUILTIN: &[(&str, &str)] = &[(
    "business_licence.toml",
    include_str!("../../templates/business_licence.toml"),
)];

/// Black used for printed text.
const INK: Rgb = Rgb(0, 0, 0);
/// Red of the frame and title, as on the printed form.
const FRAME_RED: Rgb = Rgb(200, 16, 46);

/// All licence kinds the service knows.
#[derive(Debug, Clone)]
pub struct Templates {
    by_kind: BTreeMap<String, Template>,
}

impl Templates {
    /// The templates shipped with the service.
    pub fn builtin() -> Result<Templates, LicenceError> {
        let mut by_kind = BTreeMap::new();
        for (file, text) in BUILTIN {
            let template: Template =
                toml::from_str(text).map_err(|e| LicenceError::Template(file, e.to_string()))?;
            by_kind.insert(template.kind.clone(), template);
        }
        Ok(Templates { by_kind })
    }

    /// The template of `kind`.
    pub fn get(&self, kind: &str) -> Result<&Template, LicenceError> {
        self.by_kind
            .get(kind)
            .ok_or_else(|| LicenceError::UnknownKind(kind.to_string()))
    }
}

/// A licence kind: fields, validity rule and layout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Machine name, e.g. `business_licence`.
    pub kind: String,
    /// Printed name, e.g. 营业执照.
    pub name: String,
    /// GB/T 36904 type code (defining authority's credit code + 3 digits).
    pub type_code: String,
    /// Kind of department that issues it.
    pub department_type: String,
    holder_code_field: String,
    holder_name_field: String,
    valid_from_field: String,
    valid_to_field: String,
    page: PageLayout,
    fields: Vec<FieldSpec>,
    title: TitleLayout,
    qr: QrLayout,
    issuer: IssuerLayout,
    seal: SealLayout,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageLayout {
    width_mm: f32,
    height_mm: f32,
    value_offset_mm: f32,
    font_size_pt: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldSpec {
    key: String,
    label: String,
    #[serde(rename = "type")]
    kind: FieldType,
    required: bool,
    at: [f32; 2],
    width_mm: f32,
    #[serde(default)]
    label_above: bool,
}

/// The types a field may have.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum FieldType {
    /// One line of text.
    Text,
    /// Free text that wraps (e.g. 经营范围).
    LongText,
    /// A unified social credit code.
    CreditCode,
    /// A resident identity number.
    IdNumber,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// The end of a validity period: a date, or absent for 长期.
    PeriodEnd,
    /// An amount of yuan, printed in capital numerals.
    Money,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TitleLayout {
    text: String,
    at: [f32; 2],
    size_pt: f32,
    letter_spacing_pt: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct QrLayout {
    at: [f32; 2],
    size_mm: f32,
    caption: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerLayout {
    label: String,
    at: [f32; 2],
    date_at: [f32; 2],
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealLayout {
    centre: [f32; 2],
}

/// Submitted fields after checking: canonical values, what to print, and the licence-level
/// facts derived from them.
#[derive(Debug, Clone)]
pub struct CheckedFields {
    /// Canonical values by key, as stored.
    pub values: BTreeMap<String, String>,
    /// The holder's credit code or ID number.
    pub holder_code: String,
    /// The holder's name.
    pub holder_name: String,
    /// First valid day.
    pub valid_from: Date,
    /// Last valid day; `None` for 长期 (no end).
    pub valid_to: Option<Date>,
}

/// What the page shows besides the fields.
pub struct PageFacts<'a> {
    /// The licence identifier, printed small at the foot of the page.
    pub identifier: &'a str,
    /// Text of the QR code (the verification URL).
    pub qr_payload: &'a str,
    /// The issuing department's name (登记机关).
    pub issuer_name: &'a str,
    /// Issue date (发证日期).
    pub issued_on: Date,
}

const DATE_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

impl Template {
    /// Checks `input` (a JSON object of strings) against the template's fields.
    pub fn check(&self, input: &serde_json::Value) -> Result<CheckedFields, LicenceError> {
        let field_error = |field: &str, message: String| LicenceError::Field {
            field: field.to_string(),
            message,
        };
        let object = input
            .as_object()
            .ok_or_else(|| field_error("fields", "must be a JSON object".into()))?;
        if let Some(unknown) = object
            .keys()
            .find(|key| !self.fields.iter().any(|f| &f.key == *key))
        {
            return Err(field_error(
                unknown,
                "is not a field of this licence kind".into(),
            ));
        }
        let mut values = BTreeMap::new();
        for spec in &self.fields {
            let raw = match object.get(&spec.key) {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(s)) if s.trim().is_empty() => None,
                Some(serde_json::Value::String(s)) => Some(s.trim()),
                Some(_) => return Err(field_error(&spec.key, "must be a string".into())),
            };
            let Some(raw) = raw else {
                if spec.required {
                    return Err(field_error(
                        &spec.key,
                        format!("{} is required", spec.label),
                    ));
                }
                continue;
            };
            let canonical = canonical_value(spec.kind, raw)
                .map_err(|message| field_error(&spec.key, message))?;
            values.insert(spec.key.clone(), canonical);
        }
        let date = |key: &str| -> Result<Option<Date>, LicenceError> {
            values
                .get(key)
                .map(|v| Date::parse(v, DATE_FORMAT))
                .transpose()
                .map_err(|e| field_error(key, e.to_string()))
        };
        let valid_from = date(&self.valid_from_field)?
            .ok_or_else(|| field_error(&self.valid_from_field, "is required".into()))?;
        let valid_to = date(&self.valid_to_field)?;
        if valid_to.is_some_and(|to| to < valid_from) {
            return Err(field_error(
                &self.valid_to_field,
                "ends before the validity starts".into(),
            ));
        }
        let required = |key: &str| {
            values
                .get(key)
                .cloned()
                .ok_or_else(|| field_error(key, "is required".into()))
        };
        Ok(CheckedFields {
            holder_code: required(&self.holder_code_field)?,
            holder_name: required(&self.holder_name_field)?,
            valid_from,
            valid_to,
            values,
        })
    }

    /// Lays out the licence page.
    pub fn layout(&self, fields: &CheckedFields, facts: &PageFacts<'_>) -> Document {
        let p = &self.page;
        let mut items = vec![
            Item::Rect {
                x_mm: 8.0,
                y_mm: 8.0,
                width_mm: p.width_mm - 16.0,
                height_mm: p.height_mm - 16.0,
                stroke: FRAME_RED,
                line_width_pt: 3.0,
            },
            Item::Rect {
                x_mm: 11.5,
                y_mm: 11.5,
                width_mm: p.width_mm - 23.0,
                height_mm: p.height_mm - 23.0,
                stroke: FRAME_RED,
                line_width_pt: 0.8,
            },
            Item::Text {
                x_mm: self.title.at[0],
                y_mm: self.title.at[1],
                size_pt: self.title.size_pt,
                text: self.title.text.clone(),
                color: FRAME_RED,
                align: Align::Center,
                max_width_mm: None,
                line_height: 1.2,
                letter_spacing_pt: self.title.letter_spacing_pt,
            },
            Item::Qr {
                x_mm: self.qr.at[0],
                y_mm: self.qr.at[1],
                size_mm: self.qr.size_mm,
                payload: facts.qr_payload.to_string(),
            },
            self.text(
                self.qr.at[0] + self.qr.size_mm / 2.0,
                self.qr.at[1] + self.qr.size_mm + 5.0,
                &self.qr.caption,
                8.0,
                Align::Center,
            ),
        ];
        for spec in &self.fields {
            let Some(value) = fields.values.get(&spec.key).map(|v| display(spec.kind, v)) else {
                if spec.kind == FieldType::PeriodEnd {
                    items.extend(self.field_items(spec, &self.period(fields)));
                }
                continue;
            };
            let value = if spec.kind == FieldType::PeriodEnd {
                self.period(fields)
            } else {
                value
            };
            items.extend(self.field_items(spec, &value));
        }
        let [ix, iy] = self.issuer.at;
        items.push(self.text(ix, iy, &self.issuer.label, p.font_size_pt, Align::Left));
        items.push(self.text(
            ix + p.value_offset_mm,
            iy,
            facts.issuer_name,
            p.font_size_pt,
            Align::Left,
        ));
        let [dx, dy] = self.issuer.date_at;
        items.push(self.text(
            dx + p.value_offset_mm,
            dy,
            &chinese_date(facts.issued_on),
            p.font_size_pt,
            Align::Left,
        ));
        items.push(self.text(
            p.width_mm / 2.0,
            p.height_mm - 15.0,
            &format!("电子证照标识 {}", facts.identifier),
            7.0,
            Align::Center,
        ));
        Document {
            title: format!("{} {}", self.name, fields.holder_name),
            pages: vec![Page {
                width_mm: p.width_mm,
                height_mm: p.height_mm,
                items,
            }],
        }
    }

    /// Where the seal's centre goes, mm from the top-left corner.
    pub fn seal_centre_mm(&self) -> (f32, f32) {
        (self.seal.centre[0], self.seal.centre[1])
    }

    fn period(&self, fields: &CheckedFields) -> String {
        match fields.valid_to {
            Some(to) => format!("{}至{}", chinese_date(fields.valid_from), chinese_date(to)),
            None => format!("{}至长期", chinese_date(fields.valid_from)),
        }
    }

    fn field_items(&self, spec: &FieldSpec, value: &str) -> Vec<Item> {
        let size = self.page.font_size_pt;
        let [x, y] = spec.at;
        let label = self.text(x, y, &spec.label, size, Align::Left);
        let (vx, vy, width) = if spec.label_above {
            (x, y + size * 0.5, spec.width_mm)
        } else {
            (
                x + self.page.value_offset_mm,
                y,
                spec.width_mm - self.page.value_offset_mm,
            )
        };
        let value = Item::Text {
            x_mm: vx,
            y_mm: vy,
            size_pt: size,
            text: value.to_string(),
            color: INK,
            align: Align::Left,
            max_width_mm: Some(width),
            line_height: 1.5,
            letter_spacing_pt: 0.0,
        };
        vec![label, value]
    }

    fn text(&self, x_mm: f32, y_mm: f32, text: &str, size_pt: f32, align: Align) -> Item {
        Item::Text {
            x_mm,
            y_mm,
            size_pt,
            text: text.to_string(),
            color: INK,
            align,
            max_width_mm: None,
            line_height: 1.2,
            letter_spacing_pt: 0.0,
        }
    }
}

/// Parses a raw value of a field type into its canonical stored form.
fn canonical_value(kind: FieldType, raw: &str) -> Result<String, String> {
    const MAX_TEXT: usize = 200;
    const MAX_LONG_TEXT: usize = 2000;
    match kind {
        FieldType::Text if raw.chars().count() > MAX_TEXT => {
            Err(format!("is longer than {MAX_TEXT} characters"))
        }
        FieldType::LongText if raw.chars().count() > MAX_LONG_TEXT => {
            Err(format!("is longer than {MAX_LONG_TEXT} characters"))
        }
        FieldType::Text | FieldType::LongText => Ok(raw.to_string()),
        FieldType::CreditCode => CreditCode::parse(raw)
            .map(|c| c.to_string())
            .map_err(|e| e.to_string()),
        FieldType::IdNumber => IdNumber::parse(raw)
            .map(|c| c.to_string())
            .map_err(|e| e.to_string()),
        FieldType::Date | FieldType::PeriodEnd => Date::parse(raw, DATE_FORMAT)
            .map(|d| d.to_string())
            .map_err(|_| "must be a date written YYYY-MM-DD".to_string()),
        FieldType::Money => raw
            .parse::<Money>()
            .map(|m| m.to_string())
            .map_err(|e| e.to_string()),
    }
}

/// The printed form of a canonical value.
fn display(kind: FieldType, canonical: &str) -> String {
    match kind {
        FieldType::Date | FieldType::PeriodEnd => Date::parse(canonical, DATE_FORMAT)
            .map(chinese_date)
            .unwrap_or_else(|_| canonical.to_string()),
        FieldType::Money => canonical
            .parse::<Money>()
            .map(|m| format!("人民币{}", m.capital()))
            .unwrap_or_else(|_| canonical.to_string()),
        _ => canonical.to_string(),
    }
}

/// `2026年11月23日`.
pub fn chinese_date(date: Date) -> String {
    format!(
        "{}年{:02}月{:02}日",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}
