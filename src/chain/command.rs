//! `sn9 chain ...`: the same commands on a subtensor node (`--network finney|test|local|ws(s)://`)
//! and on a local chain (`--network file://DIR`).

use std::io::Write;

use anyhow::Result;

use super::local::{
    Hyperparams, LocalChain, Neuron, Subnet, block_hash, check_weights, commitment_valid, payload,
};
use super::metadata::{ModelId, validate_repo_id};
use super::node::{Node, parse_hash};
use super::subtensor::{Call, decode_commitment_of};
use crate::error::user;
use crate::output::{Format, Printer, stdout};
use crate::retry::Retry;
use crate::wallet::command::WalletArgs;

#[derive(Debug, clap::Subcommand)]
pub enum ChainCommand {
    /// Build or parse the model metadata a miner commits on chain.
    #[command(subcommand)]
    Metadata(MetadataCommand),
    /// The head block and its hash (or the hash of block --at N).
    Block {
        #[command(flatten)]
        net: NetArgs,
        /// A past block whose hash to print.
        #[arg(long, value_name = "N")]
        at: Option<u64>,
    },
    /// The subnet's neurons: uid, hotkey, coldkey, stake, validator permit, last update.
    Metagraph {
        #[command(flatten)]
        net: NetArgs,
        /// CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
    /// Every hotkey's commitment with its block, parsed as model metadata (invalid ones with
    /// the reason).
    Commitments {
        #[command(flatten)]
        net: NetArgs,
    },
    /// Commit model metadata (`namespace:name:commit:secure_hash:competition_id`, at most 128
    /// bytes) with the wallet's hotkey.
    Commit {
        /// The metadata string (from `sn9 chain metadata encode`).
        metadata: String,
        #[command(flatten)]
        net: NetArgs,
        #[command(flatten)]
        wallet: WalletArgs,
    },
    /// Weights on chain.
    #[command(subcommand)]
    Weights(WeightsCommand),
    /// The local chain (`--network file://DIR`): create it, register neurons, advance blocks.
    #[command(subcommand)]
    Local(LocalCommand),
    /// Encode an extrinsic offline from a runtime's metadata: call data and signer payload in
    /// hex, and with --sign the signed extrinsic (for air-gapped signing or checking what a
    /// node would receive).
    Encode(EncodeArgs),
}

#[derive(Debug, clap::Args)]
pub struct EncodeArgs {
    /// What to encode.
    #[arg(value_enum)]
    pub call: EncodeCall,
    /// A weights document (`sn9 score --out`) for set-weights, or a metadata string for
    /// set-commitment.
    pub input: String,
    /// Runtime metadata (SCALE, V14–V16), e.g. from `state_getMetadata`.
    #[arg(long, value_name = "FILE")]
    pub metadata: std::path::PathBuf,
    /// The runtime's spec version.
    #[arg(long)]
    pub spec_version: u32,
    /// The runtime's transaction version.
    #[arg(long, default_value_t = 1)]
    pub transaction_version: u32,
    /// Genesis hash [default: Finney's].
    #[arg(
        long,
        default_value = "0x2f0555cc76fc2840a25a6ea3b9637146806f1f44b090c175ffde2a7e5ab36c03"
    )]
    pub genesis_hash: String,
    /// The signer's account nonce.
    #[arg(long, default_value_t = 0)]
    pub nonce: u64,
    /// Mortal transaction: valid this many blocks from --era-block (with --era-block-hash).
    #[arg(long, requires_all = ["era_block", "era_block_hash"])]
    pub era_period: Option<u64>,
    #[arg(long)]
    pub era_block: Option<u64>,
    #[arg(long)]
    pub era_block_hash: Option<String>,
    /// Subnet id.
    #[arg(long, env = "SN9_NETUID", default_value_t = crate::competition::constants::SUBNET_UID)]
    pub netuid: u16,
    /// Sign with the wallet's hotkey and print the extrinsic.
    #[arg(long)]
    pub sign: bool,
    #[command(flatten)]
    pub wallet: WalletArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum EncodeCall {
    SetWeights,
    SetCommitment,
}

