//! Commit-reveal weights (subtensor "CRv4"): the weights are encrypted to a future drand
//! quicknet round (timelock: Boneh–Franklin IBE on BLS12-381 to the identity
//! `sha256(round as big-endian u64)`, AES-GCM body), committed with
//! `commit_timelocked_mechanism_weights`, and revealed by the chain itself once that round's
//! signature is on chain.
//!
//! The ciphertext uses the `tle` layout subtensor and `bittensor-drand` read (the IBE header's two
//! 32-byte fields are length-prefixed vectors); the cryptography is `timelock` 0.3 (ideal-lab5,
//! the same scheme). The round is the SDK's: the first block at which the chain reveals a commit
//! sent now (simulating subtensor's epoch schedule from the head's state), plus 3 blocks, turned
//! into wall-clock time at the block time, as a quicknet round. Cross-checked both ways against
//! `bittensor-drand` and its round prediction (tests/timelock.rs).

use anyhow::{Result, anyhow};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use sha2::Digest;
use subxt::ext::codec::Encode;
use timelock::block_ciphers::AESGCMBlockCipherProvider;
use timelock::engines::EngineBLS;
use timelock::engines::drand::TinyBLS381;
use timelock::ibe::fullident::Identity;
use timelock::tlock::{TLECiphertext, tld, tle};

/// drand quicknet's public key (G2, compressed).
pub const QUICKNET_PUBLIC_KEY: &str = "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a";
/// quicknet's genesis (Unix seconds) and period (seconds).
pub const QUICKNET_GENESIS: u64 = 1_692_803_367;
pub const QUICKNET_PERIOD: u64 = 3;
/// Blocks added to the predicted reveal block so the pulse is on chain by then (the SDK's).
pub const SECURITY_BLOCK_OFFSET: u64 = 3;
/// A commit sent against head `h` lands in block `h + 1`.
pub const COMMIT_INCLUSION_BLOCK_OFFSET: u64 = 1;
/// subtensor's largest tempo.
pub const MAX_TEMPO: u64 = 50_400;
/// Seconds per block.
pub const BLOCK_TIME: f64 = 12.0;

fn public_key() -> Result<<TinyBLS381 as EngineBLS>::PublicKeyGroup> {
    let b = crate::hex::decode(QUICKNET_PUBLIC_KEY).expect("constant hex");
    <TinyBLS381 as EngineBLS>::PublicKeyGroup::deserialize_compressed(&b[..])
        .map_err(|e| anyhow!("the quicknet public key does not decode: {e:?}"))
}

fn identity(round: u64) -> Identity {
    Identity::new(b"", &sha2::Sha256::digest(round.to_be_bytes()))
}

/// Encrypts `msg` to drand quicknet round `round`, in the layout the chain decrypts.
pub fn encrypt(msg: &[u8], round: u64) -> Result<Vec<u8>> {
    let mut rng = rand_core06::OsRng;
    let mut esk = [0u8; 32];
    rand_core06::RngCore::fill_bytes(&mut rng, &mut esk);
    let ct = tle::<TinyBLS381, AESGCMBlockCipherProvider, _>(
        public_key()?,
        esk,
        msg,
        identity(round),
        rng,
    )
    .map_err(|e| anyhow!("timelock encryption failed: {e:?}"))?;
    let mut b = Vec::new();
    ct.serialize_compressed(&mut b)
        .map_err(|e| anyhow!("timelock ciphertext: {e:?}"))?;
    // timelock 0.3: u (96) | v (32) | w (32) | body | suite; tle: v and w as Vec<u8>.
    let mut out = Vec::with_capacity(b.len() + 16);
    out.extend(&b[..96]);
    for part in [&b[96..128], &b[128..160]] {
        out.extend(32u64.to_le_bytes());
        out.extend(part);
    }
    out.extend(&b[160..]);
    Ok(out)
}

