//! Laying out a licence page from its template: frames, title and fixed texts, the rows of
//! fields, number, period, issuer and issue date, the QR code and the identifier.

use time::Date;

use super::check::DATE_FORMAT;
use super::template::{
    FieldKind, FixedText, ListJoin, Row, DESCENT, MIN_VALUE_SIZE_PT, MM_PER_PT, QR_CAPTION_GAP_MM,
    QR_CAPTION_SIZE_PT, VALUE_LINE_HEIGHT,
};
use super::{CheckedFields, FieldValue, PageFacts, Template};
use crate::domain::Money;
use crate::pdf::render::{Align, Document, Item, Page, Renderer, Rgb};

/// Black of printed text.
const INK: Rgb = Rgb(0, 0, 0);
/// Step of shrinking, points.
const SHRINK_STEP_PT: f32 = 0.5;
/// Size of the identifier at the foot of the page, points.
const IDENTIFIER_SIZE_PT: f32 = 7.0;
/// Baseline distance of labels and one-line texts, as a multiple of the font size.
const LABEL_LINE_HEIGHT: f32 = 1.2;

impl Template {
    /// Lays out the licence page. Values are wrapped at their row's width and, where they
    /// would not fit the row's height, set smaller (down to 6 pt); `renderer` measures them.
    pub fn layout(
        &self,
        fields: &CheckedFields,
        facts: &PageFacts<'_>,
        renderer: &Renderer,
    ) -> Document {
        let l = &self.layout;
        let mut items: Vec<Item> = l
            .frames
            .iter()
            .map(|f| Item::Rect {
                x_mm: f.inset,
                y_mm: f.inset,
                width_mm: l.width - 2.0 * f.inset,
                height_mm: l.height - 2.0 * f.inset,
                stroke: f.colour,
                line_width_pt: f.line_width_pt,
            })
            .collect();
        items.extend(l.lines.iter().map(|r| Item::Line {
            from_mm: (r.from[0], r.from[1]),
            to_mm: (r.to[0], r.to[1]),
            stroke: r.colour,
            line_width_pt: r.width_pt,
        }));
        items.push(fixed_text(&l.title));
        items.extend(l.texts.iter().map(fixed_text));
        items.push(Item::Qr {
            x_mm: l.qr.at[0],
            y_mm: l.qr.at[1],
            size_mm: l.qr.size,
            payload: facts.qr_payload.to_string(),
        });
        if let Some(caption) = &l.qr.caption {
            items.push(text(
                l.qr.at[0] + l.qr.size / 2.0,
                l.qr.at[1] + l.qr.size + QR_CAPTION_GAP_MM,
                caption,
                QR_CAPTION_SIZE_PT,
                Align::Center,
            ));
        }
        let period = period_text("{from}至{to}", fields);
        for field in &self.fields {
            let value = match (&field.kind, fields.values.get(&field.key)) {
                (FieldKind::PeriodEnd, _) => period.clone(),
                (kind, Some(value)) => display(kind, value),
                (_, None) => continue,
            };
            items.extend(row_items(&field.row, &value, renderer));
        }
        if let (Some(spec), Some(number)) = (&self.number, &fields.number) {
            items.extend(row_items(&spec.row, number, renderer));
        }
        if let Some(p) = &l.period {
            items.extend(row_items(&p.row, &period_text(&p.format, fields), renderer));
        }
        items.extend(row_items(&l.issuer, facts.issuer_name, renderer));
        items.extend(row_items(
            &l.issue_date,
            &chinese_date(facts.issued_on),
            renderer,
        ));
        items.push(text(
            l.identifier_at[0],
            l.identifier_at[1],
            &format!("电子证照标识 {}", facts.identifier),
            IDENTIFIER_SIZE_PT,
            Align::Center,
        ));
        Document {
            title: format!("{} {}", self.name, fields.holder_name),
            pages: vec![Page {
                width_mm: l.width,
                height_mm: l.height,
                items,
            }],
            shared_text: self.shared_text(),
        }
    }

