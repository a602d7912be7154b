//! The template file format and its validation. A file is deserialised into the `Raw*` structs
//! (serde; unknown keys and unknown variants are rejected with the path of the entry), then
//! checked as a whole and turned into a [`Template`], whose parts only hold consistent values:
//! field references resolve, options suit their field types, every number is in range and every
//! printed row lies on the page, inside the frame, and clear of the others.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::domain::LicenceTypeCode;
use crate::pdf::render::{Align, Rgb};

use super::number::NumberFormat;
use super::{LicenceError, TemplateProblem};

/// Millimetres per point.
pub(super) const MM_PER_PT: f32 = 25.4 / 72.0;
/// Baseline distance of field values, as a multiple of the font size.
pub(super) const VALUE_LINE_HEIGHT: f32 = 1.5;
/// Depth below the baseline a line of text needs (descenders), as a multiple of the font size.
pub(super) const DESCENT: f32 = 0.25;
/// Red of frames and titles, as on the printed forms.
const RED: Rgb = Rgb(200, 16, 46);
/// Black of printed text.
const BLACK: Rgb = Rgb(0, 0, 0);
/// The smallest size a value is set in when it does not fit its row at the page's size, points.
pub(super) const MIN_VALUE_SIZE_PT: f32 = 6.0;
/// How far the seal's centre may lie above or below the issuer line's baseline, mm.
const SEAL_REACH_MM: f32 = 15.0;
/// Tolerance of geometric comparisons, mm.
const EPSILON_MM: f32 = 0.01;

