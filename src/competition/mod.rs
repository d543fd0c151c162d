//! Competitions: ids, model constraints, evaluation tasks, the schedule by block, epsilon
//! functions and score normalisation (reference: taoverse `model/competition`, pretraining
//! `constants/__init__.py`; `shared/notes/sn9-spec.md` §1).
//!
//! The types serialise to the same JSON shape as the golden vectors' `competition_schedule`, so a
//! custom schedule (another subnet running this competition, a test net) can be given as a file.

pub mod command;
mod epsilon;
mod schedule;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

pub use epsilon::EpsilonFunc;
pub use schedule::{BLOCK_TTS, miner_constraints, sn9_schedule};

use crate::error::{UserContext, user};

/// Reference constants (pretraining 6.0.4).
pub mod constants {
    /// The reference release whose behaviour sn9 reproduces (pretraining), and its validator
    /// state schema version.
    pub const REFERENCE_VERSION: &str = "6.0.4";
    pub const REFERENCE_VALIDATOR_VERSION: &str = "4.6.2";
    /// `__spec_version__` of pretraining 6.0.4 = 1000·4 + 10·6 + 2; the weights version key.
    pub const SPEC_VERSION: u64 = 4062;
    /// The netuid the reference runs on (sn9 takes the netuid as a setting).
    pub const SUBNET_UID: u16 = 9;
    pub const SYNC_BLOCK_CADENCE: u64 = 150;
    pub const EVAL_BLOCK_DELAY: u64 = 150 + 100;
    pub const WEIGHT_SYNC_VALI_MIN_STAKE: f64 = 50_000.0;
    pub const WEIGHT_SYNC_MINER_MIN_PERCENT: f64 = 0.05;
    pub const BATCH_SIZE: u64 = 1;
    pub const MAX_BATCHES_PER_DATASET: u64 = 50;
    /// EMA factor of the competition tracker.
    pub const ALPHA: f32 = 0.5;
    /// Softmax temperature of the step weights.
    pub const TEMPERATURE: f32 = 0.01;
    /// Number of uids kept for the next evaluation of a competition.
    pub const SAMPLE_MIN: usize = 5;
    pub const UPDATED_MODELS_LIMIT: usize = 5 * 3 + 10;
    pub const CHAIN_UPDATE_CADENCE_S: f64 = 1200.0;
    pub const MODEL_RETRY_CADENCE_BLOCKS: u64 = 300;
    pub const SCAN_TOP_MODEL_CADENCE_S: f64 = 1800.0;
    pub const MAX_METADATA_BYTES: usize = 128;
    /// 128 − 40 (commit) − 44 (secure hash) − 2 (competition id) − 4 (separators).
    pub const MAX_REPO_ID_LENGTH: usize = 38;
    /// Competition weight above which a uid is retained with priority `1 + weight`.
    pub const RETENTION_WEIGHT_THRESHOLD: f32 = 0.001;
}

/// `CompetitionId` of the reference (an int on chain).
pub fn competition_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0 => "B7_MODEL",
        1 => "M772_MODEL",
        2 => "B3_MODEL",
        3 => "B7_MODEL_LOWER_EPSILON",
        4 => "B14_MODEL",
        5 => "B14_MODEL_MULTI_DATASET",
        6 => "TTS_V0",
        _ => return None,
    })
}

/// What a model must satisfy to take part in a competition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConstraints {
    pub max_model_parameter_size: u64,
    #[serde(default)]
    pub min_model_parameter_size: u64,
    pub sequence_length: Option<u64>,
    /// transformers class names; the check is on the exact class.
    pub allowed_architectures: Vec<String>,
    /// HF tokenizer id, a sentinel (`e2tts`), or none for "any".
    pub tokenizer: Option<String>,
    #[serde(default)]
    pub kwargs: serde_json::Map<String, serde_json::Value>,
    pub eval_block_delay: u64,
    pub epsilon_func: EpsilonFunc,
    /// Upper bound on the sum of all repo file sizes.
    pub max_bytes: u64,
    #[serde(default)]
    pub norm_validation_constraints: Option<serde_json::Value>,
}

/// Score normalisation of a task (`NormalizationId`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Normalization {
    None,
    InverseExponential { ceiling: f64 },
}

impl Normalization {
    /// `normalize_score`: NONE returns the raw score; INVERSE_EXPONENTIAL maps to [0, 1].
    pub fn apply(&self, score: f64) -> f64 {
        match *self {
            Normalization::None => score,
            Normalization::InverseExponential { ceiling } => {
                if score >= ceiling {
                    1.0
                } else {
                    (1.0 - (-score / ceiling).exp()) / (1.0 - (-1.0f64).exp())
                }
            }
        }
    }
}

/// One evaluation task of a competition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalTask {
    pub name: String,
    pub method_id: u8,
    pub method: String,
    pub dataset_id: u8,
    pub dataset: String,
    #[serde(default)]
    pub normalization_id: u8,
    #[serde(default)]
    pub normalization_kwargs: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub dataset_kwargs: serde_json::Map<String, serde_json::Value>,
    pub weight: f64,
}

