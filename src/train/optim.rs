//! AdamW with PyTorch's semantics (`torch.optim.AdamW`, single-tensor path) and global-norm
//! gradient clipping (`torch.nn.utils.clip_grad_norm_`), on any burn backend.
//!
//! Gradients and optimiser state are kept flat (`[n]`) per HF parameter name, on the device, in
//! float32: the "master" copy. One host read-back per optimiser step (the global grad norm).

use std::collections::BTreeMap;

use anyhow::Result;
use burn::backend::Autodiff;
use burn::module::Param;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::CausalLm;
use crate::model::llama::ParamVisitor;

/// Flat float32 tensors by HF parameter name.
pub type Named<B> = BTreeMap<String, Tensor<B, 1>>;

/// AdamW hyper-parameters (the learning rate comes from the schedule at each step).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamW {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Decay norms' weights and biases too (one parameter group, as the hfref fixtures do);
    /// by default they are not decayed.
    pub decay_all: bool,
}

impl Default for AdamW {
    fn default() -> Self {
        AdamW {
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.1,
            decay_all: false,
        }
    }
}

impl AdamW {
    /// Whether the parameter `name` gets weight decay: every matrix (embeddings included), but
    /// no `*.bias` and no `*norm.weight` unless `decay_all`.
    pub fn decays(&self, name: &str) -> bool {
        self.weight_decay != 0.0
            && (self.decay_all || !(name.ends_with(".bias") || name.ends_with("norm.weight")))
    }
}

/// The optimiser state: step count and the two moments per parameter.
pub struct AdamWState<B: Backend> {
    pub step: u64,
    pub exp_avg: Named<B>,
    pub exp_avg_sq: Named<B>,
}

impl<B: Backend> Default for AdamWState<B> {
    fn default() -> Self {
        AdamWState {
            step: 0,
            exp_avg: BTreeMap::new(),
            exp_avg_sq: BTreeMap::new(),
        }
    }
}

fn flat<B: Backend, const D: usize>(t: Tensor<B, D>) -> Tensor<B, 1> {
    let n = t.shape().num_elements();
    t.reshape([n])
}

type Grads<B> = <Autodiff<B> as burn::tensor::backend::AutodiffBackend>::Gradients;

/// Calls `f(name, value, grad)` for every parameter, the value flat and without autodiff, the
/// gradient (flat) when `grads` holds one; a tensor `f` returns replaces the parameter, reshaped,
/// as a fresh autodiff leaf.
fn for_each_flat<B: Backend, F>(
    model: &mut CausalLm<Autodiff<B>>,
    grads: Option<&Grads<B>>,
    f: F,
) -> Result<()>
where
    F: FnMut(&str, Tensor<B, 1>, Option<Tensor<B, 1>>) -> Result<Option<Tensor<B, 1>>>,
{
    struct V<'a, B: Backend, F> {
        grads: Option<&'a Grads<B>>,
        f: F,
    }
    impl<B: Backend, F> ParamVisitor<Autodiff<B>> for V<'_, B, F>
    where
        F: FnMut(&str, Tensor<B, 1>, Option<Tensor<B, 1>>) -> Result<Option<Tensor<B, 1>>>,
    {
        fn visit<const D: usize>(
            &mut self,
            name: &str,
            p: &mut Param<Tensor<Autodiff<B>, D>>,
        ) -> Result<()> {
            let val = p.val();
            let dims = val.dims();
            let g = self.grads.and_then(|g| val.grad(g)).map(flat);
            if let Some(new) = (self.f)(name, flat(val.inner()), g)? {
                let w = Tensor::<Autodiff<B>, D>::from_inner(new.reshape(dims)).require_grad();
                *p = p.clone().map(|_| w);
            }
            Ok(())
        }
    }
    model.visit_params(&mut V { grads, f })
}

/// Adds the gradients in `grads` to the running sums in `acc` (by parameter name).
pub fn accumulate<B: Backend>(
    model: &mut CausalLm<Autodiff<B>>,
    grads: &Grads<B>,
    acc: &mut Named<B>,
) -> Result<()> {
    for_each_flat(model, Some(grads), |name, val, g| {
        // A parameter that did not take part (cannot happen in this model): zero gradient.
        let g = g.unwrap_or_else(|| val.zeros_like());
        let sum = match acc.remove(name) {
            Some(a) => a + g,
            None => g,
        };
        acc.insert(name.to_string(), sum);
        Ok(None)
    })
}

