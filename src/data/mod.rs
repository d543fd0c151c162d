//! Data: CPython-exact randomness, the evaluation seed of a block, and (later) fetch, mix, pack
//! and the validator's evaluation batches.

pub mod command;
pub mod fetch;
pub mod http;
pub mod pack;
pub mod pyrandom;
pub mod s3;
pub mod sample;
pub mod seed;
pub mod shards;
pub mod tokenizer;
