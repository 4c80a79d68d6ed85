//! Dates that keep the precision the source gave them.
//!
//! The article says "26 August 2008", "March 2009", "in 2009" and "the night
//! of 7 to 8 August 2008". A [`PartialDate`] stores exactly that much and no
//! more: it never invents a day. For ordering and range filters every date
//! names a whole period, from its first day to its last; "March 2009" overlaps
//! any range that touches March 2009.
//!
//! The text form, used in seed files and over GraphQL, is ISO-8601-like:
//! `2008`, `2008-08`, `2008-08-26`, and `2008-08-07/2008-08-08` for a range.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One end of a date: a year, optionally a month, optionally a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DatePoint {
    pub year: i32,
    pub month: Option<u8>,
    pub day: Option<u8>,
}

/// How precisely a date is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, async_graphql::Enum)]
pub enum Precision {
    /// Only the year is known ("in 2009").
    Year,
    /// The year and month are known ("March 2009").
    Month,
    /// The exact day is known ("26 August 2008").
    Day,
    /// A span between two dates ("the night of 7 to 8 August 2008").
    Range,
}

impl Precision {
    /// The name the GraphQL schema gives the value.
    pub fn graphql_name(self) -> &'static str {
        match self {
            Precision::Year => "YEAR",
            Precision::Month => "MONTH",
            Precision::Day => "DAY",
            Precision::Range => "RANGE",
        }
    }
}

/// A date of known precision, or a range between two such dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PartialDate {
    start: DatePoint,
    /// Set only for ranges; always later than `start`.
    end: Option<DatePoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("date `{0}` is not of the form YYYY, YYYY-MM, YYYY-MM-DD or START/END")]
    Format(String),
    #[error("date `{input}`: year {year} is outside 1..=9999")]
    Year { input: String, year: i32 },
    #[error("date `{input}`: month {month} is not 1..=12")]
    Month { input: String, month: u32 },
    #[error("date `{input}`: day {day} does not exist in {year}-{month:02}")]
    Day {
        input: String,
        year: i32,
        month: u8,
        day: u32,
    },
    #[error("date range `{0}` ends before it starts")]
    Backwards(String),
}

pub fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`), so ranges compare as plain integers.
pub fn days_from_civil(year: i32, month: u8, day: u8) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = month as i32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`), the inverse of [`days_from_civil`].
pub fn civil_from_days(days: i32) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i32::from(month <= 2);
    (year, month, day)
}

impl DatePoint {
    fn parse(input: &str, part: &str) -> Result<DatePoint, DateError> {
        let fields: Vec<&str> = part.split('-').collect();
        let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
        let format = || DateError::Format(input.to_owned());
        let (y, m, d) = match fields.as_slice() {
            [y] if digits(y, 4) => (y, None, None),
            [y, m] if digits(y, 4) && digits(m, 2) => (y, Some(m), None),
            [y, m, d] if digits(y, 4) && digits(m, 2) && digits(d, 2) => (y, Some(m), Some(d)),
            _ => return Err(format()),
        };
        let year: i32 = y.parse().map_err(|_| format())?;
        if year < 1 {
            return Err(DateError::Year {
                input: input.to_owned(),
                year,
            });
        }
        let month = match m {
            Some(m) => {
                let month: u32 = m.parse().map_err(|_| format())?;
                if !(1..=12).contains(&month) {
                    return Err(DateError::Month {
                        input: input.to_owned(),
                        month,
                    });
                }
                Some(month as u8)
            }
            None => None,
        };
        let day = match (d, month) {
            (Some(d), Some(month)) => {
                let day: u32 = d.parse().map_err(|_| format())?;
                if day < 1 || day > days_in_month(year, month) as u32 {
                    return Err(DateError::Day {
                        input: input.to_owned(),
                        year,
                        month,
                        day,
                    });
                }
                Some(day as u8)
            }
            _ => None,
        };
        Ok(DatePoint { year, month, day })
    }

    fn precision(&self) -> Precision {
        match (self.month, self.day) {
            (Some(_), Some(_)) => Precision::Day,
            (Some(_), None) => Precision::Month,
            _ => Precision::Year,
        }
    }

