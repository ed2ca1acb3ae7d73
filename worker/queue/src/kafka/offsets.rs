//! Offset bookkeeping of one assigned partition. Jobs finish out of order, so the committed
//! offset may only move up to the lowest offset still unfinished: everything below it is done,
//! and a restart resumes there (redelivering the finished ones above it, which the job store
//! recognises and acknowledges without redoing them).

use std::collections::BTreeSet;

#[derive(Debug, Clone)]
pub struct PartitionOffsets {
    /// Which assignment of the partition this is: a verdict from an earlier one (the partition
    /// was revoked meanwhile) must not touch these offsets.
    pub generation: u64,
    /// Received and not finished (handed out, waiting, held for a delay, or released).
    unfinished: BTreeSet<i64>,
    /// One past the highest offset received; `None` before the first message.
    next: Option<i64>,
    /// The last offset committed (or sent to be), to skip redundant commits.
    committed: Option<i64>,
}

impl PartitionOffsets {
    pub fn new(generation: u64) -> Self {
        Self {
            generation,
            unfinished: BTreeSet::new(),
            next: None,
            committed: None,
        }
    }

    pub fn received(&mut self, offset: i64) {
        self.unfinished.insert(offset);
        self.next = Some(self.next.map_or(offset + 1, |n| n.max(offset + 1)));
    }

    pub fn finished(&mut self, offset: i64) {
        self.unfinished.remove(&offset);
    }

    /// The offset to commit: the lowest unfinished one, or one past the highest received when
    /// everything received is finished. `None` before the first message.
    pub fn commit_point(&self) -> Option<i64> {
        let next = self.next?;
        Some(self.unfinished.first().copied().unwrap_or(next))
    }

    /// The commit point when it moved since the last commit, marking it committed.
    pub fn take_commit(&mut self) -> Option<i64> {
        let point = self.commit_point()?;
        if self.committed.is_some_and(|c| c >= point) {
            return None;
        }
        self.committed = Some(point);
        Some(point)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_only_up_to_the_lowest_unfinished_offset() {
        let mut p = PartitionOffsets::new(1);
        assert_eq!(
            p.commit_point(),
            None,
            "nothing received: nothing to commit"
        );
        for o in [10, 11, 12] {
            p.received(o);
        }
        p.finished(11);
        p.finished(12);
        assert_eq!(p.take_commit(), Some(10), "10 still runs: 11 and 12 wait");
        assert_eq!(p.take_commit(), None, "unchanged: no second commit");
        p.finished(10);
        assert_eq!(p.take_commit(), Some(13));
        p.received(13);
        p.received(15); // a gap (compaction, transaction markers) is fine
        p.finished(15);
        assert_eq!(p.commit_point(), Some(13));
        p.finished(13);
        assert_eq!(p.commit_point(), Some(16));
    }

    #[test]
    fn a_released_offset_holds_the_commit_point() {
        let mut p = PartitionOffsets::new(1);
        for o in 0..5 {
            p.received(o);
        }
        // 2 is released (never finished): nothing from 2 on may be committed.
        for o in [0, 1, 3, 4] {
            p.finished(o);
        }
        assert_eq!(p.take_commit(), Some(2));
    }
}
