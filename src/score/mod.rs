//! Scoring and weights, bit-identical to the reference validator: wins with epsilon, the
//! competitive filter, float32 softmax and EMA, the subnet merge and the u16 conversion
//! (`shared/notes/sn9-spec.md` §4). `sn9 score` is [`command::run`].

pub mod command;
pub mod f32ops;
pub mod history;
pub mod input;
pub mod round;
pub mod state;
pub mod weights;
pub mod wins;

pub use crate::jsonf64;
