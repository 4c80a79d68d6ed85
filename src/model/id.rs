//! Global, human-readable entity ids such as `actor/dmitry-medvedev`.
//!
//! An id is `kind/slug`: the kind names the entity tree it lives in, the slug
//! is lowercase ASCII letters, digits and hyphens. Ids are parsed once, at the
//! edge (seed files, GraphQL arguments); past the edge every function takes an
//! [`Id`] and can rely on its shape.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

// The kinds of entity the graph holds; each has its own sled tree and id
// prefix. The one enum of them: the GraphQL schema serves it as
// `EntityType` (with the description below), and plans and the store use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, async_graphql::Enum)]
#[graphql(name = "EntityType")]
/// The kinds of entity, for filtering change notices.
pub enum EntityKind {
    /// Actors: states, bodies, people.
    Actor,
    /// Events.
    Event,
    /// Treaties and agreements.
    Treaty,
    /// Funding allocations.
    #[graphql(name = "FUNDING_ALLOCATION")]
    Funding,
    /// Places.
    Place,
    /// Sources.
    Source,
}

impl EntityKind {
    pub const ALL: [EntityKind; 6] = [
        EntityKind::Source,
        EntityKind::Place,
        EntityKind::Actor,
        EntityKind::Treaty,
        EntityKind::Event,
        EntityKind::Funding,
    ];

    /// The id prefix, also the singular name used in messages.
    pub fn prefix(self) -> &'static str {
        match self {
            EntityKind::Actor => "actor",
            EntityKind::Event => "event",
            EntityKind::Treaty => "treaty",
            EntityKind::Funding => "funding",
            EntityKind::Place => "place",
            EntityKind::Source => "source",
        }
    }

    /// The name of the kind's record type, which is also its GraphQL object type.
    pub fn type_name(self) -> &'static str {
        match self {
            EntityKind::Actor => "Actor",
            EntityKind::Event => "Event",
            EntityKind::Treaty => "Treaty",
            EntityKind::Funding => "FundingAllocation",
            EntityKind::Place => "Place",
            EntityKind::Source => "Source",
        }
    }

    /// The plural used for seed file names (`actors.json`, `events-war.json`) and counts.
    pub fn plural(self) -> &'static str {
        match self {
            EntityKind::Actor => "actors",
            EntityKind::Event => "events",
            EntityKind::Treaty => "treaties",
            EntityKind::Funding => "funding",
            EntityKind::Place => "places",
            EntityKind::Source => "sources",
        }
    }

    pub fn from_prefix(prefix: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.prefix() == prefix)
    }

    pub fn from_plural(plural: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.plural() == plural)
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

/// A parsed global id. Cheap to clone; ordered like its string form, which
/// is also the key order in sled.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(String);

/// Why a string is not an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("id is empty")]
    Empty,
    #[error("id `{0}` has no kind prefix (expected `kind/slug`, e.g. `actor/dmitry-medvedev`)")]
    NoPrefix(String),
    #[error("id `{id}` has unknown kind `{kind}` (expected one of actor, event, treaty, funding, place, source)")]
    UnknownKind { id: String, kind: String },
    #[error("id `{0}` has an invalid slug: use lowercase letters, digits and single hyphens")]
    BadSlug(String),
    #[error("id `{id}` is a {found} id, but a {expected} id is required here")]
    WrongKind {
        id: String,
        found: EntityKind,
        expected: EntityKind,
    },
    #[error("id is {0} characters long; the limit is {MAX_ID_LEN}")]
    TooLong(usize),
}

/// Ids longer than this are refused: they are keys, not documents.
pub const MAX_ID_LEN: usize = 200;

