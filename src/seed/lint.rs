//! The seed lint: checks that a curated seed says no more than its sources.
//!
//! Validation ([`super::check`]) makes sure a seed loads; the lint looks for
//! the ways a valid seed can still state what its sources do not: an entity
//! left over with no link to anything, one body recorded twice (as an actor
//! and as a place, or as two actors merged through an alias), a signatory the
//! cited text never names, a date more precise than the cited text gives,
//! and a response dated before what it answers or looping back through a
//! retraction. It needs the whole graph at once, so it runs on request
//! (`diplograph seed --check`), not on every load.
//!
//! Two checks read the cited text itself when a plain-text copy of the
//! document is given (`--article`): its sections are found by the headings
//! the sources name (`section`, the part after the last `: `); the section
//! called `Lead` is the text before the first heading found.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use super::files::{each_entity, seed_files};
use super::{Problem, SeedError};
use crate::model::{text, ActorKind, DatePoint, Entity, Event, Id, PartialDate, Relation, Role};

/// Relations through which an actor plays a part in the story, as opposed
/// to being cited, contained or holding a post.
const PARTS: &[Relation] = &[
    Relation::EventParticipant,
    Relation::EventFigureClaimant,
    Relation::TreatyParty,
    Relation::TreatySignatory,
    Relation::TreatyRatifier,
    Relation::TreatyMediator,
    Relation::FundingDonor,
    Relation::FundingRecipient,
    Relation::FundingAuthorizedBy,
];

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Lints the (already valid) seed in `dir`. `article` is a plain-text copy of
/// the document the sources cite, where one is at hand. Returns every
/// finding; none means the seed passed.
pub fn lint(dir: &Path, article: Option<&str>) -> Result<Vec<Problem>, SeedError> {
    let mut problems = Vec::new();
    let files = seed_files(dir, &mut problems)?;
    let mut entities: Vec<(PathBuf, Entity)> = Vec::new();
    for file in &files {
        let reader = File::open(&file.path).map_err(|source| SeedError::Dir {
            path: file.path.clone(),
            source,
        })?;
        let (_, parsed) = each_entity(reader, file.kind, &mut |entity| {
            entities.push((file.path.clone(), entity))
        });
        if !parsed {
            problems.push(Problem {
                file: file.path.clone(),
                id: None,
                field: None,
                message: "does not parse; run the check without the lint first".into(),
            });
        }
    }
    if !problems.is_empty() {
        return Ok(problems);
    }
    Ok(Lint::new(&entities, article).run())
}

struct Lint<'a> {
    entities: &'a [(PathBuf, Entity)],
    by_id: HashMap<&'a Id, &'a Entity>,
    /// Every entity something refers to → the relations that refer to it.
    referrers: HashMap<&'a Id, Vec<Relation>>,
    /// Folded text of each source's section, where the copy has it.
    section_text: HashMap<&'a Id, String>,
    /// Whether a copy of the article was given.
    has_article: bool,
}

fn finding(file: &Path, id: &Id, field: Option<String>, message: String) -> Problem {
    Problem {
        file: file.to_owned(),
        id: Some(id.to_string()),
        field,
        message,
    }
}

/// `needle` occurs in `haystack` as whole words (both folded).
fn has_words(haystack: &str, needle: &str) -> bool {
    !needle.is_empty() && format!(" {haystack} ").contains(&format!(" {needle} "))
}

