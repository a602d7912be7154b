//! E-licence identifier (电子证照标识, GB/T 36904-2018 as built by the
//! provincial and national platforms):
//!
//! `1.2.156.3005.2.<type code>.<issuer credit code>.<serial>.<version>.<check>`
//!
//! e.g. `1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F`.
//!
//! # What the check character covers
//!
//! The standard text was not at hand; summaries of it say only that the
//! check character follows GB/T 17710-2008 (= ISO/IEC 7064) MOD 37,36. What
//! was checked:
//! - Public platform clients compute it over type code, issuer code, serial
//!   and version concatenated, without the root and without the dots (e.g.
//!   `getCheckCode("11100000000013338W050" + "113700000045030270" + serial +
//!   "001")`, and `computeCheckCharacter(licenseTypeCode + issueUnit +
//!   serialNumber + version, ISO_7064_MOD_37_HYBRID_36)`).
//! - Recomputed on identifiers published by platforms: `…W032.11220000013544541J.2430599.001.F`
//!   (Hubei guide), `…W011.11430000006122244L.20230000403.001.U` (a housing
//!   ministry certificate interface) and `…W009.11330105002500287C.2025052201.002.0`
//!   (Zhejiang file name) all match that input; with the root digits
//!   included they would end in `W`, `7` and `D` instead. (One Swagger
//!   example matches neither and looks made up.)
//!
//! Decision: the check character is MOD 37,36 over
//! `type code ‖ issuer ‖ serial ‖ version`, without root and dots.
//! The MOD 37,36 implementation is tested with python-stdnum's vector
//! (`A12425GABC1234002` → `M`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{CreditCode, DomainError};

/// Symbols of ISO 7064 MOD 37,36; a symbol's value is its index.
const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Allowed characters, in words, for error messages.
const ALPHANUMERIC: &str = "0-9 and A-Z";

/// ISO/IEC 7064 MOD 37,36 (hybrid system, M = 36): the check character that
/// makes the checksum of `values` followed by it equal 1. Values are 0–35.
fn mod37_36(values: impl Iterator<Item = u32>) -> char {
    const M: u32 = 36;
    let mut p = M;
    for v in values {
        let s = (p + v) % M;
        p = (if s == 0 { M } else { s }) * 2 % (M + 1);
    }
    ALPHABET[((M + 1 - p) % M) as usize] as char
}

/// A licence type code (证照类型代码): the defining authority's credit code
/// and a 3-digit sequence, e.g. `11100000000013338W032`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LicenceTypeCode {
    authority: CreditCode,
    sequence: u16,
}

impl LicenceTypeCode {
    /// A type code from its parts; `sequence` must be at most 999.
    pub fn new(authority: &CreditCode, sequence: u16) -> Result<Self, DomainError> {
        if sequence > 999 {
            return Err(DomainError::OutOfRange {
                what: "licence type sequence",
                found: u64::from(sequence),
                min: 0,
                max: 999,
            });
        }
        Ok(Self {
            authority: authority.clone(),
            sequence,
        })
    }

    /// Parses 21 characters: a valid credit code and three digits.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let what = "licence type code";
        let s = super::normalise(input);
        let chars = super::chars_exact(what, &s, 21, "21")?;
        super::require_digits(what, &chars[18..], 18)?;
        let authority: String = chars[..18].iter().collect();
        let authority = CreditCode::parse_named(&authority, "authority code in licence type code")?;
        let sequence = chars[18..]
            .iter()
            .fold(0u16, |n, &c| n * 10 + super::digit_value(c) as u16);
        Ok(Self {
            authority,
            sequence,
        })
    }

    /// The credit code of the authority that defined the licence type.
    pub fn authority(&self) -> &CreditCode {
        &self.authority
    }

    /// The 3-digit sequence within that authority.
    pub fn sequence(&self) -> u16 {
        self.sequence
    }
}

impl fmt::Display for LicenceTypeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:03}", self.authority, self.sequence)
    }
}

impl fmt::Debug for LicenceTypeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LicenceTypeCode({self})")
    }
}

string_conversions!(LicenceTypeCode);

/// An issuer-defined serial (流水号): 7 to 32 characters of 0-9 and A-Z.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Serial {
    serial: String,
}

