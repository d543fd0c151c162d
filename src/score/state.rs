//! The scoring state carried between rounds: the competition tracker (EMA weights), each
//! model's evaluation history, and the uids retained for the next round. One JSON file,
//! written atomically (temp file + rename), with a schema name and version.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::history::EvalResult;
use super::weights::CompetitionTracker;
use crate::competition::constants;
use crate::error::user;

pub const SCHEMA: &str = "sn9.score-state";
pub const VERSION: u32 = 1;

/// What sn9 remembers of one model (keyed by hotkey in [`State::models`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub uid: u16,
    pub competition: u16,
    /// Upload block of the model (its commitment), `null` when unknown.
    pub block: Option<u64>,
    /// Up to 3 evaluations, sorted by block.
    pub history: Vec<EvalResult>,
}

/// The state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub schema: String,
    pub version: u32,
    /// Block of the last round scored.
    pub block: Option<u64>,
    pub tracker: CompetitionTracker,
    pub models: BTreeMap<String, ModelRecord>,
    /// Uids retained for the next evaluation of each competition.
    pub next_eval: BTreeMap<u16, Vec<u16>>,
}

impl State {
    pub fn new(num_neurons: usize) -> Self {
        State {
            schema: SCHEMA.into(),
            version: VERSION,
            block: None,
            tracker: CompetitionTracker::new(num_neurons, constants::ALPHA),
            models: BTreeMap::new(),
            next_eval: BTreeMap::new(),
        }
    }

    /// Loads a state file; a missing file is `None`. A file of another schema or version is an
    /// error (and is left untouched).
    pub fn load(path: &Path) -> Result<Option<State>> {
        let Some(text) = crate::output::read_text_if_exists(path, crate::output::Limit::State)
            .map_err(|e| user(format!("state file: {e:#}")))?
        else {
            return Ok(None);
        };
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            user(format!(
                "state file {} is not valid JSON ({e}); restore it or start from a new path",
                path.display()
            ))
        })?;
        let schema = v.get("schema").and_then(|s| s.as_str()).unwrap_or("");
        let version = v.get("version").and_then(|s| s.as_u64());
        if schema != SCHEMA {
            return Err(user(format!(
                "{} is not an sn9 score state (schema `{schema}`, expected `{SCHEMA}`)",
                path.display()
            )));
        }
        if version != Some(VERSION as u64) {
            return Err(user(format!(
                "state file {} has schema version {}, this sn9 reads version {VERSION}; \
                 use the sn9 that wrote it, or start from a new state path",
                path.display(),
                version.map_or("none".to_string(), |v| v.to_string())
            )));
        }
        let s: State = serde_json::from_value(v)
            .map_err(|e| user(format!("state file {} is malformed: {e}", path.display())))?;
        for (id, w) in &s.tracker.weights_by_competition {
            if w.len() != s.tracker.num_neurons {
                return Err(user(format!(
                    "state file {}: competition {id} has {} weights for {} neurons",
                    path.display(),
                    w.len(),
                    s.tracker.num_neurons
                )));
            }
        }
        Ok(Some(s))
    }

    /// Writes the state atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        crate::output::write_atomic(path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_keeps_denormals() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        let mut s = State::new(3);
        s.tracker
            .weights_by_competition
            .insert(2, vec![1.0, f32::from_bits(0x1b), 0.0]);
        s.save(&p).unwrap();
        assert_eq!(State::load(&p).unwrap().unwrap(), s);
        std::fs::write(&p, "{\"schema\":\"sn9.score-state\",\"version\":99}").unwrap();
        assert!(State::load(&p).is_err());
    }
}
