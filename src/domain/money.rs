//! Amounts in yuan and their Chinese financial capital numerals (大写金额),
//! as written for a business licence's 注册资本.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::DomainError;

const WHAT: &str = "amount";

/// Capital digits 零 to 玖.
const DIGITS: [char; 10] = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];

/// Writes an amount given in fen (1/100 yuan) in financial capital numerals.
///
/// Rules (following the common bank rules of the 支付结算办法):
/// - `元整` when there are no 角 and 分; `元伍角` when there is no 分 (no 整);
///   `元零伍分` when 角 is zero but 分 is not;
/// - one `零` for any run of zeros between two non-zero digits, also across
///   the 万 and 亿 groups (`壹佰万零伍仟`, `壹亿零壹元整`); trailing zeros are
///   silent (`壹亿元整`); ten is written `壹拾`;
/// - zero is `零元整`; below one yuan the 元 part is left out (`伍角`, `伍分`);
/// - groups above 亿 nest (`壹万亿`, `壹亿亿`), so every `u64` is handled.
pub fn capital_numerals(amount_in_fen: u64) -> String {
    if amount_in_fen == 0 {
        return "零元整".to_string();
    }
    let yuan = amount_in_fen / 100;
    let jiao = (amount_in_fen / 10 % 10) as usize;
    let fen = (amount_in_fen % 10) as usize;
    let mut out = String::new();
    if yuan > 0 {
        integer(yuan, &mut out);
        out.push('元');
    }
    match (jiao, fen) {
        (0, 0) => out.push('整'),
        (j, 0) => {
            out.push(DIGITS[j]);
            out.push('角');
        }
        (0, f) => {
            if yuan > 0 {
                out.push('零');
            }
            out.push(DIGITS[f]);
            out.push('分');
        }
        (j, f) => {
            out.push(DIGITS[j]);
            out.push('角');
            out.push(DIGITS[f]);
            out.push('分');
        }
    }
    out
}

/// Writes a positive integer, splitting at 亿 (10^8) and then at 万 (10^4).
fn integer(n: u64, out: &mut String) {
    for (base, unit) in [(100_000_000, '亿'), (10_000, '万')] {
        if n >= base {
            let (high, low) = (n / base, n % base);
            integer(high, out);
            out.push(unit);
            if low > 0 {
                // Zeros between the two parts: at the end of `high` or at the
                // start of `low` (its leading digit position is base / 10).
                if high % 10 == 0 || low < base / 10 {
                    out.push('零');
                }
                integer(low, out);
            }
            return;
        }
    }
    below_ten_thousand(n, out);
}

/// Writes 1..=9999 with 仟佰拾, one 零 for inner zeros and none at the ends.
fn below_ten_thousand(n: u64, out: &mut String) {
    let digits = [n / 1000 % 10, n / 100 % 10, n / 10 % 10, n % 10];
    let units = ["仟", "佰", "拾", ""];
    let mut started = false;
    let mut zero_pending = false;
    for (&d, unit) in digits.iter().zip(units) {
        if d == 0 {
            zero_pending = started;
            continue;
        }
        if zero_pending {
            out.push('零');
            zero_pending = false;
        }
        out.push(DIGITS[d as usize]);
        out.push_str(unit);
        started = true;
    }
}

/// A non-negative amount of money in yuan with at most two decimals, stored
/// exactly in fen. Parsed from strings like `"1000.50"`; displayed with two
/// decimals (`"1000.50"`, `"1000.00"`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Money {
    fen: u64,
}

impl Money {
    /// The largest accepted amount in fen: 999 999 999 999 999.99 yuan (just
    /// under 千万亿), far above any registered capital.
    pub const MAX_FEN: u64 = 99_999_999_999_999_999;

    /// `MAX_FEN` as written in error messages.
    const MAX_TEXT: &'static str = "999999999999999.99";

