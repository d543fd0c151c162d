//! A subtensor node over JSON-RPC (`--network finney|test|local|ws(s)://URL`): what sn9 reads
//! (head block, block hashes, the selective mechagraph with every commitment, nonces) and the
//! one thing it writes (a signed extrinsic, watched until it is in a block and its events say
//! whether the chain applied it).
//!
//! On connect it checks who it is talking to: the genesis hash (against the known one for
//! `finney`, or `--genesis` / `SN9_GENESIS` for any network), the runtime version, and the
//! runtime's own metadata (V16 or V15, fetched at the head block), which must decode and have the
//! calls and runtime APIs sn9 uses. A node that fails any of these gets nothing signed.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};
use subxt::ext::codec::{Decode, Encode};

use super::rpc::{NodeError, Rpc, endpoint};
use super::subtensor::{Call, Encoder, Era, Mechagraph, StorageKeyPart, decode_mechagraph, sign};
use super::timelock::{self, EpochState};
use crate::error::user;
use crate::hex;
use crate::retry::Retry;
use crate::wallet::Key;

/// Finney's genesis block hash.
pub const FINNEY_GENESIS: &str =
    "0x2f0555cc76fc2840a25a6ea3b9637146806f1f44b090c175ffde2a7e5ab36c03";

/// The selective-metagraph fields sn9 reads: all of them (0..=73), commitments included, in one
/// runtime call (the set the SDK asks for).
pub const MECHAGRAPH_FIELDS: std::ops::RangeInclusive<u16> = 0..=73;

/// Mortality of sn9's transactions, in blocks (about 13 minutes).
pub const ERA_PERIOD: u64 = 64;

/// How long to wait for a submitted extrinsic to land in a block.
const INCLUSION_WAIT: Duration = Duration::from_secs(180);

pub struct Node {
    rpc: Rpc,
    pub genesis: [u8; 32],
    pub spec_version: u32,
    pub transaction_version: u32,
    /// The runtime metadata (SCALE, V15/V16).
    pub metadata: Vec<u8>,
    encoder: Encoder,
}

/// A block: number and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub number: u64,
    pub hash: [u8; 32],
}

/// A timelocked weights commit's schedule (see [`Node::commit_plan`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CommitPlan {
    pub reveal_period_epochs: u64,
    /// `CommitRevealWeightsVersion`: the version the commit must carry.
    pub version: u16,
    pub first_reveal_block: u64,
    pub reveal_round: u64,
    /// Predicted with the stateful epoch schedule (else the fixed one of older runtimes).
    pub stateful: bool,
}

/// An extrinsic the chain applied.
#[derive(Debug, Clone)]
pub struct Included {
    pub block: Block,
    /// blake2-256 of the extrinsic.
    pub extrinsic_hash: [u8; 32],
}

fn h256(v: &Value, what: &str) -> Result<[u8; 32]> {
    v.as_str()
        .and_then(hex::decode)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| anyhow!("the node sent {v} for {what}, not a 32-byte hash"))
}

fn number(v: &Value, what: &str) -> Result<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).ok(),
        _ => None,
    }
    .ok_or_else(|| anyhow!("the node sent {v} for {what}, not a block number"))
}

fn bytes_of(v: &Value, what: &str) -> Result<Vec<u8>> {
    v.as_str()
        .and_then(hex::decode)
        .ok_or_else(|| anyhow!("the node sent {v:.80} for {what}, not hex bytes"))
}

/// Parses `0x` + 64 hex characters.
pub fn parse_hash(s: &str) -> Result<[u8; 32]> {
    h256(&Value::String(s.to_string()), "a genesis hash").map_err(|_| {
        user(format!(
            "`{s}` is not a block hash (0x and 64 hex characters)"
        ))
    })
}

fn blake2_256(b: &[u8]) -> [u8; 32] {
    use blake2::Digest;
    blake2::Blake2b::<blake2::digest::consts::U32>::digest(b).into()
}

