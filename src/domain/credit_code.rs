//! Unified social credit code (统一社会信用代码, GB 32100-2015).
//!
//! Layout of the 18 characters:
//!
//! | pos   | meaning |
//! |-------|---------|
//! | 1     | registration authority (`1` staffing, `5` civil affairs, `9` market regulation, `Y` other, ...) |
//! | 2     | entity category under that authority |
//! | 3–8   | division code of the registering authority (GB/T 2260), or `100000` at national level |
//! | 9–17  | organisation code (GB 11714): 8 characters and its own check character |
//! | 18    | check character over positions 1–17 |
//!
//! Both check characters are verified. The GB 11714 check at position 17
//! gives characters the values 0–9 and A–Z = 10–35 (unlike position 18, which
//! uses the 31-symbol alphabet). Verified against the examples in the domain
//! notes (`91350100M000100Y43`, `91110000100006485K`, `12100000400000624D`)
//! and against real codes listed in python-stdnum's `test_cn_uscc.doctest`,
//! including new-style organisation codes such as `91310115MA1K3BTP2B`: all
//! pass both checks, so no exception for the embedded check is needed.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{DivisionCode, DomainError};

/// The 31 symbols of GB 32100; a symbol's value is its index.
const ALPHABET: [char; 31] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'J',
    'K', 'L', 'M', 'N', 'P', 'Q', 'R', 'T', 'U', 'W', 'X', 'Y',
];

/// Weights 3^(i-1) mod 31 for positions 1–17.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// GB 11714 weights for the 8 characters of the organisation code body.
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// Allowed characters, in words, for error messages.
const ALLOWED: &str = "0-9 and A-Z except I, O, S, V and Z";

/// Division part used by national-level registration authorities.
const NATIONAL_DIVISION: &str = "100000";

/// A unified social credit code whose length, alphabet, division part and
/// both check characters are right, e.g. `91350100M000100Y43`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode {
    code: String,
}

impl CreditCode {
    /// Parses a credit code; whitespace around it is ignored and lower-case
    /// letters are accepted.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        Self::parse_named(input, "credit code")
    }

    /// Parses a credit code embedded in another identifier; `what` names it
    /// in error messages.
    pub(super) fn parse_named(input: &str, what: &'static str) -> Result<Self, DomainError> {
        let s = super::normalise(input);
        let chars = super::chars_exact(what, &s, 18, "18")?;
        let values = check_body(what, &chars)?;
        let found = chars[17];
        value_of(what, 17, found)?;
        let expected = check_character(&values);
        if found != expected {
            return Err(DomainError::CheckCharacter {
                what,
                found,
                expected,
            });
        }
        Ok(Self { code: s })
    }

    /// Builds a valid code from its first 17 characters by appending the
    /// check character (for fixtures and tests). Positions 9–17 must already
    /// carry a correct GB 11714 organisation code.
    pub fn complete(first17: &str) -> Result<Self, DomainError> {
        let what = "credit code";
        let mut s = super::normalise(first17);
        let chars = super::chars_exact(what, &s, 17, "17 (without check character)")?;
        let values = check_body(what, &chars)?;
        s.push(check_character(&values));
        Ok(Self { code: s })
    }

    /// The 18 characters.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// Position 1: the registration authority (`9` = market regulation, ...).
    pub fn registration_authority(&self) -> char {
        self.char_at(0)
    }

    /// Position 2: the entity category under the registration authority
    /// (under `9`: `1` enterprise, `2` individual business, `3` cooperative).
    pub fn entity_category(&self) -> char {
        self.char_at(1)
    }

    /// Positions 3–8: the registering authority's division code, or `None`
    /// for a national-level authority (`100000`, e.g. `12100000400000624D`),
    /// which GB/T 2260 does not list.
    pub fn division_code(&self) -> Option<DivisionCode> {
        DivisionCode::parse(self.division_part()).ok()
    }

    /// Positions 3–8 as written.
    fn division_part(&self) -> &str {
        // Invariant: `code` is 18 ASCII characters.
        &self.code[2..8]
    }

    fn char_at(&self, index: usize) -> char {
        self.code.chars().nth(index).unwrap_or('0')
    }
}

