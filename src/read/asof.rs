//! As-of views: the posts an actor held on a date, who held a post on a
//! date (`Query.positionHolders`), and how far a treaty had come by a date
//! (`Treaty.status`).
//!
//! The sources often name a post without its dates ("Russian President
//! Dmitry Medvedev"). Such a post gets no invented tenure: it is answered
//! from the dates of the events its holder took part in (`attestedOn`),
//! and taken as held from the first of them to the last, which the answer
//! marks as an inference (`Tenure::Attested`). An event dated within the
//! stated tenure of another of the holder's posts is taken to be in that
//! capacity and attests no undated post: Dmitry Medoyev's undated post of
//! plenipotentiary representative, which he held before his appointment as
//! ambassador, is not attested by the events of his time as ambassador.

use crate::model::{self, text::fold, Id, PartialDate, Relation, Tenure, TreatyState};
use crate::read::cache::{Direct, Entity, Link};
use crate::read::ReadError;
use crate::store::{Direction, Store};

/// A post as the as-of views answer it: with its holder, and, when the
/// sources give it no dates, the dates its holder is seen acting.
#[derive(Clone, Debug)]
pub struct HeldPosition {
    pub holder: Entity,
    pub position: model::Position,
    pub tenure: Tenure,
    /// The dates of the dated events the holder took part in, in order,
    /// without repeats; empty when the post has dates of its own.
    pub attested: Vec<PartialDate>,
}

impl HeldPosition {
    /// Whether the post was held on any day of `date`: within its stated
    /// dates (open at an end the sources leave open), or within its first
    /// and last attested dates.
    pub fn held_on(&self, date: &PartialDate) -> bool {
        match self.tenure {
            Tenure::Stated => {
                self.position.from.is_none_or(|f| f.first_day() <= date.last_day())
                    && self.position.to.is_none_or(|t| t.last_day() >= date.first_day())
            }
            Tenure::Attested => match (self.attested.first(), self.attested.last()) {
                (Some(first), Some(last)) => {
                    first.first_day() <= date.last_day() && last.last_day() >= date.first_day()
                }
                _ => false,
            },
            Tenure::Unknown => false,
        }
    }
}

/// The dates of the dated events `holder` took part in, in order, without repeats.
fn attested_dates(direct: &Direct<'_>, holder: &Id) -> Result<Vec<PartialDate>, ReadError> {
    let link = Link {
        relation: Relation::EventParticipant,
        direction: Direction::Backward,
        from: holder.clone(),
    };
    let events = direct.sorted_events(&link)?;
    let mut dates: Vec<PartialDate> = Vec::new();
    for (_, event) in events.iter() {
        if let Entity::Event(e) = event {
            if let Some(date) = e.date {
                if !dates.contains(&date) {
                    dates.push(date);
                }
            }
        }
    }
    Ok(dates)
}

/// Whether every day of `date` falls within the stated tenure of `position`.
fn within_stated(position: &model::Position, date: &PartialDate) -> bool {
    (position.from.is_some() || position.to.is_some())
        && position.from.is_none_or(|f| date.first_day() >= f.first_day())
        && position.to.is_none_or(|t| date.last_day() <= t.last_day())
}

/// The posts `actor` holds, each with its tenure; with `as_of`, only those
/// held on any day of it.
pub fn positions(
    direct: &Direct<'_>,
    actor: &Entity,
    as_of: Option<&PartialDate>,
) -> Result<Vec<HeldPosition>, ReadError> {
    let Entity::Actor(a) = actor else {
        return Ok(Vec::new());
    };
    let mut attested: Option<Vec<PartialDate>> = None;
    let mut out = Vec::with_capacity(a.positions.len());
    for position in &a.positions {
        let (tenure, dates) = if position.from.is_some() || position.to.is_some() {
            (Tenure::Stated, Vec::new())
        } else {
            let all = match &attested {
                Some(dates) => dates,
                None => attested.insert(attested_dates(direct, &a.id)?),
            };
            let dates: Vec<PartialDate> = all
                .iter()
                .filter(|d| !a.positions.iter().any(|other| within_stated(other, d)))
                .copied()
                .collect();
            let tenure = if dates.is_empty() {
                Tenure::Unknown
            } else {
                Tenure::Attested
            };
            (tenure, dates)
        };
        let held = HeldPosition {
            holder: actor.clone(),
            position: position.clone(),
            tenure,
            attested: dates,
        };
        if as_of.is_none_or(|date| held.held_on(date)) {
            out.push(held);
        }
    }
    Ok(out)
}

/// Most post holders `positionHolders` reads (every holder of a post in
/// `of`, or every holder of any post when `of` is not given).
pub const MAX_HOLDERS: usize = 10_000;

