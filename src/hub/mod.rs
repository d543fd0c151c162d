//! The Hugging Face side: model directory hashes, and push/pull of models at pinned commits to
//! the real Hub (HTTP) or a local hub (`file://DIR`), through the standard HF cache.

pub mod cache;
pub mod command;
pub mod hash;
pub mod http;
pub mod local;
pub mod repo;
pub mod store;
pub mod transfer;
