//! Data: CPython-exact randomness, the evaluation seed of a block, the validator's evaluation
//! batches, and the miner's side: fetch, mix and pack.

pub mod cl100k;
pub mod command;
pub mod docs;
pub mod fetch;
pub mod http;
pub mod mix;
pub mod pack;
pub mod pyrandom;
pub mod s3;
pub mod sample;
pub mod seed;
pub mod shards;
pub mod speech;
pub mod speech_batches;
pub mod tokenizer;
