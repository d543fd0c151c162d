//! sn9: Bittensor Subnet 9 (pre-training) as one toolkit. Each stage is a module with its own
//! command; see `docs/architecture.md` for the flow and file formats.

pub mod asr;
pub mod chain;
pub mod cli;
pub mod competition;
pub mod data;
pub mod device;
pub mod error;
pub mod eval;
pub mod hex;
pub mod hub;
pub mod jsonf64;
pub mod model;
pub mod output;
pub mod retry;
pub mod score;
pub mod settings;
pub mod train;
pub mod tts;
pub mod validate;
pub mod wallet;
