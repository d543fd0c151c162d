//! One scoring round: what the reference validator does after evaluating the models of a
//! competition (`run_step` from the competitive filter to the subnet weights, §4.1–4.2 of the
//! spec), as a pure function of the evaluation results and the previous state.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use super::history::{EvalResult, push_eval};
use super::input::ModelRows;
use super::state::{ModelRecord, State};
use super::weights::{step_weights, to_u16};
use super::wins::{BeatenBy, Entry, competitive_filter, compute_wins};
use crate::competition::{Competition, Schedule, constants};
use crate::error::user;

/// One task's part of a model's score (`ScoreDetails`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskDetail {
    pub task: String,
    pub raw_score: f64,
    pub norm_score: f64,
    /// `norm_score ·` the (renormalised) task weight.
    pub weighted_norm_score: f64,
}

/// `score_model`: the weighted sum of the task scores, the weights of the tasks present
/// renormalised to sum to 1 when some task is missing (a task whose data failed to load).
pub fn combine_tasks(competition: &Competition, tasks: &BTreeMap<String, f64>) -> Result<f64> {
    Ok(score_details(competition, tasks)?.0)
}

/// [`combine_tasks`] with each task's details, in the competition's task order. The weights are
/// renormalised first (`w / Σw`, when Σw is not within 1e-9 of 1), then multiplied with the
/// normalised score, as the reference does (the order matters in the last bit).
pub fn score_details(
    competition: &Competition,
    tasks: &BTreeMap<String, f64>,
) -> Result<(f64, Vec<TaskDetail>)> {
    for name in tasks.keys() {
        if !competition.eval_tasks.iter().any(|t| &t.name == name) {
            let known: Vec<&str> = competition
                .eval_tasks
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            return Err(user(format!(
                "task {name} is not a task of competition {} ({}); its tasks are: {}",
                competition.id,
                competition.name,
                known.join(", ")
            )));
        }
    }
    let loaded: Vec<_> = competition
        .eval_tasks
        .iter()
        .filter(|t| tasks.contains_key(&t.name))
        .collect();
    let mut weights: Vec<f64> = loaded.iter().map(|t| t.weight).collect();
    let total: f64 = weights.iter().sum();
    if !(total == 1.0 || (total - 1.0).abs() <= 1e-9 * total.abs().max(1.0)) {
        for w in &mut weights {
            *w /= total;
        }
    }
    let mut score = 0.0f64;
    let mut details = Vec::with_capacity(loaded.len());
    for (t, w) in loaded.iter().zip(&weights) {
        let raw = tasks[&t.name];
        let norm = t.normalization()?.apply(raw);
        let weighted = norm * w;
        score += weighted;
        details.push(TaskDetail {
            task: t.name.clone(),
            raw_score: raw,
            norm_score: norm,
            weighted_norm_score: weighted,
        });
    }
    Ok((score, details))
}

/// Why a uid got its weight, for `--explain`.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub uid: u16,
    pub hotkey: Option<String>,
    pub competition: u16,
    /// Upload block (`null`: no valid metadata, scored as `inf`).
    pub block: Option<u64>,
    #[serde(with = "crate::jsonf64")]
    pub score: f64,
    /// Epsilon of this model at the round's block (its advantage over later models).
    pub epsilon: f64,
    pub competitive: bool,
    /// For a non-competitive uid: the earlier model whose fully decayed score it did not beat.
    pub beaten_by: Option<BeatenByOut>,
    pub wins: u32,
    pub matches: u32,
    pub win_rate: f64,
    /// Competitive uids this one lost to.
    pub lost_to: Vec<u16>,
    /// Softmax weight of this round, before the EMA.
    pub step_weight: f32,
    /// EMA weight within the competition after this round.
    pub competition_weight: f32,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct BeatenByOut {
    pub uid: u16,
    pub block: Option<u64>,
    #[serde(with = "crate::jsonf64")]
    pub decayed_score: f64,
}

/// Per-competition summary of a round.
#[derive(Debug, Clone, Serialize)]
pub struct CompetitionRound {
    pub id: u16,
    pub name: String,
    pub reward_percentage: f64,
    pub epsilon: String,
    pub evaluated: Vec<u16>,
    pub competitive: Vec<u16>,
    pub top_uid: Option<u16>,
    /// Uids kept for the next evaluation of this competition (`sample_min` retention).
    pub retained: Vec<u16>,
}