/// Replaces every parameter of `model` with the values of `src` (flat, by name) moved to
/// `device`, as fresh autodiff leaves (a replica's weights after the step on replica 0).
pub fn set_params<B: Backend>(
    model: &mut CausalLm<Autodiff<B>>,
    src: &Named<B>,
    device: &B::Device,
) -> Result<()> {
    for_each_flat(model, None, |name, _, _| {
        let v = src
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("no value for {name}"))?;
        Ok(Some(v.clone().to_device(device)))
    })
}

/// Every parameter's value (flat, without autodiff), by name.
pub fn params_of<B: Backend>(model: &mut CausalLm<Autodiff<B>>) -> Result<Named<B>> {
    let mut out = Named::new();
    for_each_flat(model, None, |name, val, _| {
        out.insert(name.to_string(), val);
        Ok(None)
    })?;
    Ok(out)
}

/// The global L2 norm over all gradients (as `clip_grad_norm_` computes it), read back.
pub fn global_norm<B: Backend>(grads: &Named<B>) -> f64 {
    let mut total: Option<Tensor<B, 1>> = None;
    for g in grads.values() {
        let s = g.clone().powi_scalar(2).sum();
        total = Some(match total {
            Some(t) => t + s,
            None => s,
        });
    }
    total.map_or(0.0, |t| t.sqrt().into_scalar().elem::<f64>())
}

/// `clip_grad_norm_`'s factor: `min(1, max_norm / (norm + 1e-6))` (no clipping when
/// `max_norm` is not positive).
pub fn clip_coef(norm: f64, max_norm: f64) -> f64 {
    if max_norm > 0.0 {
        (max_norm / (norm + 1e-6)).min(1.0)
    } else {
        1.0
    }
}

/// One AdamW step on every parameter with the gradients `grads` (scaled by `grad_scale`, the
/// clipping factor) at learning rate `lr`.
pub fn step<B: Backend>(
    model: &mut CausalLm<Autodiff<B>>,
    grads: &Named<B>,
    grad_scale: f64,
    lr: f64,
    cfg: &AdamW,
    state: &mut AdamWState<B>,
) -> Result<()> {
    state.step += 1;
    let t = state.step as i32;
    let bc1 = 1.0 - cfg.beta1.powi(t);
    let bc2 = 1.0 - cfg.beta2.powi(t);
    for_each_flat(model, None, |name, mut w, _| {
        let g = grads
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("no gradient for {name}"))?
            .clone();
        let g = if grad_scale != 1.0 {
            g.mul_scalar(grad_scale)
        } else {
            g
        };
        if cfg.decays(name) {
            w = w.mul_scalar(1.0 - lr * cfg.weight_decay);
        }
        let m = match state.exp_avg.remove(name) {
            // torch: exp_avg.lerp_(grad, 1 − β₁)
            Some(m) => m.clone() + (g.clone() - m).mul_scalar(1.0 - cfg.beta1),
            None => g.clone().mul_scalar(1.0 - cfg.beta1),
        };
        let gg = g.clone() * g;
        let v = match state.exp_avg_sq.remove(name) {
            // torch: exp_avg_sq.mul_(β₂).addcmul_(grad, grad, value=1 − β₂)
            Some(v) => v.mul_scalar(cfg.beta2) + gg.mul_scalar(1.0 - cfg.beta2),
            None => gg.mul_scalar(1.0 - cfg.beta2),
        };
        // torch: denom = sqrt(v) / sqrt(bc2) + eps; param -= lr / bc1 · m / denom
        let denom = v.clone().sqrt().div_scalar(bc2.sqrt()).add_scalar(cfg.eps);
        w = w - (m.clone() / denom).mul_scalar(lr / bc1);
        state.exp_avg.insert(name.to_string(), m);
        state.exp_avg_sq.insert(name.to_string(), v);
        Ok(Some(w))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_groups() {
        let a = AdamW::default();
        assert!(a.decays("model.embed_tokens.weight"));
        assert!(a.decays("model.layers.0.mlp.up_proj.weight"));
        assert!(!a.decays("model.layers.0.self_attn.q_proj.bias"));
        assert!(!a.decays("model.layers.0.input_layernorm.weight"));
        assert!(!a.decays("model.norm.weight"));
        let all = AdamW {
            decay_all: true,
            ..a
        };
        assert!(all.decays("model.norm.weight"));
        let none = AdamW {
            weight_decay: 0.0,
            ..a
        };
        assert!(!none.decays("lm_head.weight"));
    }

    #[test]
    fn clip() {
        assert_eq!(clip_coef(0.5, 1.0), 1.0);
        assert!((clip_coef(4.0, 1.0) - 1.0 / (4.0 + 1e-6)).abs() < 1e-15);
        assert_eq!(clip_coef(4.0, 0.0), 1.0);
    }
}
