//! Pairwise wins with epsilon (pretraining `pretrain/validation.py`).
//!
//! Scores are losses (lower is better, `inf` for a failed model); blocks are upload blocks
//! (`inf` when the model's metadata is missing). Order matters only for ties and is the order
//! of the input slice, like the reference's dict order.

use crate::competition::EpsilonFunc;

/// One evaluated model of a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    pub uid: u16,
    pub score: f64,
    pub block: f64,
}

/// `iswin`: does model i beat model j? The model with the strictly earlier block has its loss
/// multiplied by `1 − eps(current_block, its block)`; equal blocks are not adjusted; strict `<`.
pub fn iswin(
    loss_i: f64,
    loss_j: f64,
    block_i: f64,
    block_j: f64,
    epsilon: &EpsilonFunc,
    current_block: f64,
) -> bool {
    let li = if block_i < block_j {
        (1.0 - epsilon.compute(current_block, block_i)) * loss_i
    } else {
        loss_i
    };
    let lj = if block_j < block_i {
        (1.0 - epsilon.compute(current_block, block_j)) * loss_j
    } else {
        loss_j
    };
    li < lj
}

/// Why a uid is not competitive: the earlier (or same-block) model whose fully decayed score it
/// fails to beat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeatenBy {
    pub uid: u16,
    pub block: f64,
    pub decayed_score: f64,
}

/// `compute_competitive_uids`: a uid is competitive when its score is strictly below
/// `(1 − eps_fully_decayed) · score_j` for every other uid j with `block_j <= block_uid`.
/// The earliest uid is always competitive (even with an `inf` score). Returns, per input entry,
/// `None` if competitive or the first model that beats it.
pub fn competitive_filter(entries: &[Entry], epsilon: &EpsilonFunc) -> Vec<Option<BeatenBy>> {
    let factor = 1.0 - epsilon.fully_decayed();
    entries
        .iter()
        .map(|e| {
            entries
                .iter()
                .filter(|o| o.uid != e.uid && o.block <= e.block)
                .map(|o| BeatenBy {
                    uid: o.uid,
                    block: o.block,
                    decayed_score: o.score * factor,
                })
                // `not (a < b)` rather than `a >= b`: a NaN score is never competitive, as in Python.
                .find(|b| {
                    #[allow(clippy::neg_cmp_op_on_partial_ord)]
                    let beaten = !(e.score < b.decayed_score);
                    beaten
                })
        })
        .collect()
}

/// The competitive uids, in input order.
pub fn competitive_uids(entries: &[Entry], epsilon: &EpsilonFunc) -> Vec<u16> {
    entries
        .iter()
        .zip(competitive_filter(entries, epsilon))
        .filter(|(_, b)| b.is_none())
        .map(|(e, _)| e.uid)
        .collect()
}

/// Wins and win rate of one uid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WinRecord {
    pub uid: u16,
    pub wins: u32,
    pub matches: u32,
    /// `wins / matches`, or 1 when the uid had no opponent.
    pub win_rate: f64,
}

/// `compute_wins` over `entries` (the competitive ones in the reference).
pub fn compute_wins(
    entries: &[Entry],
    epsilon: &EpsilonFunc,
    current_block: f64,
) -> Vec<WinRecord> {
    entries
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut wins = 0u32;
            let mut matches = 0u32;
            for (j, b) in entries.iter().enumerate() {
                if i == j {
                    continue;
                }
                if iswin(a.score, b.score, a.block, b.block, epsilon, current_block) {
                    wins += 1;
                }
                matches += 1;
            }
            let win_rate = if matches > 0 {
                wins as f64 / matches as f64
            } else {
                1.0
            };
            WinRecord {
                uid: a.uid,
                wins,
                matches,
                win_rate,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eps() -> EpsilonFunc {
        "LinearDecay(0.005,0.0001,2000)".parse().unwrap()
    }

    #[test]
    fn earliest_is_competitive_even_inf() {
        let e = [
            Entry {
                uid: 1,
                score: f64::INFINITY,
                block: 10.0,
            },
            Entry {
                uid: 2,
                score: 1.0,
                block: 20.0,
            },
        ];
        assert_eq!(competitive_uids(&e, &eps()), vec![1, 2]);
    }

    #[test]
    fn later_clone_is_not_competitive() {
        let e = [
            Entry {
                uid: 1,
                score: 1.0,
                block: 10.0,
            },
            Entry {
                uid: 2,
                score: 1.0,
                block: 20.0,
            },
        ];
        assert_eq!(competitive_uids(&e, &eps()), vec![1]);
        let w = compute_wins(&e[..1], &eps(), 30.0);
        assert_eq!(w[0].win_rate, 1.0);
    }
}
