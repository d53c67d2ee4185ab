//! A calendar date, enough for dated rules and prices.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    pub const fn new(year: u16, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    /// Parses `YYYY-MM-DD`. Returns a human-readable reason on failure.
    pub fn parse(s: &str) -> Result<Date, String> {
        let parts: Vec<&str> = s.trim().split('-').collect();
        if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2 {
            return Err(format!("`{s}` is not a date of the form YYYY-MM-DD"));
        }
        let year: u16 = parts[0]
            .parse()
            .map_err(|_| format!("`{s}`: year `{}` is not a number", parts[0]))?;
        let month: u8 = parts[1]
            .parse()
            .map_err(|_| format!("`{s}`: month `{}` is not a number", parts[1]))?;
        let day: u8 = parts[2]
            .parse()
            .map_err(|_| format!("`{s}`: day `{}` is not a number", parts[2]))?;
        if !(1..=12).contains(&month) {
            return Err(format!("`{s}`: month {month} is not in 1..=12"));
        }
        let max_day = days_in_month(year, month);
        if day == 0 || day > max_day {
            return Err(format!("`{s}`: day {day} is not in 1..={max_day}"));
        }
        Ok(Date { year, month, day })
    }

    /// The civil date for a count of days since 1970-01-01 (proleptic Gregorian).
    pub fn from_days_since_epoch(days: i64) -> Date {
        // Howard Hinnant's days-to-civil algorithm, written out from its description.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = if m <= 2 { y + 1 } else { y };
        Date {
            year: y.clamp(0, u16::MAX as i64) as u16,
            month: m as u8,
            day: d as u8,
        }
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            let leap =
                (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
            if leap { 29 } else { 28 }
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_order() {
        let a = Date::parse("2023-11-17").unwrap();
        let b = Date::parse("2025-04-09").unwrap();
        assert!(a < b);
        assert_eq!(a.to_string(), "2023-11-17");
        assert!(Date::parse("2023-02-29").is_err());
        assert!(Date::parse("2024-02-29").is_ok());
        assert!(Date::parse("2023-13-01").is_err());
        assert!(Date::parse("23-1-1").is_err());
    }

    #[test]
    fn epoch_days() {
        assert_eq!(Date::from_days_since_epoch(0), Date::new(1970, 1, 1));
        assert_eq!(Date::from_days_since_epoch(19_678), Date::new(2023, 11, 17));
        assert_eq!(Date::from_days_since_epoch(11_017), Date::new(2000, 3, 1));
    }
}