impl Node {
    /// Connects to `network` and checks the node (see the module docs). `genesis`: the genesis
    /// hash to insist on; `finney` implies Finney's.
    pub fn connect(network: &str, genesis: Option<[u8; 32]>, retry: Retry) -> Result<Node> {
        let url = endpoint(network).ok_or_else(|| {
            user(format!(
                "--network {network}: expected finney, test, local, ws://HOST:PORT, wss://HOST:PORT \
                 or file://DIR (a local chain)"
            ))
        })?;
        let expect = match (genesis, network) {
            (Some(g), _) => Some(g),
            (None, "finney") => Some(parse_hash(FINNEY_GENESIS)?),
            _ => None,
        };
        let mut rpc = Rpc::connect(url, Duration::from_secs(30), retry)?;
        let got = h256(&rpc.call("chain_getBlockHash", json!([0]))?, "block 0")?;
        if let Some(e) = expect
            && e != got
        {
            return Err(user(format!(
                "{url} serves a chain with genesis {}, not the expected {}: a different network \
                 (check --network and --genesis) or a node not to be trusted; nothing was sent",
                hex::encode_0x(&got),
                hex::encode_0x(&e)
            )));
        }
        let head = head(&mut rpc)?;
        let (spec_version, transaction_version, metadata, encoder) =
            load_runtime(&mut rpc, got, &head)?;
        Ok(Node {
            rpc,
            genesis: got,
            spec_version,
            transaction_version,
            metadata,
            encoder,
        })
    }

    /// The best block (what the SDK calls the current block).
    pub fn head(&mut self) -> Result<Block> {
        head(&mut self.rpc)
    }

    /// The hash of block `n`, `None` if the node does not have it (yet).
    pub fn block_hash(&mut self, n: u64) -> Result<Option<[u8; 32]>> {
        block_hash(&mut self.rpc, n)
    }

    /// `SubnetInfoRuntimeApi.get_selective_mechagraph(netuid, 0, 0..=73)` at `at`.
    pub fn mechagraph(&mut self, netuid: u16, at: &Block) -> Result<Mechagraph> {
        let fields: Vec<u16> = MECHAGRAPH_FIELDS.collect();
        let data = (netuid, 0u8, fields).encode();
        let raw = state_call(
            &mut self.rpc,
            "SubnetInfoRuntimeApi_get_selective_mechagraph",
            &data,
            at,
        )?;
        decode_mechagraph(&self.metadata, &raw).map_err(|e| {
            if e.to_string().contains("no such subnet") {
                user(format!("subnet {netuid} does not exist on this chain"))
            } else {
                e
            }
        })
    }

    /// `SubtensorModule.item` (keyed by `netuid` if given) at `at`, as a number (its default
    /// when unset); `None` if the runtime has no such item.
    pub fn subtensor_number(
        &mut self,
        item: &str,
        netuid: Option<u16>,
        at: &Block,
    ) -> Result<Option<u64>> {
        const P: &str = "SubtensorModule";
        if !self.encoder.has_storage(P, item) {
            return Ok(None);
        }
        let keys = netuid
            .map(|n| vec![StorageKeyPart::Int(n as u64)])
            .unwrap_or_default();
        let key = self.encoder.storage_key(P, item, keys)?;
        let v = self.rpc.call(
            "state_getStorage",
            json!([hex::encode_0x(&key), hex::encode_0x(&at.hash)]),
        )?;
        let raw = if v.is_null() {
            None
        } else {
            Some(bytes_of(&v, item)?)
        };
        self.encoder
            .storage_number(P, item, raw.as_deref())
            .map(Some)
    }

