//! Checking submitted fields against a template, deriving the validity period, and numbering.

use std::collections::BTreeMap;

use serde_json::Value;
use time::{Date, Duration, Month};

use super::layout::display;
use super::number::NumberFacts;
use super::template::{Field, FieldKind, Validity};
use super::{CheckedFields, FieldValue, LicenceError, Template, TemplateProblem};
use crate::domain::{CreditCode, DivisionCode, IdNumber, Money};

/// How dates are written in requests and stored.
pub(super) const DATE_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

fn field_error(field: &str, message: impl Into<String>) -> LicenceError {
    LicenceError::Field {
        field: field.to_string(),
        message: message.into(),
    }
}

impl Template {
    /// Checks `input` (a JSON object: strings, and arrays of strings for `list` fields) against
    /// the template's fields, and derives holder and validity period; `issued_on` is the issue
    /// date, where the period of `validity = { years = N }` and `"indefinite"` starts.
    pub fn check(&self, input: &Value, issued_on: Date) -> Result<CheckedFields, LicenceError> {
        let object = input
            .as_object()
            .ok_or_else(|| field_error("fields", "must be a JSON object"))?;
        if let Some(unknown) = object.keys().find(|key| self.field(key).is_none()) {
            return Err(field_error(unknown, "is not a field of this licence kind"));
        }
        let mut values = BTreeMap::new();
        for field in &self.fields {
            let value = match object.get(&field.key) {
                None | Some(Value::Null) => None,
                Some(raw) => canonical_value(field, raw)
                    .map_err(|message| field_error(&field.key, message))?,
            };
            if let Some(value) = value
                .as_ref()
                .filter(|_| field.kind != FieldKind::PeriodEnd)
            {
                field
                    .row
                    .fits_at_smallest(&display(&field.kind, value))
                    .map_err(|chars| {
                        field_error(
                            &field.key,
                            format!("is too long to print on the licence (about {chars} characters fit)"),
                        )
                    })?;
            }
            match value {
                Some(value) => {
                    values.insert(field.key.clone(), value);
                }
                None if field.required => {
                    return Err(field_error(
                        &field.key,
                        format!("{} is required", field.name()),
                    ))
                }
                None => {}
            }
        }
        let (valid_from, valid_to) = self.period(&values, issued_on)?;
        let text = |key: &str| match values.get(key) {
            Some(FieldValue::Text(s)) => Ok(s.clone()),
            _ => Err(field_error(key, "is required")),
        };
        Ok(CheckedFields {
            holder_code: text(&self.holder_code_field)?,
            holder_name: text(&self.holder_name_field)?,
            valid_from,
            valid_to,
            values,
            number: None,
        })
    }

    /// Checks a new version of a licence (a change or a renewal): the previous version's stored
    /// values with `changes` laid over them (a key set to `null` is removed), checked as on
    /// `issued_on`. The licence number stays what it was.
    pub fn check_change(
        &self,
        previous: &Value,
        changes: &Value,
        issued_on: Date,
    ) -> Result<CheckedFields, LicenceError> {
        let mut merged = previous.as_object().cloned().unwrap_or_default();
        let number_key = self.number.as_ref().map(|spec| spec.key.clone());
        let number = number_key
            .as_ref()
            .and_then(|key| merged.remove(key))
            .and_then(|value| value.as_str().map(str::to_string));
        match changes {
            Value::Null => {}
            Value::Object(changes) => {
                for (key, value) in changes {
                    if value.is_null() {
                        merged.remove(key);
                    } else {
                        merged.insert(key.clone(), value.clone());
                    }
                }
            }
            _ => return Err(field_error("fields", "must be a JSON object")),
        }
        let mut checked = self.check(&Value::Object(merged), issued_on)?;
        if let (Some(key), Some(number)) = (number_key, number) {
            checked.values.insert(key, FieldValue::Text(number.clone()));
            checked.number = Some(number);
        }
        Ok(checked)
    }

    /// Makes the licence number at issue time from the issuing department's division code, the
    /// licence's serial (within department and kind) and the issue date, and records it in
    /// `fields` (`number`, and `values` under the template's number key). Kinds without a
    /// printed number leave `fields` as it is. Fails (as a template problem) when the serial
    /// does not fit the format's digits.
    pub fn assign_number(
        &self,
        fields: &mut CheckedFields,
        division: &DivisionCode,
        serial: u64,
        issued_on: Date,
    ) -> Result<(), LicenceError> {
        let Some(spec) = &self.number else {
            return Ok(());
        };
        let facts = NumberFacts {
            division,
            serial,
            year: issued_on.year(),
        };
        let code_of = |key: &str| {
            let Some(FieldValue::Text(value)) = fields.values.get(key) else {
                return None;
            };
            match &self.field(key)?.kind {
                FieldKind::Enum(choices) => choices
                    .iter()
                    .find(|c| &c.value == value)
                    .and_then(|c| c.code.clone()),
                _ => None,
            }
        };
        let number = spec.format.generate(&facts, code_of).map_err(|message| {
            LicenceError::Template(TemplateProblem {
                file: self.source().to_string(),
                field: Some("number.format".into()),
                message,
            })
        })?;
        fields
            .values
            .insert(spec.key.clone(), FieldValue::Text(number.clone()));
        fields.number = Some(number);
        Ok(())
    }