/// The holders of posts titled `title` (case and accents aside), in `of`
/// when given, held on any day of `as_of` when given; by holder id.
pub fn position_holders(
    store: &Store,
    direct: &Direct<'_>,
    title: &str,
    of: Option<&str>,
    as_of: Option<&PartialDate>,
) -> Result<Vec<HeldPosition>, ReadError> {
    let wanted = fold(title.trim());
    if wanted.is_empty() {
        return Err(ReadError::argument("title", "must not be empty"));
    }
    let of = of
        .map(|of| crate::read::listing::id_arg("of", model::EntityKind::Actor, of))
        .transpose()?;
    let holders: Vec<Id> = match &of {
        Some(of) => {
            let link = Link {
                relation: Relation::ActorPositionIn,
                direction: Direction::Backward,
                from: of.clone(),
            };
            direct.link(&link)?.iter().map(|(id, _)| id.clone()).collect()
        }
        None => store.holders(Relation::ActorPositionIn, MAX_HOLDERS + 1)?,
    };
    if holders.len() > MAX_HOLDERS {
        return Err(ReadError::argument(
            "of",
            format!("more than {MAX_HOLDERS} actors hold posts there; name the actor the post belongs to"),
        ));
    }
    let mut out = Vec::new();
    for holder in direct.entities(&holders)?.into_iter().flatten() {
        for held in positions(direct, &holder, as_of)? {
            if fold(&held.position.title) == wanted && of.as_ref().is_none_or(|of| held.position.of == *of) {
                out.push(held);
            }
        }
    }
    out.sort_by(|a, b| a.holder.id().cmp(b.holder.id()));
    Ok(out)
}

/// How far a treaty had come by the end of a date: each step's date when
/// it was taken by then.
#[derive(Clone, Debug, PartialEq)]
pub struct TreatyStatus {
    pub state: TreatyState,
    pub signed_on: Option<PartialDate>,
    /// The last ratification's date, once every recorded one was made.
    pub ratified_on: Option<PartialDate>,
    pub in_force_on: Option<PartialDate>,
}

/// The status of `treaty` by the end of `as_of` (with none, as the sources
/// leave it). A step counts once the whole period of its date has passed
/// by then: a step dated only "2009" has not surely been taken on
/// 2009-02-01. A ratification with no date counts only without `as_of`.
pub fn treaty_status(treaty: &model::Treaty, as_of: Option<&PartialDate>) -> TreatyStatus {
    let by = |date: Option<&PartialDate>| match (date, as_of) {
        (Some(date), Some(as_of)) => date.last_day() <= as_of.last_day(),
        (Some(_), None) => true,
        (None, _) => false,
    };
    let signed_on = treaty.signed_on.filter(|d| by(Some(d)));
    let ratified = !treaty.ratifications.is_empty()
        && treaty
            .ratifications
            .iter()
            .all(|r| by(r.date.as_ref()) || (as_of.is_none() && r.date.is_none()));
    let ratified_on = match ratified {
        true => treaty
            .ratifications
            .iter()
            .filter_map(|r| r.date)
            .max_by_key(|d| d.last_day()),
        false => None,
    };
    let in_force_on = treaty.entered_into_force_on.filter(|d| by(Some(d)));
    let state = if in_force_on.is_some() {
        TreatyState::InForce
    } else if ratified {
        TreatyState::Ratified
    } else if signed_on.is_some() {
        TreatyState::Signed
    } else {
        TreatyState::Proposed
    };
    TreatyStatus {
        state,
        signed_on,
        ratified_on,
        in_force_on,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> PartialDate {
        PartialDate::parse(s).unwrap()
    }

    #[test]
    fn a_step_dated_by_month_or_year_counts_once_that_period_has_passed() {
        let mut treaty: model::Treaty = serde_json::from_value(serde_json::json!({
            "id": "treaty/t", "name": "T", "kind": "treaty", "signed_on": "2008-09",
            "ratifications": [{ "by": "actor/a", "date": "2008-10-29" }],
            "entered_into_force_on": "2009", "sources": []
        }))
        .unwrap();
        let at = |treaty: &model::Treaty, s: &str| treaty_status(treaty, Some(&date(s))).state;
        assert_eq!(at(&treaty, "2008-09-17"), TreatyState::Proposed);
        assert_eq!(at(&treaty, "2008-09-30"), TreatyState::Signed);
        assert_eq!(at(&treaty, "2008-10-29"), TreatyState::Ratified);
        assert_eq!(at(&treaty, "2009-02-01"), TreatyState::Ratified);
        assert_eq!(at(&treaty, "2009"), TreatyState::InForce);
        assert_eq!(treaty_status(&treaty, None).state, TreatyState::InForce);
        treaty.ratifications[0].date = None;
        assert_eq!(at(&treaty, "2009-02-01"), TreatyState::Signed);
        treaty.entered_into_force_on = None;
        assert_eq!(treaty_status(&treaty, None).state, TreatyState::Ratified);
    }
}