impl<'a> Lint<'a> {
    fn new(entities: &'a [(PathBuf, Entity)], article: Option<&str>) -> Lint<'a> {
        let by_id: HashMap<&Id, &Entity> = entities.iter().map(|(_, e)| (e.id(), e)).collect();
        let mut referrers: HashMap<&Id, Vec<Relation>> = HashMap::new();
        let edges: Vec<_> = entities.iter().map(|(_, e)| e.edges()).collect();
        for edge in edges.iter().flatten() {
            if let Some((id, _)) = by_id.get_key_value(&edge.to) {
                referrers.entry(id).or_default().push(edge.relation);
            }
        }
        let section_text = match article {
            Some(article) => sections(article, entities),
            None => HashMap::new(),
        };
        Lint {
            entities,
            by_id,
            referrers,
            section_text,
            has_article: article.is_some(),
        }
    }

    fn run(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        self.isolated(&mut out);
        self.actor_repeats_place(&mut out);
        self.alias_names_another_actor(&mut out);
        self.unnamed_signatories(&mut out);
        self.responses_out_of_order(&mut out);
        if self.has_article {
            self.dates_finer_than_sources(&mut out);
        }
        out
    }

    fn sources_of(&self, entity: &Entity) -> Vec<&'a Id> {
        entity
            .edges()
            .into_iter()
            .filter(|e| e.relation == Relation::CitedSource)
            .filter_map(|e| self.by_id.get_key_value(&e.to).map(|(id, _)| *id))
            .collect()
    }