impl EvalTask {
    pub fn normalization(&self) -> Result<Normalization> {
        match self.normalization_id {
            0 => {
                if !self.normalization_kwargs.is_empty() {
                    return Err(user(format!(
                        "task {}: normalization NONE takes no kwargs",
                        self.name
                    )));
                }
                Ok(Normalization::None)
            }
            1 => {
                let ceiling = self
                    .normalization_kwargs
                    .get("ceiling")
                    .and_then(|v| v.as_f64())
                    .ok_or_else(|| {
                        user(format!(
                            "task {}: INVERSE_EXPONENTIAL needs a `ceiling`",
                            self.name
                        ))
                    })?;
                Ok(Normalization::InverseExponential { ceiling })
            }
            n => Err(user(format!(
                "task {}: unknown normalization id {n} (known: 0 NONE, 1 INVERSE_EXPONENTIAL)",
                self.name
            ))),
        }
    }
}

/// A competition: id, constraints, share of the subnet's reward, and its evaluation tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Competition {
    pub id: u16,
    pub name: String,
    pub reward_percentage: f64,
    pub constraints: ModelConstraints,
    pub eval_tasks: Vec<EvalTask>,
}

/// The competitions in force from `from_block` on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleEntry {
    pub from_block: u64,
    pub competitions: Vec<Competition>,
}

/// A competition schedule: entries sorted by `from_block`, the first starting at 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Schedule {
    pub entries: Vec<ScheduleEntry>,
}

fn isclose(a: f64, b: f64) -> bool {
    // math.isclose with its defaults (rel_tol=1e-9, abs_tol=0).
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

impl Schedule {
    /// Checks what the reference asserts at import: the first entry starts at block 0, entries are
    /// sorted, reward shares of each entry sum to 1, task weights of each competition sum to 1.
    pub fn validate(&self) -> Result<()> {
        let first = self
            .entries
            .first()
            .ok_or_else(|| user("the competition schedule is empty"))?;
        if first.from_block != 0 {
            return Err(user("the first schedule entry must start at block 0"));
        }
        for w in self.entries.windows(2) {
            if w[1].from_block <= w[0].from_block {
                return Err(user(
                    "schedule entries must be sorted by strictly increasing from_block",
                ));
            }
        }
        for e in &self.entries {
            let total: f64 = e.competitions.iter().map(|c| c.reward_percentage).sum();
            if !isclose(total, 1.0) {
                return Err(user(format!(
                    "schedule entry from block {}: reward percentages sum to {total}, not 1",
                    e.from_block
                )));
            }
            let mut seen = std::collections::BTreeSet::new();
            for c in &e.competitions {
                if !seen.insert(c.id) {
                    return Err(user(format!(
                        "schedule entry from block {}: competition {} twice",
                        e.from_block, c.id
                    )));
                }
                let tw: f64 = c.eval_tasks.iter().map(|t| t.weight).sum();
                if !c.eval_tasks.is_empty() && !isclose(tw, 1.0) {
                    return Err(user(format!(
                        "competition {}: task weights sum to {tw}, not 1",
                        c.id
                    )));
                }
                for t in &c.eval_tasks {
                    if t.weight <= 0.0 {
                        return Err(user(format!(
                            "competition {} task {}: weight must be > 0",
                            c.id, t.name
                        )));
                    }
                    t.normalization()?;
                }
            }
        }
        Ok(())
    }

    /// Reads a schedule file (JSON, the shape `sn9 competitions --json --all` prints).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = crate::output::read_to_string(path)?;
        let s: Schedule = serde_json::from_str(&text).with_user_context(|| {
            format!(
                "{} is not a competition schedule (JSON list of {{from_block, competitions}})",
                path.display()
            )
        })?;
        s.validate()
            .map_err(|e| e.context(format!("schedule file {}", path.display())))?;
        Ok(s)
    }

    /// The built-in schedule, or the one in `path`.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        match path {
            Some(p) => Self::from_file(p),
            None => Ok(sn9_schedule()),
        }
    }

    /// `get_competition_schedule_for_block`: the competitions of the last entry with
    /// `block >= from_block`.
    pub fn at_block(&self, block: u64) -> &[Competition] {
        self.entries
            .iter()
            .rev()
            .find(|e| block >= e.from_block)
            .map(|e| e.competitions.as_slice())
            .unwrap_or(&[])
    }

    /// Competition `id` as the newest entry of the schedule at `path` (built-in when `None`)
    /// defines it: what a model made today must satisfy.
    pub fn current_competition(path: Option<&Path>, id: u16) -> Result<Competition> {
        let sched = Schedule::load(path)?;
        let at = sched.entries.last().map_or(0, |e| e.from_block);
        sched.competition(id, at).cloned().ok_or_else(|| {
            crate::error::user(format!(
                "competition {id} is not in the schedule at block {at}"
            ))
        })
    }

    /// `get_competition_for_block`.
    pub fn competition(&self, id: u16, block: u64) -> Option<&Competition> {
        self.at_block(block).iter().find(|c| c.id == id)
    }

    /// Reward share of each competition at `block`.
    pub fn rewards_at(&self, block: u64) -> BTreeMap<u16, f64> {
        self.at_block(block)
            .iter()
            .map(|c| (c.id, c.reward_percentage))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_schedule_is_valid() {
        let s = sn9_schedule();
        s.validate().unwrap();
        assert_eq!(s.at_block(0).len(), 2);
        assert_eq!(s.at_block(BLOCK_TTS - 1).len(), 2);
        assert_eq!(s.at_block(BLOCK_TTS).len(), 3);
        assert!(s.competition(6, BLOCK_TTS - 1).is_none());
    }

    #[test]
    fn normalization() {
        let n = Normalization::InverseExponential { ceiling: 3.0 };
        assert_eq!(n.apply(3.0), 1.0);
        assert_eq!(Normalization::None.apply(2.5), 2.5);
    }
}