fn hash32(s: &str, what: &str) -> Result<[u8; 32]> {
    crate::hex::decode(s)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| user(format!("{what} `{s}` is not a 32-byte hex hash")))
}

fn encode(a: EncodeArgs, p: &Printer) -> Result<()> {
    use super::subtensor::{Call, Encoder, Era, sign};
    let md = crate::output::read_bytes(&a.metadata, crate::output::Limit::Table)?;
    let enc = Encoder::new(
        &md,
        hash32(&a.genesis_hash, "--genesis-hash")?,
        a.spec_version,
        a.transaction_version,
    )?;
    let call = match a.call {
        EncodeCall::SetWeights => {
            let (dests, weights, version_key) =
                read_weights(std::path::Path::new(&a.input), a.netuid)?;
            Call::SetWeights {
                netuid: a.netuid,
                dests,
                weights,
                version_key,
            }
        }
        EncodeCall::SetCommitment => {
            check_metadata(&a.input)?;
            Call::SetCommitment {
                netuid: a.netuid,
                data: a.input.as_bytes().to_vec(),
            }
        }
    };
    let era = match (a.era_period, a.era_block, &a.era_block_hash) {
        (Some(period), Some(block), Some(h)) => Era::Mortal {
            period,
            block,
            hash: hash32(h, "--era-block-hash")?,
        },
        _ => Era::Immortal,
    };
    let hex = crate::hex::encode_0x;
    let call_data = enc.call_data(&call)?;
    let payload = enc.signer_payload(&call, a.nonce, era)?;
    let mut doc =
        serde_json::json!({"call_data": hex(&call_data), "signer_payload": hex(&payload)});
    if a.sign {
        let key = a.wallet.hotkey()?;
        let sig = sign(&key, &payload);
        doc["signer"] = key.ss58().into();
        doc["signature"] = hex(&sig).into();
        doc["extrinsic"] = hex(&enc.extrinsic(&call, a.nonce, era, key.public(), sig)?).into();
    }
    let mut w = stdout();
    if p.format == Format::Json {
        writeln!(w, "{doc}")?;
    } else {
        for (k, v) in doc.as_object().into_iter().flatten() {
            writeln!(w, "{k:<15} {}", v.as_str().unwrap_or_default())?;
        }
    }
    Ok(())
}

/// Which chain: `--network` and `--netuid`.
#[derive(Debug, Clone, clap::Args)]
pub struct NetArgs {
    /// finney, test, local, ws(s)://URL, or file://DIR for a local chain.
    #[arg(long, env = "SN9_NETWORK", default_value = "finney")]
    pub network: String,
    /// Subnet id.
    #[arg(long, env = "SN9_NETUID", default_value_t = crate::competition::constants::SUBNET_UID)]
    pub netuid: u16,
    /// The genesis hash the node must serve (0x + 64 hex; implied for finney): a node of
    /// another chain gets nothing signed.
    #[arg(long, env = "SN9_GENESIS", value_name = "HASH")]
    pub genesis: Option<String>,
}

/// A chain to talk to.
pub enum Net {
    Local(LocalChain),
    Node(Box<Node>),
}

impl NetArgs {
    /// The local chain or a connected, checked node.
    pub fn open(&self) -> Result<Net> {
        if let Some(dir) = self.network.strip_prefix("file://") {
            return Ok(Net::Local(LocalChain::open(std::path::Path::new(dir))?));
        }
        let genesis = self.genesis.as_deref().map(parse_hash).transpose()?;
        let node = Node::connect(&self.network, genesis, Retry::default()).map_err(|e| {
            if self.network == "finney" {
                e.context(
                    "--network is finney (the default); for a local chain pass --network \
                     file://DIR (what `sn9 chain local init DIR` printed) or set SN9_NETWORK",
                )
            } else {
                e
            }
        })?;
        Ok(Net::Node(Box::new(node)))
    }
}