    /// Folded names of places, to pair an actor with the territory of the
    /// same name (a state and its land are one thing seen twice, on purpose).
    fn place_names(&self) -> HashMap<String, &'a Id> {
        self.entities
            .iter()
            .filter_map(|(_, e)| match e {
                Entity::Place(p) => Some((text::fold(&p.name), &p.id)),
                _ => None,
            })
            .collect()
    }

    /// An entity nothing refers to and that refers to nothing but its
    /// sources: it adds a fact no query can reach from anywhere else.
    fn isolated(&self, out: &mut Vec<Problem>) {
        let places = self.place_names();
        let actor_names: HashSet<String> = self
            .entities
            .iter()
            .filter_map(|(_, e)| match e {
                Entity::Actor(a) => Some(text::fold(&a.name)),
                _ => None,
            })
            .collect();
        for (file, entity) in self.entities {
            let refers = entity.edges().iter().any(|e| e.relation != Relation::CitedSource);
            let referred = self.referrers.contains_key(entity.id());
            let paired = match entity {
                Entity::Actor(a) => places.contains_key(&text::fold(&a.name)),
                Entity::Place(p) => actor_names.contains(&text::fold(&p.name)),
                _ => false,
            };
            if !refers && !referred && !paired {
                out.push(finding(
                    file,
                    entity.id(),
                    None,
                    format!(
                        "nothing refers to this {} and it refers to nothing but its sources: link it to the graph or remove it",
                        entity.kind()
                    ),
                ));
            }
        }
    }

    /// An actor named like a place that plays no part in any event, treaty
    /// or allocation only repeats the place.
    fn actor_repeats_place(&self, out: &mut Vec<Problem>) {
        let places = self.place_names();
        for (file, entity) in self.entities {
            let Entity::Actor(a) = entity else { continue };
            let Some(place) = places.get(&text::fold(&a.name)) else {
                continue;
            };
            let plays_a_part = self
                .referrers
                .get(&a.id)
                .is_some_and(|relations| relations.iter().any(|r| PARTS.contains(r)));
            if !plays_a_part {
                out.push(finding(
                    file,
                    &a.id,
                    Some("name".into()),
                    format!(
                        "`{}` is also the name of {place}, and this actor takes part in no event, treaty or allocation: it repeats the place; remove it or record what it did",
                        a.name
                    ),
                ));
            }
        }
    }

    /// An alias that is another actor's name merges two people or bodies.
    fn alias_names_another_actor(&self, out: &mut Vec<Problem>) {
        let names: HashMap<String, &Id> = self
            .entities
            .iter()
            .filter_map(|(_, e)| match e {
                Entity::Actor(a) => Some((text::fold(&a.name), &a.id)),
                _ => None,
            })
            .collect();
        for (file, entity) in self.entities {
            let Entity::Actor(a) = entity else { continue };
            for (i, alias) in a.aliases.iter().enumerate() {
                if let Some(other) = names.get(&text::fold(alias)).filter(|other| **other != &a.id) {
                    out.push(finding(
                        file,
                        &a.id,
                        Some(format!("aliases[{i}]")),
                        format!(
                            "alias `{alias}` is the name of {other}: are two actors merged? Keep each as its own actor"
                        ),
                    ));
                }
            }
        }
    }

    /// The names the cited text could use for an actor: its name, its
    /// aliases, and a person's surname.
    fn names_of(&self, actor: &Id) -> Vec<String> {
        let Some(Entity::Actor(a)) = self.by_id.get(actor) else {
            return Vec::new();
        };
        let mut names: Vec<String> = std::iter::once(&a.name)
            .chain(&a.aliases)
            .map(|n| text::fold(n))
            .collect();
        if a.kind == ActorKind::Person {
            names.extend(text::fold(&a.name).rsplit(' ').next().map(str::to_owned));
        }
        names
    }

    /// A signatory must be named by a section the signing entity cites. With
    /// the article at hand that is a look at the text; without it, the
    /// signatory must at least be sourced from one of those sections.
    fn unnamed_signatories(&self, out: &mut Vec<Problem>) {
        for (file, entity) in self.entities {
            let signatories: Vec<(String, &Id)> = match entity {
                Entity::Treaty(t) => t
                    .signatories
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (format!("signatories[{i}]"), s))
                    .collect(),
                Entity::Event(e) => e
                    .participants
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.role == Role::Signatory)
                    .map(|(i, p)| (format!("participants[{i}].actor"), &p.actor))
                    .collect(),
                _ => continue,
            };
            let cited = self.sources_of(entity);
            let texts: Vec<&String> = cited.iter().filter_map(|s| self.section_text.get(*s)).collect();
            for (field, signatory) in signatories {
                let named = if texts.is_empty() {
                    self.by_id
                        .get(signatory)
                        .is_some_and(|actor| self.sources_of(actor).iter().any(|s| cited.contains(s)))
                } else {
                    let names = self.names_of(signatory);
                    texts.iter().any(|t| names.iter().any(|n| has_words(t, n)))
                };
                if !named {
                    let why = if texts.is_empty() {
                        "is sourced from none of the sections"
                    } else {
                        "is not named in the text of any section"
                    };
                    out.push(finding(
                        file,
                        entity.id(),
                        Some(field),
                        format!(
                            "signatory {signatory} {why} this {} cites ({}): record only signatories the source names",
                            entity.kind(),
                            list_ids(&cited)
                        ),
                    ));
                }
            }
        }
    }

    /// A response (or a retraction) must not come before what it answers,
    /// and answers must not loop: validation refuses a loop of responses or
    /// of retractions alone, this finds one that mixes the two (an event
    /// answering the statement that retracts it).
    fn responses_out_of_order(&self, out: &mut Vec<Problem>) {
        // Every "answers" link: (file, answering event, field, answered event).
        let mut answers: Vec<(&Path, &Event, String, &Id)> = Vec::new();
        for (file, entity) in self.entities {
            let Entity::Event(e) = entity else { continue };
            for (i, r) in e.responds.iter().enumerate() {
                answers.push((file, e, format!("responds[{i}].event"), &r.event));
            }
            if let Some(Entity::Event(retraction)) = e.retracted_by.as_ref().and_then(|r| self.by_id.get(r)) {
                answers.push((file, retraction, "retracted_by".into(), &e.id));
            }
        }
        let mut graph: HashMap<&Id, Vec<&Id>> = HashMap::new();
        for (file, answering, field, answered) in &answers {
            graph.entry(&answering.id).or_default().push(answered);
            let Some(Entity::Event(earlier)) = self.by_id.get(answered) else {
                continue;
            };
            if let (Some(later), Some(first)) = (answering.date, earlier.date) {
                if later.last_day() < first.first_day() {
                    out.push(finding(
                        file,
                        if field == "retracted_by" { &earlier.id } else { &answering.id },
                        Some(field.clone()),
                        format!(
                            "`{}` ({later}) answers `{}` ({first}), which comes after it: a response cannot precede what it answers",
                            answering.id, earlier.id
                        ),
                    ));
                }
            }
        }
        // A loop that mixes the two holds a response: it is reported there,
        // once however many of its responses could name it.
        let mut reported: HashSet<Vec<String>> = HashSet::new();
        for (file, answering, field, _) in answers.iter().filter(|(_, _, f, _)| f.starts_with("responds")) {
            if let Some(path) = way_back(&graph, &answering.id) {
                let mut members: Vec<String> = path.iter().map(|id| id.to_string()).collect();
                let shown = members.join(" → ");
                members.sort();
                members.dedup();
                if reported.insert(members) {
                    out.push(finding(
                        file,
                        &answering.id,
                        Some(field.clone()),
                        format!("responses and retractions loop: {shown}"),
                    ));
                }
            }
        }
    }

    /// Every date must be given, at its precision or finer, by a section its
    /// entity cites (checked where the article is at hand).
    fn dates_finer_than_sources(&self, out: &mut Vec<Problem>) {
        for (file, entity) in self.entities {
            let cited = self.sources_of(entity);
            let texts: Vec<&String> = cited.iter().filter_map(|s| self.section_text.get(*s)).collect();
            if texts.is_empty() {
                continue;
            }
            let mentions: Vec<Mention> = texts.iter().flat_map(|t| mentions(t)).collect();
            for (field, date) in dates(entity) {
                if !supported(&date, &mentions) {
                    out.push(finding(
                        file,
                        entity.id(),
                        Some(field),
                        format!(
                            "date `{date}` is more precise than any date the cited sections give ({}): record the date as the source gives it, or none",
                            list_ids(&cited)
                        ),
                    ));
                }
            }
        }
    }
}