    /// Parses a decimal yuan amount: digits, optionally a point and one or two
    /// decimals (`"1000"`, `"1000.5"`, `"1000.50"`). No sign, no separators.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(DomainError::Empty { what: WHAT });
        }
        if s.starts_with('-') {
            return Err(malformed("it must not be negative"));
        }
        let mut fen: u64 = 0;
        let mut decimals: Option<usize> = None;
        for (i, c) in s.chars().enumerate() {
            match (c, decimals) {
                ('.', None) => decimals = Some(0),
                ('0'..='9', Some(2)) => return Err(malformed("it has more than 2 decimal places")),
                ('0'..='9', _) => {
                    decimals = decimals.map(|d| d + 1);
                    fen = fen
                        .checked_mul(10)
                        .and_then(|f| f.checked_add(u64::from(super::digit_value(c))))
                        .ok_or(Self::too_large())?;
                }
                _ => {
                    return Err(DomainError::Character {
                        what: WHAT,
                        position: i + 1,
                        found: c,
                        allowed: "digits 0-9 and one decimal point",
                    })
                }
            }
        }
        if s.starts_with('.') {
            return Err(malformed("it has no digits before the decimal point"));
        }
        let scale = match decimals {
            None => 100,
            Some(0) => return Err(malformed("it has no digits after the decimal point")),
            Some(1) => 10,
            Some(_) => 1,
        };
        let fen = fen.checked_mul(scale).ok_or(Self::too_large())?;
        Self::from_fen(fen)
    }

    /// An amount of `fen` (1/100 yuan), at most [`Money::MAX_FEN`].
    pub fn from_fen(fen: u64) -> Result<Self, DomainError> {
        if fen > Self::MAX_FEN {
            return Err(Self::too_large());
        }
        Ok(Self { fen })
    }

    /// The amount in fen.
    pub fn fen(&self) -> u64 {
        self.fen
    }

    /// The amount in capital numerals, e.g. `壹仟万元整`.
    pub fn capital(&self) -> String {
        capital_numerals(self.fen)
    }

    fn too_large() -> DomainError {
        DomainError::TooLarge {
            what: WHAT,
            max: Self::MAX_TEXT,
        }
    }
}