/// Which local chain: `--network file://DIR` (no default: a local chain command can use no
/// other network) and `--netuid`.
#[derive(Debug, Clone, clap::Args)]
pub struct LocalNetArgs {
    /// The local chain, file://DIR (what `sn9 chain local init DIR` printed).
    #[arg(long, env = "SN9_NETWORK", value_name = "file://DIR")]
    pub network: Option<String>,
    /// Subnet id.
    #[arg(long, env = "SN9_NETUID", default_value_t = crate::competition::constants::SUBNET_UID)]
    pub netuid: u16,
}

impl LocalNetArgs {
    /// The local chain.
    pub fn local(&self) -> Result<LocalChain> {
        let Some(network) = &self.network else {
            return Err(user(
                "which local chain? pass --network file://DIR (or set SN9_NETWORK=file://DIR); \
                 create one with `sn9 chain local init DIR`",
            ));
        };
        match network.strip_prefix("file://") {
            Some(dir) => LocalChain::open(std::path::Path::new(dir)),
            None => Err(user(format!(
                "--network {network}: `sn9 chain local` works on a local chain (file://DIR); \
                 create one with `sn9 chain local init DIR`"
            ))),
        }
    }
}

/// A subnet as the commands show it, from either kind of chain.
struct View {
    genesis_hash: String,
    block: u64,
    block_hash: String,
    hyperparams: Hyperparams,
    neurons: Vec<Neuron>,
    /// By uid.
    commitments: Vec<CommitmentRow>,
}

/// (uid (none: a hotkey no longer in the metagraph), hotkey, block, data, the parsed metadata or
/// why it is invalid).
type CommitmentRow = (
    Option<u16>,
    String,
    u64,
    String,
    std::result::Result<ModelId, String>,
);

impl View {
    fn subnet(&self) -> Subnet {
        Subnet {
            hyperparams: self.hyperparams.clone(),
            neurons: self.neurons.clone(),
            ..Default::default()
        }
    }
}