/// Looks up a character's value in the 31-symbol alphabet.
fn value_of(what: &'static str, index: usize, c: char) -> Result<usize, DomainError> {
    ALPHABET
        .iter()
        .position(|&a| a == c)
        .ok_or(DomainError::Character {
            what,
            position: index + 1,
            found: c,
            allowed: ALLOWED,
        })
}

/// Validates positions 1–17 (alphabet, division part, GB 11714 check) and
/// returns their values.
fn check_body(what: &'static str, chars: &[char]) -> Result<[usize; 17], DomainError> {
    let mut values = [0; 17];
    for (i, (&c, v)) in chars.iter().zip(values.iter_mut()).enumerate() {
        *v = value_of(what, i, c)?;
    }
    let division = &chars[2..8];
    super::require_digits(what, division, 2)?;
    let division: String = division.iter().collect();
    if division != NATIONAL_DIVISION {
        DivisionCode::parse_named(&division, "division code in credit code")?;
    }
    let org = &chars[8..17];
    let expected = organisation_check(&org[..8]);
    if org[8] != expected {
        return Err(DomainError::CheckCharacter {
            what: "organisation code (positions 9-17) in credit code",
            found: org[8],
            expected,
        });
    }
    Ok(values)
}

/// GB 11714 check character over the 8-character organisation code body
/// (digits 0–9, letters A–Z = 10–35): c = 11 − (Σ v·w mod 11); 10 → X, 11 → 0.
fn organisation_check(body: &[char]) -> char {
    let sum: u32 = body
        .iter()
        .zip(ORG_WEIGHTS)
        .map(|(c, w)| c.to_digit(36).unwrap_or(0) * w)
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        n => char::from_digit(n, 10).unwrap_or('0'),
    }
}

/// GB 32100 check character over the values of positions 1–17:
/// c = 31 − (Σ v·w mod 31); 31 → 0.
fn check_character(values: &[usize; 17]) -> char {
    let sum: u32 = values.iter().zip(WEIGHTS).map(|(&v, w)| v as u32 * w).sum();
    ALPHABET[(31 - sum % 31) as usize % 31]
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

impl fmt::Debug for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CreditCode").field(&self.code).finish()
    }
}