/// The result of a round.
#[derive(Debug, Clone, Serialize)]
pub struct RoundOutput {
    pub block: u64,
    pub num_neurons: usize,
    pub weights: Vec<f32>,
    pub u16_uids: Vec<u16>,
    pub u16_weights: Vec<u16>,
    pub competitions: Vec<CompetitionRound>,
    pub explain: Vec<Explanation>,
}

/// Scores one competition's models at `block`, updating `state`.
fn score_competition(
    state: &mut State,
    competition: &Competition,
    models: &[&ModelRows],
    block: u64,
    explain: &mut Vec<Explanation>,
) -> Result<CompetitionRound> {
    // Every model of a competition is scored on the same tasks.
    let task_sets: Vec<_> = models
        .iter()
        .filter(|m| m.total.is_none())
        .map(|m| &m.tasks)
        .collect();
    let all_tasks: std::collections::BTreeSet<&String> =
        task_sets.iter().flat_map(|t| t.keys()).collect();
    for m in models.iter().filter(|m| m.total.is_none()) {
        if let Some(missing) = all_tasks.iter().find(|t| !m.tasks.contains_key(**t)) {
            return Err(user(format!(
                "uid {} has no result for task {missing} while other models of competition {} do; \
                 re-run `sn9 eval` for it or add a row with \"loss\": \"inf\"",
                m.uid, competition.id
            )));
        }
    }
    let eps = competition.constraints.epsilon_func;
    let current = block as f64;
    let mut entries = Vec::with_capacity(models.len());
    for m in models {
        let score = match m.total {
            Some(s) => s,
            None => combine_tasks(competition, &m.tasks)?,
        };
        let b = m.block.map(|b| b as f64).unwrap_or(f64::INFINITY);
        entries.push(Entry {
            uid: m.uid,
            score,
            block: b,
        });
    }
    let filter = competitive_filter(&entries, &eps);
    let competitive: Vec<Entry> = entries
        .iter()
        .zip(&filter)
        .filter(|(_, f)| f.is_none())
        .map(|(e, _)| *e)
        .collect();
    let wins = compute_wins(&competitive, &eps, current);
    let rate_of: BTreeMap<u16, f64> = wins.iter().map(|w| (w.uid, w.win_rate)).collect();

    // top_uid = argmax(win_rate), ties to the first.
    let mut top: Option<(u16, f64)> = None;
    for w in &wins {
        if top.is_none_or(|(_, r)| w.win_rate > r) {
            top = Some((w.uid, w.win_rate));
        }
    }
    let top_entry = top.and_then(|(u, _)| entries.iter().find(|e| e.uid == u).copied());

    // Record the evaluation of every uid (the model tracker's history).
    if let Some(t) = top_entry {
        for (m, e) in models.iter().zip(&entries) {
            let key = m.hotkey.clone().unwrap_or_else(|| format!("uid:{}", m.uid));
            let rec = state.models.entry(key).or_insert_with(|| ModelRecord {
                uid: m.uid,
                competition: competition.id,
                block: m.block,
                history: Vec::new(),
            });
            if rec.block != m.block || rec.competition != competition.id || rec.uid != m.uid {
                // A new model (new commit) under this hotkey: its history starts over.
                *rec = ModelRecord {
                    uid: m.uid,
                    competition: competition.id,
                    block: m.block,
                    history: Vec::new(),
                };
            }
            push_eval(
                &mut rec.history,
                EvalResult {
                    block,
                    score: e.score,
                    winning_model_block: t.block,
                    winning_model_score: t.score,
                },
            );
        }
    }

    let uids: Vec<u16> = entries.iter().map(|e| e.uid).collect();
    let rates: Vec<f64> = uids
        .iter()
        .map(|u| rate_of.get(u).copied().unwrap_or(0.0))
        .collect();
    let num_neurons = state.tracker.num_neurons;
    let step = step_weights(&uids, &rates, constants::TEMPERATURE, num_neurons)?;
    state.tracker.record(competition.id, &step)?;
    let comp_w = state.tracker.weights_by_competition[&competition.id].clone();

    // Retention for the next round: competitive uids by priority, filled up by lowest score.
    let mut prio: Vec<(u16, f64)> = competitive
        .iter()
        .map(|e| {
            let w = comp_w[e.uid as usize];
            let p = if w >= constants::RETENTION_WEIGHT_THRESHOLD {
                1.0 + w as f64
            } else {
                rate_of[&e.uid]
            };
            (e.uid, p)
        })
        .collect();
    prio.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
    let mut retained: Vec<u16> = prio
        .iter()
        .take(constants::SAMPLE_MIN)
        .map(|p| p.0)
        .collect();
    if retained.len() < constants::SAMPLE_MIN {
        let mut by_score: Vec<&Entry> = entries.iter().collect();
        by_score.sort_by(|a, b| {
            a.score
                .partial_cmp(&b.score)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        for e in by_score {
            if retained.len() >= constants::SAMPLE_MIN {
                break;
            }
            if !retained.contains(&e.uid) {
                retained.push(e.uid);
            }
        }
    }
    state.next_eval.insert(competition.id, retained.clone());

    for ((m, e), f) in models.iter().zip(&entries).zip(&filter) {
        let w = wins.iter().find(|w| w.uid == e.uid);
        let lost_to = if w.is_some() {
            competitive
                .iter()
                .filter(|o| o.uid != e.uid)
                .filter(|o| !super::wins::iswin(e.score, o.score, e.block, o.block, &eps, current))
                .map(|o| o.uid)
                .collect()
        } else {
            Vec::new()
        };
        explain.push(Explanation {
            uid: e.uid,
            hotkey: m.hotkey.clone(),
            competition: competition.id,
            block: m.block,
            score: e.score,
            epsilon: eps.compute(current, e.block),
            competitive: f.is_none(),
            beaten_by: f.map(|b: BeatenBy| BeatenByOut {
                uid: b.uid,
                block: if b.block.is_finite() {
                    Some(b.block as u64)
                } else {
                    None
                },
                decayed_score: b.decayed_score,
            }),
            wins: w.map_or(0, |w| w.wins),
            matches: w.map_or(0, |w| w.matches),
            win_rate: w.map_or(0.0, |w| w.win_rate),
            lost_to,
            step_weight: step[e.uid as usize],
            competition_weight: comp_w[e.uid as usize],
            errors: m.errors.clone(),
        });
    }

    Ok(CompetitionRound {
        id: competition.id,
        name: competition.name.clone(),
        reward_percentage: competition.reward_percentage,
        epsilon: eps.to_string(),
        evaluated: uids,
        competitive: competitive.iter().map(|e| e.uid).collect(),
        top_uid: top.map(|t| t.0),
        retained,
    })
}

/// Runs a round at `block` over the grouped results, updating `state` in place.
pub fn run_round(
    state: &mut State,
    schedule: &Schedule,
    models: &[ModelRows],
    block: u64,
    num_neurons: usize,
) -> Result<RoundOutput> {
    let active = schedule.at_block(block);
    if num_neurons > state.tracker.num_neurons {
        state.tracker.resize(num_neurons)?;
    } else if num_neurons < state.tracker.num_neurons {
        state.tracker.resize(num_neurons)?; // errors: the metagraph never shrinks
    }
    // Competitions in order of first appearance; each is one reference "step".
    let mut order: Vec<u16> = Vec::new();
    for m in models {
        if !order.contains(&m.competition) {
            order.push(m.competition);
        }
    }
    let mut rounds = Vec::new();
    let mut explain = Vec::new();
    for id in order {
        let competition = active.iter().find(|c| c.id == id).ok_or_else(|| {
            let ids: Vec<String> = active.iter().map(|c| c.id.to_string()).collect();
            user(format!(
                "unknown competition id {id} at block {block}; the schedule has {} there \
                 (see `sn9 competitions --block {block}`)",
                ids.join(", ")
            ))
        })?;
        let ms: Vec<&ModelRows> = models.iter().filter(|m| m.competition == id).collect();
        rounds.push(score_competition(
            state,
            competition,
            &ms,
            block,
            &mut explain,
        )?);
    }
    let active_ids: Vec<u16> = active.iter().map(|c| c.id).collect();
    state.tracker.reset_competitions(&active_ids);
    state.next_eval.retain(|id, _| active_ids.contains(id));
    let weights = state.tracker.subnet_weights(active);
    let all_uids: Vec<u16> = (0..weights.len()).map(|u| u as u16).collect();
    let (u16_uids, u16_weights) = to_u16(&all_uids, &weights)?;
    state.block = Some(block);
    Ok(RoundOutput {
        block,
        num_neurons: weights.len(),
        weights,
        u16_uids,
        u16_weights,
        competitions: rounds,
        explain,
    })
}
