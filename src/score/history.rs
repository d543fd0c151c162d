//! Evaluation history per model, the retry rule and the top-miner shortcut
//! (taoverse `ModelTracker`, pretraining `pretrain/models/retry.py`, taoverse metagraph utils).

use serde::{Deserialize, Serialize};

use crate::competition::EpsilonFunc;

/// Maximum number of evaluation results kept per model and competition.
pub const MAX_EVAL_HISTORY: usize = 3;

/// `EvalResult`: one evaluation of a model, and the winner of that step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalResult {
    /// Block of the evaluation.
    pub block: u64,
    /// The model's score (`inf` when the evaluation failed).
    #[serde(with = "crate::score::jsonf64")]
    pub score: f64,
    /// Upload block of the step's winner.
    #[serde(with = "crate::score::jsonf64")]
    pub winning_model_block: f64,
    /// Score of the step's winner.
    #[serde(with = "crate::score::jsonf64")]
    pub winning_model_score: f64,
}

/// Adds an evaluation to a history: sorted by block, at most [`MAX_EVAL_HISTORY`] (the latest).
pub fn push_eval(history: &mut Vec<EvalResult>, result: EvalResult) {
    history.push(result);
    history.sort_by_key(|r| r.block);
    if history.len() > MAX_EVAL_HISTORY {
        let extra = history.len() - MAX_EVAL_HISTORY;
        history.drain(..extra);
    }
}

/// `should_retry_model`: re-evaluate a model when it was never evaluated; when its last
/// successful evaluation beat the winner's raw score and would now beat it with the winner's
/// epsilon applied at `curr_block`; or when every evaluation failed and there were fewer than two.
pub fn should_retry(epsilon: &EpsilonFunc, curr_block: u64, history: &[EvalResult]) -> bool {
    if history.is_empty() {
        return true;
    }
    // "Successful" is `score != inf`, as in the reference (a NaN score counts as successful).
    let last_ok = history.iter().rev().find(|r| r.score != f64::INFINITY);
    match last_ok {
        Some(r) => {
            if r.score > r.winning_model_score {
                return false;
            }
            let eps = epsilon.compute(curr_block as f64, r.winning_model_block);
            r.score < r.winning_model_score * (1.0 - eps)
        }
        None => history.len() < 2,
    }
}

/// `get_high_stake_validators`: uids with stake ≥ `min_stake` and a validator permit.
pub fn high_stake_validators(stake: &[f64], permit: &[bool], min_stake: f64) -> Vec<u16> {
    stake
        .iter()
        .zip(permit)
        .enumerate()
        .filter(|(_, (s, p))| **p && **s >= min_stake)
        .map(|(i, _)| i as u16)
        .collect()
}

/// `get_top_miners`: every uid whose weight from a high-stake validator is at least
/// `min_weight_percent · Σ weights` of that validator (inclusive); sorted, without duplicates.
pub fn top_miners(
    stake: &[f64],
    permit: &[bool],
    weights: &dyn Fn(u16) -> Vec<(u16, f64)>,
    min_stake: f64,
    min_weight_percent: f64,
) -> Vec<u16> {
    let mut out = std::collections::BTreeSet::new();
    for v in high_stake_validators(stake, permit, min_stake) {
        let w = weights(v);
        let total: f64 = w.iter().map(|(_, x)| x).sum();
        let threshold = total * min_weight_percent;
        for (uid, x) in w {
            if x >= threshold {
                out.insert(uid);
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(block: u64, score: f64) -> EvalResult {
        EvalResult {
            block,
            score,
            winning_model_block: 0.0,
            winning_model_score: 1.0,
        }
    }

    #[test]
    fn history_is_capped_and_sorted() {
        let mut h = Vec::new();
        for b in [30, 10, 40, 20] {
            push_eval(&mut h, r(b, 1.0));
        }
        assert_eq!(
            h.iter().map(|r| r.block).collect::<Vec<_>>(),
            vec![20, 30, 40]
        );
    }

    #[test]
    fn retry_rules() {
        let e: EpsilonFunc = "FixedEpsilon(0.005)".parse().unwrap();
        assert!(should_retry(&e, 100, &[]));
        assert!(should_retry(&e, 100, &[r(10, f64::INFINITY)]));
        assert!(!should_retry(
            &e,
            100,
            &[r(10, f64::INFINITY), r(20, f64::INFINITY)]
        ));
        assert!(should_retry(&e, 100, &[r(10, 0.5)]));
        assert!(!should_retry(&e, 100, &[r(10, 0.999)]));
    }
}
