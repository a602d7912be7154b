//! Citizen identity number (公民身份号码, GB 11643-1999).

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime};

use super::{DivisionCode, DomainError};

const WHAT: &str = "identity number";

/// Weights for positions 1–17.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check character indexed by Σ v·w mod 11.
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// An 18-character identity number with a real, not future birth date, a
/// province-level address code and a correct check character.
///
/// This is personal data: `Debug` prints only [`IdNumber::masked`]; `Display`
/// and serde give the full number (for storage), so never log those.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdNumber {
    number: String,
    birth_date: Date,
}

impl IdNumber {
    /// Parses an identity number, judging "the future" by today's date in
    /// China (UTC+8). Whitespace around it is ignored; a lower-case `x` is
    /// accepted.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let today = super::TimeZone::CHINA.date_of(OffsetDateTime::now_utc());
        Self::parse_on(input, today)
    }

    /// Parses an identity number, rejecting birth dates after `today`.
    pub fn parse_on(input: &str, today: Date) -> Result<Self, DomainError> {
        let s = super::normalise(input);
        let chars = super::chars_exact(WHAT, &s, 18, "18")?;
        super::require_digits(WHAT, &chars[..17], 0)?;
        let found = chars[17];
        if !(found.is_ascii_digit() || found == 'X') {
            return Err(DomainError::Character {
                what: WHAT,
                position: 18,
                found,
                allowed: "a digit 0-9 or X",
            });
        }
        let address: String = chars[..6].iter().collect();
        DivisionCode::parse_named(&address, "address code in identity number")?;
        let birth_date = birth_date(&chars[6..14])?;
        if birth_date > today {
            return Err(DomainError::FutureDate {
                what: "birth date in identity number",
            });
        }
        let sum: u32 = chars[..17]
            .iter()
            .zip(WEIGHTS)
            .map(|(&c, w)| super::digit_value(c) * w)
            .sum();
        let expected = CHECK[(sum % 11) as usize];
        if found != expected {
            return Err(DomainError::CheckCharacter {
                what: WHAT,
                found,
                expected,
            });
        }
        Ok(Self {
            number: s,
            birth_date,
        })
    }

    /// The full 18 characters. Personal data: do not log or show publicly.
    pub fn as_str(&self) -> &str {
        &self.number
    }

    /// The number with the birth date and sequence hidden: first 6 and last 4
    /// characters kept, e.g. `110105********002X`. Safe for logs and lists.
    pub fn masked(&self) -> String {
        self.number
            .chars()
            .enumerate()
            .map(|(i, c)| if (6..14).contains(&i) { '*' } else { c })
            .collect()
    }

    /// The birth date (positions 7–14).
    pub fn birth_date(&self) -> Date {
        self.birth_date
    }

    /// Whether the holder is male (odd sequence digit at position 17).
    pub fn is_male(&self) -> bool {
        self.number
            .chars()
            .nth(16)
            .is_some_and(|c| super::digit_value(c) % 2 == 1)
    }
}

/// Reads `YYYYMMDD` (eight ASCII digits) as a calendar date.
fn birth_date(digits: &[char]) -> Result<Date, DomainError> {
    let number = |range: std::ops::Range<usize>| {
        digits[range]
            .iter()
            .fold(0u32, |n, &c| n * 10 + super::digit_value(c))
    };
    let invalid = DomainError::InvalidDate {
        what: "birth date in identity number",
    };
    let year = i32::try_from(number(0..4)).map_err(|_| invalid.clone())?;
    let month = u8::try_from(number(4..6))
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or(invalid.clone())?;
    let day = u8::try_from(number(6..8)).map_err(|_| invalid.clone())?;
    Date::from_calendar_date(year, month, day).map_err(|_| invalid)
}

impl fmt::Display for IdNumber {
    /// The full number; use [`IdNumber::masked`] for anything shown or logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.number)
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdNumber").field(&self.masked()).finish()
    }
}

