//! A synthetic graph for benchmarks and scale tests: `diplograph generate`.
//!
//! Deterministic (the same `--entities` and `--seed` give the same files)
//! and shaped like the real data: actors with positions, events with two to
//! six participants, treaties with parties and ratifications, funding with
//! donors, recipients and bases. Files are written one entity at a time, so
//! a million entities need little memory, and the normal loader reads them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::Serialize;

use crate::model::{
    Actor, ActorKind, Currency, Event, EventKind, Figure, FundingAllocation, Id, Money, PartialDate, Participant,
    Place, PlaceKind, Position, Ratification, Response, ResponseKind, Role, Source, SourceKind, Treaty, TreatyKind,
};

/// SplitMix64: tiny, fast and good enough for shaping test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "vi", "ra", "mir", "os", "tan", "gel", "bor", "zu", "dem", "nik", "sar", "vel", "ko", "ty", "an", "es",
    "ul", "pri", "stan", "grad", "mar", "ev", "in", "ol", "dar", "sen", "ri", "vo",
];

fn word(rng: &mut Rng) -> String {
    let n = 2 + rng.below(2);
    let mut w: String = (0..n).map(|_| *rng.pick(SYLLABLES)).collect();
    if let Some(first) = w.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    w
}

fn date(rng: &mut Rng) -> PartialDate {
    let year = 1990 + rng.below(31) as i32;
    let month = 1 + rng.below(12);
    let day = 1 + rng.below(28);
    let text = match rng.below(10) {
        0 => format!("{year}"),
        1 | 2 => format!("{year}-{month:02}"),
        3 => format!("{year}-{month:02}-{day:02}/{year}-{month:02}-{:02}", day + 1),
        _ => format!("{year}-{month:02}-{day:02}"),
    };
    // Every form above is valid by construction.
    PartialDate::parse(&text).unwrap_or_else(|_| PartialDate::parse("2000").expect("a year parses"))
}

fn id(prefix: &str, n: usize) -> Id {
    Id::parse(&format!("{prefix}/g{n}")).expect("generated ids are valid")
}

/// Writes a JSON array one element at a time.
struct ArrayWriter {
    out: BufWriter<File>,
    first: bool,
}

impl ArrayWriter {
    fn create(path: &Path) -> std::io::Result<ArrayWriter> {
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(b"[\n")?;
        Ok(ArrayWriter { out, first: true })
    }

    fn push<T: Serialize>(&mut self, item: &T) -> std::io::Result<()> {
        if !self.first {
            self.out.write_all(b",\n")?;
        }
        self.first = false;
        serde_json::to_writer(&mut self.out, item).map_err(std::io::Error::other)
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.out.write_all(b"\n]\n")?;
        self.out.flush()
    }
}

/// How many entities of each kind a graph of `total` gets.
pub struct Shape {
    pub sources: usize,
    pub places: usize,
    pub actors: usize,
    pub treaties: usize,
    pub funding: usize,
    pub events: usize,
}

impl Shape {
    pub fn for_total(total: usize) -> Shape {
        let part = |percent: usize| (total * percent / 100).max(2);
        let (sources, places, actors, treaties, funding) = (part(1), part(3), part(20), part(5), part(10));
        let events = total
            .saturating_sub(sources + places + actors + treaties + funding)
            .max(2);
        Shape {
            sources,
            places,
            actors,
            treaties,
            funding,
            events,
        }
    }
}

