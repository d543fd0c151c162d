//! The training data stream: token-shard sequences split once into held-out validation and
//! training sets, then visited epoch by epoch in a seeded order.
//!
//! The order is a pure function of `(seed, epoch)`: CPython's `random.Random(seed)` (MT19937,
//! reproduced exactly in [`crate::data::pyrandom`]) shuffles the indices, so the whole RNG state of
//! the data stream is the seed plus the number of sequences consumed (the cursor) and a resumed
//! run sees the same batches as an uninterrupted one.

use anyhow::Result;

use crate::data::pyrandom::PyRandom;
use crate::data::shards::Shards;
use crate::error::user;

/// Sequence indices for training and validation.
pub struct Split {
    pub train: Vec<u64>,
    pub val: Vec<u64>,
    seed: u64,
}

impl Split {
    /// Holds out `val` sequences chosen by a shuffle with `seed`; the rest train.
    pub fn new(total: u64, val: u64, seed: u64) -> Result<Split> {
        if total == 0 {
            return Err(user(
                "the token shards hold no sequences; pack a corpus first (`sn9 data pack`)",
            ));
        }
        if val >= total {
            return Err(user(format!(
                "--val-sequences {val} leaves nothing to train on ({total} sequences in the shards); \
                 lower it or pack more data"
            )));
        }
        let mut all: Vec<u64> = (0..total).collect();
        PyRandom::from_u64(seed).shuffle(&mut all);
        let mut val_idx = all[..val as usize].to_vec();
        val_idx.sort_unstable();
        let mut train = all[val as usize..].to_vec();
        train.sort_unstable();
        Ok(Split {
            train,
            val: val_idx,
            seed,
        })
    }

    /// The training order of `epoch`: the training indices shuffled by
    /// `Random(seed + 1 + epoch)`.
    pub fn epoch_order(&self, epoch: u64) -> Vec<u64> {
        let mut o = self.train.clone();
        PyRandom::from_u64(self.seed.wrapping_add(1).wrapping_add(epoch)).shuffle(&mut o);
        o
    }
}

/// Draws training sequences from the cursor on (the cursor counts sequences consumed).
pub struct Stream<'a> {
    pub shards: &'a Shards,
    pub split: &'a Split,
    pub cursor: u64,
    order: Option<(u64, Vec<u64>)>,
}

impl<'a> Stream<'a> {
    pub fn new(shards: &'a Shards, split: &'a Split, cursor: u64) -> Self {
        Stream {
            shards,
            split,
            cursor,
            order: None,
        }
    }

    pub fn epoch(&self) -> u64 {
        self.cursor / self.split.train.len() as u64
    }

    /// The next `n` sequences, flattened (`n · seq_len` ids).
    pub fn next_batch(&mut self, n: usize) -> Vec<u32> {
        let per = self.split.train.len() as u64;
        let mut out = Vec::with_capacity(n * self.shards.manifest.seq_len);
        for _ in 0..n {
            let (epoch, pos) = (self.cursor / per, self.cursor % per);
            if self.order.as_ref().is_none_or(|(e, _)| *e != epoch) {
                self.order = Some((epoch, self.split.epoch_order(epoch)));
            }
            let idx = self.order.as_ref().expect("set above").1[pos as usize];
            out.extend(self.shards.sequence(idx).expect("index from the split"));
            self.cursor += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_a_partition_and_deterministic() {
        let s = Split::new(100, 10, 7).unwrap();
        assert_eq!(s.val.len(), 10);
        assert_eq!(s.train.len(), 90);
        let mut all: Vec<u64> = s.train.iter().chain(&s.val).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        let again = Split::new(100, 10, 7).unwrap();
        assert_eq!(s.val, again.val);
        assert_eq!(s.epoch_order(3), again.epoch_order(3));
        assert_ne!(s.epoch_order(0), s.epoch_order(1));
        assert_ne!(Split::new(100, 10, 8).unwrap().val, s.val);
        assert!(Split::new(0, 0, 1).is_err());
        assert!(Split::new(5, 5, 1).is_err());
    }
}