    /// How a weights commit sent now is timelocked: the subnet's reveal period and the chain's
    /// commit-reveal version, the predicted first reveal block (from the stateful epoch schedule
    /// when the runtime has it, else the older fixed one) and the drand round to encrypt to.
    pub fn commit_plan(&mut self, netuid: u16, head: &Block) -> Result<CommitPlan> {
        let n = Some(netuid);
        let num = |node: &mut Node, item: &str, key| -> Result<u64> {
            node.subtensor_number(item, key, head)?.ok_or_else(|| {
                anyhow!("the runtime has no SubtensorModule.{item}, needed for commit-reveal")
            })
        };
        let tempo = num(self, "Tempo", n)?;
        let period = num(self, "RevealPeriodEpochs", n)?;
        let version = num(self, "CommitRevealWeightsVersion", None)? as u16;
        let (first, stateful) = match self.subtensor_number("SubnetEpochIndex", n, head)? {
            Some(index) => {
                let state = EpochState {
                    last_epoch_block: num(self, "LastEpochBlock", n)?,
                    pending_epoch_at: num(self, "PendingEpochAt", n)?,
                    subnet_epoch_index: index,
                    tempo,
                    blocks_since_last_step: num(self, "BlocksSinceLastStep", n)?,
                    current_block: head.number,
                };
                (timelock::first_reveal_block(&state, period)?, true)
            }
            None => (
                timelock::first_reveal_block_stateless(netuid, tempo, head.number, period),
                false,
            ),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs_f64();
        let round = match std::env::var("SN9_TIMELOCK_ROUND") {
            Ok(r) => r
                .parse()
                .map_err(|_| user(format!("SN9_TIMELOCK_ROUND={r}: not a drand round number")))?,
            Err(_) => timelock::reveal_round(first, head.number, timelock::BLOCK_TIME, now),
        };
        Ok(CommitPlan {
            reveal_period_epochs: period,
            version,
            first_reveal_block: first,
            reveal_round: round,
            stateful,
        })
    }

    /// The account's next nonce (pending transactions included).
    pub fn nonce(&mut self, ss58: &str) -> Result<u64> {
        let v = self.rpc.call("system_accountNextIndex", json!([ss58]))?;
        v.as_u64()
            .ok_or_else(|| anyhow!("system_accountNextIndex sent {v}, not a number"))
    }

    /// The call data and signer payload `call` would be signed with now (for `--dry-run`).
    pub fn prepare(&mut self, call: &Call, key: &Key) -> Result<(Vec<u8>, Vec<u8>, u64, Block)> {
        let head = self.head()?;
        let nonce = self.nonce(&key.ss58())?;
        let era = Era::Mortal {
            period: ERA_PERIOD,
            block: head.number,
            hash: head.hash,
        };
        let call_data = self.encoder.call_data(call)?;
        let payload = self.encoder.signer_payload(call, nonce, era)?;
        Ok((call_data, payload, nonce, head))
    }

    /// Signs `call` with `key`, submits it, waits until it is in a block and checks its events.
    /// A dispatch error (the chain refused it) is a user error naming the runtime's error.
    pub fn submit(&mut self, call: &Call, key: &Key) -> Result<Included> {
        let (_, payload, nonce, head) = self.prepare(call, key)?;
        let era = Era::Mortal {
            period: ERA_PERIOD,
            block: head.number,
            hash: head.hash,
        };
        let sig = sign(key, &payload);
        let xt = self
            .encoder
            .extrinsic(call, nonce, era, key.public(), sig)?;
        let xt_hex = hex::encode_0x(&xt);
        let (pallet, name) = call.pallet_and_name();
        let sub = self
            .rpc
            .subscribe("author_submitAndWatchExtrinsic", json!([xt_hex]))
            .map_err(|e| match e.downcast_ref::<NodeError>() {
                Some(n) => user(format!(
                    "the node refused {pallet}.{name}: {} {}{}; nothing was included",
                    n.code,
                    n.message,
                    n.data
                        .as_ref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                )),
                None => e,
            })?;
        let block_hash = loop {
            let st = self
                .rpc
                .notification(&sub, INCLUSION_WAIT)
                .with_context(|| {
                    format!(
                        "{pallet}.{name} was submitted (nonce {nonce}) but its inclusion was not \
                         seen; check the chain before sending it again"
                    )
                })?;
            match &st {
                Value::String(s) if s == "future" || s == "ready" => continue,
                Value::Object(o) if o.contains_key("broadcast") || o.contains_key("retracted") => {
                    continue;
                }
                Value::Object(o) if o.contains_key("inBlock") || o.contains_key("finalized") => {
                    let h = o.get("inBlock").or_else(|| o.get("finalized")).unwrap();
                    break h256(h, "the including block")?;
                }
                other => {
                    return Err(user(format!(
                        "{pallet}.{name} was not included: the node reports {other}"
                    )));
                }
            }
        };
        let header = self
            .rpc
            .call("chain_getHeader", json!([hex::encode_0x(&block_hash)]))?;
        let block = Block {
            number: number(&header["number"], "the including block's number")?,
            hash: block_hash,
        };
        let body = self
            .rpc
            .call("chain_getBlock", json!([hex::encode_0x(&block_hash)]))?;
        let index = body["block"]["extrinsics"]
            .as_array()
            .and_then(|xs| {
                xs.iter()
                    .position(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(&xt_hex)))
            })
            .ok_or_else(|| {
                anyhow!(
                    "block {} was reported to include {pallet}.{name}, but its body does not",
                    block.number
                )
            })?;
        let key_events = self.encoder.storage_key("System", "Events", vec![])?;
        let ev = self.rpc.call(
            "state_getStorage",
            json!([hex::encode_0x(&key_events), hex::encode_0x(&block_hash)]),
        )?;
        let events = if ev.is_null() {
            Vec::new()
        } else {
            bytes_of(&ev, "System.Events")?
        };
        match self.encoder.extrinsic_outcome(events, index as u32)? {
            Some(Ok(())) => Ok(Included {
                block,
                extrinsic_hash: blake2_256(&xt),
            }),
            Some(Err(err)) => Err(user(format!(
                "{pallet}.{name} was included in block {} but the chain refused it: {err}",
                block.number
            ))),
            None => Err(anyhow!(
                "block {}: no success or failure event for {pallet}.{name}",
                block.number
            )),
        }
    }
}