/// Writes a deterministic graph of about `total` entities into `dir`.
pub fn generate(total: usize, seed: u64, dir: &Path) -> std::io::Result<Shape> {
    std::fs::create_dir_all(dir)?;
    let shape = Shape::for_total(total);
    let mut rng = Rng(seed);

    let mut w = ArrayWriter::create(&dir.join("sources.json"))?;
    for n in 0..shape.sources {
        w.push(&Source {
            id: id("source", n),
            document: format!("Synthetic document {n}"),
            section: Some(format!("Section {}", n % 7)),
            url: None,
            note: None,
            kind: SourceKind::ALL[n % SourceKind::ALL.len()],
        })?;
    }
    w.finish()?;
    let source = |rng: &mut Rng| vec![id("source", rng.below(shape.sources))];

    let mut w = ArrayWriter::create(&dir.join("places.json"))?;
    for n in 0..shape.places {
        let kind = if n < 10 {
            PlaceKind::Country
        } else {
            *rng.pick(&[PlaceKind::City, PlaceKind::Region, PlaceKind::Building])
        };
        w.push(&Place {
            id: id("place", n),
            name: format!(
                "{} {}",
                word(&mut rng),
                if kind == PlaceKind::City { "City" } else { "Land" }
            ),
            kind,
            aliases: vec![],
            summary: None,
            within: (n >= 10).then(|| id("place", rng.below(n))),
            sources: source(&mut rng),
            note: None,
        })?;
    }
    w.finish()?;

    // The first tenth of actors are organisations people can hold posts in.
    let orgs = (shape.actors / 10).max(1);
    let mut w = ArrayWriter::create(&dir.join("actors.json"))?;
    for n in 0..shape.actors {
        let person = n >= orgs && rng.chance(60);
        let kind = if person {
            ActorKind::Person
        } else {
            *rng.pick(&[
                ActorKind::State,
                ActorKind::Ministry,
                ActorKind::Legislature,
                ActorKind::Agency,
                ActorKind::PoliticalParty,
            ])
        };
        let name = if person {
            format!("{} {}", word(&mut rng), word(&mut rng))
        } else {
            format!("{} {:?}", word(&mut rng), kind)
        };
        let positions = if person {
            (0..1 + rng.below(2))
                .map(|_| Position {
                    title: rng
                        .pick(&["Minister", "Ambassador", "President", "Envoy", "Chairman"])
                        .to_string(),
                    of: id("actor", rng.below(orgs)),
                    from: rng.chance(50).then(|| date(&mut rng)),
                    to: None,
                    note: None,
                })
                .collect()
        } else {
            vec![]
        };
        w.push(&Actor {
            id: id("actor", n),
            name,
            kind,
            aliases: if rng.chance(20) { vec![word(&mut rng)] } else { vec![] },
            summary: Some(format!("A synthetic {kind:?} for load tests.")),
            part_of: (!person && n >= 10 && rng.chance(30)).then(|| id("actor", rng.below(orgs.min(n)))),
            positions,
            sources: source(&mut rng),
            note: None,
        })?;
    }
    w.finish()?;

    let mut w = ArrayWriter::create(&dir.join("treaties.json"))?;
    for n in 0..shape.treaties {
        let parties: Vec<Id> = (0..2 + rng.below(2))
            .map(|_| id("actor", rng.below(orgs)))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let signed = date(&mut rng);
        w.push(&Treaty {
            id: id("treaty", n),
            name: format!("Treaty of {} and {}", word(&mut rng), word(&mut rng)),
            kind: *rng.pick(&[TreatyKind::Treaty, TreatyKind::Agreement, TreatyKind::Partnership]),
            aliases: vec![],
            cited_only: false,
            summary: None,
            signed_on: Some(signed),
            signed_at: Some(id("place", rng.below(shape.places))),
            signatories: (0..rng.below(3))
                .map(|_| id("actor", rng.below(shape.actors)))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
            ratifications: (0..rng.below(3))
                .map(|_| Ratification {
                    by: id("actor", rng.below(orgs)),
                    date: None,
                })
                .collect(),
            parties,
            entered_into_force_on: None,
            provisions: vec!["A synthetic provision.".into()],
            mediator: None,
            based_on: (n > 0 && rng.chance(10)).then(|| id("treaty", rng.below(n))),
            sources: source(&mut rng),
            note: None,
        })?;
    }
    w.finish()?;

    let mut w = ArrayWriter::create(&dir.join("events.json"))?;
    for n in 0..shape.events {
        let count = 2 + rng.below(5);
        let mut participants: Vec<Participant> = Vec::with_capacity(count);
        for _ in 0..count {
            let actor = id("actor", rng.below(shape.actors));
            if participants.iter().all(|p| p.actor != actor) {
                participants.push(Participant {
                    actor,
                    role: *rng.pick(Role::ALL),
                });
            }
        }
        w.push(&Event {
            id: id("event", n),
            title: format!(
                "{} {} in {}",
                word(&mut rng),
                rng.pick(&["talks", "visit", "statement", "signing", "rally"]),
                word(&mut rng)
            ),
            kind: *rng.pick(EventKind::ALL),
            date: rng.chance(95).then(|| date(&mut rng)),
            place: rng.chance(70).then(|| id("place", rng.below(shape.places))),
            summary: None,
            participants,
            treaties: if rng.chance(20) {
                vec![id("treaty", rng.below(shape.treaties))]
            } else {
                vec![]
            },
            part_of: (n > 0 && rng.chance(5)).then(|| id("event", rng.below(n))),
            after: vec![],
            retracted_by: None,
            figures: if rng.chance(10) {
                vec![Figure {
                    label: "people".into(),
                    value: rng.below(10_000) as i64,
                    unit: "people".into(),
                    claimed_by: None,
                }]
            } else {
                vec![]
            },
            sources: source(&mut rng),
            note: None,
            // One event in ten answers an earlier one, by any kind but a
            // retraction (which `retracted_by` records). Drawn from `n` alone,
            // not the random stream, so the rest of the graph is unchanged.
            responds: if n > 0 && n % 10 == 0 {
                let kinds: Vec<ResponseKind> = ResponseKind::ALL
                    .iter()
                    .copied()
                    .filter(|k| *k != ResponseKind::Retracts)
                    .collect();
                vec![Response {
                    event: id("event", n / 2),
                    kind: kinds[(n / 10) % kinds.len()],
                }]
            } else {
                vec![]
            },
        })?;
    }
    w.finish()?;

    let mut w = ArrayWriter::create(&dir.join("funding.json"))?;
    let rub = Currency::parse("RUB").expect("RUB is a currency code");
    for n in 0..shape.funding {
        let donor = rng.below(orgs);
        let recipient = (donor + 1 + rng.below(orgs.max(2) - 1)) % orgs.max(2);
        w.push(&FundingAllocation {
            id: id("funding", n),
            title: format!("Allocation {n}"),
            amount: Money::new(1_000_000 + rng.next() % 10_000_000_000, rub.clone()).expect("positive"),
            donor: id("actor", donor),
            recipient: id("actor", recipient.min(shape.actors - 1)),
            purpose: "Synthetic support".into(),
            date: Some(date(&mut rng)),
            authorized_by: rng.chance(50).then(|| id("actor", rng.below(shape.actors))),
            basis: rng.chance(40).then(|| id("treaty", rng.below(shape.treaties))),
            event: rng.chance(30).then(|| id("event", rng.below(shape.events))),
            sources: source(&mut rng),
            note: None,
        })?;
    }
    w.finish()?;
    Ok(shape)
}
