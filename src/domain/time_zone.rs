//! The administrative time zone: the one in which a licence's dates (发证日期, the first day of
//! validity, the day a status is asked about) are counted.
//!
//! A licence issued at 07:30 in Beijing is issued on that Beijing day, although it is still
//! the previous day in UTC. Mainland China keeps one zone without daylight saving time, so a
//! fixed offset is exact; a deployment elsewhere names its own offset.

use time::{Date, OffsetDateTime, UtcOffset};

use super::DomainError;

const WHAT: &str = "time zone";

/// A fixed UTC offset, by default China Standard Time (`Asia/Shanghai`, UTC+08:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(UtcOffset);

impl TimeZone {
    /// China Standard Time, UTC+08:00 (`Asia/Shanghai`).
    pub const CHINA: TimeZone = TimeZone(time::macros::offset!(+8));

    /// Parses `Asia/Shanghai` (or the other zone names of China, Hong Kong, Macao and Taiwan,
    /// all UTC+08:00), `UTC`, or an offset `+HH:MM` / `-HH:MM`.
    pub fn parse(input: &str) -> Result<TimeZone, DomainError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(DomainError::Empty { what: WHAT });
        }
        match s {
            "Asia/Shanghai" | "Asia/Chongqing" | "Asia/Harbin" | "Asia/Hong_Kong"
            | "Asia/Macau" | "Asia/Taipei" | "PRC" => return Ok(TimeZone::CHINA),
            "UTC" | "Z" => return Ok(TimeZone(UtcOffset::UTC)),
            _ => {}
        }
        let malformed = || DomainError::Malformed {
            what: WHAT,
            reason: format!("'{s}' is neither a known zone name nor an offset such as +08:00"),
        };
        let (sign, rest) = match s.as_bytes().first() {
            Some(b'+') => (1, &s[1..]),
            Some(b'-') => (-1, &s[1..]),
            _ => return Err(malformed()),
        };
        let (hours, minutes) = rest.split_once(':').ok_or_else(malformed)?;
        let number = |part: &str| {
            (part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<i8>().ok())
                .flatten()
                .ok_or_else(malformed)
        };
        let (hours, minutes) = (number(hours)?, number(minutes)?);
        // Offsets in use run from -12:00 to +14:00.
        if hours > 14 || minutes > 59 {
            return Err(malformed());
        }
        UtcOffset::from_hms(sign * hours, sign * minutes, 0)
            .map(TimeZone)
            .map_err(|_| malformed())
    }

    /// The calendar day `at` falls on in this zone.
    pub fn date_of(self, at: OffsetDateTime) -> Date {
        at.to_offset(self.0).date()
    }

    /// The offset from UTC.
    pub fn offset(self) -> UtcOffset {
        self.0
    }
}

impl Default for TimeZone {
    fn default() -> Self {
        TimeZone::CHINA
    }
}

impl std::fmt::Display for TimeZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (h, m, _) = self.0.as_hms();
        let sign = if self.0.is_negative() { '-' } else { '+' };
        write!(f, "{sign}{:02}:{:02}", h.abs(), m.abs())
    }
}

string_conversions!(TimeZone);

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn names_and_offsets_parse() {
        assert_eq!(TimeZone::parse("Asia/Shanghai").unwrap(), TimeZone::CHINA);
        assert_eq!(TimeZone::parse(" +08:00 ").unwrap(), TimeZone::CHINA);
        assert_eq!(TimeZone::parse("UTC").unwrap().to_string(), "+00:00");
        assert_eq!(TimeZone::parse("-05:30").unwrap().to_string(), "-05:30");
        for bad in [
            "",
            "Europe/Nowhere",
            "+8",
            "+08",
            "08:00",
            "+25:00",
            "+08:60",
        ] {
            assert!(TimeZone::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_day_is_counted_in_the_zone() {
        let late_evening_utc = datetime!(2026-12-06 23:30 UTC);
        assert_eq!(
            TimeZone::CHINA.date_of(late_evening_utc).to_string(),
            "2026-12-07"
        );
        assert_eq!(
            TimeZone(UtcOffset::UTC)
                .date_of(late_evening_utc)
                .to_string(),
            "2026-12-06"
        );
    }
}
