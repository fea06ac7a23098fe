//! A bounded FIFO that remembers how many items it ever saw.

use std::collections::VecDeque;

/// Keeps the newest `capacity` items; `total()` counts every push, so totals stay exact while
/// detail is dropped.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ring<T> {
    items: VecDeque<T>,
    capacity: usize,
    total: u64,
}

impl<T> Ring<T> {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Ring {
            items: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
            total: 0,
        }
    }

    pub fn push(&mut self, item: T) {
        self.push_with(|_| item);
    }

    /// Pushes the item `make` builds. When the ring is full, `make` gets the oldest item, which
    /// leaves now, so that its allocations can be reused (the ring is full for good under a flood).
    pub fn push_with(&mut self, make: impl FnOnce(Option<T>) -> T) {
        let leaving = if self.items.len() == self.capacity {
            self.items.pop_front()
        } else {
            None
        };
        self.items.push_back(make(leaving));
        self.total += 1;
    }

    /// Every item ever pushed, including the ones dropped since.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Items pushed but no longer held.
    pub fn dropped(&self) -> u64 {
        self.total - self.items.len() as u64
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter()
    }

    /// Oldest first, to update in place.
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut T> + ExactSizeIterator {
        self.items.iter_mut()
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        self.items.get(index)
    }

    pub fn last(&self) -> Option<&T> {
        self.items.back()
    }

    pub fn last_mut(&mut self) -> Option<&mut T> {
        self.items.back_mut()
    }

    /// Forgets the held items; the total is kept.
    pub fn clear(&mut self) {
        self.items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_newest_and_counts_everything() {
        let mut r = Ring::new(3);
        for i in 0..10 {
            r.push(i);
        }
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), vec![7, 8, 9]);
        assert_eq!(r.total(), 10);
        assert_eq!(r.dropped(), 7);
        r.clear();
        assert_eq!((r.len(), r.total()), (0, 10));
    }

    #[test]
    fn push_with_hands_over_the_item_leaving() {
        let mut r = Ring::new(2);
        let mut left = Vec::new();
        for i in 0..5 {
            r.push_with(|old| {
                left.push(old);
                i
            });
        }
        assert_eq!(left, vec![None, None, Some(0), Some(1), Some(2)]);
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(r.total(), 5);
    }
}