/// Decrypts a ciphertext of [`encrypt`]'s layout with the round's drand signature (48 bytes).
pub fn decrypt(ct: &[u8], signature: &[u8]) -> Result<Vec<u8>> {
    let bad = || anyhow!("not a timelock ciphertext");
    let len = |at: usize| -> Result<()> {
        let b: [u8; 8] = ct.get(at..at + 8).ok_or_else(bad)?.try_into()?;
        (u64::from_le_bytes(b) == 32).then_some(()).ok_or_else(bad)
    };
    len(96)?;
    len(136)?;
    let mut b = Vec::with_capacity(ct.len());
    b.extend(ct.get(..96).ok_or_else(bad)?);
    b.extend(&ct[104..136]);
    b.extend(ct.get(144..176).ok_or_else(bad)?);
    b.extend(&ct[176..]);
    let c = TLECiphertext::<TinyBLS381>::deserialize_compressed(&b[..])
        .map_err(|e| anyhow!("not a timelock ciphertext: {e:?}"))?;
    let sig = <TinyBLS381 as EngineBLS>::SignatureGroup::deserialize_compressed(signature)
        .map_err(|e| anyhow!("not a drand signature: {e:?}"))?;
    tld::<TinyBLS381, AESGCMBlockCipherProvider>(c, sig)
        .map_err(|e| anyhow!("timelock decryption failed (wrong round's signature?): {e:?}"))
}

/// `WeightsTlockPayload { hotkey: Vec<u8>, uids: Vec<u16>, values: Vec<u16>, version_key: u64 }`,
/// SCALE-encoded: what the chain decrypts, checks against the committer and applies.
pub fn weights_payload(
    hotkey: &[u8; 32],
    uids: &[u16],
    values: &[u16],
    version_key: u64,
) -> Vec<u8> {
    (hotkey.to_vec(), uids.to_vec(), values.to_vec(), version_key).encode()
}

/// A subnet's epoch-schedule state at the head (subtensor storage, read at one block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochState {
    pub last_epoch_block: u64,
    pub pending_epoch_at: u64,
    pub subnet_epoch_index: u64,
    pub tempo: u64,
    pub blocks_since_last_step: u64,
    pub current_block: u64,
}

impl EpochState {
    fn should_run_epoch(&self, block: u64) -> bool {
        if self.tempo == 0 {
            return false;
        }
        if self.pending_epoch_at > 0 && block >= self.pending_epoch_at {
            return true;
        }
        if self.blocks_since_last_step > MAX_TEMPO {
            return true;
        }
        block.saturating_sub(self.last_epoch_block) >= self.tempo
    }

    /// The epoch index the chain's reveal step sees at `block` (it runs before the coinbase).
    fn epoch_before_coinbase(&self, block: u64) -> u64 {
        self.subnet_epoch_index + self.should_run_epoch(block) as u64
    }

    /// The state after `block`'s coinbase.
    fn step(&self, block: u64) -> EpochState {
        let mut n = self.clone();
        n.blocks_since_last_step += 1;
        n.current_block = block;
        if n.should_run_epoch(block) {
            n.last_epoch_block = block;
            n.pending_epoch_at = 0;
            n.subnet_epoch_index += 1;
            n.blocks_since_last_step = 0;
        }
        n
    }
}

/// The first block at which the chain reveals a commit sent against the head `state`
/// (stateful epoch schedule).
pub fn first_reveal_block(state: &EpochState, reveal_period_epochs: u64) -> Result<u64> {
    if state.tempo == 0 {
        return Err(anyhow!(
            "tempo is 0: this subnet runs no epochs, so nothing is revealed"
        ));
    }
    let xt_block = state.current_block + COMMIT_INCLUSION_BLOCK_OFFSET;
    let mut s = state.clone();
    for b in state.current_block + 1..xt_block {
        s = s.step(b);
    }
    let target = s.epoch_before_coinbase(xt_block) + reveal_period_epochs;
    let budget = reveal_period_epochs
        .saturating_mul(MAX_TEMPO)
        .saturating_add(MAX_TEMPO);
    for r in xt_block..=xt_block.saturating_add(budget) {
        if s.epoch_before_coinbase(r) == target {
            return Ok(r);
        }
        s = s.step(r);
    }
    Err(anyhow!("no reveal block within {budget} blocks"))
}

