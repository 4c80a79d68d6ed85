//! Reading seed files: listing them in load order, streaming their
//! elements, and hashing their content.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer as _};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::check::parse_entity;
use crate::model::{Actor, Entity, EntityKind, Event, FundingAllocation, Place, Source, Treaty};

use super::{Problem, SeedError, SeedReport};

/// A seed file and the kind of entity it holds.
pub(super) struct SeedFile {
    pub(super) path: PathBuf,
    pub(super) kind: EntityKind,
}

/// Lists the seed files of `dir` in load order, refusing files whose name
/// names no kind.
pub(super) fn seed_files(dir: &Path, problems: &mut Vec<Problem>) -> Result<Vec<SeedFile>, SeedError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SeedError::Dir {
        path: dir.to_owned(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| SeedError::Dir {
                path: dir.to_owned(),
                source,
            })?
            .path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let plural = stem.split_once('-').map_or(stem, |(k, _)| k);
        match EntityKind::from_plural(plural) {
            Some(kind) => files.push(SeedFile { path, kind }),
            None => problems.push(Problem {
                file: path.clone(),
                id: None,
                field: None,
                message: format!(
                    "unknown kind `{plural}` in the file name; name files after their kind: {}",
                    EntityKind::ALL.map(|k| format!("{}.json", k.plural())).join(", ")
                ),
            }),
        }
    }
    // Load order: kinds first (sources before what cites them), then name.
    files.sort_by(|a, b| {
        let rank = |k: EntityKind| EntityKind::ALL.iter().position(|x| *x == k);
        rank(a.kind).cmp(&rank(b.kind)).then_with(|| a.path.cmp(&b.path))
    });
    Ok(files)
}

/// Hashes everything read through it.
struct Hashing<'a, R> {
    inner: R,
    hasher: &'a mut Sha256,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Calls `f` with each element of the JSON array in `reader`, one at a time,
/// so memory stays bounded by the largest element, not the file.
fn each_element<R: Read>(reader: R, f: &mut dyn FnMut(usize, Value)) -> Result<(), serde_json::Error> {
    struct Each<'a>(&'a mut dyn FnMut(usize, Value));
    impl<'de> Visitor<'de> for Each<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON array of entities")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            while let Some(value) = seq.next_element::<Value>()? {
                (self.0)(i, value);
                i += 1;
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_reader(BufReader::new(reader));
    de.deserialize_seq(Each(f))?;
    de.end()
}

/// Parses each element of the JSON array in `reader` straight into an
/// entity of `kind` (no intermediate [`Value`]: the common case, a valid
/// seed, parses about twice as fast), calling `f` with each. Stops at the
/// first element that does not parse; returns how many elements `f` saw,
/// and whether the whole array parsed.
pub(super) fn each_entity<R: Read>(reader: R, kind: EntityKind, f: &mut dyn FnMut(Entity)) -> (usize, bool) {
    struct Typed(EntityKind);
    impl<'de> DeserializeSeed<'de> for Typed {
        type Value = Entity;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Entity, D::Error> {
            Ok(match self.0 {
                EntityKind::Actor => Entity::Actor(Actor::deserialize(d)?),
                EntityKind::Event => Entity::Event(Event::deserialize(d)?),
                EntityKind::Treaty => Entity::Treaty(Treaty::deserialize(d)?),
                EntityKind::Funding => Entity::Funding(FundingAllocation::deserialize(d)?),
                EntityKind::Place => Entity::Place(Place::deserialize(d)?),
                EntityKind::Source => Entity::Source(Source::deserialize(d)?),
            })
        }
    }
    struct Each<'a> {
        kind: EntityKind,
        f: &'a mut dyn FnMut(Entity),
        seen: &'a mut usize,
    }
    impl<'de> Visitor<'de> for Each<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON array of entities")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(entity) = seq.next_element_seed(Typed(self.kind))? {
                (self.f)(entity);
                *self.seen += 1;
            }
            Ok(())
        }
    }
    let mut seen = 0;
    let mut de = serde_json::Deserializer::from_reader(BufReader::new(reader));
    let parsed = de
        .deserialize_seq(Each {
            kind,
            f,
            seen: &mut seen,
        })
        .and_then(|()| de.end())
        .is_ok();
    (seen, parsed)
}

