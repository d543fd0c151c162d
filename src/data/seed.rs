//! The evaluation data seed of a block (taoverse `get_hash_of_sync_block`): the block is rounded
//! down to the sync cadence (150), and the seed is `int(sha256(block_hash_hex_string), 16)`, a
//! 256-bit integer, where the hash is the `0x`-prefixed string the chain client returns.

use sha2::{Digest, Sha256};

use super::pyrandom::BigUint;
use crate::competition::constants::SYNC_BLOCK_CADENCE;

/// The sync block of `block`: `block // 150 * 150`.
pub fn sync_block(block: u64) -> u64 {
    block / SYNC_BLOCK_CADENCE * SYNC_BLOCK_CADENCE
}

/// The seed for a sync block's hash string (`0x…`, as given).
pub fn seed_from_block_hash(block_hash: &str) -> BigUint {
    BigUint::from_be_bytes(&Sha256::digest(block_hash.as_bytes()))
}

/// Checks a block hash string: `0x` + 64 hex digits (the form the chain returns).
pub fn validate_block_hash(h: &str) -> Result<(), String> {
    let hex = h
        .strip_prefix("0x")
        .ok_or_else(|| format!("block hash `{h}` must start with 0x"))?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "block hash `{h}` must be 0x followed by 64 hex digits"
        ));
    }
    if hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "block hash `{h}` must be lowercase, as the chain returns it (the seed hashes the string)"
        ));
    }
    Ok(())
}
