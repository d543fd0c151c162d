//! Checkpoints: `RUN_DIR/checkpoints/step-NNNNNNNN/` holding the model in Hugging Face format
//! (`config.json` + float32 `model.safetensors`: the master weights), the AdamW moments
//! (`optimizer.safetensors`, tensors `exp_avg.<name>` / `exp_avg_sq.<name>` in the parameter's
//! shape) and `trainer_state.json` (step, data cursor, RNG, schedule position, settings).
//!
//! A checkpoint is written into a hidden temporary directory, synced, and renamed into place;
//! only then does `checkpoints/latest` (written atomically) name it. A failed write (disk full,
//! killed process) leaves the previous checkpoint and `latest` untouched.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::backend::Autodiff;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::optim::AdamWState;
use crate::error::user;
use crate::model::LoadedModel;
use crate::model::safetensors::{Dtype, OutTensor, SafeFile, write_one};

pub const SCHEMA: &str = "sn9.train-state";
pub const VERSION: u32 = 1;

/// `trainer_state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainerState {
    pub schema: String,
    pub version: u32,
    /// Optimiser steps done (the schedule position: the next step's lr is `lr_at(step)`).
    pub step: u64,
    /// Training sequences consumed (the data cursor; epoch = cursor / training sequences).
    pub cursor: u64,
    /// Training tokens consumed.
    pub tokens: u64,
    /// Wall-clock seconds spent training so far.
    pub elapsed_s: f64,
    /// The data stream's RNG: CPython MT19937 shuffles seeded by `seed` (split) and
    /// `seed + 1 + epoch` (order), so this plus `cursor` is its whole state.
    pub rng: Value,
    /// The run's resolved settings (see `run.json`).
    pub settings: Value,
}

/// The directory name of the checkpoint after `step` steps.
pub fn dir_name(step: u64) -> String {
    format!("step-{step:08}")
}

fn step_of(name: &str) -> Option<u64> {
    name.strip_prefix("step-")?.parse().ok()
}

