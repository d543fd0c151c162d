//! `sn9 train`: pretraining a Llama-family model from token shards (the trainer the reference
//! miner never shipped). AdamW with PyTorch's semantics, global-norm clipping, warmup + decay
//! schedules, gradient accumulation, held-out validation, atomic resumable checkpoints.

pub mod checkpoint;
pub mod command;
pub mod data;
pub mod optim;
pub mod schedule;

use anyhow::Result;
use burn::backend::Autodiff;
use burn::prelude::*;

use crate::model::{CausalLm, LoadedModel, Rope};
use optim::{AdamW, AdamWState, Named};

/// transformers' `model(x, labels=x).loss`: mean next-token cross-entropy over all `b·(t−1)`
/// labels of `ids` `[b, t]`; a scalar `[1]`.
pub fn lm_loss<B: Backend>(
    lm: &CausalLm<B>,
    rope: &Rope<B>,
    ids: Tensor<B, 2, Int>,
) -> Tensor<B, 1> {
    let [b, t] = ids.dims();
    let h = lm.hidden(ids.clone(), rope, None);
    lm.shifted_ce_sum(h, ids, t)
        .sum()
        .div_scalar((b * t.saturating_sub(1)).max(1) as f64)
}

/// What one optimiser step measured.
#[derive(Debug, Clone, Copy)]
pub struct StepStats {
    /// Mean training loss over the step's micro-batches, before the update.
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

/// One optimiser step: forward + backward on each micro-batch (`[b, t]` ids), gradients
/// averaged over the micro-batches, clipped to `clip` by global norm, then AdamW at `lr`.
pub fn train_step<B: Backend>(
    model: &mut LoadedModel<Autodiff<B>>,
    micro: &[Tensor<Autodiff<B>, 2, Int>],
    lr: f64,
    clip: f64,
    cfg: &AdamW,
    state: &mut AdamWState<B>,
) -> Result<StepStats> {
    anyhow::ensure!(!micro.is_empty(), "a step needs at least one micro-batch");
    let k = micro.len() as f64;
    let mut acc: Named<B> = Named::new();
    let mut loss_sum: Option<Tensor<B, 1>> = None;
    for ids in micro {
        let loss = lm_loss(&model.lm, &model.rope, ids.clone());
        let grads = loss.clone().div_scalar(k).backward();
        optim::accumulate(&mut model.lm, &grads, &mut acc)?;
        let l = loss.inner();
        loss_sum = Some(match loss_sum {
            Some(s) => s + l,
            None => l,
        });
    }
    let grad_norm = optim::global_norm(&acc);
    let loss = loss_sum.map_or(0.0, |s| s.into_scalar().elem::<f64>()) / k;
    optim::step(
        &mut model.lm,
        &acc,
        optim::clip_coef(grad_norm, clip),
        lr,
        cfg,
        state,
    )?;
    Ok(StepStats { loss, grad_norm })
}