    /// First and last valid day under the template's validity rule.
    fn period(
        &self,
        values: &BTreeMap<String, FieldValue>,
        issued_on: Date,
    ) -> Result<(Date, Option<Date>), LicenceError> {
        match &self.validity {
            Validity::Years(years) => Ok((issued_on, Some(last_day(issued_on, *years)))),
            Validity::Indefinite => Ok((issued_on, None)),
            Validity::Fields { from, to } => {
                let date = |key: &str| match values.get(key) {
                    Some(FieldValue::Text(s)) => Date::parse(s, DATE_FORMAT)
                        .map(Some)
                        .map_err(|e| field_error(key, e.to_string())),
                    _ => Ok(None),
                };
                let valid_from = date(from)?.ok_or_else(|| field_error(from, "is required"))?;
                let valid_to = date(to)?;
                if valid_to.is_some_and(|end| end < valid_from) {
                    return Err(field_error(to, "ends before the validity starts"));
                }
                Ok((valid_from, valid_to))
            }
        }
    }
}

/// The last valid day of a period of `years` starting on `start`: the day before the same date
/// `years` later (a period starting on 29 February ends on 28 February).
fn last_day(start: Date, years: u8) -> Date {
    let year = start.year() + i32::from(years);
    let anniversary = Date::from_calendar_date(year, start.month(), start.day())
        .or_else(|_| Date::from_calendar_date(year, Month::March, 1))
        .unwrap_or(Date::MAX);
    anniversary - Duration::days(1)
}

/// The canonical value of a submitted `raw` value of `field`; `None` when it is blank (absent).
fn canonical_value(field: &Field, raw: &Value) -> Result<Option<FieldValue>, String> {
    match (&field.kind, raw) {
        (FieldKind::List(_), Value::Array(items)) => list_value(items),
        // One string (a CSV cell, say): items separated by ；, ; or line breaks.
        (FieldKind::List(_), Value::String(joined)) => list_value(
            &joined
                .split(['；', ';', '\n', '\r'])
                .filter(|item| !item.trim().is_empty())
                .map(|item| Value::String(item.to_string()))
                .collect::<Vec<_>>(),
        ),
        (FieldKind::List(_), _) => Err(NOT_A_LIST.into()),
        (kind, Value::String(s)) => Ok(text_value(kind, s.trim())?.map(FieldValue::Text)),
        _ => Err("must be a string".into()),
    }
}

const NOT_A_LIST: &str =
    "must be a JSON array of strings, or one string with the items separated by ；";
/// Longest `text` value, in characters.
const MAX_TEXT: usize = 200;
/// Longest `long_text` value, or all items of a `list` together.
const MAX_LONG_TEXT: usize = 2000;

/// The items of a list, each one non-empty line; `None` for an empty list.
fn list_value(items: &[Value]) -> Result<Option<FieldValue>, String> {
    let mut list = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::String(s) = item else {
            return Err(format!("item {} must be a string", i + 1));
        };
        let s = s.trim();
        if s.is_empty() || s.contains(['\n', '\r']) {
            return Err(format!("item {} must be one non-empty line", i + 1));
        }
        list.push(s.to_string());
    }
    let chars: usize = list.iter().map(|s| s.chars().count()).sum();
    if chars > MAX_LONG_TEXT {
        return Err(format!("is longer than {MAX_LONG_TEXT} characters"));
    }
    Ok((!list.is_empty()).then_some(FieldValue::List(list)))
}

/// The canonical form of a trimmed string value of a field of `kind`; `None` when it is empty.
fn text_value(kind: &FieldKind, raw: &str) -> Result<Option<String>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    let value = match kind {
        FieldKind::Text if raw.chars().count() > MAX_TEXT => {
            return Err(format!("is longer than {MAX_TEXT} characters"))
        }
        FieldKind::LongText if raw.chars().count() > MAX_LONG_TEXT => {
            return Err(format!("is longer than {MAX_LONG_TEXT} characters"))
        }
        FieldKind::Text | FieldKind::LongText => raw.to_string(),
        FieldKind::CreditCode { prefix } => {
            let code = CreditCode::parse(raw).map_err(|e| e.to_string())?;
            match prefix {
                Some(prefix) if !code.as_str().starts_with(prefix.as_str()) => {
                    return Err(format!(
                        "must start with {prefix} for this licence kind, not {}",
                        &code.as_str()[..prefix.len()]
                    ))
                }
                _ => code.to_string(),
            }
        }
        FieldKind::IdNumber => IdNumber::parse(raw)
            .map(|c| c.to_string())
            .map_err(|e| e.to_string())?,
        FieldKind::Date | FieldKind::PeriodEnd => Date::parse(raw, DATE_FORMAT)
            .map(|d| d.to_string())
            .map_err(|_| "must be a date written YYYY-MM-DD".to_string())?,
        FieldKind::Money => raw
            .parse::<Money>()
            .map(|m| m.to_string())
            .map_err(|e| e.to_string())?,
        FieldKind::Enum(choices) => match choices.iter().find(|c| c.value == raw) {
            Some(choice) => choice.value.clone(),
            None => {
                let allowed: Vec<&str> = choices.iter().map(|c| c.value.as_str()).collect();
                return Err(format!("must be one of: {}", allowed.join(", ")));
            }
        },
        FieldKind::List(_) => return Err(NOT_A_LIST.into()),
    };
    Ok(Some(value))
}
