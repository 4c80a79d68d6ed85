//! What a value the read cache keeps holds in memory: its own size and the
//! heap blocks it owns, so the cache is bounded in bytes, not in entries
//! (an entry may be an id and one entity, or the ten thousand events of a
//! busy actor).
//!
//! The figures are what the allocator hands out, not what is asked of it:
//! mimalloc rounds a small block up to its size class (a multiple of 8 up
//! to 64 bytes, then by at most an eighth), which [`block`] approximates by
//! rounding to 16 bytes. Decoded records own blocks of exactly their length
//! (serde sizes a string or a list from its encoded length), but capacities
//! are read all the same.

use std::mem::size_of;
use std::sync::Arc;

use crate::model::{self, Id, PartialDate};

/// The bytes a heap block of `n` bytes takes (none for an empty one, which
/// allocates nothing).
pub fn block(n: usize) -> usize {
    match n {
        0 => 0,
        n => n.next_multiple_of(16),
    }
}

/// Roughly what a value holds in memory, its own size included.
pub trait Weight {
    /// The heap bytes the value owns, not its own (inline) size.
    fn heap(&self) -> usize;

    /// Its own size and what it owns.
    fn weight(&self) -> usize
    where
        Self: Sized,
    {
        size_of::<Self>() + self.heap()
    }
}

impl Weight for String {
    fn heap(&self) -> usize {
        block(self.capacity())
    }
}

impl Weight for Id {
    fn heap(&self) -> usize {
        block(self.as_bytes().len())
    }
}

impl Weight for Vec<u8> {
    fn heap(&self) -> usize {
        block(self.capacity())
    }
}

impl Weight for PartialDate {
    fn heap(&self) -> usize {
        0
    }
}

impl<T: Weight> Weight for Option<T> {
    fn heap(&self) -> usize {
        self.as_ref().map_or(0, Weight::heap)
    }
}

/// A list's block and what each item owns; the items' own sizes lie in the block.
fn list<T>(items: &[T], capacity: usize, owned: impl Fn(&T) -> usize) -> usize {
    block(capacity * size_of::<T>()) + items.iter().map(owned).sum::<usize>()
}

impl<T: Weight> Weight for Vec<T> {
    fn heap(&self) -> usize {
        list(self, self.capacity(), Weight::heap)
    }
}

impl<A: Weight, B: Weight> Weight for (A, B) {
    fn heap(&self) -> usize {
        self.0.heap() + self.1.heap()
    }
}

/// An `Arc` owns one block: its two counts and the value. Shared values are
/// counted in full by every holder, so a bound on the sum is a bound on
/// what the holders keep alive.
impl<T: Weight> Weight for Arc<T> {
    fn heap(&self) -> usize {
        block(2 * size_of::<usize>() + size_of::<T>()) + self.as_ref().heap()
    }
}

impl Weight for model::Actor {
    fn heap(&self) -> usize {
        let positions = list(&self.positions, self.positions.capacity(), |p| {
            p.title.heap() + p.of.heap() + p.note.heap()
        });
        self.id.heap()
            + self.name.heap()
            + self.aliases.heap()
            + self.summary.heap()
            + self.part_of.heap()
            + positions
            + self.sources.heap()
            + self.note.heap()
    }
}

impl Weight for model::Event {
    fn heap(&self) -> usize {
        let participants = list(&self.participants, self.participants.capacity(), |p| p.actor.heap());
        let figures = list(&self.figures, self.figures.capacity(), |f| {
            f.label.heap() + f.unit.heap() + f.claimed_by.heap()
        });
        let responds = list(&self.responds, self.responds.capacity(), |r| r.event.heap());
        self.id.heap()
            + self.title.heap()
            + self.place.heap()
            + self.summary.heap()
            + participants
            + self.treaties.heap()
            + self.part_of.heap()
            + self.after.heap()
            + self.retracted_by.heap()
            + figures
            + self.sources.heap()
            + self.note.heap()
            + responds
    }
}

impl Weight for model::Treaty {
    fn heap(&self) -> usize {
        let ratifications = list(&self.ratifications, self.ratifications.capacity(), |r| r.by.heap());
        self.id.heap()
            + self.name.heap()
            + self.aliases.heap()
            + self.summary.heap()
            + self.signed_at.heap()
            + self.parties.heap()
            + self.signatories.heap()
            + ratifications
            + self.provisions.heap()
            + self.mediator.heap()
            + self.based_on.heap()
            + self.sources.heap()
            + self.note.heap()
    }
}

impl Weight for model::FundingAllocation {
    fn heap(&self) -> usize {
        self.id.heap()
            + self.title.heap()
            + block(self.amount.currency.as_str().len())
            + self.donor.heap()
            + self.recipient.heap()
            + self.purpose.heap()
            + self.authorized_by.heap()
            + self.basis.heap()
            + self.event.heap()
            + self.sources.heap()
            + self.note.heap()
    }
}

impl Weight for model::Place {
    fn heap(&self) -> usize {
        self.id.heap()
            + self.name.heap()
            + self.aliases.heap()
            + self.summary.heap()
            + self.within.heap()
            + self.sources.heap()
            + self.note.heap()
    }
}

impl Weight for model::Source {
    fn heap(&self) -> usize {
        self.id.heap() + self.document.heap() + self.section.heap() + self.url.heap() + self.note.heap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_rounded_up_and_an_empty_one_is_nothing() {
        assert_eq!(block(0), 0);
        assert_eq!(block(1), 16);
        assert_eq!(block(16), 16);
        assert_eq!(block(17), 32);
    }

    #[test]
    fn a_list_counts_its_block_and_what_each_item_owns() {
        let ids: Vec<Id> = (0..10).map(|n| Id::parse(&format!("actor/a{n}")).unwrap()).collect();
        let own = block(10 * size_of::<Id>());
        // "actor/a0" is 8 bytes: one 16-byte block each.
        assert_eq!(ids.heap(), own + 10 * 16);
        assert_eq!(ids.weight(), size_of::<Vec<Id>>() + own + 10 * 16);
    }
}