string_conversions!(CreditCode);

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLES: [&str; 3] = [
        "91350100M000100Y43",
        "91110000100006485K",
        "12100000400000624D",
    ];

    #[test]
    fn documented_examples_are_valid() {
        for code in EXAMPLES {
            assert_eq!(CreditCode::parse(code).unwrap().as_str(), code);
        }
    }

    #[test]
    fn real_codes_with_letters_in_organisation_code_are_valid() {
        // From python-stdnum's tests/test_cn_uscc.doctest (codes found online).
        for code in [
            "91310115MA1K3BTP2B",
            "91340603MA2UJXXCXF",
            "92340621MA2PBKRXXG",
            "91620105L015101280",
            "9144030071526726XG",
            "121200004013590816",
            "11100000000013338W",
            "11220000013544541J",
        ] {
            assert!(CreditCode::parse(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn accessors() {
        let c = CreditCode::parse("91350100M000100Y43").unwrap();
        assert_eq!(c.registration_authority(), '9');
        assert_eq!(c.entity_category(), '1');
        assert_eq!(c.division_code().unwrap().as_str(), "350100");
        let national = CreditCode::parse("12100000400000624D").unwrap();
        assert_eq!(national.registration_authority(), '1');
        assert_eq!(national.entity_category(), '2');
        assert_eq!(national.division_code(), None);
    }

    #[test]
    fn wrong_check_character_is_named() {
        let err = CreditCode::parse("91110000100006485X").unwrap_err();
        assert_eq!(
            err,
            DomainError::CheckCharacter {
                what: "credit code",
                found: 'X',
                expected: 'K'
            }
        );
        assert_eq!(
            err.to_string(),
            "credit code check character is 'X' but should be 'K'"
        );
    }

    #[test]
    fn wrong_organisation_check_is_named() {
        // Position 17 changed from 5 to 6 (and position 18 recomputed would not help).
        let err = CreditCode::parse("91110000100006486K").unwrap_err();
        assert_eq!(
            err.to_string(),
            "organisation code (positions 9-17) in credit code check character is '6' but should be '5'"
        );
        assert!(CreditCode::complete("9111000010000648").is_err());
        assert!(CreditCode::complete("91110000100006486").is_err());
    }

    #[test]
    fn normalises_case_and_whitespace() {
        let c = CreditCode::parse("  91350100m000100y43\n").unwrap();
        assert_eq!(c.as_str(), "91350100M000100Y43");
        assert_eq!(c.to_string(), "91350100M000100Y43");
        assert_eq!(
            "91110000100006485k".parse::<CreditCode>().unwrap().as_str(),
            "91110000100006485K"
        );
    }

    #[test]
    fn rejects_excluded_letters() {
        for (bad, pos) in [('I', 9), ('O', 10), ('Z', 11), ('S', 12), ('V', 18)] {
            let mut chars: Vec<char> = "91350100M000100Y43".chars().collect();
            chars[pos - 1] = bad;
            let s: String = chars.into_iter().collect();
            assert_eq!(
                CreditCode::parse(&s),
                Err(DomainError::Character {
                    what: "credit code",
                    position: pos,
                    found: bad,
                    allowed: ALLOWED
                }),
                "{s}"
            );
        }
    }

    #[test]
    fn rejects_bad_lengths_and_non_ascii() {
        assert_eq!(
            CreditCode::parse(""),
            Err(DomainError::Empty {
                what: "credit code"
            })
        );
        assert_eq!(
            CreditCode::parse("91350100M000100Y4"),
            Err(DomainError::Length {
                what: "credit code",
                expected: "18",
                found: 17
            })
        );
        assert_eq!(
            CreditCode::parse("91350100M000100Y433")
                .unwrap_err()
                .to_string(),
            "credit code must be 18 characters long, but has 19"
        );
        // 18 characters, some multi-byte: must not panic.
        assert!(matches!(
            CreditCode::parse("9135０100M000100Y43"),
            Err(DomainError::Character {
                position: 5,
                found: '０',
                ..
            })
        ));
        assert!(CreditCode::parse("统一社会信用代码统一社会信用代码统一").is_err());
        assert!(CreditCode::parse("91 350100M000100Y4").is_err());
    }

    #[test]
    fn rejects_letters_or_unknown_province_in_division_part() {
        assert!(matches!(
            CreditCode::parse("9135A100M000100Y43"),
            Err(DomainError::Character {
                position: 5,
                found: 'A',
                allowed: "digits 0-9",
                ..
            })
        ));
        assert_eq!(
            CreditCode::complete("91990100M000100Y4"),
            Err(DomainError::UnknownProvince {
                what: "division code in credit code",
                province: "99".into()
            })
        );
    }

    #[test]
    fn complete_appends_the_check_character() {
        for code in EXAMPLES {
            assert_eq!(CreditCode::complete(&code[..17]).unwrap().as_str(), code);
        }
        assert_eq!(
            CreditCode::complete("91350100M000100Y43"),
            Err(DomainError::Length {
                what: "credit code",
                expected: "17 (without check character)",
                found: 18
            })
        );
    }

    #[test]
    fn deserialises_through_the_parser() {
        use serde::de::{value::Error, IntoDeserializer};
        let ok = CreditCode::deserialize(IntoDeserializer::<Error>::into_deserializer(
            "91350100m000100y43",
        ));
        assert_eq!(String::from(ok.unwrap()), "91350100M000100Y43");
        let bad = CreditCode::deserialize(IntoDeserializer::<Error>::into_deserializer(
            "91350100M000100Y44",
        ));
        assert!(bad.unwrap_err().to_string().contains("should be '3'"));
    }
}
