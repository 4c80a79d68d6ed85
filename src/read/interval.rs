//! Interval semantics of the date filters: how a window `from`..`to` tests
//! a partial date, which names a whole period ("2009" is the year, "2009-01"
//! the month, "2008-08-07/2008-08-08" two days).
//!
//! Every filter reads a date index whose keys hold each period's first and
//! last day, and asks one of two questions of them: does the period overlap
//! a window, or does it lie wholly inside one. `BEFORE` and `AFTER` are the
//! second question asked of the open window before the first day or after
//! the last day, so all four read the same index ranges.

use crate::model::{PartialDate, Precision};

/// How a date filter's window tests a period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Interval {
    /// Some day of the period falls in the window.
    #[default]
    Overlaps,
    /// Every day of the period falls in the window.
    Within,
    /// The whole period ends before the window begins (before the first day
    /// of `from`, or of `to` when only `to` is given).
    Before,
    /// The whole period begins after the window ends (after the last day of
    /// `to`, or of `from` when only `from` is given).
    After,
}

/// A date filter as the indexes answer it: a window, and whether the whole
/// period must lie in it (`whole`) or just overlap it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DateWindow {
    pub from: Option<PartialDate>,
    pub to: Option<PartialDate>,
    pub whole: bool,
}

impl DateWindow {
    /// The window `from`..`to` asks for under `interval`.
    pub fn new(from: Option<PartialDate>, to: Option<PartialDate>, interval: Interval) -> DateWindow {
        match interval {
            Interval::Overlaps => DateWindow { from, to, whole: false },
            Interval::Within => DateWindow { from, to, whole: true },
            Interval::Before => DateWindow {
                from: None,
                to: from.or(to).map(|start| PartialDate::on_day(start.first_day() - 1)),
                whole: true,
            },
            Interval::After => DateWindow {
                from: to.or(from).map(|end| PartialDate::on_day(end.last_day() + 1)),
                to: None,
                whole: true,
            },
        }
    }

    /// Whether the window asks anything of a date.
    pub fn is_set(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }

    /// Whether a date passes (an undated entity passes only an unset window).
    pub fn admits(&self, date: Option<&PartialDate>) -> bool {
        if !self.is_set() {
            return true;
        }
        date.is_some_and(|d| match self.whole {
            true => d.lies_within(self.from.as_ref(), self.to.as_ref()),
            false => d.overlaps(self.from.as_ref(), self.to.as_ref()),
        })
    }
}

/// Whether a date is of one of `precisions` (an undated entity is of none);
/// any date passes when no precision is asked for.
pub fn of_precision(precisions: Option<&[Precision]>, date: Option<&PartialDate>) -> bool {
    precisions.is_none_or(|wanted| date.is_some_and(|d| wanted.contains(&d.precision())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> PartialDate {
        PartialDate::parse(s).unwrap()
    }

    /// Which of `dates` the window keeps.
    fn kept(from: Option<&str>, to: Option<&str>, interval: Interval, dates: &[&'static str]) -> Vec<&'static str> {
        let window = DateWindow::new(from.map(date), to.map(date), interval);
        dates
            .iter()
            .copied()
            .filter(|d| window.admits(Some(&date(d))))
            .collect()
    }

    const DATES: [&str; 6] = [
        "2008",
        "2008-12",
        "2009",
        "2009-01",
        "2009-01-16",
        "2008-12-31/2009-01-01",
    ];

    #[test]
    fn each_interval_keeps_what_it_says_of_a_month_window() {
        let jan = (Some("2009-01"), Some("2009-01"));
        assert_eq!(
            kept(jan.0, jan.1, Interval::Overlaps, &DATES),
            ["2009", "2009-01", "2009-01-16", "2008-12-31/2009-01-01"]
        );
        assert_eq!(kept(jan.0, jan.1, Interval::Within, &DATES), ["2009-01", "2009-01-16"]);
        assert_eq!(kept(jan.0, jan.1, Interval::Before, &DATES), ["2008", "2008-12"]);
        assert_eq!(kept(jan.0, jan.1, Interval::After, &DATES), Vec::<&str>::new());
    }

    #[test]
    fn before_and_after_take_the_one_bound_given() {
        assert_eq!(kept(None, Some("2009"), Interval::Before, &DATES), ["2008", "2008-12"]);
        assert_eq!(
            kept(Some("2008-12"), None, Interval::After, &DATES),
            ["2009", "2009-01", "2009-01-16"]
        );
        // A range ending on the first day of 2009 is not wholly after 2008.
        assert_eq!(
            kept(Some("2008"), None, Interval::After, &DATES),
            ["2009", "2009-01", "2009-01-16"]
        );
    }

    #[test]
    fn precisions_keep_dates_of_those_precisions_only() {
        let year = [Precision::Year];
        assert!(of_precision(Some(&year), Some(&date("2009"))));
        assert!(!of_precision(Some(&year), Some(&date("2009-01"))));
        assert!(!of_precision(Some(&year), None));
        assert!(of_precision(None, None));
    }
}