/// A way from `start` back to itself through `graph`, `start` at both
/// ends; `None` if there is none.
fn way_back<'a>(graph: &HashMap<&'a Id, Vec<&'a Id>>, start: &'a Id) -> Option<Vec<&'a Id>> {
    let mut stack: Vec<(&Id, Vec<&Id>)> = vec![(start, vec![start])];
    let mut seen: HashSet<&Id> = HashSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in graph.get(at).into_iter().flatten() {
            if *next == start {
                let mut way = path;
                way.push(start);
                return Some(way);
            }
            if seen.insert(next) {
                let mut way = path.clone();
                way.push(next);
                stack.push((next, way));
            }
        }
    }
    None
}

fn list_ids(ids: &[&Id]) -> String {
    ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// Every date an entity records, with its field.
fn dates(entity: &Entity) -> Vec<(String, PartialDate)> {
    let mut out = Vec::new();
    let mut push = |field: String, date: Option<PartialDate>| out.extend(date.map(|d| (field, d)));
    match entity {
        Entity::Event(e) => push("date".into(), e.date),
        Entity::Treaty(t) => {
            push("signed_on".into(), t.signed_on);
            push("entered_into_force_on".into(), t.entered_into_force_on);
            for (i, r) in t.ratifications.iter().enumerate() {
                push(format!("ratifications[{i}].date"), r.date);
            }
        }
        Entity::Funding(f) => push("date".into(), f.date),
        Entity::Actor(a) => {
            for (i, p) in a.positions.iter().enumerate() {
                push(format!("positions[{i}].from"), p.from);
                push(format!("positions[{i}].to"), p.to);
            }
        }
        Entity::Place(_) | Entity::Source(_) => {}
    }
    out
}

/// A date written in the text: "26 August 2008", "7 to 8 August 2008",
/// "12 August" (year from nowhere: matches any), "March 2009",
/// "August 26, 2008", "1991".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Mention {
    year: Option<i32>,
    month: Option<u8>,
    day: Option<u8>,
}

