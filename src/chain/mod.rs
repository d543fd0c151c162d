//! Chain-side data: model metadata commitments and SS58 addresses.

pub mod command;
pub mod local;
pub mod metadata;
pub mod node;
pub mod rpc;
pub mod ss58;
pub mod subtensor;
pub mod timelock;
