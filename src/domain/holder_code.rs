//! Who holds a licence: an organisation, by its unified social credit code, or a person, by
//! the resident identity number.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{CreditCode, DomainError, IdNumber};

/// A licence holder's code: a credit code (18 characters, organisations) or an identity number
/// (18 characters, people). Both are 18 characters, so the check characters decide.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum HolderCode {
    /// An organisation (company, public institution, …).
    Organisation(CreditCode),
    /// A natural person.
    Person(IdNumber),
}

impl HolderCode {
    /// Parses a credit code or, failing that, an identity number. (A value valid as both, when
    /// the check characters agree by chance, counts as a credit code; holders are matched by
    /// the code itself, so only its masking depends on that.)
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        match CreditCode::parse(input) {
            Ok(code) => Ok(HolderCode::Organisation(code)),
            Err(credit_error) => match IdNumber::parse(input) {
                Ok(id) => Ok(HolderCode::Person(id)),
                Err(_) => Err(DomainError::Malformed {
                    what: "holder code",
                    reason: format!(
                        "neither a credit code ({credit_error}) nor a valid identity number"
                    ),
                }),
            },
        }
    }

    /// The code as shown to others: identity numbers masked, credit codes in full.
    pub fn masked(&self) -> String {
        match self {
            HolderCode::Organisation(code) => code.to_string(),
            HolderCode::Person(id) => id.masked(),
        }
    }
}

impl fmt::Display for HolderCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HolderCode::Organisation(code) => fmt::Display::fmt(code, f),
            HolderCode::Person(id) => fmt::Display::fmt(id, f),
        }
    }
}

impl fmt::Debug for HolderCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HolderCode::Organisation(code) => write!(f, "HolderCode({code})"),
            HolderCode::Person(id) => write!(f, "HolderCode({})", id.masked()),
        }
    }
}

string_conversions!(HolderCode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_codes_and_identity_numbers_are_holders_and_nothing_else_is() {
        let company = HolderCode::parse(" 91350100m000100y43 ").unwrap();
        assert!(matches!(company, HolderCode::Organisation(_)));
        assert_eq!(company.to_string(), "91350100M000100Y43");
        assert_eq!(company.masked(), "91350100M000100Y43");

        let person = HolderCode::parse("11010519491231002X").unwrap();
        assert!(matches!(person, HolderCode::Person(_)));
        assert_eq!(person.to_string(), "11010519491231002X");
        assert_ne!(person.masked(), person.to_string());
        assert!(!format!("{person:?}").contains("19491231"));

        let error = HolderCode::parse("91350100M000100Y44").unwrap_err();
        assert!(error.to_string().contains("holder code"), "{error}");
        assert!(HolderCode::parse("").is_err());
    }
}