/// Checkpoints present under `run/checkpoints`, by step (ascending).
pub fn list(run: &Path) -> Vec<(u64, PathBuf)> {
    let mut v: Vec<(u64, PathBuf)> = std::fs::read_dir(run.join("checkpoints"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    step_of(&name).map(|s| (s, e.path()))
                })
                .filter(|(_, p)| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The checkpoint `checkpoints/latest` names, if any.
pub fn latest(run: &Path) -> Result<Option<PathBuf>> {
    let f = run.join("checkpoints").join("latest");
    match crate::output::read_text_if_exists(&f, crate::output::Limit::State)? {
        Some(s) => {
            let name = s.trim();
            if step_of(name).is_none() {
                return Err(user(format!(
                    "{} names `{name}`, not a checkpoint; point it at one of the step-* directories",
                    f.display()
                )));
            }
            Ok(Some(run.join("checkpoints").join(name)))
        }
        None => Ok(None),
    }
}

/// Creates `dest` by running `write` on a fresh temporary sibling directory, syncing it and
/// renaming it into place. On error the temporary directory is removed and `dest` is not
/// created. An existing `dest` is left as it is (it holds the same step).
pub fn commit_dir(dest: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<bool> {
    if dest.is_dir() {
        return Ok(false);
    }
    let parent = dest.parent().context("checkpoint path has no parent")?;
    std::fs::create_dir_all(parent)
        .map_err(|e| user(format!("cannot create {}: {e}", parent.display())))?;
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    crate::output::sweep_stale(parent, &format!(".tmp-{name}-"), "");
    let tmp = parent.join(format!(".tmp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let res = (|| -> Result<()> {
        std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        write(&tmp)?;
        for e in std::fs::read_dir(&tmp)? {
            std::fs::File::open(e?.path())?.sync_all()?;
        }
        std::fs::rename(&tmp, dest)
            .with_context(|| format!("renaming {} to {}", tmp.display(), dest.display()))?;
        std::fs::File::open(parent)?.sync_all()?;
        Ok(())
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e.context(format!(
            "writing checkpoint {} failed (disk full?); the previous checkpoint is untouched",
            dest.display()
        )));
    }
    Ok(true)
}

/// Writes the checkpoint of `state.step`, points `latest` at it, and removes all but the newest
/// `keep` checkpoints. Returns its directory.
pub fn save<B: Backend>(
    run: &Path,
    model: &LoadedModel<Autodiff<B>>,
    opt: &AdamWState<B>,
    state: &TrainerState,
    keep: usize,
) -> Result<PathBuf> {
    let name = dir_name(state.step);
    let dest = run.join("checkpoints").join(&name);
    commit_dir(&dest, |dir| {
        model.save(dir, Dtype::F32, u64::MAX)?;
        let shapes = model.config.parameter_shapes();
        let mut tensors = Vec::new();
        for (name, shape) in &shapes {
            for (prefix, map) in [("exp_avg", &opt.exp_avg), ("exp_avg_sq", &opt.exp_avg_sq)] {
                if let Some(t) = map.get(name) {
                    let data = t
                        .clone()
                        .into_data()
                        .convert::<f32>()
                        .to_vec::<f32>()
                        .map_err(|e| anyhow::anyhow!("{name}: {e:?}"))?;
                    tensors.push(OutTensor {
                        name: format!("{prefix}.{name}"),
                        shape: shape.clone(),
                        data,
                    });
                }
            }
        }
        let refs: Vec<&OutTensor> = tensors.iter().collect();
        write_one(&dir.join("optimizer.safetensors"), &refs, Dtype::F32)?;
        std::fs::write(
            dir.join("trainer_state.json"),
            serde_json::to_string_pretty(state)? + "\n",
        )?;
        Ok(())
    })?;
    crate::output::write_atomic(
        &run.join("checkpoints").join("latest"),
        format!("{name}\n").as_bytes(),
    )?;
    let all = list(run);
    if all.len() > keep.max(1) {
        for (s, p) in &all[..all.len() - keep.max(1)] {
            if *s != state.step {
                let _ = std::fs::remove_dir_all(p);
            }
        }
    }
    Ok(dest)
}

/// Loads a checkpoint directory: the model (float32 master weights), the AdamW state and the
/// trainer state. Any missing or damaged file is a user error naming it.
pub fn load<B: Backend>(
    dir: &Path,
    device: &B::Device,
) -> Result<(LoadedModel<Autodiff<B>>, AdamWState<B>, TrainerState)> {
    let hint = |e: anyhow::Error| {
        user(format!(
            "checkpoint {} is damaged: {e:#}; resume from an older one by pointing {} at it \
             (the step-* directories beside it), or start a new run",
            dir.display(),
            dir.parent()
                .map(|p| p.join("latest").display().to_string())
                .unwrap_or_default()
        ))
    };
    let sp = dir.join("trainer_state.json");
    let text = crate::output::read_text(&sp, crate::output::Limit::State).map_err(hint)?;
    let state: TrainerState =
        serde_json::from_str(&text).map_err(|e| hint(anyhow::anyhow!("{}: {e}", sp.display())))?;
    if state.schema != SCHEMA || state.version != VERSION {
        return Err(hint(anyhow::anyhow!(
            "{}: schema {} v{}, expected {SCHEMA} v{VERSION}",
            sp.display(),
            state.schema,
            state.version
        )));
    }
    let model = LoadedModel::<Autodiff<B>>::load(dir, device).map_err(hint)?;
    let mut opt = AdamWState::<B> {
        step: state.step,
        ..Default::default()
    };
    if state.step > 0 {
        let op = dir.join("optimizer.safetensors");
        let f = SafeFile::open(&op).map_err(hint)?;
        for (name, shape) in model.config.parameter_shapes() {
            let n: usize = shape.iter().product();
            for (prefix, map) in [
                ("exp_avg", &mut opt.exp_avg),
                ("exp_avg_sq", &mut opt.exp_avg_sq),
            ] {
                let key = format!("{prefix}.{name}");
                let v = f.read_f32(&key).map_err(hint)?;
                if v.len() != n {
                    return Err(hint(anyhow::anyhow!(
                        "{}: {key} has {} values, the model's {name} has {n}",
                        op.display(),
                        v.len()
                    )));
                }
                map.insert(
                    name.clone(),
                    Tensor::<B, 1>::from_data(TensorData::new(v, [n]), device),
                );
            }
        }
    }
    Ok((model, opt, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing_and_existing_is_kept() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("checkpoints").join(dir_name(5));
        let err = commit_dir(&dest, |dir| {
            std::fs::write(dir.join("a"), b"partial")?;
            anyhow::bail!("No space left on device")
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("previous checkpoint is untouched"));
        assert!(!dest.exists());
        let left: Vec<_> = std::fs::read_dir(d.path().join("checkpoints"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "temporary directory left behind");
        assert!(commit_dir(&dest, |dir| Ok(std::fs::write(dir.join("a"), b"good")?)).unwrap());
        assert!(!commit_dir(&dest, |dir| Ok(std::fs::write(dir.join("a"), b"other")?)).unwrap());
        assert_eq!(std::fs::read(dest.join("a")).unwrap(), b"good");
        assert_eq!(list(d.path()), vec![(5, dest)]);
    }
}