// ---------------------------------------------------------------------------------------------
// The file as written.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    kind: String,
    name: String,
    type_code: String,
    department_type: String,
    holder_code_field: String,
    holder_name_field: String,
    validity: RawValidity,
    page: RawPage,
    title: RawTitle,
    #[serde(default)]
    texts: Vec<RawText>,
    #[serde(default)]
    lines: Vec<RawLine>,
    fields: Vec<RawField>,
    number: Option<RawNumber>,
    period: Option<RawPeriod>,
    qr: RawQr,
    issuer: RawIssuer,
    issue_date: RawIssueDate,
    seal: RawSeal,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum RawValidity {
    Years(u8),
    Fields { from: String, to: String },
    Indefinite,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPage {
    width_mm: f32,
    height_mm: f32,
    font_size_pt: f32,
    value_offset_mm: f32,
    identifier_at: [f32; 2],
    #[serde(default)]
    frames: Vec<RawFrame>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFrame {
    inset_mm: f32,
    line_width_pt: f32,
    colour: Option<Colour>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTitle {
    text: String,
    at: [f32; 2],
    size_pt: f32,
    #[serde(default)]
    letter_spacing_pt: f32,
    colour: Option<Colour>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawText {
    text: String,
    at: [f32; 2],
    size_pt: f32,
    #[serde(default)]
    align: RawAlign,
    width_mm: Option<f32>,
    #[serde(default)]
    letter_spacing_pt: f32,
    line_height: Option<f32>,
    colour: Option<Colour>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawAlign {
    #[default]
    Left,
    Center,
    Right,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    from: [f32; 2],
    to: [f32; 2],
    width_pt: f32,
    colour: Option<Colour>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    key: String,
    label: String,
    #[serde(rename = "type")]
    kind: RawFieldType,
    required: bool,
    values: Option<Vec<RawChoice>>,
    join: Option<ListJoin>,
    prefix: Option<String>,
    at: [f32; 2],
    width_mm: f32,
    #[serde(default)]
    label_above: bool,
    value_offset_mm: Option<f32>,
    height_mm: Option<f32>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum RawFieldType {
    Text,
    LongText,
    CreditCode,
    IdNumber,
    Date,
    PeriodEnd,
    Money,
    Enum,
    List,
}

#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a string, or a table { value = \"…\", code = \"…\" }"
)]
enum RawChoice {
    Plain(String),
    Coded(RawCodedChoice),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCodedChoice {
    value: String,
    code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNumber {
    key: String,
    format: String,
    label: String,
    at: [f32; 2],
    width_mm: f32,
    #[serde(default)]
    label_above: bool,
    value_offset_mm: Option<f32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeriod {
    format: String,
    label: String,
    at: [f32; 2],
    width_mm: f32,
    #[serde(default)]
    label_above: bool,
    value_offset_mm: Option<f32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQr {
    at: [f32; 2],
    size_mm: f32,
    caption: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    label: String,
    at: [f32; 2],
    width_mm: f32,
    value_offset_mm: Option<f32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssueDate {
    label: Option<String>,
    at: [f32; 2],
    width_mm: f32,
    value_offset_mm: Option<f32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeal {
    centre: [f32; 2],
}

/// A colour written `#RRGGBB`.
#[derive(Deserialize, Clone, Copy)]
#[serde(try_from = "String")]
struct Colour(Rgb);

impl TryFrom<String> for Colour {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let bad = || format!("colour '{s}' is not written #RRGGBB");
        let hex = s
            .strip_prefix('#')
            .filter(|h| h.len() == 6)
            .ok_or_else(bad)?;
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
        Ok(Colour(Rgb(channel(0)?, channel(2)?, channel(4)?)))
    }
}

// ---------------------------------------------------------------------------------------------
// The template after checking.

/// A licence kind: fields, validity rule, number format and page layout, consistent with each
/// other (see the module documentation).
#[derive(Debug, Clone)]
pub struct Template {
    /// Machine name, e.g. `business_licence`.
    pub kind: String,
    /// Printed name, e.g. 营业执照.
    pub name: String,
    /// GB/T 36904 type code (defining authority's credit code + 3 digits); always parses as a
    /// [`LicenceTypeCode`].
    pub type_code: String,
    /// Kind of department that issues it, e.g. `market_regulation`.
    pub department_type: String,
    source: String,
    pub(super) holder_code_field: String,
    pub(super) holder_name_field: String,
    pub(super) validity: Validity,
    pub(super) fields: Vec<Field>,
    pub(super) number: Option<NumberSpec>,
    pub(super) layout: Layout,
}

/// How a licence's validity period follows from its fields and issue date.
#[derive(Debug, Clone)]
pub(super) enum Validity {
    /// From the issue date for this many years: valid to the day before the anniversary.
    Years(u8),
    /// From the date field `from` to the `period_end` field `to` (长期 when it is absent).
    Fields { from: String, to: String },
    /// From the issue date, with no end.
    Indefinite,
}

/// A submitted field.
#[derive(Debug, Clone)]
pub(super) struct Field {
    pub(super) key: String,
    pub(super) label: String,
    pub(super) kind: FieldKind,
    pub(super) required: bool,
    pub(super) row: Row,
}

impl Field {
    /// The label without the spaces that spread it on the page (名　　称 → 名称).
    pub(super) fn name(&self) -> String {
        self.label.chars().filter(|c| !c.is_whitespace()).collect()
    }
}

/// The type of a field and its type-specific options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FieldKind {
    /// One line of text.
    Text,
    /// Free text that wraps (e.g. 经营范围).
    LongText,
    /// A unified social credit code, optionally required to start with `prefix`.
    CreditCode { prefix: Option<String> },
    /// A resident identity number.
    IdNumber,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// The end of the validity period: a date, or absent for 长期; prints the whole period.
    PeriodEnd,
    /// An amount of yuan, printed in capital numerals.
    Money,
    /// One of the listed values.
    Enum(Vec<Choice>),
    /// A JSON array of strings.
    List(ListJoin),
}

/// An allowed value of an `enum` field, with the code a number format may print for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Choice {
    pub(super) value: String,
    pub(super) code: Option<String>,
}

/// How a list's items are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ListJoin {
    /// One item per line.
    Lines,
    /// On one line (wrapping), separated by "；".
    Semicolons,
}

/// The printed licence number: where it is stored and printed, and how it is made.
#[derive(Debug, Clone)]
pub(super) struct NumberSpec {
    pub(super) key: String,
    pub(super) format: NumberFormat,
    pub(super) row: Row,
}

/// A label and its value on the page. Coordinates in mm from the page's top-left corner.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Row {
    /// Printed label; may be empty (the issue date's).
    pub(super) label: String,
    /// Label's left edge and baseline.
    pub(super) x: f32,
    pub(super) y: f32,
    /// Width of label and value together.
    pub(super) width: f32,
    /// Value under the label rather than to its right.
    pub(super) label_above: bool,
    /// Distance of the value from the label's left edge (when beside it).
    pub(super) value_offset: f32,
    /// Height of the row from the top of the label's line; the value shrinks to fit it.
    pub(super) height: f32,
    /// Font size of label and value (the value may shrink).
    pub(super) size_pt: f32,
}

impl Row {
    /// The page font size in mm.
    fn em(&self) -> f32 {
        self.size_pt * MM_PER_PT
    }

    /// Left edge of the value.
    pub(super) fn value_x(&self) -> f32 {
        if self.label_above {
            self.x
        } else {
            self.x + self.value_offset
        }
    }

    /// First baseline of the value.
    pub(super) fn value_y(&self) -> f32 {
        if self.label_above {
            self.y + self.em() * VALUE_LINE_HEIGHT
        } else {
            self.y
        }
    }

    /// Wrap width of the value.
    pub(super) fn value_width(&self) -> f32 {
        self.width - (self.value_x() - self.x)
    }

    /// Space below the value's first baseline, down to the row's bottom edge.
    pub(super) fn room_below_value(&self) -> f32 {
        self.top() + self.height - self.value_y()
    }

    /// Whether `text` fits the row at the smallest size even if every character is 1 em wide
    /// (as CJK characters are; others are narrower); `Err` holds about how many characters
    /// fit.
    pub(super) fn fits_at_smallest(&self, text: &str) -> Result<(), usize> {
        let em = MIN_VALUE_SIZE_PT * MM_PER_PT;
        let per_line = ((self.value_width() + EPSILON_MM) / em).floor().max(1.0) as usize;
        let lines_fit = ((self.room_below_value() - DESCENT * em + EPSILON_MM)
            / (VALUE_LINE_HEIGHT * em))
            .floor()
            .max(0.0) as usize
            + 1;
        let lines: usize = text
            .split('\n')
            .map(|p| p.chars().count().div_ceil(per_line).max(1))
            .sum();
        if lines <= lines_fit {
            Ok(())
        } else {
            Err(per_line * lines_fit)
        }
    }

    /// Top edge: the top of the label's line.
    fn top(&self) -> f32 {
        self.y - self.em()
    }

    /// The row's box.
    fn bounds(&self) -> Rect {
        Rect {
            x0: self.x,
            y0: self.top(),
            x1: self.x + self.width,
            y1: self.top() + self.height,
        }
    }

    /// The least height: the label line (when above) and one line of value.
    fn min_height(&self) -> f32 {
        let lines = if self.label_above { 2.0 } else { 1.0 };
        self.em() * VALUE_LINE_HEIGHT * lines
    }
}

/// Fixed and derived parts of the page.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub(super) width: f32,
    pub(super) height: f32,
    pub(super) identifier_at: [f32; 2],
    pub(super) frames: Vec<Frame>,
    pub(super) title: FixedText,
    pub(super) texts: Vec<FixedText>,
    pub(super) lines: Vec<Rule>,
    pub(super) period: Option<Period>,
    pub(super) qr: Qr,
    pub(super) issuer: Row,
    pub(super) issue_date: Row,
    pub(super) seal_centre: [f32; 2],
}

/// A rectangle drawn `inset` mm inside the page edges.
#[derive(Debug, Clone)]
pub(super) struct Frame {
    pub(super) inset: f32,
    pub(super) line_width_pt: f32,
    pub(super) colour: Rgb,
}

/// Text printed on every licence of the kind.
#[derive(Debug, Clone)]
pub(super) struct FixedText {
    pub(super) text: String,
    pub(super) at: [f32; 2],
    pub(super) size_pt: f32,
    pub(super) align: Align,
    pub(super) width: Option<f32>,
    pub(super) letter_spacing_pt: f32,
    pub(super) line_height: f32,
    pub(super) colour: Rgb,
}

/// A straight rule.
#[derive(Debug, Clone)]
pub(super) struct Rule {
    pub(super) from: [f32; 2],
    pub(super) to: [f32; 2],
    pub(super) width_pt: f32,
    pub(super) colour: Rgb,
}

/// Where and how the validity period is printed.
#[derive(Debug, Clone)]
pub(super) struct Period {
    /// Text with `{from}` and `{to}` (a date, or 长期).
    pub(super) format: String,
    pub(super) row: Row,
}

/// The QR code square and its caption.
#[derive(Debug, Clone)]
pub(super) struct Qr {
    pub(super) at: [f32; 2],
    pub(super) size: f32,
    pub(super) caption: Option<String>,
}

/// Distance from the QR code's bottom edge to its caption's baseline, mm.
pub(super) const QR_CAPTION_GAP_MM: f32 = 5.0;
/// Size of the QR caption, points.
pub(super) const QR_CAPTION_SIZE_PT: f32 = 8.0;

/// An axis-aligned box, mm.
#[derive(Debug, Clone, Copy)]
struct Rect {
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
}

impl Rect {
    fn overlaps(&self, other: &Rect) -> bool {
        self.x0 < other.x1 - EPSILON_MM
            && other.x0 < self.x1 - EPSILON_MM
            && self.y0 < other.y1 - EPSILON_MM
            && other.y0 < self.y1 - EPSILON_MM
    }

    fn within(&self, outer: &Rect) -> bool {
        self.x0 >= outer.x0 - EPSILON_MM
            && self.y0 >= outer.y0 - EPSILON_MM
            && self.x1 <= outer.x1 + EPSILON_MM
            && self.y1 <= outer.y1 + EPSILON_MM
    }
}

impl Template {
    /// Parses and checks the template text of `file` (named in errors).
    pub(super) fn parse(file: &str, text: &str) -> Result<Template, LicenceError> {
        let raw: RawTemplate = serde_path_to_error::deserialize(toml::Deserializer::new(text))
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let line = inner
                    .span()
                    .and_then(|span| text.get(..span.start))
                    .map(|before| before.lines().count().max(1));
                let message = match line {
                    Some(line) => format!("{} (line {line})", inner.message()),
                    None => inner.message().to_string(),
                };
                let field = (path != ".").then_some(path);
                LicenceError::Template(TemplateProblem {
                    file: file.to_string(),
                    field,
                    message,
                })
            })?;
        Checker { file }.template(raw)
    }

    /// The file the template came from.
    pub(super) fn source(&self) -> &str {
        &self.source
    }

    /// The field of `key`.
    pub(super) fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key == key)
    }
}