fn valid_slug(slug: &str) -> bool {
    let bytes = slug.as_bytes();
    !slug.is_empty()
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        // No "--": by pairs rather than `contains("--")`, whose searcher
        // costs more to set up than a slug costs to walk (ids are parsed per request).
        && !bytes.windows(2).any(|pair| pair[0] == b'-' && pair[1] == b'-')
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

impl Id {
    /// Parses a full global id (`kind/slug`).
    pub fn parse(s: &str) -> Result<Id, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.len() > MAX_ID_LEN {
            return Err(IdError::TooLong(s.len()));
        }
        let (kind, slug) = s.split_once('/').ok_or_else(|| IdError::NoPrefix(s.to_owned()))?;
        if EntityKind::from_prefix(kind).is_none() {
            return Err(IdError::UnknownKind {
                id: s.to_owned(),
                kind: kind.to_owned(),
            });
        }
        if !valid_slug(slug) {
            return Err(IdError::BadSlug(s.to_owned()));
        }
        Ok(Id(s.to_owned()))
    }

    /// Parses an id that must be of `kind`; a bare slug (`dmitry-medvedev`)
    /// is accepted and given the kind's prefix.
    pub fn parse_as(kind: EntityKind, s: &str) -> Result<Id, IdError> {
        let id = if s.contains('/') {
            Id::parse(s)?
        } else {
            Id::parse(&format!("{}/{}", kind.prefix(), s))?
        };
        id.expect_kind(kind)
    }

    /// Builds an id from a kind and a slug that is known to be valid.
    pub fn new(kind: EntityKind, slug: &str) -> Result<Id, IdError> {
        Id::parse(&format!("{}/{}", kind.prefix(), slug))
    }

    pub fn expect_kind(self, expected: EntityKind) -> Result<Id, IdError> {
        let found = self.kind();
        if found == expected {
            Ok(self)
        } else {
            Err(IdError::WrongKind {
                id: self.0,
                found,
                expected,
            })
        }
    }

    pub fn kind(&self) -> EntityKind {
        // Every constructor checked the prefix, and the kinds' prefixes
        // begin with different letters: the first one tells them apart.
        match self.0.as_bytes().first() {
            Some(b'a') => EntityKind::Actor,
            Some(b'e') => EntityKind::Event,
            Some(b't') => EntityKind::Treaty,
            Some(b'f') => EntityKind::Funding,
            Some(b'p') => EntityKind::Place,
            _ => EntityKind::Source,
        }
    }

    pub fn slug(&self) -> &str {
        self.0.split_once('/').map(|(_, s)| s).unwrap_or(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Decodes an id from key bytes written by the store.
    pub fn from_key(bytes: &[u8]) -> Result<Id, IdError> {
        let s = std::str::from_utf8(bytes).map_err(|_| IdError::BadSlug("<not utf-8>".into()))?;
        Id::parse(s)
    }
}

/// An id is looked up in maps by its text (hashing and equality are those
/// of the string it holds), so a key read from an index need not be parsed
/// first.
impl std::borrow::Borrow<str> for Id {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        let s = String::deserialize(d)?;
        Id::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_with_and_without_prefix() {
        let id = Id::parse("actor/dmitry-medvedev").unwrap();
        assert_eq!(id.kind(), EntityKind::Actor);
        assert_eq!(id.slug(), "dmitry-medvedev");
        assert_eq!(Id::parse_as(EntityKind::Actor, "dmitry-medvedev").unwrap(), id);
        assert!(matches!(
            Id::parse_as(EntityKind::Event, "actor/dmitry-medvedev"),
            Err(IdError::WrongKind { .. })
        ));
    }

    #[test]
    fn every_kind_reads_back_from_its_ids() {
        for kind in EntityKind::ALL {
            assert_eq!(Id::new(kind, "x-1").unwrap().kind(), kind);
            let others = EntityKind::ALL.into_iter().filter(|k| *k != kind);
            assert!(
                others
                    .into_iter()
                    .all(|k| k.prefix().as_bytes()[0] != kind.prefix().as_bytes()[0]),
                "{kind}: the first letter tells the kinds apart"
            );
        }
    }

    #[test]
    fn malformed_ids_are_refused_with_a_reason() {
        for (input, why) in [
            ("", "empty"),
            ("dmitry", "no prefix"),
            ("person/x", "unknown kind"),
            ("actor/", "empty slug"),
            ("actor/Upper", "uppercase"),
            ("actor/a--b", "double hyphen"),
            ("actor/-a", "leading hyphen"),
            ("actor/a b", "space"),
        ] {
            assert!(Id::parse(input).is_err(), "{why}: {input:?} should fail");
        }
    }
}