    /// First day of the period this point names, as days since 1970-01-01.
    pub fn first_day(&self) -> i32 {
        days_from_civil(self.year, self.month.unwrap_or(1), self.day.unwrap_or(1))
    }

    /// Last day of the period this point names.
    pub fn last_day(&self) -> i32 {
        let month = self.month.unwrap_or(12);
        let day = self.day.unwrap_or_else(|| days_in_month(self.year, month));
        days_from_civil(self.year, month, day)
    }
}

impl fmt::Display for DatePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
        }
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}

impl PartialDate {
    pub fn parse(input: &str) -> Result<PartialDate, DateError> {
        let trimmed = input.trim();
        match trimmed.split_once('/') {
            None => Ok(PartialDate {
                start: DatePoint::parse(input, trimmed)?,
                end: None,
            }),
            Some((a, b)) => {
                let start = DatePoint::parse(input, a)?;
                let end = DatePoint::parse(input, b)?;
                if end.last_day() <= start.last_day() || end.first_day() < start.first_day() {
                    return Err(DateError::Backwards(input.to_owned()));
                }
                Ok(PartialDate { start, end: Some(end) })
            }
        }
    }

    /// The single day `days` after 1970-01-01 (a window's edge: the day
    /// before a window begins, the day after it ends).
    pub fn on_day(days: i32) -> PartialDate {
        let (year, month, day) = civil_from_days(days);
        PartialDate {
            start: DatePoint {
                year,
                month: Some(month),
                day: Some(day),
            },
            end: None,
        }
    }

    pub fn precision(&self) -> Precision {
        if self.end.is_some() {
            Precision::Range
        } else {
            self.start.precision()
        }
    }

    pub fn start(&self) -> DatePoint {
        self.start
    }

    pub fn end(&self) -> Option<DatePoint> {
        self.end
    }

    /// First day of the whole period, in days since 1970-01-01.
    pub fn first_day(&self) -> i32 {
        self.start.first_day()
    }

    /// Last day of the whole period, in days since 1970-01-01.
    pub fn last_day(&self) -> i32 {
        self.end.unwrap_or(self.start).last_day()
    }

    /// The first day of the whole period, as `YYYY-MM-DD`.
    pub fn first_iso(&self) -> String {
        let s = self.start;
        format!("{:04}-{:02}-{:02}", s.year, s.month.unwrap_or(1), s.day.unwrap_or(1))
    }

    /// The last day of the whole period, as `YYYY-MM-DD`.
    pub fn last_iso(&self) -> String {
        let e = self.end.unwrap_or(self.start);
        let month = e.month.unwrap_or(12);
        let day = e.day.unwrap_or_else(|| days_in_month(e.year, month));
        format!("{:04}-{month:02}-{day:02}", e.year)
    }

    /// Whether any day of this period falls within `[from, to]` (either bound optional).
    pub fn overlaps(&self, from: Option<&PartialDate>, to: Option<&PartialDate>) -> bool {
        from.is_none_or(|f| self.last_day() >= f.first_day()) && to.is_none_or(|t| self.first_day() <= t.last_day())
    }

    /// Whether every day of this period falls within `[from, to]` (either
    /// bound optional): "2009" lies within 2009 but not within January 2009.
    pub fn lies_within(&self, from: Option<&PartialDate>, to: Option<&PartialDate>) -> bool {
        from.is_none_or(|f| self.first_day() >= f.first_day()) && to.is_none_or(|t| self.last_day() <= t.last_day())
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.start)?;
        if let Some(end) = self.end {
            write!(f, "/{end}")?;
        }
        Ok(())
    }
}

impl PartialDate {
    /// Appends the date's text, as [`fmt::Display`] writes it, to `out`:
    /// digits written directly, without the formatting machinery (about a
    /// thousand instructions a date through `to_string`, a few dozen so).
    pub fn write_text(&self, out: &mut Vec<u8>) {
        self.start.write_text(out);
        if let Some(end) = &self.end {
            out.push(b'/');
            end.write_text(out);
        }
    }
}