    /// What every licence of the kind prints: title, fixed texts, labels, digits and the
    /// characters of dates and the validity period, and of an amount's unit if a field is
    /// one. The renderer subsets the font for these once per kind. (Characters that only some
    /// licences print, such as capital numerals or the letters of codes, stay out: every
    /// licence would carry their glyphs.)
    fn shared_text(&self) -> String {
        const DATES_AND_IDENTIFIERS: &str = "电子证照标识0123456789年月日至长期";
        const AMOUNTS: &str = "人民币元整";
        let l = &self.layout;
        let mut shared = String::from(DATES_AND_IDENTIFIERS);
        let labels = self
            .fields
            .iter()
            .map(|f| &f.row.label)
            .chain(self.number.iter().map(|n| &n.row.label))
            .chain(l.period.iter().map(|p| &p.row.label))
            .chain([&l.issuer.label, &l.issue_date.label]);
        let texts = std::iter::once(&l.title)
            .chain(&l.texts)
            .map(|t| &t.text)
            .chain(&l.qr.caption);
        for text in labels.chain(texts) {
            shared.push_str(text);
        }
        if self.fields.iter().any(|f| f.kind == FieldKind::Money) {
            shared.push_str(AMOUNTS);
        }
        shared
    }

    /// Where the seal's centre goes, mm from the top-left corner: over the issuer's line.
    pub fn seal_centre_mm(&self) -> (f32, f32) {
        let [x, y] = self.layout.seal_centre;
        (x, y)
    }
}

/// The label and the value of a row; the value wraps at the row's width and is set smaller
/// until its lines fit the row's height.
fn row_items(row: &Row, value: &str, renderer: &Renderer) -> Vec<Item> {
    let mut items = Vec::with_capacity(2);
    if !row.label.is_empty() {
        items.push(text(row.x, row.y, &row.label, row.size_pt, Align::Left));
    }
    let width = row.value_width();
    let room = row.room_below_value();
    let mut size = row.size_pt;
    loop {
        let lines = renderer.wrap(value, size, width).len().max(1);
        let needed = ((lines - 1) as f32 * VALUE_LINE_HEIGHT + DESCENT) * size * MM_PER_PT;
        if needed <= room || size <= MIN_VALUE_SIZE_PT {
            break;
        }
        size = (size - SHRINK_STEP_PT).max(MIN_VALUE_SIZE_PT);
    }
    items.push(Item::Text {
        x_mm: row.value_x(),
        y_mm: row.value_y(),
        size_pt: size,
        text: value.to_string(),
        color: INK,
        align: Align::Left,
        max_width_mm: Some(width),
        line_height: VALUE_LINE_HEIGHT,
        letter_spacing_pt: 0.0,
    });
    items
}

fn fixed_text(t: &FixedText) -> Item {
    Item::Text {
        x_mm: t.at[0],
        y_mm: t.at[1],
        size_pt: t.size_pt,
        text: t.text.clone(),
        color: t.colour,
        align: t.align,
        max_width_mm: t.width,
        line_height: t.line_height,
        letter_spacing_pt: t.letter_spacing_pt,
    }
}

fn text(x_mm: f32, y_mm: f32, text: &str, size_pt: f32, align: Align) -> Item {
    Item::Text {
        x_mm,
        y_mm,
        size_pt,
        text: text.to_string(),
        color: INK,
        align,
        max_width_mm: None,
        line_height: LABEL_LINE_HEIGHT,
        letter_spacing_pt: 0.0,
    }
}

/// `format` with `{from}` and `{to}` replaced by the validity period's dates (长期 for no end).
fn period_text(format: &str, fields: &CheckedFields) -> String {
    let to = fields
        .valid_to
        .map_or_else(|| "长期".to_string(), chinese_date);
    format
        .replace("{from}", &chinese_date(fields.valid_from))
        .replace("{to}", &to)
}

/// The printed form of a canonical value of a field of `kind`.
pub(super) fn display(kind: &FieldKind, value: &FieldValue) -> String {
    match (kind, value) {
        (FieldKind::List(join), FieldValue::List(items)) => match join {
            ListJoin::Lines => items.join("\n"),
            ListJoin::Semicolons => items.join("；"),
        },
        (FieldKind::Date, FieldValue::Text(s)) => Date::parse(s, DATE_FORMAT)
            .map(chinese_date)
            .unwrap_or_else(|_| s.clone()),
        (FieldKind::Money, FieldValue::Text(s)) => s
            .parse::<Money>()
            .map(|m| format!("人民币{}", m.capital()))
            .unwrap_or_else(|_| s.clone()),
        (_, FieldValue::Text(s)) => s.clone(),
        (_, FieldValue::List(items)) => items.join("；"),
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
