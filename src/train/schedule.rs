//! Learning-rate schedules: linear warmup, then cosine / linear / constant decay to a minimum.

use serde::{Deserialize, Serialize};

/// The decay after warmup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Decay {
    Cosine,
    Linear,
    Constant,
}

/// `lr(s)` for optimiser step `s` (0-based):
/// * warmup (`s < warmup`): `lr · (s + 1) / warmup`;
/// * then, with `p = (s − warmup) / (total − warmup)` clamped to [0, 1]:
///   cosine `min + (lr − min) · ½(1 + cos πp)`, linear `lr − (lr − min) · p`, constant `lr`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub lr: f64,
    pub min_lr: f64,
    pub warmup_steps: u64,
    pub total_steps: u64,
    pub decay: Decay,
}

impl Schedule {
    pub fn lr_at(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
        let p = ((step - self.warmup_steps) as f64 / span).clamp(0.0, 1.0);
        match self.decay {
            Decay::Constant => self.lr,
            Decay::Linear => self.lr - (self.lr - self.min_lr) * p,
            Decay::Cosine => {
                self.min_lr
                    + (self.lr - self.min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(decay: Decay) -> Schedule {
        Schedule {
            lr: 1e-3,
            min_lr: 1e-4,
            warmup_steps: 10,
            total_steps: 110,
            decay,
        }
    }

    #[test]
    fn warmup_then_decay() {
        let c = s(Decay::Cosine);
        assert!((c.lr_at(0) - 1e-4).abs() < 1e-15);
        assert!((c.lr_at(9) - 1e-3).abs() < 1e-15);
        assert!((c.lr_at(10) - 1e-3).abs() < 1e-15);
        assert!((c.lr_at(60) - 5.5e-4).abs() < 1e-12);
        assert!((c.lr_at(110) - 1e-4).abs() < 1e-15);
        assert!((c.lr_at(500) - 1e-4).abs() < 1e-15);
        let l = s(Decay::Linear);
        assert!((l.lr_at(60) - 5.5e-4).abs() < 1e-12);
        assert!((l.lr_at(35) - (1e-3 - 9e-4 * 0.25)).abs() < 1e-12);
        assert_eq!(s(Decay::Constant).lr_at(100), 1e-3);
        let flat = Schedule {
            warmup_steps: 0,
            ..s(Decay::Constant)
        };
        assert_eq!(flat.lr_at(0), 1e-3);
    }
}