fn malformed(reason: &str) -> DomainError {
    DomainError::Malformed {
        what: WHAT,
        reason: reason.to_string(),
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.fen / 100, self.fen % 100)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

string_conversions!(Money);

#[cfg(test)]
mod tests {
    use super::*;

    fn yuan(n: u64) -> String {
        capital_numerals(n * 100)
    }

    #[test]
    fn brief_examples() {
        assert_eq!(yuan(10_000_000), "壹仟万元整");
        assert_eq!(capital_numerals(100_500_050), "壹佰万零伍仟元伍角");
        assert_eq!(capital_numerals(0), "零元整");
    }

    #[test]
    fn zeros_across_groups() {
        assert_eq!(yuan(1_0000_0001), "壹亿零壹元整");
        assert_eq!(yuan(10_010), "壹万零壹拾元整");
        assert_eq!(yuan(1_0000_0000), "壹亿元整");
        assert_eq!(yuan(1_0001_0000), "壹亿零壹万元整");
        assert_eq!(yuan(1_1000_0000), "壹亿壹仟万元整");
        assert_eq!(yuan(1000_1000), "壹仟万零壹仟元整");
        assert_eq!(yuan(10_0005), "壹拾万零伍元整");
        assert_eq!(yuan(10_7000), "壹拾万零柒仟元整");
        assert_eq!(yuan(1001), "壹仟零壹元整");
        assert_eq!(yuan(1010), "壹仟零壹拾元整");
        assert_eq!(yuan(1100), "壹仟壹佰元整");
        assert_eq!(yuan(10), "壹拾元整");
        assert_eq!(yuan(15), "壹拾伍元整");
        assert_eq!(yuan(50_000), "伍万元整");
        assert_eq!(yuan(1_2345_6789), "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元整");
        assert_eq!(yuan(10_0000_0000), "壹拾亿元整");
        assert_eq!(yuan(1_0000_0000_0000), "壹万亿元整");
        assert_eq!(yuan(1_0001_0000_0000), "壹万零壹亿元整");
    }

    #[test]
    fn jiao_and_fen() {
        assert_eq!(capital_numerals(1_000_050), "壹万元伍角");
        assert_eq!(capital_numerals(1_000_005), "壹万元零伍分");
        assert_eq!(capital_numerals(1_000_055), "壹万元伍角伍分");
        assert_eq!(capital_numerals(168_032), "壹仟陆佰捌拾元叁角贰分");
        assert_eq!(capital_numerals(50), "伍角");
        assert_eq!(capital_numerals(5), "伍分");
        assert_eq!(capital_numerals(55), "伍角伍分");
    }

    #[test]
    fn any_u64_is_written() {
        // 18446744073709551615 fen = 18_4467_4407 亿 3709_5516 元 1 角 5 分.
        assert_eq!(
            capital_numerals(u64::MAX),
            "壹拾捌亿肆仟肆佰陆拾柒万肆仟肆佰零柒亿叁仟柒佰零玖万伍仟伍佰壹拾陆元壹角伍分"
        );
    }

    #[test]
    fn parses_and_displays() {
        let m = Money::parse(" 1000.50 ").unwrap();
        assert_eq!(m.fen(), 100_050);
        assert_eq!(m.to_string(), "1000.50");
        assert_eq!(Money::parse("1000").unwrap().to_string(), "1000.00");
        assert_eq!(Money::parse("1000.5").unwrap().fen(), 100_050);
        assert_eq!(Money::parse("0").unwrap().capital(), "零元整");
        assert_eq!(Money::parse("0.05").unwrap().to_string(), "0.05");
        assert_eq!(Money::parse("007").unwrap().to_string(), "7.00");
        assert_eq!(Money::parse("10000000").unwrap().capital(), "壹仟万元整");
        assert_eq!(
            Money::parse("1005000.50").unwrap().capital(),
            "壹佰万零伍仟元伍角"
        );
        assert_eq!(
            Money::parse("999999999999999.99").unwrap().fen(),
            Money::MAX_FEN
        );
        assert_eq!(
            "12.34".parse::<Money>().unwrap(),
            Money::from_fen(1234).unwrap()
        );
    }

    #[test]
    fn rejects_bad_amounts() {
        assert_eq!(Money::parse(" "), Err(DomainError::Empty { what: WHAT }));
        assert_eq!(
            Money::parse("-1").unwrap_err().to_string(),
            "amount is malformed: it must not be negative"
        );
        assert_eq!(
            Money::parse("1.234").unwrap_err().to_string(),
            "amount is malformed: it has more than 2 decimal places"
        );
        assert_eq!(
            Money::parse("1.").unwrap_err().to_string(),
            "amount is malformed: it has no digits after the decimal point"
        );
        assert!(matches!(
            Money::parse(".5"),
            Err(DomainError::Malformed { .. })
        ));
        assert!(matches!(
            Money::parse("1.2.3"),
            Err(DomainError::Character {
                position: 4,
                found: '.',
                ..
            })
        ));
        assert!(matches!(
            Money::parse("1,000"),
            Err(DomainError::Character {
                position: 2,
                found: ',',
                ..
            })
        ));
        assert!(matches!(
            Money::parse("+1"),
            Err(DomainError::Character { position: 1, .. })
        ));
        assert!(matches!(
            Money::parse("１00"),
            Err(DomainError::Character {
                position: 1,
                found: '１',
                ..
            })
        ));
        assert!(matches!(
            Money::parse("壹仟元"),
            Err(DomainError::Character { .. })
        ));
        let too_large = DomainError::TooLarge {
            what: WHAT,
            max: "999999999999999.99",
        };
        assert_eq!(Money::parse("1000000000000000"), Err(too_large.clone()));
        assert_eq!(
            Money::parse("99999999999999999999999999"),
            Err(too_large.clone())
        );
        assert_eq!(Money::from_fen(Money::MAX_FEN + 1), Err(too_large));
    }

    #[test]
    fn deserialises_through_the_parser() {
        use serde::de::{value::Error, IntoDeserializer};
        let ok = Money::deserialize(IntoDeserializer::<Error>::into_deserializer("1000.5"));
        assert_eq!(String::from(ok.unwrap()), "1000.50");
        let bad = Money::deserialize(IntoDeserializer::<Error>::into_deserializer("-3"));
        assert!(bad.is_err());
    }
}
