//! Domain newtypes: "parse, don't validate".
//!
//! Every identifier and amount the service handles enters through one of the
//! types here. Each type has a private field and a parser as its only
//! constructor, so a value of the type is proof that the input was well formed
//! and its check characters were right. All parsers trim surrounding
//! whitespace, upper-case ASCII letters where the identifier is
//! case-insensitive, never panic, and fail with a [`DomainError`] whose message
//! names what is wrong in plain English.
//!
//! All types implement `Display` (the canonical form), `FromStr`, and serde:
//! they serialise as that canonical string and deserialise through the parser.
//!
//! The layer does not know the name of the field a value came from; a caller
//! building an HTTP 422 problem pairs its field name with the error's message.

/// Implements `FromStr`, `TryFrom<String>` and `From<T> for String` for a type
/// with an inherent `parse(&str) -> Result<Self, DomainError>` and `Display`,
/// which is what `#[serde(try_from = "String", into = "String")]` needs.
macro_rules! string_conversions {
    ($t:ty) => {
        impl ::std::str::FromStr for $t {
            type Err = super::DomainError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $t {
            type Error = super::DomainError;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$t> for String {
            fn from(value: $t) -> String {
                value.to_string()
            }
        }
    };
}

pub mod credit_code;
pub mod division_code;
pub mod holder_code;
pub mod id_number;
pub mod licence_id;
pub mod money;
pub mod time_zone;

pub use credit_code::CreditCode;
pub use division_code::DivisionCode;
pub use holder_code::HolderCode;
pub use id_number::IdNumber;
pub use licence_id::{LicenceId, LicenceTypeCode, Serial, Version};
pub use money::{capital_numerals, Money};
pub use time_zone::TimeZone;

/// Why a value could not be parsed into a domain type.
///
/// `what` names the kind of value in English ("credit code", "issuing
/// authority code in licence identifier", ...); positions are 1-based and
/// count characters, not bytes. No variant carries a whole identity number
/// or birth date, so errors are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The input was empty or only whitespace.
    #[error("{what} is empty")]
    Empty {
        /// The kind of value.
        what: &'static str,
    },
    /// The input has the wrong number of characters.
    #[error("{what} must be {expected} characters long, but has {found}")]
    Length {
        /// The kind of value.
        what: &'static str,
        /// The required length, e.g. `"18"` or `"7 to 32"`.
        expected: &'static str,
        /// The number of characters found (after trimming).
        found: usize,
    },
    /// A character is not allowed at its position.
    #[error("{what} has {found:?} at position {position}; allowed there: {allowed}")]
    Character {
        /// The kind of value.
        what: &'static str,
        /// 1-based character position.
        position: usize,
        /// The offending character.
        found: char,
        /// The characters allowed at that position, in words.
        allowed: &'static str,
    },
    /// A check character does not match the one computed from the rest.
    #[error("{what} check character is '{found}' but should be '{expected}'")]
    CheckCharacter {
        /// The kind of value whose check character is wrong.
        what: &'static str,
        /// The check character given.
        found: char,
        /// The check character computed.
        expected: char,
    },
    /// A date field is not a real calendar date (e.g. 29 February 1949).
    #[error("{what} is not a real calendar date")]
    InvalidDate {
        /// The kind of date.
        what: &'static str,
    },
    /// A date field lies after today.
    #[error("{what} is in the future")]
    FutureDate {
        /// The kind of date.
        what: &'static str,
    },
    /// A division code does not start with a province-level code.
    #[error("{what} starts with {province}, which is not a province-level division code")]
    UnknownProvince {
        /// The kind of division code.
        what: &'static str,
        /// The first two digits found.
        province: String,
    },
    /// A number is outside its allowed range.
    #[error("{what} {found} is out of range; it must be between {min} and {max}")]
    OutOfRange {
        /// The kind of number.
        what: &'static str,
        /// The number given (or computed, e.g. the version after 999).
        found: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// An amount is larger than the service accepts.
    #[error("{what} exceeds the maximum of {max}")]
    TooLarge {
        /// The kind of amount.
        what: &'static str,
        /// The maximum, as written.
        max: &'static str,
    },
    /// The overall shape is wrong (parts missing, sign, decimal places, ...).
    #[error("{what} is malformed: {reason}")]
    Malformed {
        /// The kind of value.
        what: &'static str,
        /// What is wrong with its shape.
        reason: String,
    },
}

/// Trims surrounding whitespace and upper-cases ASCII letters; other
/// characters are kept so that errors can point at them.
fn normalise(input: &str) -> String {
    input.trim().to_ascii_uppercase()
}

/// Splits normalised input into characters, requiring exactly `len` of them.
fn chars_exact(
    what: &'static str,
    s: &str,
    len: usize,
    expected: &'static str,
) -> Result<Vec<char>, DomainError> {
    if s.is_empty() {
        return Err(DomainError::Empty { what });
    }
    let chars: Vec<char> = s.chars().collect();
    if chars.len() != len {
        return Err(DomainError::Length {
            what,
            expected,
            found: chars.len(),
        });
    }
    Ok(chars)
}

/// Requires every character of `chars` to be an ASCII digit; `offset` is the
/// 0-based position of `chars[0]` in the whole value, for error messages.
fn require_digits(what: &'static str, chars: &[char], offset: usize) -> Result<(), DomainError> {
    match chars.iter().position(|c| !c.is_ascii_digit()) {
        Some(i) => Err(DomainError::Character {
            what,
            position: offset + i + 1,
            found: chars[i],
            allowed: "digits 0-9",
        }),
        None => Ok(()),
    }
}

/// The value of an ASCII digit character (0 for anything else).
fn digit_value(c: char) -> u32 {
    c.to_digit(10).unwrap_or(0)
}