impl Serial {
    /// Parses a serial; lower-case letters are upper-cased.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let what = "licence serial";
        let s = super::normalise(input);
        if s.is_empty() {
            return Err(DomainError::Empty { what });
        }
        let len = s.chars().count();
        if !(7..=32).contains(&len) {
            return Err(DomainError::Length {
                what,
                expected: "7 to 32",
                found: len,
            });
        }
        if let Some((i, c)) = s
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_digit() || c.is_ascii_uppercase()))
        {
            return Err(DomainError::Character {
                what,
                position: i + 1,
                found: c,
                allowed: ALPHANUMERIC,
            });
        }
        Ok(Self { serial: s })
    }

    /// A serial from a counter, zero-padded to at least 7 digits
    /// (`42` → `0000042`).
    pub fn from_sequence(n: u64) -> Self {
        Self {
            serial: format!("{n:07}"),
        }
    }

    /// The serial as written.
    pub fn as_str(&self) -> &str {
        &self.serial
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.serial)
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Serial").field(&self.serial).finish()
    }
}

string_conversions!(Serial);

/// A licence version, 1 to 999, written as three digits (`001`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version(u16);

impl Version {
    /// The first version, `001`.
    pub const fn first() -> Version {
        Version(1)
    }

    /// A version from its number (1 to 999).
    pub fn new(n: u16) -> Result<Self, DomainError> {
        if !(1..=999).contains(&n) {
            return Err(DomainError::OutOfRange {
                what: "licence version",
                found: u64::from(n),
                min: 1,
                max: 999,
            });
        }
        Ok(Self(n))
    }

    /// Parses exactly three digits, `001` to `999`.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let what = "licence version";
        let s = super::normalise(input);
        let chars = super::chars_exact(what, &s, 3, "3")?;
        super::require_digits(what, &chars, 0)?;
        let n = chars
            .iter()
            .fold(0u16, |n, &c| n * 10 + super::digit_value(c) as u16);
        Self::new(n)
    }

    /// The version number.
    pub fn get(self) -> u16 {
        self.0
    }

    /// The following version; fails after `999`.
    pub fn next(self) -> Result<Self, DomainError> {
        Self::new(self.0.saturating_add(1))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({self})")
    }
}

string_conversions!(Version);

/// An e-licence identifier with a correct MOD 37,36 check character. Its
/// [`stem`](LicenceId::stem) is stable across versions of one licence.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LicenceId {
    type_code: LicenceTypeCode,
    issuer: CreditCode,
    serial: Serial,
    version: Version,
}

impl LicenceId {
    /// The root OID of e-licence identifiers (电子证照根代码).
    pub const ROOT: &'static str = "1.2.156.3005.2";

    /// Builds an identifier from its parts (the check character is computed).
    pub fn new(
        type_code: &LicenceTypeCode,
        issuer: &CreditCode,
        serial: &Serial,
        version: Version,
    ) -> LicenceId {
        LicenceId {
            type_code: type_code.clone(),
            issuer: issuer.clone(),
            serial: serial.clone(),
            version,
        }
    }

    /// Parses an identifier and verifies its check character; whitespace
    /// around it is ignored and lower-case letters are accepted.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let what = "licence identifier";
        let s = super::normalise(input);
        if s.is_empty() {
            return Err(DomainError::Empty { what });
        }
        let malformed = |reason: String| DomainError::Malformed { what, reason };
        let rest = s
            .strip_prefix(Self::ROOT)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or_else(|| {
                malformed(format!("it must start with the root code {}.", Self::ROOT))
            })?;
        let parts: Vec<&str> = rest.split('.').collect();
        let [type_code, issuer, serial, version, check] = parts[..] else {
            return Err(malformed(format!(
                "expected 5 dot-separated parts after the root (type code, issuer code, \
                 serial, version, check character), found {}",
                parts.len()
            )));
        };
        let id = LicenceId {
            type_code: LicenceTypeCode::parse(type_code)?,
            issuer: CreditCode::parse_named(issuer, "issuer code in licence identifier")?,
            serial: Serial::parse(serial)?,
            version: Version::parse(version)?,
        };
        let mut check_chars = check.chars();
        let found = match (check_chars.next(), check_chars.next()) {
            (Some(c), None) if c.is_ascii_digit() || c.is_ascii_uppercase() => c,
            _ => {
                return Err(malformed(
                    "the check character must be a single character 0-9 or A-Z".to_string(),
                ))
            }
        };
        let expected = id.check_character();
        if found != expected {
            return Err(DomainError::CheckCharacter {
                what,
                found,
                expected,
            });
        }
        Ok(id)
    }

    /// The licence type code.
    pub fn type_code(&self) -> &LicenceTypeCode {
        &self.type_code
    }

    /// The issuing authority's credit code.
    pub fn issuer(&self) -> &CreditCode {
        &self.issuer
    }

    /// The issuer-defined serial.
    pub fn serial(&self) -> &Serial {
        &self.serial
    }

    /// The version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The MOD 37,36 check character over type code, issuer, serial and
    /// version (see the module docs for why this input).
    pub fn check_character(&self) -> char {
        let body = format!(
            "{}{}{}{}",
            self.type_code, self.issuer, self.serial, self.version
        );
        // All characters are 0-9 or A-Z, so `to_digit(36)` yields 0–35.
        mod37_36(body.chars().filter_map(|c| c.to_digit(36)))
    }

    /// The identifier without version and check character:
    /// `1.2.156.3005.2.<type>.<issuer>.<serial>`, the same for every version.
    pub fn stem(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            Self::ROOT,
            self.type_code,
            self.issuer,
            self.serial
        )
    }

    /// The same licence at `version` (with its own check character).
    pub fn with_version(&self, version: Version) -> LicenceId {
        LicenceId {
            version,
            ..self.clone()
        }
    }

    /// The same licence at the following version; fails after `999`.
    pub fn next_version(&self) -> Result<LicenceId, DomainError> {
        Ok(self.with_version(self.version.next()?))
    }
}

