//! Step weights, the per-competition EMA tracker, the subnet merge and the u16 conversion
//! (pretraining `neurons/validator.py`, taoverse `CompetitionTracker`, bittensor 9.0.0
//! `convert_weights_and_uids_for_emit`). All float32 work goes through [`super::f32ops`].

use std::collections::BTreeMap;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::f32ops::{nan_to_num, softmax, torch_sum};
use crate::competition::Competition;
use crate::error::user;

/// `softmax(x / temperature)` over the evaluated uids, scattered into a metagraph-length vector.
/// `rates[i]` is the win rate of `uids[i]` (0 for a non-competitive uid).
pub fn step_weights(
    uids: &[u16],
    rates: &[f64],
    temperature: f32,
    num_neurons: usize,
) -> Result<Vec<f32>> {
    let x: Vec<f32> = rates.iter().map(|&r| (r as f32) / temperature).collect();
    let w = softmax(&x);
    let mut out = vec![0f32; num_neurons];
    for (&uid, &v) in uids.iter().zip(&w) {
        let slot = out.get_mut(uid as usize).ok_or_else(|| {
            user(format!(
                "uid {uid} is outside the metagraph of {num_neurons} neurons (raise --neurons)"
            ))
        })?;
        *slot = v;
    }
    Ok(out)
}

fn f32vec_ser<S: serde::Serializer>(v: &BTreeMap<u16, Vec<f32>>, s: S) -> Result<S::Ok, S::Error> {
    // f32 → f64 is exact and JSON round-trips f64 exactly, so the state file loses nothing.
    let m: BTreeMap<String, Vec<f64>> = v
        .iter()
        .map(|(k, w)| (k.to_string(), w.iter().map(|&x| x as f64).collect()))
        .collect();
    m.serialize(s)
}

fn f32vec_de<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<u16, Vec<f32>>, D::Error> {
    let m: BTreeMap<String, Vec<f64>> = BTreeMap::deserialize(d)?;
    m.into_iter()
        .map(|(k, w)| {
            let id = k.parse::<u16>().map_err(serde::de::Error::custom)?;
            let w = w
                .into_iter()
                .map(|x| {
                    let f = x as f32;
                    if f as f64 == x || x.is_nan() {
                        Ok(f)
                    } else {
                        Err(serde::de::Error::custom(format!(
                            "weight {x} is not a float32 value"
                        )))
                    }
                })
                .collect::<Result<Vec<f32>, _>>()?;
            Ok((id, w))
        })
        .collect()
}

/// taoverse `CompetitionTracker`: an EMA of each competition's step weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompetitionTracker {
    pub num_neurons: usize,
    pub alpha: f32,
    #[serde(serialize_with = "f32vec_ser", deserialize_with = "f32vec_de")]
    pub weights_by_competition: BTreeMap<u16, Vec<f32>>,
}

impl CompetitionTracker {
    pub fn new(num_neurons: usize, alpha: f32) -> Self {
        CompetitionTracker {
            num_neurons,
            alpha,
            weights_by_competition: BTreeMap::new(),
        }
    }

    /// Grows every stored vector to `num_neurons` with zeros (the metagraph grew).
    pub fn resize(&mut self, num_neurons: usize) -> Result<()> {
        if num_neurons < self.num_neurons {
            return Err(user(format!(
                "the metagraph shrank from {} to {num_neurons} neurons; the tracker only grows \
                 (pass --neurons {} or start from a fresh state)",
                self.num_neurons, self.num_neurons
            )));
        }
        for w in self.weights_by_competition.values_mut() {
            w.resize(num_neurons, 0.0);
        }
        self.num_neurons = num_neurons;
        Ok(())
    }

    /// `record_competition_weights`: normalise by the sum (nan → 0), store as is the first time,
    /// else `alpha·old + (1 − alpha)·new`, all in float32.
    pub fn record(&mut self, competition_id: u16, weights: &[f32]) -> Result<()> {
        if weights.len() > self.num_neurons {
            self.resize(weights.len())?;
        }
        let mut new = weights.to_vec();
        if new.len() < self.num_neurons {
            new.resize(self.num_neurons, 0.0);
        }
        let sum = torch_sum(&new);
        for v in &mut new {
            *v = nan_to_num(*v / sum);
        }
        let alpha = self.alpha;
        let beta = 1.0 - alpha;
        match self.weights_by_competition.get_mut(&competition_id) {
            None => {
                self.weights_by_competition.insert(competition_id, new);
            }
            Some(old) => {
                for (o, n) in old.iter_mut().zip(&new) {
                    *o = alpha * *o + beta * *n;
                }
            }
        }
        Ok(())
    }

    /// `reset_competitions`: drop the state of competitions no longer in the schedule.
    pub fn reset_competitions(&mut self, active: &[u16]) {
        self.weights_by_competition
            .retain(|id, _| active.contains(id));
    }

    /// `get_subnet_weights`: `Σ reward_c · w_c` over the scheduled competitions that have state,
    /// in schedule order, then divided by its sum (nan → 0).
    pub fn subnet_weights(&self, competitions: &[Competition]) -> Vec<f32> {
        let mut w = vec![0f32; self.num_neurons];
        for c in competitions {
            if let Some(cw) = self.weights_by_competition.get(&c.id) {
                let r = c.reward_percentage as f32;
                for (a, &b) in w.iter_mut().zip(cw) {
                    *a += b * r;
                }
            }
        }
        let sum = torch_sum(&w);
        for v in &mut w {
            *v = nan_to_num(*v / sum);
        }
        w
    }
}

/// bittensor 9.0.0 `convert_weights_and_uids_for_emit`: divide by the max, scale to 65535,
/// round half to even (Python's `round`), drop zeros. All zeros → nothing to send.
pub fn to_u16(uids: &[u16], weights: &[f32]) -> Result<(Vec<u16>, Vec<u16>)> {
    if uids.len() != weights.len() {
        return Err(user(format!(
            "{} uids but {} weights",
            uids.len(),
            weights.len()
        )));
    }
    if weights.iter().any(|w| w.is_nan() || *w < 0.0) {
        return Err(user("weights must be non-negative numbers"));
    }
    let w: Vec<f64> = weights.iter().map(|&x| x as f64).collect();
    let sum: f64 = w.iter().sum();
    if w.is_empty() || sum == 0.0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let max = w.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut out_uids = Vec::new();
    let mut out_w = Vec::new();
    for (&uid, &x) in uids.iter().zip(&w) {
        let v = ((x / max) * 65535.0).round_ties_even();
        if v != 0.0 {
            out_uids.push(uid);
            out_w.push(v as u16);
        }
    }
    Ok((out_uids, out_w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u16_rounds_half_even() {
        let (u, w) = to_u16(&[0, 1, 2], &[1.0, 0.0, 0.5]).unwrap();
        assert_eq!((u, w), (vec![0, 2], vec![65535, 32768]));
        assert_eq!(to_u16(&[0, 1], &[0.0, 0.0]).unwrap(), (vec![], vec![]));
        assert!(to_u16(&[0], &[-1.0]).is_err());
    }

    #[test]
    fn ema_halves_absent_uids() {
        let mut t = CompetitionTracker::new(3, 0.5);
        t.record(2, &[1.0, 0.0, 0.0]).unwrap();
        t.record(2, &[0.0, 2.0, 0.0]).unwrap();
        assert_eq!(t.weights_by_competition[&2], vec![0.5, 0.5, 0.0]);
        assert!(t.resize(2).is_err());
    }
}
