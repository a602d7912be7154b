//! Administrative division code (行政区划代码, GB/T 2260).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::DomainError;

/// Province-level codes (省级): the first two digits of every real division
/// code. 11–15 North, 21–23 North-east, 31–37 East, 41–46 Central-South,
/// 50–54 South-west, 61–65 North-west, 71 Taiwan, 81 Hong Kong, 82 Macao.
const PROVINCES: [u8; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// A 6-digit administrative division code whose first two digits are a real
/// province-level code, e.g. `110105` (北京市朝阳区). `000000` is rejected.
///
/// Only the province part is checked against the standard; prefecture and
/// county parts change every year and are not looked up.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DivisionCode {
    code: String,
}

impl DivisionCode {
    /// Parses a division code (surrounding whitespace is ignored).
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        Self::parse_named(input, "division code")
    }

    /// Parses a division code embedded in another identifier; `what` names it
    /// in error messages.
    pub(super) fn parse_named(input: &str, what: &'static str) -> Result<Self, DomainError> {
        let s = super::normalise(input);
        let chars = super::chars_exact(what, &s, 6, "6")?;
        super::require_digits(what, &chars, 0)?;
        let province = super::digit_value(chars[0]) * 10 + super::digit_value(chars[1]);
        if !PROVINCES.iter().any(|&p| u32::from(p) == province) {
            return Err(DomainError::UnknownProvince {
                what,
                province: format!("{province:02}"),
            });
        }
        Ok(Self { code: s })
    }

    /// The six digits.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The province-level part: the first two digits, e.g. `"11"`.
    pub fn province(&self) -> &str {
        // Invariant: `code` is exactly six ASCII digits.
        &self.code[..2]
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

impl fmt::Debug for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DivisionCode").field(&self.code).finish()
    }
}

string_conversions!(DivisionCode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_codes_and_trims() {
        let d = DivisionCode::parse(" 110105 ").unwrap();
        assert_eq!(d.as_str(), "110105");
        assert_eq!(d.province(), "11");
        for code in [
            "350100", "460000", "500000", "650000", "710000", "810000", "820000",
        ] {
            assert!(DivisionCode::parse(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn rejects_all_zero_and_unknown_provinces() {
        for (code, province) in [
            ("000000", "00"),
            ("100000", "10"),
            ("160000", "16"),
            ("470000", "47"),
            ("830000", "83"),
            ("990000", "99"),
        ] {
            assert_eq!(
                DivisionCode::parse(code),
                Err(DomainError::UnknownProvince {
                    what: "division code",
                    province: province.into()
                }),
                "{code}"
            );
        }
        assert_eq!(
            DivisionCode::parse("000000").unwrap_err().to_string(),
            "division code starts with 00, which is not a province-level division code"
        );
    }

    #[test]
    fn rejects_bad_length_and_characters() {
        assert_eq!(
            DivisionCode::parse("  "),
            Err(DomainError::Empty {
                what: "division code"
            })
        );
        assert_eq!(
            DivisionCode::parse("11010"),
            Err(DomainError::Length {
                what: "division code",
                expected: "6",
                found: 5
            })
        );
        assert_eq!(
            DivisionCode::parse("11010A"),
            Err(DomainError::Character {
                what: "division code",
                position: 6,
                found: 'A',
                allowed: "digits 0-9"
            })
        );
        assert_eq!(
            DivisionCode::parse("11０105"),
            Err(DomainError::Character {
                what: "division code",
                position: 3,
                found: '０',
                allowed: "digits 0-9"
            })
        );
        assert!(DivisionCode::parse("北京市朝阳区").is_err());
    }

    #[test]
    fn serde_goes_through_the_parser() {
        use serde::de::{value::Error, IntoDeserializer};
        let d = DivisionCode::deserialize(IntoDeserializer::<Error>::into_deserializer(" 350100"))
            .unwrap();
        assert_eq!(String::from(d.clone()), "350100");
        assert_eq!("350100".parse::<DivisionCode>().unwrap(), d);
        let bad = DivisionCode::deserialize(IntoDeserializer::<Error>::into_deserializer("990000"));
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("not a province-level"));
    }
}