fn mentions(folded: &str) -> Vec<Mention> {
    let words: Vec<&str> = folded.split(' ').collect();
    let number = |i: usize| words.get(i).and_then(|w| w.parse::<u32>().ok());
    let day = |i: usize| number(i).filter(|n| (1..=31).contains(n)).map(|n| n as u8);
    let year = |i: usize| {
        words
            .get(i)
            .filter(|w| w.len() == 4)
            .and_then(|w| w.parse::<i32>().ok())
            .filter(|y| (1000..3000).contains(y))
    };
    let mut out = Vec::new();
    let mut used_years = HashSet::new();
    for (i, word) in words.iter().enumerate() {
        let Some(m) = MONTHS.iter().position(|m| m == word) else {
            continue;
        };
        let month = Some(m as u8 + 1);
        // "26 August 2008", "7 to 8 August 2008", "12 August".
        if let Some(d) = i.checked_sub(1).and_then(day) {
            let y = year(i + 1);
            if y.is_some() {
                used_years.insert(i + 1);
            }
            out.push(Mention {
                year: y,
                month,
                day: Some(d),
            });
            if i >= 3 && words[i - 2] == "to" {
                if let Some(first) = day(i - 3) {
                    out.push(Mention {
                        year: y,
                        month,
                        day: Some(first),
                    });
                }
            }
        // "August 26, 2008".
        } else if let (Some(d), Some(y)) = (day(i + 1), year(i + 2)) {
            used_years.insert(i + 2);
            out.push(Mention {
                year: Some(y),
                month,
                day: Some(d),
            });
        // "March 2009".
        } else if let Some(y) = year(i + 1) {
            used_years.insert(i + 1);
            out.push(Mention {
                year: Some(y),
                month,
                day: None,
            });
        }
    }
    for i in 0..words.len() {
        if let Some(y) = year(i).filter(|_| !used_years.contains(&i)) {
            out.push(Mention {
                year: Some(y),
                month: None,
                day: None,
            });
        }
    }
    out
}

/// Whether some mention gives `point` at the point's precision or finer.
fn gives(mention: &Mention, point: &DatePoint) -> bool {
    if mention.year.is_some_and(|y| y != point.year) {
        return false;
    }
    match (point.month, point.day) {
        (Some(m), Some(d)) => mention.month == Some(m) && mention.day == Some(d),
        (Some(m), None) => mention.month == Some(m),
        _ => mention.year == Some(point.year),
    }
}

fn supported(date: &PartialDate, mentions: &[Mention]) -> bool {
    let points = std::iter::once(date.start()).chain(date.end());
    points.into_iter().all(|p| mentions.iter().any(|m| gives(m, &p)))
}

/// The section before the first heading. Never looked for as a heading: the
/// word occurs in running text ("would lead to").
const LEAD: &str = "lead";

