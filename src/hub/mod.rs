//! The Hugging Face side: model directory hashes (and, in later stages, push and pull).

pub mod command;
pub mod hash;
