//! Epsilon functions (taoverse `model/competition/epsilon.py`): the advantage an earlier model
//! gets over a later one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `FixedEpsilon` or `LinearDecay`. Parses from and prints as the reference's repr, e.g.
/// `LinearDecay(0.005,0.0001,14400)` or `FixedEpsilon(0.005)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EpsilonFunc {
    FixedEpsilon {
        epsilon: f64,
    },
    LinearDecay {
        start_epsilon: f64,
        end_epsilon: f64,
        decay_blocks: u64,
    },
}

impl EpsilonFunc {
    /// Epsilon for a model committed at `model_block`, seen at `current_block` (either may be
    /// `+inf`: an unknown block). `d = max(current − model, 0)`, `f = min(d / decay, 1)`,
    /// `eps = start − f·(start − end)`.
    pub fn compute(&self, current_block: f64, model_block: f64) -> f64 {
        match *self {
            EpsilonFunc::FixedEpsilon { epsilon } => epsilon,
            EpsilonFunc::LinearDecay {
                start_epsilon,
                end_epsilon,
                decay_blocks,
            } => {
                let d = current_block - model_block;
                // max(d, 0) as Python does it: nan (inf − inf) compares false and keeps d... which
                // the reference never produces for finite current blocks; treat nan as 0.
                let d = if d > 0.0 { d } else { 0.0 };
                let f = d / decay_blocks as f64;
                let f = if f < 1.0 { f } else { 1.0 };
                start_epsilon - f * (start_epsilon - end_epsilon)
            }
        }
    }

    /// The fully decayed epsilon (`compute(current=inf, model=0)`), used by the competitive filter.
    pub fn fully_decayed(&self) -> f64 {
        self.compute(f64::INFINITY, 0.0)
    }
}

fn pyfloat(x: f64) -> String {
    // Python's repr of a float (shortest round-trip, always with a dot or exponent).
    let s = format!("{x:?}");
    s
}

impl fmt::Display for EpsilonFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EpsilonFunc::FixedEpsilon { epsilon } => {
                write!(f, "FixedEpsilon({})", pyfloat(*epsilon))
            }
            EpsilonFunc::LinearDecay {
                start_epsilon,
                end_epsilon,
                decay_blocks,
            } => write!(
                f,
                "LinearDecay({},{},{decay_blocks})",
                pyfloat(*start_epsilon),
                pyfloat(*end_epsilon)
            ),
        }
    }
}

impl FromStr for EpsilonFunc {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "`{s}` is not an epsilon function; use FixedEpsilon(E) or LinearDecay(START,END,BLOCKS)"
            )
        };
        let s = s.trim();
        let (name, rest) = s.split_once('(').ok_or_else(bad)?;
        let args = rest.strip_suffix(')').ok_or_else(bad)?;
        let args: Vec<&str> = args.split(',').map(str::trim).collect();
        let num = |a: &str| a.parse::<f64>().map_err(|_| bad());
        match (name.trim(), args.as_slice()) {
            ("FixedEpsilon", [e]) => Ok(EpsilonFunc::FixedEpsilon { epsilon: num(e)? }),
            ("LinearDecay", [a, b, c]) => {
                let decay_blocks: u64 = c.parse().map_err(|_| bad())?;
                if decay_blocks == 0 {
                    return Err(format!("`{s}`: decay blocks must be > 0"));
                }
                Ok(EpsilonFunc::LinearDecay {
                    start_epsilon: num(a)?,
                    end_epsilon: num(b)?,
                    decay_blocks,
                })
            }
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let e: EpsilonFunc = "LinearDecay(0.005,0.0001,14400)".parse().unwrap();
        assert_eq!(e.to_string(), "LinearDecay(0.005,0.0001,14400)");
        assert_eq!(e.compute(f64::INFINITY, 0.0), 0.005 - (0.005 - 0.0001));
        assert_eq!(e.compute(1000.0, 2000.0), 0.005);
        assert!("Linear(1)".parse::<EpsilonFunc>().is_err());
        assert!("LinearDecay(0.1,0.2,0)".parse::<EpsilonFunc>().is_err());
    }
}