/// The folded text of each source's section, found in the article by the
/// section's heading.
fn sections<'a>(article: &str, entities: &'a [(PathBuf, Entity)]) -> HashMap<&'a Id, String> {
    let folded = text::fold(article);
    let padded = format!(" {folded} ");
    let heading_of = |section: &str| text::fold(section.rsplit(": ").next().unwrap_or(section));
    let sources: Vec<(&Id, String)> = entities
        .iter()
        .filter_map(|(_, e)| match e {
            Entity::Source(s) => s.section.as_deref().map(|section| (&s.id, heading_of(section))),
            _ => None,
        })
        .collect();
    // Where each heading starts (its first occurrence), in the padded text.
    let starts: HashMap<&str, usize> = sources
        .iter()
        .filter(|(_, h)| !h.is_empty() && h != LEAD)
        .filter_map(|(_, h)| padded.find(&format!(" {h} ")).map(|at| (h.as_str(), at)))
        .collect();
    let mut cuts: Vec<usize> = starts.values().copied().collect();
    cuts.sort_unstable();
    cuts.dedup();
    let section_from = |start: usize| {
        let end = cuts.iter().copied().find(|c| *c > start).unwrap_or(padded.len());
        padded[start..end].trim().to_owned()
    };
    sources
        .iter()
        .filter_map(|(id, h)| {
            let body = match starts.get(h.as_str()) {
                Some(start) => section_from(*start),
                None if h == LEAD => padded[..cuts.first().copied().unwrap_or(padded.len())]
                    .trim()
                    .to_owned(),
                None => return None,
            };
            Some((*id, body))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(year: Option<i32>, month: Option<u8>, day: Option<u8>) -> Mention {
        Mention { year, month, day }
    }

    #[test]
    fn dates_are_read_from_text_in_the_forms_the_article_writes_them() {
        // (description, text, mentions found)
        let cases = [
            ("a day", "on 26 august 2008 the", vec![m(Some(2008), Some(8), Some(26))]),
            (
                "a night across two days",
                "the night of 7 to 8 august 2008",
                vec![m(Some(2008), Some(8), Some(8)), m(Some(2008), Some(8), Some(7))],
            ),
            (
                "a day without a year",
                "on 12 august french",
                vec![m(None, Some(8), Some(12))],
            ),
            ("a month", "in march 2009 russia", vec![m(Some(2009), Some(3), None)]),
            (
                "month first",
                "august 26 2008 russia",
                vec![m(Some(2008), Some(8), Some(26))],
            ),
            ("a year", "independence in 1991 during", vec![m(Some(1991), None, None)]),
            ("a number that is no year", "3 700 russian soldiers", vec![]),
        ];
        for (description, text, expected) in cases {
            assert_eq!(mentions(text), expected, "{description}");
        }
    }

    fn source(id: &str, section: Option<&str>) -> (PathBuf, Entity) {
        let entity = Entity::Source(crate::model::Source {
            id: Id::parse(id).unwrap(),
            document: "Article".into(),
            section: section.map(str::to_owned),
            url: None,
            note: None,
            kind: crate::model::SourceKind::Body,
        });
        (PathBuf::from("sources.json"), entity)
    }

    #[test]
    fn sections_run_from_their_heading_to_the_next_and_the_lead_precedes_them_all() {
        let article = "Opening words. Background Talk that would lead to war.                        Ties: Money ties Paid in 2009. Background again.";
        let entities = [
            source("source/lead", Some("Lead")),
            source("source/background", Some("Background")),
            source("source/money", Some("Ties: Money ties")),
            source("source/elsewhere", None),
            source("source/missing", Some("No such heading")),
        ];
        let found = sections(article, &entities);
        let text = |id: &str| found.get(&Id::parse(id).unwrap()).map(String::as_str);
        assert_eq!(text("source/lead"), Some("opening words"));
        // "lead" in running text is no heading, and a heading counts where it first occurs.
        assert_eq!(
            text("source/background"),
            Some("background talk that would lead to war ties")
        );
        assert_eq!(text("source/money"), Some("money ties paid in 2009 background again"));
        assert_eq!(text("source/elsewhere"), None, "no section, no text");
        assert_eq!(text("source/missing"), None, "a heading not in the copy gives no text");
    }

    #[test]
    fn a_date_is_supported_only_by_a_mention_as_precise_as_it() {
        let text = mentions("in march 2009 and on 12 august and in 1991");
        // (date, supported)
        let cases = [
            ("2009-03", true),
            ("2009", true),
            ("2009-03-05", false),
            ("2008-08-12", true),
            ("2008-08", true),
            ("1991-05", false),
            ("2008-08-12/2009-03", true),
            ("2008-08-11/2009-03", false),
        ];
        for (date, expected) in cases {
            assert_eq!(supported(&PartialDate::parse(date).unwrap(), &text), expected, "{date}");
        }
    }
}