fn view(net: &mut Net, netuid: u16) -> Result<View> {
    match net {
        Net::Local(c) => {
            let s = c.read()?;
            let sn = s
                .subnets
                .get(&netuid)
                .ok_or_else(|| user(format!("subnet {netuid} does not exist")))?;
            let mut commitments = Vec::new();
            for n in &sn.neurons {
                let Some(c) = sn.commitments.get(&n.hotkey) else {
                    continue;
                };
                let parsed = if !commitment_valid(&s.genesis_hash, netuid, &n.hotkey, c) {
                    Err("the signature does not verify".to_string())
                } else {
                    ModelId::parse(&c.data).map_err(|e| e.to_string())
                };
                commitments.push((
                    Some(n.uid),
                    n.hotkey.clone(),
                    c.block,
                    c.data.clone(),
                    parsed,
                ));
            }
            Ok(View {
                block_hash: block_hash(&s.genesis_hash, s.block),
                genesis_hash: s.genesis_hash,
                block: s.block,
                hyperparams: sn.hyperparams.clone(),
                neurons: sn.neurons.clone(),
                commitments,
            })
        }
        Net::Node(node) => {
            let head = node.head()?;
            let m = node.mechagraph(netuid, &head)?;
            let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
            let neurons: Vec<Neuron> = m
                .hotkeys
                .iter()
                .enumerate()
                .map(|(i, hk)| Neuron {
                    uid: i as u16,
                    hotkey: hk.clone(),
                    coldkey: m.coldkeys.get(i).cloned().unwrap_or_default(),
                    stake: at(&m.total_stake, i) as f64 / 1e9,
                    validator_permit: m.validator_permit.get(i).copied().unwrap_or(false),
                    registered_at: at(&m.block_at_registration, i),
                    last_update: at(&m.last_update, i),
                })
                .collect();
            let mut commitments = Vec::new();
            for (hk, raw) in &m.commitments {
                // Validators read the commitments of the metagraph's hotkeys; the others are
                // leftovers of deregistered hotkeys, listed as such.
                let uid = m.hotkeys.iter().position(|h| h == hk).map(|u| u as u16);
                let (block, data, parsed) = match decode_commitment_of(raw) {
                    Ok((_, block, Some(d))) => match String::from_utf8(d) {
                        Ok(s) => {
                            let p = ModelId::parse(&s).map_err(|e| e.to_string());
                            (block as u64, s, p)
                        }
                        Err(e) => (
                            block as u64,
                            crate::hex::encode_0x(e.as_bytes()),
                            Err("not UTF-8".to_string()),
                        ),
                    },
                    Ok((_, block, None)) => (
                        block as u64,
                        String::new(),
                        Err("no raw data field".to_string()),
                    ),
                    Err(e) => (0, crate::hex::encode_0x(raw), Err(e.to_string())),
                };
                let parsed = match uid {
                    Some(_) => parsed,
                    None => Err("the hotkey is not in the metagraph (deregistered)".to_string()),
                };
                commitments.push((uid, hk.clone(), block, data, parsed));
            }
            commitments.sort_by_key(|c| (c.0.is_none(), c.0));
            Ok(View {
                genesis_hash: crate::hex::encode_0x(&node.genesis),
                block: head.number,
                block_hash: crate::hex::encode_0x(&head.hash),
                hyperparams: Hyperparams {
                    tempo: m.tempo,
                    weights_rate_limit: m.weights_rate_limit,
                    weights_version_key: m.weights_version,
                    commit_reveal_weights_enabled: m.commit_reveal_weights_enabled,
                    ..Default::default()
                },
                neurons,
                commitments,
            })
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum WeightsCommand {
    /// Set weights from a weights document (`sn9 score --out FILE`): its u16 uids and weights
    /// and version key, signed by the wallet's hotkey, after the chain's own checks.
    Set {
        /// The weights document (JSON, `-` for stdin).
        file: std::path::PathBuf,
        #[command(flatten)]
        net: NetArgs,
        #[command(flatten)]
        wallet: WalletArgs,
        /// Check and print what would be signed (hex), submit nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum LocalCommand {
    /// Create a local chain in DIR with one subnet.
    Init {
        dir: std::path::PathBuf,
        /// Subnet id.
        #[arg(long, default_value_t = crate::competition::constants::SUBNET_UID)]
        netuid: u16,
        /// Head block to start from.
        #[arg(long, default_value_t = 1000)]
        block: u64,
        /// Blocks per epoch.
        #[arg(long, default_value_t = 360)]
        tempo: u64,
        /// Blocks between two weight settings of one validator.
        #[arg(long, default_value_t = 100)]
        weights_rate_limit: u64,
    },
    /// Register the wallet's hotkey on the subnet (the next uid).
    Register {
        #[command(flatten)]
        net: LocalNetArgs,
        #[command(flatten)]
        wallet: WalletArgs,
        /// Stake in TAO.
        #[arg(long, default_value_t = 0.0)]
        stake: f64,
        /// Give it a validator permit.
        #[arg(long)]
        validator: bool,
    },
    /// Move the head N blocks on.
    Advance {
        blocks: u64,
        #[command(flatten)]
        net: LocalNetArgs,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum MetadataCommand {
    /// Build `namespace:name:commit:secure_hash:competition_id` (checked against the 128-byte
    /// limit and the repo id rules) and print it.
    Encode {
        /// Hub repo id, `namespace/name` (at most 38 characters).
        repo: String,
        /// Hub commit sha (40 hex characters).
        #[arg(long)]
        commit: String,
        /// Secure hash from `sn9 hub hash DIR --hotkey ...`.
        #[arg(long)]
        secure_hash: String,
        /// Competition id (see `sn9 competitions`).
        #[arg(long)]
        competition: i64,
    },
    /// Parse a commitment string as validators do and print its fields.
    Decode {
        /// The commitment string.
        metadata: String,
    },
}

pub fn run(cmd: ChainCommand, p: &Printer) -> Result<()> {
    let m = match cmd {
        ChainCommand::Metadata(m) => m,
        other => return run_chain(other, p),
    };
    let mut w = stdout();
    match m {
        MetadataCommand::Encode {
            repo,
            commit,
            secure_hash,
            competition,
        } => {
            let (namespace, name) = validate_repo_id(&repo).map_err(user)?;
            if commit.len() != 40 || !commit.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(user(format!(
                    "--commit `{commit}` is not a 40-hex commit sha"
                )));
            }
            let id = ModelId {
                namespace,
                name,
                competition_id: competition,
                commit: Some(commit),
                hash: None,
                secure_hash: Some(secure_hash),
            };
            let s = id.to_commitment().map_err(user)?;
            if p.format == Format::Json {
                serde_json::to_writer(
                    &mut w,
                    &serde_json::json!({"metadata": s, "bytes": s.len(), "model_id": id}),
                )?;
                writeln!(w)?;
            } else {
                writeln!(w, "{s}")?;
            }
        }
        MetadataCommand::Decode { metadata } => {
            let id = ModelId::parse(&metadata).map_err(|e| user(e.to_string()))?;
            if p.format == Format::Json {
                serde_json::to_writer(&mut w, &id)?;
                writeln!(w)?;
            } else {
                let s = |o: &Option<String>| o.clone().unwrap_or_else(|| "None".into());
                writeln!(w, "namespace       {}", id.namespace)?;
                writeln!(w, "name            {}", id.name)?;
                writeln!(w, "commit          {}", s(&id.commit))?;
                writeln!(w, "secure_hash     {}", s(&id.secure_hash))?;
                writeln!(w, "competition_id  {}", id.competition_id)?;
                if id.hash.is_some() {
                    writeln!(
                        w,
                        "hash            {}  (legacy 4-field format)",
                        s(&id.hash)
                    )?;
                }
            }
        }
    }
    w.flush()?;
    Ok(())
}

/// Checks a commitment string as validators will parse it, before anything is signed.
fn check_metadata(s: &str) -> Result<ModelId> {
    let max = crate::competition::constants::MAX_METADATA_BYTES;
    if s.len() > max {
        return Err(user(format!(
            "the metadata is {} bytes, over the chain's {max}-byte limit for a commitment",
            s.len()
        )));
    }
    let id = ModelId::parse(s).map_err(|e| user(e.to_string()))?;
    validate_repo_id(&format!("{}/{}", id.namespace, id.name)).map_err(user)?;
    match &id.commit {
        Some(c) if c.len() == 40 && c.chars().all(|x| x.is_ascii_hexdigit()) => {}
        _ => {
            return Err(user(format!(
                "`{s}`: the commit field must be a 40-hex Hub commit sha"
            )));
        }
    }
    if id.secure_hash.as_ref().is_none_or(|h| h.len() != 44) {
        return Err(user(format!(
            "`{s}`: the secure hash must be 44 base64 characters (`sn9 hub push --hotkey` prints it)"
        )));
    }
    id.to_commitment().map_err(user)?;
    Ok(id)
}

/// The u16 uids, weights and version key of a weights document.
fn read_weights(path: &std::path::Path, netuid: u16) -> Result<(Vec<u16>, Vec<u16>, u64)> {
    let text = crate::output::read_to_string(path)?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| user(format!("{}: not a weights document ({e})", path.display())))?;
    if v["schema"] != "sn9.weights" {
        return Err(user(format!(
            "{}: schema {}, expected sn9.weights (the output of `sn9 score --out FILE`)",
            path.display(),
            v["schema"]
        )));
    }
    if let Some(n) = v["netuid"].as_u64()
        && n != netuid as u64
    {
        return Err(user(format!(
            "{} was scored for netuid {n}, not {netuid}",
            path.display()
        )));
    }
    let list = |k: &str| -> Result<Vec<u16>> {
        v[k].as_array()
            .ok_or_else(|| user(format!("{}: no `{k}`", path.display())))?
            .iter()
            .map(|x| {
                x.as_u64()
                    .and_then(|x| u16::try_from(x).ok())
                    .ok_or_else(|| user(format!("{}: `{k}` holds {x}, not a u16", path.display())))
            })
            .collect()
    };
    // Absent: the subnet's version key. Present: a u64, or the document is refused (a value
    // like 2^70 must not silently become the default).
    let version = match v.get("version_key") {
        None | Some(serde_json::Value::Null) => crate::competition::constants::SPEC_VERSION,
        Some(x) => x.as_u64().ok_or_else(|| {
            user(format!(
                "{}: `version_key` holds {x}, not an unsigned 64-bit integer",
                path.display()
            ))
        })?,
    };
    Ok((list("u16_uids")?, list("u16_weights")?, version))
}

/// What `chain weights set` prints once the chain took the weights: the block on stdout (all of
/// `doc` with --json), a sentence on stderr.
fn weights_done(w: &mut impl Write, p: &Printer, doc: serde_json::Value) -> Result<()> {
    let block = &doc["block"];
    if p.format == Format::Json {
        writeln!(w, "{doc}")?;
    } else {
        writeln!(w, "{block}")?;
    }
    let n = &doc["uids"];
    match &doc["commit_reveal"] {
        serde_json::Value::Null => p.info(format!("weights for {n} uids set at block {block}")),
        c => p.info(format!(
            "weights for {n} uids committed at block {block}, timelocked to drand round {}; \
             the chain reveals them from block {}",
            c["reveal_round"], c["first_reveal_block"]
        )),
    }
    Ok(())
}

fn run_chain(cmd: ChainCommand, p: &Printer) -> Result<()> {
    let mut w = stdout();
    match cmd {
        ChainCommand::Metadata(_) => unreachable!("handled by run"),
        ChainCommand::Encode(a) => return encode(a, p),
        ChainCommand::Block { net, at } => {
            let (b, h, head, genesis) = match net.open()? {
                Net::Local(c) => {
                    let s = c.read()?;
                    let b = at.unwrap_or(s.block);
                    if b > s.block {
                        return Err(user(format!(
                            "block {b} is in the future (head {})",
                            s.block
                        )));
                    }
                    (b, block_hash(&s.genesis_hash, b), s.block, s.genesis_hash)
                }
                Net::Node(mut node) => {
                    let head = node.head()?;
                    let b = at.unwrap_or(head.number);
                    let h = match node.block_hash(b)? {
                        Some(h) => h,
                        None => {
                            return Err(user(format!(
                                "block {b} is in the future (head {})",
                                head.number
                            )));
                        }
                    };
                    (
                        b,
                        crate::hex::encode_0x(&h),
                        head.number,
                        crate::hex::encode_0x(&node.genesis),
                    )
                }
            };
            if p.format == Format::Json {
                writeln!(
                    w,
                    "{}",
                    serde_json::json!({"block": b, "hash": h, "head": head, "genesis_hash": genesis})
                )?;
            } else {
                writeln!(w, "{b}\t{h}")?;
            }
        }
        ChainCommand::Metagraph { net, csv } => {
            let v = view(&mut net.open()?, net.netuid)?;
            if p.format == Format::Json {
                writeln!(
                    w,
                    "{}",
                    serde_json::json!({"netuid": net.netuid, "block": v.block,
                    "block_hash": v.block_hash, "genesis_hash": v.genesis_hash,
                    "neurons": v.neurons, "hyperparams": v.hyperparams})
                )?;
            } else {
                let mut t = crate::output::Table::new([
                    "uid",
                    "hotkey",
                    "coldkey",
                    "stake",
                    "validator_permit",
                    "last_update",
                    "registered_at",
                ]);
                for n in &v.neurons {
                    t.row([
                        n.uid.to_string(),
                        n.hotkey.clone(),
                        n.coldkey.clone(),
                        n.stake.to_string(),
                        n.validator_permit.to_string(),
                        n.last_update.to_string(),
                        n.registered_at.to_string(),
                    ]);
                }
                if csv {
                    t.write_csv(&mut w)?;
                } else {
                    t.write(&mut w)?;
                }
            }
        }
        ChainCommand::Commitments { net } => {
            let v = view(&mut net.open()?, net.netuid)?;
            if p.format == Format::Json {
                for (uid, hk, block, data, parsed) in &v.commitments {
                    let doc = match parsed {
                        Ok(id) => {
                            serde_json::json!({"uid": uid, "hotkey": hk, "block": block, "data": data, "model_id": id})
                        }
                        Err(e) => {
                            serde_json::json!({"uid": uid, "hotkey": hk, "block": block, "data": data, "invalid": e})
                        }
                    };
                    writeln!(w, "{doc}")?;
                }
            } else {
                let mut t = crate::output::Table::new([
                    "uid",
                    "hotkey",
                    "block",
                    "competition",
                    "repo",
                    "commit",
                    "note",
                ]);
                for (uid, hk, block, _, parsed) in &v.commitments {
                    match parsed {
                        Ok(id) => t.row([
                            uid.map_or("-".into(), |u| u.to_string()),
                            hk.clone(),
                            block.to_string(),
                            id.competition_id.to_string(),
                            format!("{}/{}", id.namespace, id.name),
                            id.commit.clone().unwrap_or_default(),
                            String::new(),
                        ]),
                        Err(e) => t.row([
                            uid.map_or("-".into(), |u| u.to_string()),
                            hk.clone(),
                            block.to_string(),
                            "-".into(),
                            "-".into(),
                            "-".into(),
                            format!("invalid: {e}"),
                        ]),
                    }
                }
                t.write(&mut w)?;
            }
        }
        ChainCommand::Commit {
            metadata,
            net,
            wallet,
        } => {
            check_metadata(&metadata)?;
            let mut chain = net.open()?;
            let key = wallet.hotkey()?;
            let (block, extra) = match &mut chain {
                Net::Local(c) => (c.commit(net.netuid, &key, &metadata)?, None),
                Net::Node(node) => {
                    let head = node.head()?;
                    if !node
                        .mechagraph(net.netuid, &head)?
                        .hotkeys
                        .contains(&key.ss58())
                    {
                        return Err(user(format!(
                            "{} is not registered on subnet {}; register it before committing",
                            key.ss58(),
                            net.netuid
                        )));
                    }
                    let call = Call::SetCommitment {
                        netuid: net.netuid,
                        data: metadata.as_bytes().to_vec(),
                    };
                    let inc = node.submit(&call, &key)?;
                    (
                        inc.block.number,
                        Some(crate::hex::encode_0x(&inc.extrinsic_hash)),
                    )
                }
            };
            if p.format == Format::Json {
                writeln!(
                    w,
                    "{}",
                    serde_json::json!({"block": block, "hotkey": key.ss58(), "netuid": net.netuid,
                    "metadata": metadata, "extrinsic_hash": extra})
                )?;
            } else {
                writeln!(w, "{block}")?;
            }
            p.info(format!("committed at block {block} by {}", key.ss58()));
        }
        ChainCommand::Weights(WeightsCommand::Set {
            file,
            net,
            wallet,
            dry_run,
        }) => {
            let (uids, weights, version) = read_weights(&file, net.netuid)?;
            let mut chain = net.open()?;
            let key = wallet.hotkey()?;
            let v = view(&mut chain, net.netuid)?;
            // On a commit-reveal subnet of a node the weights go out timelocked; a commit passes
            // the same checks (the rate limit as `CommittingWeightsTooFast`).
            let timelocked =
                v.hyperparams.commit_reveal_weights_enabled && matches!(chain, Net::Node(_));
            let mut sn = v.subnet();
            sn.hyperparams.commit_reveal_weights_enabled &= !timelocked;
            check_weights(&sn, &key.ss58(), &uids, &weights, version, v.block + 1)?;
            let (call, plan) = match &mut chain {
                Net::Node(node) if timelocked => {
                    let head = node.head()?;
                    let plan = node.commit_plan(net.netuid, &head)?;
                    let payload =
                        super::timelock::weights_payload(&key.public(), &uids, &weights, version);
                    let call = Call::CommitTimelockedMechanismWeights {
                        netuid: net.netuid,
                        mecid: 0,
                        commit: super::timelock::encrypt(&payload, plan.reveal_round)?,
                        reveal_round: plan.reveal_round,
                        commit_reveal_version: plan.version,
                    };
                    (call, Some(plan))
                }
                _ => (
                    Call::SetWeights {
                        netuid: net.netuid,
                        dests: uids.clone(),
                        weights: weights.clone(),
                        version_key: version,
                    },
                    None,
                ),
            };
            match (&mut chain, dry_run) {
                (Net::Local(_), true) => {
                    let body = serde_json::to_string(&(&uids, &weights, version))?;
                    let pl = payload(&v.genesis_hash, "set_weights", net.netuid, &body);
                    writeln!(
                        w,
                        "{}",
                        serde_json::json!({"dry_run": true, "netuid": net.netuid, "hotkey": key.ss58(),
                        "uids": uids, "weights": weights, "version_key": version,
                        "signer_payload": crate::hex::encode_0x(&pl)})
                    )?;
                    p.info("dry run: checked, nothing submitted");
                }
                (Net::Node(node), true) => {
                    let (call_data, pl, nonce, head) = node.prepare(&call, &key)?;
                    writeln!(
                        w,
                        "{}",
                        serde_json::json!({"dry_run": true, "netuid": net.netuid, "hotkey": key.ss58(),
                        "uids": uids, "weights": weights, "version_key": version,
                        "commit_reveal": plan,
                        "nonce": nonce, "era": {"period": super::node::ERA_PERIOD,
                        "block": head.number, "hash": crate::hex::encode_0x(&head.hash)},
                        "call_data": crate::hex::encode_0x(&call_data),
                        "signer_payload": crate::hex::encode_0x(&pl)})
                    )?;
                    p.info("dry run: checked, nothing submitted");
                }
                (Net::Local(c), false) => {
                    let block = c.set_weights(net.netuid, &key, &uids, &weights, version)?;
                    let doc = serde_json::json!({"block": block, "hotkey": key.ss58(),
                        "netuid": net.netuid, "uids": uids.len()});
                    weights_done(&mut w, p, doc)?;
                }
                (Net::Node(node), false) => {
                    let inc = node.submit(&call, &key)?;
                    let doc = serde_json::json!({"block": inc.block.number, "hotkey": key.ss58(),
                        "netuid": net.netuid, "uids": uids.len(),
                        "extrinsic_hash": crate::hex::encode_0x(&inc.extrinsic_hash),
                        "commit_reveal": plan});
                    weights_done(&mut w, p, doc)?;
                }
            }
        }
        ChainCommand::Local(LocalCommand::Init {
            dir,
            netuid,
            block,
            tempo,
            weights_rate_limit,
        }) => {
            let hp = Hyperparams {
                tempo,
                weights_rate_limit,
                ..Default::default()
            };
            let c = LocalChain::init(&dir, netuid, block, hp)?;
            let s = c.read()?;
            let url = format!(
                "file://{}",
                std::fs::canonicalize(&dir).unwrap_or(dir).display()
            );
            writeln!(w, "{url}")?;
            p.info(format!(
                "local chain at block {}, subnet {netuid}; use it with `--network {url}` on every \
                 chain command (or `export SN9_NETWORK={url}`)",
                s.block
            ));
        }
        ChainCommand::Local(LocalCommand::Register {
            net,
            wallet,
            stake,
            validator,
        }) => {
            let chain = net.local()?;
            let s = wallet.spec();
            let hot = crate::wallet::hotkey_address(&s)?;
            let cold = crate::wallet::read_address(&s.dir().join("coldkeypub.txt"))?;
            let uid = chain.register(net.netuid, &hot, &cold, stake, validator)?;
            if p.format == Format::Json {
                writeln!(
                    w,
                    "{}",
                    serde_json::json!({"uid": uid, "hotkey": hot, "coldkey": cold, "netuid": net.netuid})
                )?;
            } else {
                writeln!(w, "{uid}")?;
            }
        }
        ChainCommand::Local(LocalCommand::Advance { blocks, net }) => {
            let b = net.local()?.advance(blocks)?;
            writeln!(w, "{b}")?;
        }
    }
    w.flush()?;
    Ok(())
}