string_conversions!(IdNumber);

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2024 - 06 - 01);

    fn parse(s: &str) -> Result<IdNumber, DomainError> {
        IdNumber::parse_on(s, TODAY)
    }

    /// Builds a number with a correct check character from 17 digits.
    fn with_check(first17: &str) -> String {
        let sum: u32 = first17
            .chars()
            .zip(WEIGHTS)
            .map(|(c, w)| c.to_digit(10).unwrap() * w)
            .sum();
        format!("{first17}{}", CHECK[(sum % 11) as usize])
    }

    #[test]
    fn documented_example_is_valid() {
        let id = parse("11010519491231002X").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.birth_date(), date!(1949 - 12 - 31));
        assert!(!id.is_male());
        assert_eq!(id.masked(), "110105********002X");
        assert!(IdNumber::parse("11010519491231002X").is_ok());
    }

    #[test]
    fn debug_is_masked() {
        let id = parse("11010519491231002X").unwrap();
        let debug = format!("{id:?}");
        assert_eq!(debug, "IdNumber(\"110105********002X\")");
        assert!(!debug.contains("19491231"));
    }

    #[test]
    fn sex_from_sequence_digit() {
        let male = with_check("11010519800101001");
        assert!(parse(&male).unwrap().is_male());
        let female = with_check("11010519800101002");
        assert!(!parse(&female).unwrap().is_male());
    }

    #[test]
    fn lowercase_x_and_whitespace() {
        let id = parse(" 11010519491231002x ").unwrap();
        assert_eq!(id.to_string(), "11010519491231002X");
    }

    #[test]
    fn wrong_check_character_is_named() {
        let err = parse("110105194912310021").unwrap_err();
        assert_eq!(
            err,
            DomainError::CheckCharacter {
                what: WHAT,
                found: '1',
                expected: 'X'
            }
        );
        assert_eq!(
            err.to_string(),
            "identity number check character is '1' but should be 'X'"
        );
    }

    #[test]
    fn rejects_impossible_dates() {
        let invalid = DomainError::InvalidDate {
            what: "birth date in identity number",
        };
        assert_eq!(
            parse(&with_check("11010519490229002")),
            Err(invalid.clone())
        ); // 1949 not leap
        assert_eq!(
            parse(&with_check("11010519000229002")),
            Err(invalid.clone())
        ); // 1900 not leap
        assert!(parse(&with_check("11010520000229002")).is_ok()); // 2000 leap
        assert_eq!(
            parse(&with_check("11010519491301002")),
            Err(invalid.clone())
        );
        assert_eq!(
            parse(&with_check("11010519491200002")),
            Err(invalid.clone())
        );
        assert_eq!(parse(&with_check("11010519490431002")), Err(invalid));
    }

    #[test]
    fn rejects_future_birth_dates() {
        let future = DomainError::FutureDate {
            what: "birth date in identity number",
        };
        assert_eq!(parse(&with_check("11010520240602002")), Err(future.clone()));
        assert!(parse(&with_check("11010520240601002")).is_ok()); // born today
        assert_eq!(parse(&with_check("11010520990101002")), Err(future));
        assert_eq!(
            parse(&with_check("11010520990101002"))
                .unwrap_err()
                .to_string(),
            "birth date in identity number is in the future"
        );
    }

    #[test]
    fn rejects_bad_shape() {
        assert_eq!(parse(""), Err(DomainError::Empty { what: WHAT }));
        assert_eq!(
            parse("11010519491231002"),
            Err(DomainError::Length {
                what: WHAT,
                expected: "18",
                found: 17
            })
        );
        assert!(matches!(
            parse("11010519491231002Y"),
            Err(DomainError::Character {
                position: 18,
                found: 'Y',
                ..
            })
        ));
        assert!(matches!(
            parse("1101051949123100X2"),
            Err(DomainError::Character {
                position: 17,
                found: 'X',
                ..
            })
        ));
        assert!(matches!(
            parse("11010５19491231002X"),
            Err(DomainError::Character {
                position: 6,
                found: '５',
                ..
            })
        ));
        assert!(parse("公民身份号码公民身份号码公民身份号码").is_err());
        assert_eq!(
            parse(&with_check("99010519491231002")),
            Err(DomainError::UnknownProvince {
                what: "address code in identity number",
                province: "99".into()
            })
        );
    }

    #[test]
    fn deserialises_through_the_parser() {
        use serde::de::{value::Error, IntoDeserializer};
        let ok = IdNumber::deserialize(IntoDeserializer::<Error>::into_deserializer(
            "11010519491231002x",
        ));
        assert_eq!(String::from(ok.unwrap()), "11010519491231002X");
        let bad = IdNumber::deserialize(IntoDeserializer::<Error>::into_deserializer(
            "110105194912310021",
        ));
        assert!(bad.is_err());
    }
}