/// The geometry of a row as written, common to fields, number, period, issuer and issue date.
struct RowInput {
    label: String,
    at: [f32; 2],
    width_mm: f32,
    label_above: bool,
    value_offset_mm: Option<f32>,
    height_mm: Option<f32>,
}

/// Checks a [`RawTemplate`] of `file`.
struct Checker<'a> {
    file: &'a str,
}

type Checked<T> = Result<T, LicenceError>;

impl Checker<'_> {
    fn fail(&self, field: impl Into<String>, message: impl Into<String>) -> LicenceError {
        LicenceError::Template(TemplateProblem {
            file: self.file.to_string(),
            field: Some(field.into()),
            message: message.into(),
        })
    }

    fn template(&self, raw: RawTemplate) -> Checked<Template> {
        self.identifier("kind", &raw.kind)?;
        self.not_blank("name", &raw.name)?;
        LicenceTypeCode::parse(&raw.type_code)
            .map_err(|e| self.fail("type_code", e.to_string()))?;
        self.identifier("department_type", &raw.department_type)?;

        let page = &raw.page;
        self.range("page.width_mm", page.width_mm, 50.0, 5080.0)?;
        self.range("page.height_mm", page.height_mm, 50.0, 5080.0)?;
        self.range("page.font_size_pt", page.font_size_pt, 4.0, 72.0)?;
        self.range(
            "page.value_offset_mm",
            page.value_offset_mm,
            0.0,
            page.width_mm,
        )?;
        let size = [page.width_mm, page.height_mm];
        self.point("page.identifier_at", page.identifier_at, size)?;
        let frames = self.frames(&raw.page)?;

        let fields = self.fields(&raw.fields, page)?;
        self.holder_fields(&raw, &fields)?;
        let validity = self.validity(raw.validity, &fields)?;
        let number = raw
            .number
            .map(|n| self.number(n, &fields, page))
            .transpose()?;
        let period = raw
            .period
            .map(|p| {
                let row = self.row(
                    "period",
                    RowInput {
                        label: p.label,
                        at: p.at,
                        width_mm: p.width_mm,
                        label_above: p.label_above,
                        value_offset_mm: p.value_offset_mm,
                        height_mm: None,
                    },
                    page,
                )?;
                self.period_format(&p.format)?;
                Ok(Period {
                    format: p.format,
                    row,
                })
            })
            .transpose()?;
        let issuer = self.row(
            "issuer",
            RowInput {
                label: raw.issuer.label,
                at: raw.issuer.at,
                width_mm: raw.issuer.width_mm,
                label_above: false,
                value_offset_mm: raw.issuer.value_offset_mm,
                height_mm: None,
            },
            page,
        )?;
        let issue_date = self.row(
            "issue_date",
            RowInput {
                label: raw.issue_date.label.unwrap_or_default(),
                at: raw.issue_date.at,
                width_mm: raw.issue_date.width_mm,
                label_above: false,
                value_offset_mm: raw.issue_date.value_offset_mm,
                height_mm: None,
            },
            page,
        )?;
        self.point("qr.at", raw.qr.at, size)?;
        let qr = Qr {
            at: raw.qr.at,
            size: self.range("qr.size_mm", raw.qr.size_mm, 10.0, 100.0)?,
            caption: raw.qr.caption,
        };
        self.point("seal.centre", raw.seal.centre, size)?;
        let layout = Layout {
            width: page.width_mm,
            height: page.height_mm,
            identifier_at: page.identifier_at,
            title: self.title(raw.title, size)?,
            texts: self.texts(raw.texts, size)?,
            lines: self.lines(raw.lines, size)?,
            frames,
            period,
            qr,
            issuer,
            issue_date,
            seal_centre: raw.seal.centre,
        };
        self.placement(&layout, &fields, number.as_ref())?;
        self.seal_over_issuer(&layout)?;
        Ok(Template {
            kind: raw.kind,
            name: raw.name,
            type_code: raw.type_code,
            department_type: raw.department_type,
            source: self.file.to_string(),
            holder_code_field: raw.holder_code_field,
            holder_name_field: raw.holder_name_field,
            validity,
            fields,
            number,
            layout,
        })
    }

    /// A machine name: lower-case ASCII letters, digits and `_`, starting with a letter.
    fn identifier(&self, path: &str, value: &str) -> Checked<()> {
        let ok = value.starts_with(|c: char| c.is_ascii_lowercase())
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(())
        } else {
            Err(self.fail(
                path,
                format!(
                    "'{value}' must be lower-case letters, digits and _, starting with a letter"
                ),
            ))
        }
    }

    fn not_blank(&self, path: &str, value: &str) -> Checked<()> {
        if value.trim().is_empty() {
            Err(self.fail(path, "must not be empty"))
        } else {
            Ok(())
        }
    }

    /// A finite number within `min..=max`.
    fn range(&self, path: &str, value: f32, min: f32, max: f32) -> Checked<f32> {
        if value.is_finite() && (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(self.fail(path, format!("{value} is not between {min} and {max}")))
        }
    }

    /// A point on a page of `size` mm.
    fn point(&self, path: &str, [x, y]: [f32; 2], size: [f32; 2]) -> Checked<()> {
        self.range(&format!("{path}[0]"), x, 0.0, size[0])?;
        self.range(&format!("{path}[1]"), y, 0.0, size[1])?;
        Ok(())
    }

    fn frames(&self, page: &RawPage) -> Checked<Vec<Frame>> {
        let max_inset = page.width_mm.min(page.height_mm) / 2.0 - 10.0;
        page.frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let path = format!("page.frames[{i}]");
                Ok(Frame {
                    inset: self.range(&format!("{path}.inset_mm"), f.inset_mm, 0.0, max_inset)?,
                    line_width_pt: self.range(
                        &format!("{path}.line_width_pt"),
                        f.line_width_pt,
                        0.0,
                        20.0,
                    )?,
                    colour: f.colour.map_or(RED, |c| c.0),
                })
            })
            .collect()
    }

    fn title(&self, t: RawTitle, size: [f32; 2]) -> Checked<FixedText> {
        self.not_blank("title.text", &t.text)?;
        self.point("title.at", t.at, size)?;
        Ok(FixedText {
            size_pt: self.range("title.size_pt", t.size_pt, 4.0, 200.0)?,
            letter_spacing_pt: self.range(
                "title.letter_spacing_pt",
                t.letter_spacing_pt,
                -t.size_pt / 2.0,
                t.size_pt * 2.0,
            )?,
            text: t.text,
            at: t.at,
            align: Align::Center,
            width: None,
            line_height: 1.2,
            colour: t.colour.map_or(RED, |c| c.0),
        })
    }

    fn texts(&self, texts: Vec<RawText>, size: [f32; 2]) -> Checked<Vec<FixedText>> {
        texts
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let path = format!("texts[{i}]");
                self.not_blank(&format!("{path}.text"), &t.text)?;
                self.point(&format!("{path}.at"), t.at, size)?;
                let width = t
                    .width_mm
                    .map(|w| self.range(&format!("{path}.width_mm"), w, 1.0, size[0]))
                    .transpose()?;
                let size_pt = self.range(&format!("{path}.size_pt"), t.size_pt, 4.0, 200.0)?;
                Ok(FixedText {
                    letter_spacing_pt: self.range(
                        &format!("{path}.letter_spacing_pt"),
                        t.letter_spacing_pt,
                        -size_pt / 2.0,
                        size_pt * 2.0,
                    )?,
                    line_height: t
                        .line_height
                        .map(|h| self.range(&format!("{path}.line_height"), h, 0.8, 4.0))
                        .transpose()?
                        .unwrap_or(1.2),
                    text: t.text,
                    at: t.at,
                    size_pt,
                    align: match t.align {
                        RawAlign::Left => Align::Left,
                        RawAlign::Center => Align::Center,
                        RawAlign::Right => Align::Right,
                    },
                    width,
                    colour: t.colour.map_or(BLACK, |c| c.0),
                })
            })
            .collect()
    }

    fn lines(&self, lines: Vec<RawLine>, size: [f32; 2]) -> Checked<Vec<Rule>> {
        lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                let path = format!("lines[{i}]");
                self.point(&format!("{path}.from"), l.from, size)?;
                self.point(&format!("{path}.to"), l.to, size)?;
                Ok(Rule {
                    from: l.from,
                    to: l.to,
                    width_pt: self.range(&format!("{path}.width_pt"), l.width_pt, 0.0, 20.0)?,
                    colour: l.colour.map_or(RED, |c| c.0),
                })
            })
            .collect()
    }

    /// A label/value row; `path` names it in errors.
    fn row(&self, path: &str, input: RowInput, page: &RawPage) -> Checked<Row> {
        let RowInput {
            label,
            at,
            width_mm,
            label_above,
            value_offset_mm,
            height_mm,
        } = input;
        self.point(&format!("{path}.at"), at, [page.width_mm, page.height_mm])?;
        let width = self.range(
            &format!("{path}.width_mm"),
            width_mm,
            5.0,
            page.width_mm - at[0],
        )?;
        let value_offset = match value_offset_mm {
            Some(v) => self.range(&format!("{path}.value_offset_mm"), v, 0.0, width - 5.0)?,
            None if label_above => 0.0,
            None => self.range(
                &format!("{path}.value_offset_mm"),
                page.value_offset_mm,
                0.0,
                width - 5.0,
            )?,
        };
        let mut row = Row {
            label,
            x: at[0],
            y: at[1],
            width,
            label_above,
            value_offset,
            height: 0.0,
            size_pt: page.font_size_pt,
        };
        let min = row.min_height();
        row.height = match height_mm {
            Some(h) => self.range(&format!("{path}.height_mm"), h, min, page.height_mm)?,
            None => min,
        };
        Ok(row)
    }

    fn fields(&self, raw: &[RawField], page: &RawPage) -> Checked<Vec<Field>> {
        if raw.is_empty() {
            return Err(self.fail("fields", "a template needs at least one field"));
        }
        let mut keys = BTreeSet::new();
        let mut fields = Vec::with_capacity(raw.len());
        for (i, f) in raw.iter().enumerate() {
            let path = format!("fields[{i}]");
            self.identifier(&format!("{path}.key"), &f.key)?;
            if !keys.insert(f.key.as_str()) {
                return Err(self.fail(format!("{path}.key"), format!("duplicate key '{}'", f.key)));
            }
            self.not_blank(&format!("{path}.label"), &f.label)?;
            let kind = self.field_kind(&path, f)?;
            let row = self.row(
                &path,
                RowInput {
                    label: f.label.clone(),
                    at: f.at,
                    width_mm: f.width_mm,
                    label_above: f.label_above,
                    value_offset_mm: f.value_offset_mm,
                    height_mm: f.height_mm,
                },
                page,
            )?;
            fields.push(Field {
                key: f.key.clone(),
                label: f.label.clone(),
                kind,
                required: f.required,
                row,
            });
        }
        Ok(fields)
    }

    /// The field's type with its options; options of other types are refused.
    fn field_kind(&self, path: &str, f: &RawField) -> Checked<FieldKind> {
        let only = |option: &str, ty: &str| {
            self.fail(
                format!("{path}.{option}"),
                format!("is only for fields of type {ty}"),
            )
        };
        if f.values.is_some() && f.kind != RawFieldType::Enum {
            return Err(only("values", "enum"));
        }
        if f.join.is_some() && f.kind != RawFieldType::List {
            return Err(only("join", "list"));
        }
        if f.prefix.is_some() && f.kind != RawFieldType::CreditCode {
            return Err(only("prefix", "credit_code"));
        }
        Ok(match f.kind {
            RawFieldType::Text => FieldKind::Text,
            RawFieldType::LongText => FieldKind::LongText,
            RawFieldType::IdNumber => FieldKind::IdNumber,
            RawFieldType::Date => FieldKind::Date,
            RawFieldType::PeriodEnd => FieldKind::PeriodEnd,
            RawFieldType::Money => FieldKind::Money,
            RawFieldType::CreditCode => {
                if let Some(prefix) = &f.prefix {
                    const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
                    if prefix.is_empty()
                        || prefix.chars().count() > 8
                        || !prefix.chars().all(|c| ALPHABET.contains(c))
                    {
                        return Err(self.fail(
                            format!("{path}.prefix"),
                            format!("'{prefix}' is not 1 to 8 characters of a credit code"),
                        ));
                    }
                }
                FieldKind::CreditCode {
                    prefix: f.prefix.clone(),
                }
            }
            RawFieldType::List => FieldKind::List(f.join.ok_or_else(|| {
                self.fail(
                    format!("{path}.join"),
                    "a list needs join = \"lines\" or \"semicolons\"",
                )
            })?),
            RawFieldType::Enum => {
                let raw = f.values.as_ref().filter(|v| !v.is_empty()).ok_or_else(|| {
                    self.fail(format!("{path}.values"), "an enum needs its allowed values")
                })?;
                let mut seen = BTreeSet::new();
                let mut choices = Vec::with_capacity(raw.len());
                for (j, choice) in raw.iter().enumerate() {
                    let (value, code) = match choice {
                        RawChoice::Plain(v) => (v.trim(), None),
                        RawChoice::Coded(c) => (c.value.trim(), Some(c.code.trim())),
                    };
                    let at = format!("{path}.values[{j}]");
                    if value.is_empty() || code.is_some_and(str::is_empty) {
                        return Err(self.fail(at, "value and code must not be empty"));
                    }
                    if !seen.insert(value) {
                        return Err(self.fail(at, format!("duplicate value '{value}'")));
                    }
                    choices.push(Choice {
                        value: value.to_string(),
                        code: code.map(str::to_string),
                    });
                }
                FieldKind::Enum(choices)
            }
        })
    }

    fn holder_fields(&self, raw: &RawTemplate, fields: &[Field]) -> Checked<()> {
        let find = |path: &str, key: &str| {
            fields
                .iter()
                .find(|f| f.key == key)
                .ok_or_else(|| self.fail(path, format!("there is no field '{key}'")))
        };
        let code = find("holder_code_field", &raw.holder_code_field)?;
        if !matches!(
            code.kind,
            FieldKind::CreditCode { .. } | FieldKind::IdNumber
        ) || !code.required
        {
            return Err(self.fail(
                "holder_code_field",
                format!(
                    "field '{}' must be a required field of type credit_code or id_number",
                    code.key
                ),
            ));
        }
        let name = find("holder_name_field", &raw.holder_name_field)?;
        if name.kind != FieldKind::Text || !name.required {
            return Err(self.fail(
                "holder_name_field",
                format!("field '{}' must be a required field of type text", name.key),
            ));
        }
        Ok(())
    }

    fn validity(&self, raw: RawValidity, fields: &[Field]) -> Checked<Validity> {
        let validity = match raw {
            RawValidity::Years(n) if (1..=100).contains(&n) => Validity::Years(n),
            RawValidity::Years(n) => {
                return Err(self.fail("validity.years", format!("{n} is not between 1 and 100")))
            }
            RawValidity::Indefinite => Validity::Indefinite,
            RawValidity::Fields { from, to } => {
                let kind_of = |key: &str| fields.iter().find(|f| f.key == key);
                match kind_of(&from) {
                    Some(f) if f.kind == FieldKind::Date && f.required => {}
                    _ => {
                        return Err(self.fail(
                            "validity.fields.from",
                            format!("'{from}' must be a required field of type date"),
                        ))
                    }
                }
                match kind_of(&to) {
                    Some(f) if f.kind == FieldKind::PeriodEnd => {}
                    _ => {
                        return Err(self.fail(
                            "validity.fields.to",
                            format!("'{to}' must be a field of type period_end"),
                        ))
                    }
                }
                Validity::Fields { from, to }
            }
        };
        for (i, f) in fields.iter().enumerate() {
            let is_end = matches!(&validity, Validity::Fields { to, .. } if *to == f.key);
            if f.kind == FieldKind::PeriodEnd && !is_end {
                return Err(self.fail(
                    format!("fields[{i}].type"),
                    "a period_end field must be the `to` of validity = { fields = { … } }",
                ));
            }
        }
        Ok(validity)
    }

    fn number(&self, raw: RawNumber, fields: &[Field], page: &RawPage) -> Checked<NumberSpec> {
        self.identifier("number.key", &raw.key)?;
        if fields.iter().any(|f| f.key == raw.key) {
            return Err(self.fail(
                "number.key",
                format!("'{}' is already a field's key", raw.key),
            ));
        }
        let coded = |key: &str| match fields.iter().find(|f| f.key == key) {
            Some(Field {
                kind: FieldKind::Enum(choices),
                required: true,
                ..
            }) if choices.iter().all(|c| c.code.is_some()) => Ok(()),
            _ => Err(format!(
                "{{code:{key}}} needs a required enum field '{key}' with a code for every value"
            )),
        };
        let format =
            NumberFormat::parse(&raw.format, coded).map_err(|e| self.fail("number.format", e))?;
        let row = self.row(
            "number",
            RowInput {
                label: raw.label,
                at: raw.at,
                width_mm: raw.width_mm,
                label_above: raw.label_above,
                value_offset_mm: raw.value_offset_mm,
                height_mm: None,
            },
            page,
        )?;
        Ok(NumberSpec {
            key: raw.key,
            format,
            row,
        })
    }

    fn period_format(&self, format: &str) -> Checked<()> {
        let mut rest = format;
        let mut placeholders = 0;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| self.fail("period.format", "a '{' is not closed"))?;
            match &rest[open + 1..open + close] {
                "from" | "to" => placeholders += 1,
                other => {
                    return Err(self.fail(
                        "period.format",
                        format!("unknown placeholder {{{other}}}: use {{from}} and {{to}}"),
                    ))
                }
            }
            rest = &rest[open + close + 1..];
        }
        if placeholders == 0 {
            return Err(self.fail("period.format", "needs {from} or {to}"));
        }
        Ok(())
    }

    /// The seal's centre lies over the issuer's line: within its width, and at most
    /// [`SEAL_REACH_MM`] above or below its baseline.
    fn seal_over_issuer(&self, layout: &Layout) -> Checked<()> {
        let [x, y] = layout.seal_centre;
        let issuer = &layout.issuer;
        if x < issuer.x || x > issuer.x + issuer.width || (y - issuer.y).abs() > SEAL_REACH_MM {
            return Err(self.fail(
                "seal.centre",
                format!(
                    "[{x}, {y}] is not over the issuer's line (x {}–{} mm, y {} ± {SEAL_REACH_MM} mm)",
                    issuer.x,
                    issuer.x + issuer.width,
                    issuer.y
                ),
            ));
        }
        Ok(())
    }

    /// Every row and the QR code lie inside the innermost frame (or on the page), clear of
    /// each other.
    fn placement(
        &self,
        layout: &Layout,
        fields: &[Field],
        number: Option<&NumberSpec>,
    ) -> Checked<()> {
        let inset = layout.frames.iter().map(|f| f.inset).fold(0.0, f32::max);
        let area = Rect {
            x0: inset,
            y0: inset,
            x1: layout.width - inset,
            y1: layout.height - inset,
        };
        let mut boxes: Vec<(String, Rect)> = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("fields[{i}] ({})", f.key), f.row.bounds()))
            .collect();
        if let Some(n) = number {
            boxes.push(("number".into(), n.row.bounds()));
        }
        if let Some(p) = &layout.period {
            boxes.push(("period".into(), p.row.bounds()));
        }
        boxes.push(("issuer".into(), layout.issuer.bounds()));
        boxes.push(("issue_date".into(), layout.issue_date.bounds()));
        let qr = &layout.qr;
        let caption = if qr.caption.is_some() {
            QR_CAPTION_GAP_MM + QR_CAPTION_SIZE_PT * MM_PER_PT * DESCENT
        } else {
            0.0
        };
        boxes.push((
            "qr".into(),
            Rect {
                x0: qr.at[0],
                y0: qr.at[1],
                x1: qr.at[0] + qr.size,
                y1: qr.at[1] + qr.size + caption,
            },
        ));
        for (i, (name, rect)) in boxes.iter().enumerate() {
            if !rect.within(&area) {
                return Err(self.fail(
                    name.clone(),
                    format!(
                        "reaches outside the {} ({:.1}–{:.1} mm across, {:.1}–{:.1} mm down)",
                        if inset > 0.0 { "frame" } else { "page" },
                        area.x0,
                        area.x1,
                        area.y0,
                        area.y1
                    ),
                ));
            }
            if let Some((other, _)) = boxes[..i].iter().find(|(_, r)| r.overlaps(rect)) {
                return Err(self.fail(name.clone(), format!("overlaps {other}")));
            }
        }
        Ok(())
    }
}