/// The runtime version and metadata at `at`, checked: (spec, transaction version, metadata, encoder).
fn load_runtime(
    rpc: &mut Rpc,
    genesis: [u8; 32],
    at: &Block,
) -> Result<(u32, u32, Vec<u8>, Encoder)> {
    let rv = rpc.call("state_getRuntimeVersion", json!([hex::encode_0x(&at.hash)]))?;
    let spec = rv["specVersion"].as_u64();
    let tx = rv["transactionVersion"].as_u64();
    let (Some(spec), Some(tx)) = (spec, tx) else {
        return Err(anyhow!(
            "{}: state_getRuntimeVersion sent no specVersion/transactionVersion: {rv:.200}",
            rpc.url()
        ));
    };
    let versions: Vec<u32> = match state_call(rpc, "Metadata_metadata_versions", &[], at) {
        Ok(b) => Vec::<u32>::decode(&mut &b[..])
            .map_err(|e| anyhow!("Metadata_metadata_versions does not decode: {e}"))?,
        Err(e) if e.is::<NodeError>() => vec![15],
        Err(e) => return Err(e),
    };
    let version = [16u32, 15]
        .into_iter()
        .find(|v| versions.contains(v))
        .ok_or_else(|| {
            anyhow!(
                "{} offers metadata versions {versions:?}; sn9 needs V15 or V16 (runtime APIs)",
                rpc.url()
            )
        })?;
    let raw = state_call(rpc, "Metadata_metadata_at_version", &version.encode(), at)?;
    let md = Option::<Vec<u8>>::decode(&mut &raw[..])
        .ok()
        .flatten()
        .ok_or_else(|| {
            anyhow!(
                "{}: Metadata_metadata_at_version({version}) sent no metadata",
                rpc.url()
            )
        })?;
    let encoder = Encoder::new(&md, genesis, spec as u32, tx as u32).map_err(|e| {
        anyhow!(
            "{}: the node's runtime metadata (spec {spec}) is not usable: {e:#}",
            rpc.url()
        )
    })?;
    Ok((spec as u32, tx as u32, md, encoder))
}

/// `state_call(name, data)` at `at`: the runtime's SCALE answer.
fn state_call(rpc: &mut Rpc, name: &str, data: &[u8], at: &Block) -> Result<Vec<u8>> {
    let v = rpc.call(
        "state_call",
        json!([name, hex::encode_0x(data), hex::encode_0x(&at.hash)]),
    )?;
    bytes_of(&v, name)
}

/// The best block (what the SDK calls the current block).
fn head(rpc: &mut Rpc) -> Result<Block> {
    let h = rpc.call("chain_getHeader", json!([]))?;
    let n = number(&h["number"], "the head's number")?;
    let hash = block_hash(rpc, n)?
        .ok_or_else(|| anyhow!("the node has no hash for its own head block {n}"))?;
    Ok(Block { number: n, hash })
}

/// The hash of block `n`, `None` if the node does not have it (yet).
fn block_hash(rpc: &mut Rpc, n: u64) -> Result<Option<[u8; 32]>> {
    let v = rpc.call("chain_getBlockHash", json!([n]))?;
    if v.is_null() {
        return Ok(None);
    }
    h256(&v, &format!("block {n}")).map(Some)
}