/// The first reveal block on runtimes before the stateful schedule: epochs of `tempo + 1`
/// blocks offset by `netuid + 1`.
pub fn first_reveal_block_stateless(
    netuid: u16,
    tempo: u64,
    current_block: u64,
    reveal_period_epochs: u64,
) -> u64 {
    let (t, n) = (tempo + 1, netuid as u64 + 1);
    ((current_block + n) / t + reveal_period_epochs) * t - n
}

/// The drand round to encrypt to: the reveal block plus [`SECURITY_BLOCK_OFFSET`], in wall-clock
/// time from `now` (Unix seconds) at `block_time` seconds per block.
pub fn reveal_round(first_reveal_block: u64, current_block: u64, block_time: f64, now: f64) -> u64 {
    let blocks = (first_reveal_block + SECURITY_BLOCK_OFFSET).saturating_sub(current_block);
    let target = now + blocks as f64 * block_time;
    (((target - QUICKNET_GENESIS as f64) / QUICKNET_PERIOD as f64).floor() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// drand quicknet's published round-1000 signature.
    const SIG_1000: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

    #[test]
    fn round_trip_with_the_real_round_1000_signature() {
        let sig = crate::hex::decode(SIG_1000).unwrap();
        let ct = encrypt(b"sn9 weights", 1000).unwrap();
        assert_eq!(decrypt(&ct, &sig).unwrap(), b"sn9 weights");
        // Another round's ciphertext does not open with it.
        let other = encrypt(b"sn9 weights", 1001).unwrap();
        assert!(decrypt(&other, &sig).is_err());
        assert!(decrypt(&ct[..100], &sig).is_err());
    }

    #[test]
    fn payload_layout() {
        let p = weights_payload(&[7; 32], &[0, 5], &[65535, 1], 4062);
        let mut want = vec![0x80];
        want.extend([7; 32]);
        want.extend([0x08, 0, 0, 5, 0, 0x08, 0xff, 0xff, 1, 0]);
        want.extend(4062u64.to_le_bytes());
        assert_eq!(p, want);
    }

    #[test]
    fn reveal_schedule() {
        // Epoch every 50 blocks, last at 100: a commit landing at 121 is in epoch 0 (+1 at
        // block 150, where the reveal step first sees epoch 1).
        let s = EpochState {
            last_epoch_block: 100,
            pending_epoch_at: 0,
            subnet_epoch_index: 0,
            tempo: 50,
            blocks_since_last_step: 0,
            current_block: 120,
        };
        assert_eq!(first_reveal_block(&s, 1).unwrap(), 150);
        assert_eq!(first_reveal_block(&s, 2).unwrap(), 200);
        // An owner-triggered epoch pending at 130 comes first.
        let p = EpochState {
            pending_epoch_at: 130,
            ..s.clone()
        };
        assert_eq!(first_reveal_block(&p, 1).unwrap(), 130);
        assert!(
            first_reveal_block(
                &EpochState {
                    tempo: 0,
                    ..s.clone()
                },
                1
            )
            .is_err()
        );
        // The stateless schedule: tempo 100, netuid 1: epochs of 101 blocks end at 101k - 2.
        assert_eq!(first_reveal_block_stateless(1, 100, 1000, 2), 1109);
        // Time: 33 blocks of 12 s from the quicknet genesis = round 132.
        assert_eq!(reveal_round(130, 100, 12.0, QUICKNET_GENESIS as f64), 132);
    }
}