impl fmt::Display for LicenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.stem(),
            self.version,
            self.check_character()
        )
    }
}

impl fmt::Debug for LicenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LicenceId({self})")
    }
}

string_conversions!(LicenceId);

#[cfg(test)]
mod tests {
    use super::*;

    const HUBEI: &str = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F";

    fn values(s: &str) -> impl Iterator<Item = u32> + '_ {
        s.chars().map(|c| c.to_digit(36).unwrap())
    }

    #[test]
    fn mod37_36_published_vectors() {
        // python-stdnum stdnum/iso7064/mod_37_36.py doctest.
        assert_eq!(mod37_36(values("A12425GABC1234002")), 'M');
        // xbib standardnumber MOD3736 tests (whole strings have checksum 1).
        assert_eq!(mod37_36(values("B159D8FA01240000")), 'K');
        assert_eq!(mod37_36(values("188166C734200000")), '3');
    }

    #[test]
    fn published_identifiers_are_valid() {
        for id in [
            HUBEI,
            "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
            "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
        ] {
            let parsed = LicenceId::parse(id).unwrap();
            assert_eq!(parsed.to_string(), id);
        }
    }

    #[test]
    fn accessors_and_stem() {
        let id = LicenceId::parse(HUBEI).unwrap();
        assert_eq!(id.type_code().to_string(), "11100000000013338W032");
        assert_eq!(id.type_code().authority().as_str(), "11100000000013338W");
        assert_eq!(id.type_code().sequence(), 32);
        assert_eq!(id.issuer().as_str(), "11220000013544541J");
        assert_eq!(id.serial().as_str(), "2430599");
        assert_eq!(id.version(), Version::first());
        assert_eq!(id.check_character(), 'F');
        assert_eq!(
            id.stem(),
            "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599"
        );
    }

    #[test]
    fn new_matches_parse_and_versions_keep_the_stem() {
        let type_code = LicenceTypeCode::parse("11100000000013338W032").unwrap();
        let issuer = CreditCode::parse("11220000013544541J").unwrap();
        let serial = Serial::parse("2430599").unwrap();
        let id = LicenceId::new(&type_code, &issuer, &serial, Version::first());
        assert_eq!(id.to_string(), HUBEI);
        assert_eq!(id, LicenceId::parse(HUBEI).unwrap());

        let v2 = id.next_version().unwrap();
        assert_eq!(v2.version().to_string(), "002");
        assert_eq!(v2.stem(), id.stem());
        assert_ne!(v2, id);
        let reparsed = LicenceId::parse(&v2.to_string()).unwrap();
        assert_eq!(reparsed, v2);
        assert_eq!(v2.with_version(Version::first()), id);

        let last = id.with_version(Version::new(999).unwrap());
        assert_eq!(
            last.next_version(),
            Err(DomainError::OutOfRange {
                what: "licence version",
                found: 1000,
                min: 1,
                max: 999
            })
        );
    }

    #[test]
    fn wrong_check_character_is_named() {
        let bad = HUBEI.replace(".001.F", ".001.G");
        let err = LicenceId::parse(&bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "licence identifier check character is 'G' but should be 'F'"
        );
        // A different version needs a different check character.
        assert!(LicenceId::parse(&HUBEI.replace(".001.F", ".002.F")).is_err());
    }

    #[test]
    fn lowercase_and_whitespace_are_normalised() {
        let id = LicenceId::parse(&format!("  {}\t", HUBEI.to_lowercase())).unwrap();
        assert_eq!(id.to_string(), HUBEI);
    }

    #[test]
    fn rejects_malformed_identifiers() {
        assert!(matches!(
            LicenceId::parse(""),
            Err(DomainError::Empty { .. })
        ));
        assert!(matches!(
            LicenceId::parse(&HUBEI.replace("1.2.156.3005.2.", "1.2.156.3005.3.")),
            Err(DomainError::Malformed { .. })
        ));
        assert!(matches!(
            LicenceId::parse("1.2.156.3005.2"),
            Err(DomainError::Malformed { .. })
        ));
        assert!(matches!(
            LicenceId::parse(&HUBEI.replace(".001.F", ".001")),
            Err(DomainError::Malformed { .. })
        ));
        assert!(matches!(
            LicenceId::parse(&HUBEI.replace(".001.F", ".001.FF")),
            Err(DomainError::Malformed { .. })
        ));
        assert!(matches!(
            LicenceId::parse(&HUBEI.replace(".001.F", ".001.证")),
            Err(DomainError::Malformed { .. })
        ));
        assert_eq!(
            LicenceId::parse(&HUBEI.replace("541J", "541K"))
                .unwrap_err()
                .to_string(),
            "issuer code in licence identifier check character is 'K' but should be 'J'"
        );
        assert_eq!(
            LicenceId::parse(&HUBEI.replace("338W032", "338X032"))
                .unwrap_err()
                .to_string(),
            "authority code in licence type code check character is 'X' but should be 'W'"
        );
        assert!(matches!(
            LicenceId::parse(&HUBEI.replace("2430599", "243059")),
            Err(DomainError::Length {
                what: "licence serial",
                ..
            })
        ));
        assert!(matches!(
            LicenceId::parse(&HUBEI.replace(".001.", ".000.")),
            Err(DomainError::OutOfRange {
                what: "licence version",
                found: 0,
                ..
            })
        ));
        assert!(LicenceId::parse("1.2.156.3005.2.证照.证照.证照.证照.证").is_err());
    }

    #[test]
    fn small_newtypes() {
        assert_eq!(Serial::from_sequence(42).as_str(), "0000042");
        assert_eq!(Serial::from_sequence(123_456_789).as_str(), "123456789");
        assert_eq!(
            Serial::from_sequence(u64::MAX).as_str(),
            u64::MAX.to_string()
        );
        assert_eq!(Serial::parse("209fa4e88f").unwrap().as_str(), "209FA4E88F");
        assert!(Serial::parse(&"A".repeat(32)).is_ok());
        assert!(matches!(
            Serial::parse(&"A".repeat(33)),
            Err(DomainError::Length { found: 33, .. })
        ));
        assert!(matches!(
            Serial::parse("2430-599"),
            Err(DomainError::Character {
                position: 5,
                found: '-',
                ..
            })
        ));
        assert!(matches!(
            Serial::parse("流水号流水号流水号"),
            Err(DomainError::Character { position: 1, .. })
        ));

        assert_eq!(Version::parse("007").unwrap().get(), 7);
        assert_eq!(Version::new(7).unwrap().to_string(), "007");
        assert!(matches!(
            Version::parse("7"),
            Err(DomainError::Length { .. })
        ));
        assert!(matches!(
            Version::parse("1000"),
            Err(DomainError::Length { .. })
        ));
        assert!(matches!(
            Version::new(1000),
            Err(DomainError::OutOfRange { .. })
        ));
        assert_eq!(Version::first().next().unwrap().to_string(), "002");

        let authority = CreditCode::parse("11100000000013338W").unwrap();
        assert_eq!(
            LicenceTypeCode::new(&authority, 32).unwrap().to_string(),
            "11100000000013338W032"
        );
        assert!(LicenceTypeCode::new(&authority, 1000).is_err());
        assert!(matches!(
            LicenceTypeCode::parse("11100000000013338W03A"),
            Err(DomainError::Character { position: 21, .. })
        ));
    }

    #[test]
    fn serde_goes_through_the_parser() {
        use serde::de::{value::Error, IntoDeserializer};
        let id =
            LicenceId::deserialize(IntoDeserializer::<Error>::into_deserializer(HUBEI)).unwrap();
        assert_eq!(String::from(id), HUBEI);
        let bad = LicenceId::deserialize(IntoDeserializer::<Error>::into_deserializer("1.2.3"));
        assert!(bad.is_err());
        let v = Version::deserialize(IntoDeserializer::<Error>::into_deserializer("002")).unwrap();
        assert_eq!(String::from(v), "002");
    }
}
