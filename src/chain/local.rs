//! A local chain in a directory (`--network file://DIR`): the subtensor state sn9 uses
//! (neurons with hotkeys, stake and validator permits, `Commitments.CommitmentOf`, weights with
//! `LastUpdate`) in one JSON file, with deterministic blocks: every accepted extrinsic is
//! included in the next block, `sn9 chain local advance N` moves the head, and block `n`'s hash is
//! `blake2b-256(genesis ‖ n)`. Extrinsics are signed by the hotkey (sr25519) and checked with the
//! chain's own rules (`set_weights`: lengths, subnet size, registration, version key, rate
//! limit, validator permit, duplicates, all-zero; `set_commitment`: registration, 128-byte raw
//! data, the per-epoch space budget). A lock file serialises concurrent writers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use serde::{Deserialize, Serialize};

use crate::error::user;
use crate::wallet::{Key, verify};

pub const SCHEMA: &str = "sn9.local-chain";

/// Subnet hyperparameters the local chain enforces (subtensor's names and defaults).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hyperparams {
    pub tempo: u64,
    pub weights_rate_limit: u64,
    pub weights_version_key: u64,
    pub commit_reveal_weights_enabled: bool,
    pub max_commitment_space: u64,
}

impl Default for Hyperparams {
    fn default() -> Self {
        Hyperparams {
            tempo: 360,
            weights_rate_limit: 100,
            weights_version_key: 0,
            commit_reveal_weights_enabled: false,
            max_commitment_space: 3100,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Neuron {
    pub uid: u16,
    pub hotkey: String,
    pub coldkey: String,
    /// Stake in TAO.
    pub stake: f64,
    pub validator_permit: bool,
    pub registered_at: u64,
    /// Block of the last weights (0: never).
    pub last_update: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Commitment {
    pub block: u64,
    pub data: String,
    /// Hex of the sr25519 signature over the extrinsic's payload.
    pub signature: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WeightsRecord {
    pub block: u64,
    pub uid: u16,
    pub hotkey: String,
    pub version_key: u64,
    pub uids: Vec<u16>,
    pub weights: Vec<u16>,
    pub signature: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Subnet {
    pub hyperparams: Hyperparams,
    pub neurons: Vec<Neuron>,
    pub commitments: BTreeMap<String, Commitment>,
    /// (hotkey, epoch) → bytes used by commitments in that epoch.
    #[serde(default)]
    pub commitment_space: BTreeMap<String, (u64, u64)>,
    pub weights: Vec<WeightsRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub schema: String,
    pub version: u32,
    pub genesis_hash: String,
    pub block: u64,
    pub subnets: BTreeMap<u16, Subnet>,
}

pub struct LocalChain {
    pub dir: PathBuf,
}

use crate::hex::encode as hex;

/// The hash of block `n`: `0x` + blake2b-256(genesis ‖ n as little-endian u64).
pub fn block_hash(genesis: &str, n: u64) -> String {
    let mut h = Blake2b::<U32>::new();
    h.update(genesis.as_bytes());
    h.update(n.to_le_bytes());
    format!("0x{}", hex(&h.finalize()))
}

/// What a hotkey signs for an extrinsic on the local chain.
pub fn payload(genesis: &str, call: &str, netuid: u16, body: &str) -> Vec<u8> {
    format!("sn9-local-chain|{genesis}|{call}|{netuid}|{body}").into_bytes()
}

impl LocalChain {
    pub fn open(dir: &Path) -> Result<LocalChain> {
        let c = LocalChain {
            dir: dir.to_path_buf(),
        };
        if !c.state_path().exists() {
            return Err(user(format!(
                "no local chain in {} (create one with `sn9 chain local init {}`)",
                dir.display(),
                dir.display()
            )));
        }
        Ok(c)
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("chain.json")
    }

    /// Creates a chain at `block` with an empty subnet `netuid`.
    pub fn init(dir: &Path, netuid: u16, block: u64, hp: Hyperparams) -> Result<LocalChain> {
        std::fs::create_dir_all(dir)
            .map_err(|e| user(format!("cannot create {}: {e}", dir.display())))?;
        let c = LocalChain {
            dir: dir.to_path_buf(),
        };
        if c.state_path().exists() {
            return Err(user(format!(
                "{} already holds a local chain",
                dir.display()
            )));
        }
        let genesis = {
            let mut h = Blake2b::<U32>::new();
            h.update(b"sn9 local chain genesis");
            h.update(dir.display().to_string().as_bytes());
            format!("0x{}", hex(&h.finalize()))
        };
        let mut subnets = BTreeMap::new();
        subnets.insert(
            netuid,
            Subnet {
                hyperparams: hp,
                ..Default::default()
            },
        );
        c.write(&State {
            schema: SCHEMA.into(),
            version: 1,
            genesis_hash: genesis,
            block,
            subnets,
        })?;
        Ok(c)
    }

    pub fn read(&self) -> Result<State> {
        let p = self.state_path();
        let text = crate::output::read_text(&p, crate::output::Limit::State)?;
        let s: State = serde_json::from_str(&text)
            .map_err(|e| user(format!("{} is damaged: {e}", p.display())))?;
        if s.schema != SCHEMA || s.version != 1 {
            return Err(user(format!(
                "{}: schema {} v{}, expected {SCHEMA} v1",
                p.display(),
                s.schema,
                s.version
            )));
        }
        Ok(s)
    }

    fn write(&self, s: &State) -> Result<()> {
        crate::output::write_atomic(
            &self.state_path(),
            (serde_json::to_string_pretty(s)? + "\n").as_bytes(),
        )
    }

    /// Runs `f` on the state under an exclusive lock and saves what it returns `Ok` for.
    pub fn update<T>(&self, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("chain.lock"))
            .context("opening the local chain's lock file")?;
        lock.lock().context("locking the local chain")?;
        let mut s = self.read()?;
        let out = f(&mut s)?;
        self.write(&s)?;
        Ok(out)
    }

    pub fn subnet(s: &mut State, netuid: u16) -> Result<&mut Subnet> {
        s.subnets.get_mut(&netuid).ok_or_else(|| {
            user(format!(
                "subnet {netuid} does not exist on this local chain"
            ))
        })
    }

    /// Registers `hotkey` (owned by `coldkey`) on `netuid`; returns its uid.
    pub fn register(
        &self,
        netuid: u16,
        hotkey: &str,
        coldkey: &str,
        stake: f64,
        validator: bool,
    ) -> Result<u16> {
        self.update(|s| {
            s.block += 1;
            let block = s.block;
            let sn = Self::subnet(s, netuid)?;
            if let Some(n) = sn.neurons.iter().find(|n| n.hotkey == hotkey) {
                return Err(user(format!(
                    "{hotkey} is already registered on subnet {netuid} as uid {}",
                    n.uid
                )));
            }
            let uid = sn.neurons.len() as u16;
            sn.neurons.push(Neuron {
                uid,
                hotkey: hotkey.into(),
                coldkey: coldkey.into(),
                stake,
                validator_permit: validator,
                registered_at: block,
                last_update: 0,
            });
            Ok(uid)
        })
    }

    /// `Commitments.set_commitment(netuid, Raw(data))` signed by `key`; returns the block.
    pub fn commit(&self, netuid: u16, key: &Key, data: &str) -> Result<u64> {
        if data.len() > 128 {
            return Err(user(format!(
                "the commitment is {} bytes; a Raw commitment holds at most 128",
                data.len()
            )));
        }
        let who = key.ss58();
        self.update(|s| {
            let genesis = s.genesis_hash.clone();
            let block = s.block + 1;
            let sn = Self::subnet(s, netuid)?;
            if !sn.neurons.iter().any(|n| n.hotkey == who) {
                return Err(user(format!(
                    "{who} is not registered on subnet {netuid}; a commitment must come from a registered hotkey"
                )));
            }
            let epoch = block / sn.hyperparams.tempo.max(1);
            let cost = (data.len() as u64).max(100);
            let used = match sn.commitment_space.get(&who) {
                Some((e, u)) if *e == epoch => *u,
                _ => 0,
            };
            if used + cost > sn.hyperparams.max_commitment_space {
                return Err(user(format!(
                    "SpaceLimitExceeded: {who} used {used} of {} commitment bytes this epoch; \
                     wait for the next epoch (block {})",
                    sn.hyperparams.max_commitment_space,
                    (epoch + 1) * sn.hyperparams.tempo.max(1)
                )));
            }
            let sig = key.sign(&payload(&genesis, "set_commitment", netuid, data));
            sn.commitment_space.insert(who.clone(), (epoch, used + cost));
            sn.commitments.insert(
                who.clone(),
                Commitment {
                    block,
                    data: data.into(),
                    signature: hex(&sig),
                },
            );
            s.block = block;
            Ok(block)
        })
    }

    /// `set_weights(netuid, uids, weights, version_key)` signed by `key`, with subtensor's
    /// checks; returns the block.
    pub fn set_weights(
        &self,
        netuid: u16,
        key: &Key,
        uids: &[u16],
        weights: &[u16],
        version_key: u64,
    ) -> Result<u64> {
        let who = key.ss58();
        self.update(|s| {
            let genesis = s.genesis_hash.clone();
            let block = s.block + 1;
            let sn = Self::subnet(s, netuid)?;
            check_weights(sn, &who, uids, weights, version_key, block)?;
            let body = serde_json::to_string(&(uids, weights, version_key))?;
            let sig = key.sign(&payload(&genesis, "set_weights", netuid, &body));
            let n = sn
                .neurons
                .iter_mut()
                .find(|n| n.hotkey == who)
                .expect("checked");
            n.last_update = block;
            let uid = n.uid;
            sn.weights.push(WeightsRecord {
                block,
                uid,
                hotkey: who.clone(),
                version_key,
                uids: uids.to_vec(),
                weights: weights.to_vec(),
                signature: hex(&sig),
            });
            s.block = block;
            Ok(block)
        })
    }

    /// Moves the head `n` blocks on.
    pub fn advance(&self, n: u64) -> Result<u64> {
        self.update(|s| {
            // Substrate block numbers are u32.
            let to = s.block.checked_add(n).filter(|&b| b <= u32::MAX as u64);
            s.block = to.ok_or_else(|| {
                crate::error::user(format!(
                    "cannot advance {n} blocks from block {}: block numbers end at {} (u32)",
                    s.block,
                    u32::MAX
                ))
            })?;
            Ok(s.block)
        })
    }
}

/// subtensor's `set_weights` checks, in its order.
pub fn check_weights(
    sn: &Subnet,
    who: &str,
    uids: &[u16],
    weights: &[u16],
    version_key: u64,
    block: u64,
) -> Result<()> {
    if uids.len() != weights.len() {
        return Err(user(format!(
            "{} uids but {} weights",
            uids.len(),
            weights.len()
        )));
    }
    let n = sn.neurons.len();
    if uids.len() > n {
        return Err(user(format!(
            "{} weights for a subnet of {n} neurons",
            uids.len()
        )));
    }
    let Some(me) = sn.neurons.iter().find(|x| x.hotkey == who) else {
        return Err(user(format!("{who} is not registered on this subnet")));
    };
    let hp = &sn.hyperparams;
    if hp.weights_version_key != 0 && version_key < hp.weights_version_key {
        return Err(user(format!(
            "IncorrectWeightVersionKey: {version_key} < the subnet's {}",
            hp.weights_version_key
        )));
    }
    if hp.commit_reveal_weights_enabled {
        return Err(user(
            "CommitRevealEnabled: this subnet takes weights through commit-reveal only",
        ));
    }
    if me.last_update != 0 && block - me.last_update < hp.weights_rate_limit {
        return Err(user(format!(
            "SettingWeightsTooFast: uid {} set weights at block {}; the rate limit is {} blocks, \
             next allowed at block {}",
            me.uid,
            me.last_update,
            hp.weights_rate_limit,
            me.last_update + hp.weights_rate_limit
        )));
    }
    let self_weight = uids.len() == 1 && uids[0] == me.uid;
    if !me.validator_permit && !self_weight {
        return Err(user(format!(
            "NeuronNoValidatorPermit: uid {} has no validator permit",
            me.uid
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for &u in uids {
        if !seen.insert(u) {
            return Err(user(format!("DuplicateUids: uid {u} appears twice")));
        }
        if u as usize >= n {
            return Err(user(format!(
                "UidVecContainInvalidOne: uid {u} is not in the metagraph of {n}"
            )));
        }
    }
    if !weights.is_empty() && weights.iter().all(|&w| w == 0) {
        return Err(user("all weights are zero; nothing to set"));
    }
    Ok(())
}

/// Verifies a stored commitment's signature.
pub fn commitment_valid(genesis: &str, netuid: u16, hotkey: &str, c: &Commitment) -> bool {
    let sig = crate::hex::decode(&c.signature).unwrap_or_default();
    verify(
        hotkey,
        &payload(genesis, "set_commitment", netuid, &c.data),
        &sig,
    )
}