impl DatePoint {
    /// See [`PartialDate::write_text`]. A point outside what parsing admits
    /// (a year past 9999, a month or day past 99) goes through `Display`.
    fn write_text(&self, out: &mut Vec<u8>) {
        let small = |n: u8| n < 100;
        if !(0..=9999).contains(&self.year) || !self.month.is_none_or(small) || !self.day.is_none_or(small) {
            use std::io::Write;
            // Writing to a Vec cannot fail.
            let _ = write!(out, "{self}");
            return;
        }
        let digit = |n: u32| b'0' + n as u8;
        let year = self.year as u32;
        out.extend_from_slice(&[
            digit(year / 1000),
            digit(year / 100 % 10),
            digit(year / 10 % 10),
            digit(year % 10),
        ]);
        for part in [self.month, self.day].into_iter().flatten() {
            out.extend_from_slice(&[b'-', digit(u32::from(part) / 10), digit(u32::from(part) % 10)]);
        }
    }
}

impl FromStr for PartialDate {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PartialDate::parse(s)
    }
}

impl Serialize for PartialDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PartialDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PartialDate, D::Error> {
        let s = String::deserialize(d)?;
        PartialDate::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_date_written_directly_reads_as_its_display() {
        for text in [
            "2009",
            "0001",
            "9999-12",
            "2008-08-26",
            "0950-01-02/1003-11",
            "2009-03/2009-04-15",
        ] {
            let date = PartialDate::parse(text).unwrap();
            let mut out = b"x".to_vec();
            date.write_text(&mut out);
            assert_eq!(std::str::from_utf8(&out[1..]).unwrap(), date.to_string(), "{text}");
            assert_eq!(date.to_string(), text);
        }
        // Points parsing never makes go through `Display` all the same.
        for point in [
            DatePoint {
                year: 12_345,
                month: Some(1),
                day: None,
            },
            DatePoint {
                year: -5,
                month: None,
                day: None,
            },
            DatePoint {
                year: 2000,
                month: Some(123),
                day: Some(7),
            },
            DatePoint {
                year: 2000,
                month: None,
                day: Some(7),
            },
        ] {
            let date = PartialDate {
                start: point,
                end: None,
            };
            let mut out = Vec::new();
            date.write_text(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), date.to_string());
        }
    }

    #[test]
    fn a_day_number_turns_back_into_its_date() {
        for text in [
            "1970-01-01",
            "2008-08-26",
            "2008-02-29",
            "2009-12-31",
            "1991-03-01",
            "0001-01-01",
        ] {
            let date = PartialDate::parse(text).unwrap();
            assert_eq!(PartialDate::on_day(date.first_day()), date, "{text}");
        }
        assert_eq!(
            PartialDate::on_day(PartialDate::parse("2009").unwrap().first_day() - 1).to_string(),
            "2008-12-31"
        );
    }

    use super::*;

    #[test]
    fn dates_keep_their_precision_through_text() {
        for (text, precision) in [
            ("2008", Precision::Year),
            ("2009-03", Precision::Month),
            ("2008-08-26", Precision::Day),
            ("2008-08-07/2008-08-08", Precision::Range),
            ("2008/2009-03", Precision::Range),
        ] {
            let d = PartialDate::parse(text).unwrap();
            assert_eq!(d.precision(), precision, "{text}");
            assert_eq!(d.to_string(), text);
        }
    }

    #[test]
    fn a_month_covers_every_one_of_its_days() {
        let march = PartialDate::parse("2009-03").unwrap();
        let mid = PartialDate::parse("2009-03-15").unwrap();
        let april = PartialDate::parse("2009-04-01").unwrap();
        assert!(march.overlaps(Some(&mid), Some(&mid)));
        assert!(!march.overlaps(Some(&april), None));
        assert_eq!(march.last_day() - march.first_day(), 30);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2008, 2, 29) + 1, days_from_civil(2008, 3, 1));
    }

    #[test]
    fn impossible_dates_are_refused() {
        for bad in [
            "2009-02-29",
            "2008-13",
            "2008-00",
            "08-08-2008",
            "2008-8-7",
            "soon",
            "",
            "2008-08-08/2008-08-07",
            "0000",
        ] {
            assert!(PartialDate::parse(bad).is_err(), "{bad:?} should fail");
        }
        assert!(PartialDate::parse("2008-02-29").is_ok());
    }
}
