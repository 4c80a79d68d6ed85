//! Index derivation and the record encoding: every index entry an entity
//! implies, and the versioned bytes an entity record is stored as.

use std::collections::BTreeMap;

use super::trees::{self, TreeRef};
use super::{keys, StoreError};
use crate::model::{legacy, text, Entity, EntityKind, Record};

/// First byte of every stored record: the record layout version.
/// Layout 4 gave events their typed responses (`responds`); like layout 3
/// it follows the version byte with a CRC-32 of the body (little-endian),
/// so a flipped byte that still decodes is found by every read and by
/// `verify`. Layout 3 (checksummed, events without `responds`), layout 2
/// (sources with a `kind`, no checksum) and layout 1 (see
/// [`crate::model::legacy`]) still decode, and are rewritten in layout 4
/// when next written.
pub(super) const RECORD_VERSION: u8 = 4;
pub(super) const RECORD_VERSION_3: u8 = 3;
pub(super) const RECORD_VERSION_2: u8 = 2;
pub(super) const RECORD_VERSION_1: u8 = 1;

/// Bytes of a checksummed record's checksum (layouts 3 and 4).
const CHECKSUM_BYTES: usize = 4;

pub(super) fn encode(record: &Record) -> Vec<u8> {
    // Serialising plain structs into a Vec cannot fail.
    let body = postcard::to_allocvec(record).unwrap_or_default();
    let mut out = Vec::with_capacity(1 + CHECKSUM_BYTES + body.len());
    out.push(RECORD_VERSION);
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

pub(super) fn decode(tree: &'static str, key: &[u8], bytes: &[u8]) -> Result<Record, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        tree,
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    };
    match bytes.split_first() {
        Some((&version @ (RECORD_VERSION | RECORD_VERSION_3), rest)) => {
            let (checksum, body) = rest
                .split_at_checked(CHECKSUM_BYTES)
                .ok_or_else(|| corrupt("the record is shorter than its checksum".into()))?;
            if checksum != crc32fast::hash(body).to_le_bytes() {
                return Err(corrupt("its checksum does not match: the record is damaged".into()));
            }
            if version == RECORD_VERSION {
                postcard::from_bytes(body).map_err(|e| corrupt(e.to_string()))
            } else {
                postcard::from_bytes::<legacy::RecordV3>(body)
                    .map(Record::from)
                    .map_err(|e| corrupt(format!("record layout 3: {e}")))
            }
        }
        Some((&RECORD_VERSION_2, body)) => postcard::from_bytes::<legacy::RecordV3>(body)
            .map(Record::from)
            .map_err(|e| corrupt(format!("record layout 2: {e}"))),
        Some((&RECORD_VERSION_1, body)) => postcard::from_bytes::<legacy::RecordV1>(body)
            .map(Record::from)
            .map_err(|e| corrupt(format!("record layout 1: {e}"))),
        Some((v, _)) => Err(corrupt(format!("unknown record version {v}"))),
        None => Err(corrupt("empty value".into())),
    }
}

/// Every index entry an entity implies: (tree, key, value).
pub(super) fn index_entries(entity: &Entity) -> Vec<(TreeRef, Vec<u8>, Vec<u8>)> {
    let id = entity.id();
    let kind = entity.kind();
    let mut out = Vec::new();
    for edge in entity.edges() {
        out.push((
            TreeRef::Backward(edge.relation),
            keys::pair(edge.to.as_bytes(), id.as_bytes()),
            edge.payload,
        ));
    }
    let listing = keys::dated(entity.date(), id);
    let class = keys::class_of(&listing);
    if trees::date_tree(kind, class).is_some() {
        out.push((TreeRef::ByDate(kind, class), listing.clone(), Vec::new()));
    }
    if kind == EntityKind::Event {
        out.push((
            TreeRef::EventSortKeys,
            id.as_bytes().to_vec(),
            keys::sort_key(entity.date()).to_vec(),
        ));
    }
    if let Some(sub) = entity.subkind() {
        // Events are listed chronologically, so their kind index is too:
        // a kind filter and a period then read one range.
        let (key, class) = if kind == EntityKind::Event {
            (keys::pair(sub.as_bytes(), &listing), class)
        } else {
            (keys::pair(sub.as_bytes(), id.as_bytes()), 0)
        };
        out.push((TreeRef::ByKind(kind, class), key, Vec::new()));
    }
    let label_len = text::tokens(entity.label()).len().min(255) as u8;
    let mut weights: BTreeMap<String, u8> = BTreeMap::new();
    for (text, weight) in entity.search_text() {
        for token in text::tokens(text) {
            let w = weights.entry(token).or_insert(0);
            *w = (*w).max(weight);
        }
    }
    for (token, weight) in weights {
        out.push((
            TreeRef::SearchTokens,
            keys::search(&token, weight, label_len, id),
            Vec::new(),
        ));
    }
    out
}
