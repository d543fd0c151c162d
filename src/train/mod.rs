//! `sn9 train`: pretraining a Llama-family model from token shards (the trainer the reference
//! miner never shipped). AdamW with PyTorch's semantics, global-norm clipping, warmup + decay
//! schedules, gradient accumulation, held-out validation, atomic resumable checkpoints.

pub mod checkpoint;
pub mod command;
pub mod data;
pub mod optim;
pub mod schedule;
pub mod titan;

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

/// One optimiser step on one device: forward + backward on each micro-batch (`[b, t]` ids),
/// gradients averaged over the micro-batches, clipped to `clip` by global norm, then AdamW at
/// `lr`.
pub fn train_step<B: Backend>(
    model: &mut LoadedModel<Autodiff<B>>,
    micro: &[Tensor<Autodiff<B>, 2, Int>],
    lr: f64,
    clip: f64,
    cfg: &AdamW,
    state: &mut AdamWState<B>,
) -> Result<StepStats> {
    let device = model.rope.cos.device();
    train_step_replicas(
        std::slice::from_mut(model),
        &[device],
        vec![micro.to_vec()],
        lr,
        clip,
        cfg,
        state,
    )
}

/// One replica's gradient sums and loss sum.
type ReplicaOut<B> = (Named<B>, Option<Tensor<B, 1>>);

/// Gradient sums (scaled by `scale`) and the loss sum of one replica's micro-batches.
fn replica_grads<B: Backend>(
    model: &mut LoadedModel<Autodiff<B>>,
    micro: &[Tensor<Autodiff<B>, 2, Int>],
    scale: f64,
) -> Result<ReplicaOut<B>> {
    let mut acc: Named<B> = Named::new();
    let mut loss_sum: Option<Tensor<B, 1>> = None;
    for ids in micro {
        let rope = model.rope_covering(ids.dims()[1]).into_owned();
        let loss = lm_loss(&model.lm, &rope, ids.clone());
        let grads = loss.clone().mul_scalar(scale).backward();
        optim::accumulate(&mut model.lm, &grads, &mut acc)?;
        let l = loss.inner();
        loss_sum = Some(match loss_sum {
            Some(s) => s + l,
            None => l,
        });
    }
    Ok((acc, loss_sum))
}

/// One data-parallel optimiser step: replica `k` (on `devices[k]`) runs forward + backward on
/// `micro[k]`, in its own thread; the gradients are summed on device 0 in replica order and
/// averaged over all micro-batches (so W replicas × A micro-batches equal one device with W·A
/// micro-batches), clipped, and AdamW runs on replica 0, whose new weights are then copied to
/// the other replicas.
pub fn train_step_replicas<B: Backend>(
    replicas: &mut [LoadedModel<Autodiff<B>>],
    devices: &[B::Device],
    micro: Vec<Vec<Tensor<Autodiff<B>, 2, Int>>>,
    lr: f64,
    clip: f64,
    cfg: &AdamW,
    state: &mut AdamWState<B>,
) -> Result<StepStats> {
    let total: usize = micro.iter().map(|m| m.len()).sum();
    anyhow::ensure!(total > 0, "a step needs at least one micro-batch");
    anyhow::ensure!(
        micro.len() == replicas.len() && devices.len() == replicas.len(),
        "one micro-batch list and one device per replica"
    );
    let scale = 1.0 / total as f64;
    let parts: Vec<Result<ReplicaOut<B>>> = if replicas.len() == 1 {
        vec![replica_grads(&mut replicas[0], &micro[0], scale)]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = replicas
                .iter_mut()
                .zip(&micro)
                .map(|(r, m)| s.spawn(move || replica_grads(r, m, scale)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a replica's thread panicked")))
                })
                .collect()
        })
    };
    let dev0 = &devices[0];
    let mut acc: Named<B> = Named::new();
    let mut loss_sum: Option<Tensor<B, 1>> = None;
    for part in parts {
        let (g, l) = part?;
        for (name, t) in g {
            let t = t.to_device(dev0);
            let sum = match acc.remove(&name) {
                Some(a) => a + t,
                None => t,
            };
            acc.insert(name, sum);
        }
        if let Some(l) = l {
            let l = l.to_device(dev0);
            loss_sum = Some(match loss_sum {
                Some(s) => s + l,
                None => l,
            });
        }
    }
    let grad_norm = optim::global_norm(&acc);
    let loss = loss_sum.map_or(0.0, |s| s.into_scalar().elem::<f64>()) / total as f64;
    let (first, rest) = replicas.split_first_mut().expect("non-empty");
    optim::step(
        &mut first.lm,
        &acc,
        optim::clip_coef(grad_norm, clip),
        lr,
        cfg,
        state,
    )?;
    if !rest.is_empty() {
        let w = optim::params_of(&mut first.lm)?;
        for (r, d) in rest.iter_mut().zip(&devices[1..]) {
            optim::set_params(&mut r.lm, &w, d)?;
        }
    }
    Ok(StepStats { loss, grad_norm })
}
