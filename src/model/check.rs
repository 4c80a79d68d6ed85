//! The input check every entity passes before it is written, wherever it
//! comes from: a seed file or a mutation. Parsing names the field at fault;
//! the check finds what parses but cannot be right (an empty name, a period
//! that ends before it starts, an entity within itself).

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Actor, Entity, EntityKind, Event, FundingAllocation, Place, ResponseKind, Source, Treaty};

fn typed<T: DeserializeOwned>(value: &Value) -> Result<T, (Option<String>, String)> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // serde reports a missing field at the object that lacks it; name the field itself.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name.to_owned());
        let field = match (path.as_str(), missing) {
            (".", Some(name)) => Some(name),
            (".", None) => None,
            (p, Some(name)) => Some(format!("{p}.{name}")),
            (p, None) => Some(p.to_owned()),
        };
        (field, message)
    })
}

/// Parses one element as an entity of `kind`, or says which field is wrong.
pub fn parse_entity(kind: EntityKind, value: &Value) -> Result<Entity, (Option<String>, String)> {
    Ok(match kind {
        EntityKind::Actor => Entity::Actor(typed::<Actor>(value)?),
        EntityKind::Event => Entity::Event(typed::<Event>(value)?),
        EntityKind::Treaty => Entity::Treaty(typed::<Treaty>(value)?),
        EntityKind::Funding => Entity::Funding(typed::<FundingAllocation>(value)?),
        EntityKind::Place => Entity::Place(typed::<Place>(value)?),
        EntityKind::Source => Entity::Source(typed::<Source>(value)?),
    })
}

/// Checks an entity on its own: right kind of id, no empty names, sane periods.
pub fn check_entity(entity: &Entity) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let blank = |s: &str| s.trim().is_empty();
    match entity {
        Entity::Actor(a) => {
            if blank(&a.name) {
                out.push(("name".into(), "must not be empty".into()));
            }
            for (i, p) in a.positions.iter().enumerate() {
                if blank(&p.title) {
                    out.push((format!("positions[{i}].title"), "must not be empty".into()));
                }
                if let (Some(from), Some(to)) = (p.from, p.to) {
                    if to.last_day() < from.first_day() {
                        out.push((format!("positions[{i}].to"), format!("{to} is before `from` {from}")));
                    }
                }
            }
        }
        Entity::Event(e) => {
            if blank(&e.title) {
                out.push(("title".into(), "must not be empty".into()));
            }
            for (i, f) in e.figures.iter().enumerate() {
                if blank(&f.label) {
                    out.push((format!("figures[{i}].label"), "must not be empty".into()));
                }
            }
            if e.part_of.as_ref() == Some(&e.id) {
                out.push(("part_of".into(), "an event cannot be part of itself".into()));
            }
            for (i, r) in e.responds.iter().enumerate() {
                if r.event == e.id {
                    out.push((format!("responds[{i}].event"), "an event cannot answer itself".into()));
                }
                // A retraction is stored once, on the statement it takes back,
                // so that the two directions can never disagree.
                if r.kind == ResponseKind::Retracts {
                    out.push((
                        format!("responds[{i}].kind"),
                        format!(
                            "a retraction is recorded on the statement it takes back, not as a response: \
                             set `retracted_by` (`retractedBy` through the API) of `{}` to `{}`",
                            r.event, e.id
                        ),
                    ));
                }
                // The index holds one response per pair of events.
                if let Some(j) = e.responds[..i].iter().position(|earlier| earlier.event == r.event) {
                    out.push((
                        format!("responds[{i}].event"),
                        format!(
                            "`{}` is already answered by responds[{j}]; give one response per event",
                            r.event
                        ),
                    ));
                }
            }
        }
        Entity::Treaty(t) => {
            if blank(&t.name) {
                out.push(("name".into(), "must not be empty".into()));
            }
            if let (Some(signed), Some(force)) = (t.signed_on, t.entered_into_force_on) {
                if force.last_day() < signed.first_day() {
                    out.push((
                        "entered_into_force_on".into(),
                        format!("{force} is before signing on {signed}"),
                    ));
                }
            }
        }
        Entity::Funding(f) => {
            if blank(&f.title) {
                out.push(("title".into(), "must not be empty".into()));
            }
            if blank(&f.purpose) {
                out.push(("purpose".into(), "must not be empty".into()));
            }
        }
        Entity::Place(p) => {
            if blank(&p.name) {
                out.push(("name".into(), "must not be empty".into()));
            }
            if p.within.as_ref() == Some(&p.id) {
                out.push(("within".into(), "a place cannot lie within itself".into()));
            }
        }
        Entity::Source(s) => {
            if blank(&s.document) {
                out.push(("document".into(), "must not be empty".into()));
            }
        }
    }
    out
}