/// Streams every entity of every file through `f`; parse problems are
/// recorded, and `f` sees only entities that parsed.
///
/// Each file is first parsed straight into entities. Only a file with a
/// problem is read again, element by element through [`Value`], to name
/// every bad element and field; elements `f` already saw are skipped then.
pub(super) fn stream(
    files: &[SeedFile],
    problems: &mut Vec<Problem>,
    hasher: Option<&mut Sha256>,
    f: &mut dyn FnMut(&SeedFile, Entity, &mut Vec<Problem>),
) {
    let mut hasher = hasher;
    for file in files {
        let open = |problems: &mut Vec<Problem>| match File::open(&file.path) {
            Ok(h) => Some(h),
            Err(e) => {
                problems.push(Problem {
                    file: file.path.clone(),
                    id: None,
                    field: None,
                    message: format!("cannot read: {e}"),
                });
                None
            }
        };
        let Some(handle) = open(problems) else {
            continue;
        };
        let mut local = Vec::new();
        let name = file.path.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default();
        // The hash so far, to start again from if this file must be re-read.
        let before = hasher.as_deref().cloned();
        let (seen, parsed) = {
            let mut on_entity = |entity: Entity| f(file, entity, &mut local);
            match hasher.as_deref_mut() {
                Some(h) => {
                    h.update(name);
                    h.update([0]);
                    each_entity(
                        Hashing {
                            inner: handle,
                            hasher: h,
                        },
                        file.kind,
                        &mut on_entity,
                    )
                }
                None => each_entity(handle, file.kind, &mut on_entity),
            }
        };
        if parsed {
            problems.extend(local);
            continue;
        }
        if let (Some(h), Some(before)) = (hasher.as_deref_mut(), before) {
            *h = before;
        }
        let Some(handle) = open(&mut local) else {
            problems.extend(local);
            continue;
        };
        let mut on_element = |i: usize, value: Value| {
            if i < seen {
                return;
            }
            let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
            match parse_entity(file.kind, &value) {
                Ok(entity) => f(file, entity, &mut local),
                Err((field, message)) => local.push(Problem {
                    file: file.path.clone(),
                    id: Some(id.unwrap_or_else(|| format!("entry #{i}"))),
                    field,
                    message,
                }),
            }
        };
        let result = match hasher.as_deref_mut() {
            Some(h) => {
                h.update(name);
                h.update([0]);
                each_element(
                    Hashing {
                        inner: handle,
                        hasher: h,
                    },
                    &mut on_element,
                )
            }
            None => each_element(handle, &mut on_element),
        };
        if let Err(e) = result {
            local.push(Problem {
                file: file.path.clone(),
                id: None,
                field: None,
                message: format!("malformed JSON at line {} column {}: {e}", e.line(), e.column()),
            });
        }
        problems.extend(local);
    }
}

/// The content hash of the seed in `dir` (what the meta tree records),
/// without parsing it: a cheap way to learn whether a seed changed.
pub fn content_hash(dir: &Path) -> Result<String, SeedError> {
    let mut problems = Vec::new();
    let files = seed_files(dir, &mut problems)?;
    let mut hasher = Sha256::new();
    for file in &files {
        hasher.update(file.path.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default());
        hasher.update([0]);
        let mut handle = File::open(&file.path).map_err(|source| SeedError::Dir {
            path: file.path.clone(),
            source,
        })?;
        std::io::copy(&mut handle, &mut hasher).map_err(|source| SeedError::Dir {
            path: file.path.clone(),
            source,
        })?;
    }
    Ok(format!("sha256:{:x}", hasher.finalize()))
}

/// The seed files a validated report lists, with their kinds.
pub(super) fn report_files(report: &SeedReport) -> Vec<SeedFile> {
    report
        .files
        .iter()
        .map(|p| {
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            let plural = stem.split_once('-').map_or(stem, |(k, _)| k);
            SeedFile {
                path: p.clone(),
                kind: EntityKind::from_plural(plural).unwrap_or(EntityKind::Source),
            }
        })
        .collect()
}
