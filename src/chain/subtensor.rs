//! Subtensor extrinsics and storage keys, encoded by subxt's dynamic API against the runtime's
//! own metadata (so a runtime upgrade that keeps names and shapes needs no code change):
//! `SubtensorModule.set_weights` / `set_mechanism_weights` / `commit_weights` / `reveal_weights`
//! / `commit_timelocked_weights` / `commit_timelocked_mechanism_weights` and
//! `Commitments.set_commitment`; V4 signer payloads (immortal or mortal, nonce, tip, the
//! default transaction extensions subtensor uses) and signed extrinsics with an sr25519
//! `MultiSignature`. Checked byte for byte against the SDK's encodings (tests/chain.rs).

use anyhow::{Context, Result};
use subxt::OfflineClient;
use subxt::config::DefaultExtrinsicParamsBuilder;
use subxt::config::substrate::{SpecVersionForRange, SubstrateConfig};
use subxt::dynamic::Value;

use crate::error::user;

/// A call sn9 sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    SetWeights {
        netuid: u16,
        dests: Vec<u16>,
        weights: Vec<u16>,
        version_key: u64,
    },
    SetMechanismWeights {
        netuid: u16,
        mecid: u8,
        dests: Vec<u16>,
        weights: Vec<u16>,
        version_key: u64,
    },
    CommitWeights {
        netuid: u16,
        commit_hash: [u8; 32],
    },
    RevealWeights {
        netuid: u16,
        uids: Vec<u16>,
        values: Vec<u16>,
        salt: Vec<u16>,
        version_key: u64,
    },
    CommitTimelockedWeights {
        netuid: u16,
        commit: Vec<u8>,
        reveal_round: u64,
        commit_reveal_version: u16,
    },
    CommitTimelockedMechanismWeights {
        netuid: u16,
        mecid: u8,
        commit: Vec<u8>,
        reveal_round: u64,
        commit_reveal_version: u16,
    },
    /// `Commitments.set_commitment(netuid, {fields: [Raw<len>(data)]})`; at most 128 bytes.
    SetCommitment {
        netuid: u16,
        data: Vec<u8>,
    },
}

fn n(x: impl Into<u128>) -> Value {
    Value::u128(x.into())
}

fn u16s(v: &[u16]) -> Value {
    Value::unnamed_composite(v.iter().map(|&x| n(x)))
}

impl Call {
    pub fn pallet_and_name(&self) -> (&'static str, &'static str) {
        match self {
            Call::SetWeights { .. } => ("SubtensorModule", "set_weights"),
            Call::SetMechanismWeights { .. } => ("SubtensorModule", "set_mechanism_weights"),
            Call::CommitWeights { .. } => ("SubtensorModule", "commit_weights"),
            Call::RevealWeights { .. } => ("SubtensorModule", "reveal_weights"),
            Call::CommitTimelockedWeights { .. } => {
                ("SubtensorModule", "commit_timelocked_weights")
            }
            Call::CommitTimelockedMechanismWeights { .. } => {
                ("SubtensorModule", "commit_timelocked_mechanism_weights")
            }
            Call::SetCommitment { .. } => ("Commitments", "set_commitment"),
        }
    }

    fn args(&self) -> Result<Vec<Value>> {
        Ok(match self {
            Call::SetWeights {
                netuid,
                dests,
                weights,
                version_key,
            } => {
                vec![n(*netuid), u16s(dests), u16s(weights), n(*version_key)]
            }
            Call::SetMechanismWeights {
                netuid,
                mecid,
                dests,
                weights,
                version_key,
            } => {
                vec![
                    n(*netuid),
                    n(*mecid),
                    u16s(dests),
                    u16s(weights),
                    n(*version_key),
                ]
            }
            Call::CommitWeights {
                netuid,
                commit_hash,
            } => {
                vec![n(*netuid), Value::from_bytes(commit_hash)]
            }
            Call::RevealWeights {
                netuid,
                uids,
                values,
                salt,
                version_key,
            } => {
                vec![
                    n(*netuid),
                    u16s(uids),
                    u16s(values),
                    u16s(salt),
                    n(*version_key),
                ]
            }
            Call::CommitTimelockedWeights {
                netuid,
                commit,
                reveal_round,
                commit_reveal_version,
            } => vec![
                n(*netuid),
                Value::from_bytes(commit),
                n(*reveal_round),
                n(*commit_reveal_version),
            ],
            Call::CommitTimelockedMechanismWeights {
                netuid,
                mecid,
                commit,
                reveal_round,
                commit_reveal_version,
            } => vec![
                n(*netuid),
                n(*mecid),
                Value::from_bytes(commit),
                n(*reveal_round),
                n(*commit_reveal_version),
            ],
            Call::SetCommitment { netuid, data } => {
                if data.len() > 128 {
                    return Err(user(format!(
                        "a commitment holds at most 128 raw bytes, this one has {}",
                        data.len()
                    )));
                }
                let raw =
                    Value::unnamed_variant(format!("Raw{}", data.len()), [Value::from_bytes(data)]);
                vec![
                    n(*netuid),
                    Value::named_composite([("fields", Value::unnamed_composite([raw]))]),
                ]
            }
        })
    }

    fn payload(&self) -> Result<subxt::transactions::DynamicPayload<Vec<Value>>> {
        let (p, c) = self.pallet_and_name();
        Ok(subxt::dynamic::tx(p, c, self.args()?))
    }
}

/// Mortality of a transaction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Era {
    Immortal,
    /// Valid for `period` blocks from `block` (whose hash is `hash`).
    Mortal {
        period: u64,
        block: u64,
        hash: [u8; 32],
    },
}

/// An encoder for one runtime (metadata, genesis, spec and transaction versions), offline.
pub struct Encoder {
    client: OfflineClient<SubstrateConfig>,
}

impl Encoder {
    /// `metadata`: the runtime metadata (V14–V16, SCALE, as `state_getMetadata` /
    /// `Metadata_metadata_at_version` return it without the Option/length prefix).
    pub fn new(
        metadata: &[u8],
        genesis: [u8; 32],
        spec_version: u32,
        transaction_version: u32,
    ) -> Result<Encoder> {
        let md = subxt::Metadata::decode_from(metadata)
            .map_err(|e| user(format!("the runtime metadata does not decode: {e}")))?;
        let cfg = SubstrateConfig::builder()
            .set_genesis_hash(genesis.into())
            .set_metadata_for_spec_versions([(spec_version, std::sync::Arc::new(md))])
            .set_spec_version_for_block_ranges([SpecVersionForRange {
                block_range: 0..u64::MAX,
                spec_version,
                transaction_version,
            }])
            .build();
        Ok(Encoder {
            client: OfflineClient::new_with_config(cfg),
        })
    }

    fn at(
        &self,
    ) -> Result<
        subxt::client::ClientAtBlock<
            SubstrateConfig,
            subxt::client::OfflineClientAtBlockImpl<SubstrateConfig>,
        >,
    > {
        self.client.at_block(0u64).context("offline client")
    }

    /// The call's SCALE bytes (pallet index, call index, arguments), checked against the metadata.
    pub fn call_data(&self, call: &Call) -> Result<Vec<u8>> {
        let at = self.at()?;
        at.tx().call_data(&call.payload()?).map_err(|e| {
            user(format!(
                "{:?} does not fit the runtime: {e}",
                call.pallet_and_name()
            ))
        })
    }

    /// The signer payload and, given the account and its signature, the signed extrinsic.
    fn build(
        &self,
        call: &Call,
        nonce: u64,
        era: Era,
        signed_by: Option<([u8; 32], [u8; 64])>,
    ) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
        let at = self.at()?;
        let payload = call.payload()?;
        let mut b = DefaultExtrinsicParamsBuilder::<SubstrateConfig>::new()
            .nonce(nonce)
            .tip(0);
        if let Era::Mortal {
            period,
            block,
            hash,
        } = era
        {
            b = b.mortal_from_unchecked(period, block, hash.into());
        }
        let mut s = at
            .tx()
            .create_v4_signable_offline(&payload, b.build())
            .map_err(|e| user(format!("cannot build the transaction: {e}")))?;
        let sp = s.signer_payload().map_err(|e| anyhow::anyhow!("{e}"))?;
        let xt = match signed_by {
            Some((account, sig)) => Some(
                s.sign_with_account_and_signature(
                    &subxt::utils::AccountId32(account),
                    &subxt::utils::MultiSignature::Sr25519(sig),
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .encoded()
                .to_vec(),
            ),
            None => None,
        };
        Ok((sp, xt))
    }

    /// The bytes the signer signs (V4; hashed with blake2-256 by the signer when longer than
    /// 256 bytes, see [`sign`]).
    pub fn signer_payload(&self, call: &Call, nonce: u64, era: Era) -> Result<Vec<u8>> {
        Ok(self.build(call, nonce, era, None)?.0)
    }

    /// The signed V4 extrinsic for `account` (sr25519 public key) and its signature.
    pub fn extrinsic(
        &self,
        call: &Call,
        nonce: u64,
        era: Era,
        account: [u8; 32],
        signature: [u8; 64],
    ) -> Result<Vec<u8>> {
        self.build(call, nonce, era, Some((account, signature)))?
            .1
            .context("no extrinsic")
    }

    /// The storage key of `pallet.item` for `keys` (numbers and 32-byte account ids).
    pub fn storage_key(
        &self,
        pallet: &str,
        item: &str,
        keys: Vec<StorageKeyPart>,
    ) -> Result<Vec<u8>> {
        let at = self.at()?;
        let addr = subxt::dynamic::storage::<Vec<Value>, Value>(pallet, item);
        let parts: Vec<Value> = keys
            .into_iter()
            .map(|k| match k {
                StorageKeyPart::Int(i) => n(i),
                StorageKeyPart::Account(a) => Value::from_bytes(a),
            })
            .collect();
        at.storage()
            .entry(addr)
            .map_err(|e| user(format!("{pallet}.{item}: {e}")))?
            .fetch_key(parts)
            .map_err(|e| user(format!("{pallet}.{item}: {e}")))
    }
}

impl Encoder {
    /// What the block's events say of extrinsic `index`: `None` if it has no outcome event,
    /// `Some(Ok(()))` on `System.ExtrinsicSuccess`, `Some(Err(name))` on `System.ExtrinsicFailed`
    /// with the dispatch error's name (`SubtensorModule.SettingWeightsTooFast`, `BadOrigin`, ...).
    pub fn extrinsic_outcome(
        &self,
        events: Vec<u8>,
        index: u32,
    ) -> Result<Option<std::result::Result<(), String>>> {
        let at = self.at()?;
        let md = at.metadata();
        let events = at.events().from_bytes(events);
        for ev in events.iter() {
            let ev = ev.map_err(|e| anyhow::anyhow!("the block's events do not decode: {e}"))?;
            if ev.phase() != subxt::events::Phase::ApplyExtrinsic(index)
                || ev.pallet_name() != "System"
            {
                continue;
            }
            match ev.event_name() {
                "ExtrinsicSuccess" => return Ok(Some(Ok(()))),
                "ExtrinsicFailed" => {
                    let fields: Composite<()> = ev
                        .decode_fields_unchecked_as()
                        .map_err(|e| anyhow::anyhow!("ExtrinsicFailed does not decode: {e}"))?;
                    let err = fields.values().next();
                    return Ok(Some(Err(err
                        .map(|e| dispatch_error_name(&md, e))
                        .unwrap_or_else(|| "an unknown dispatch error".into()))));
                }
                _ => {}
            }
        }
        Ok(None)
    }
}

impl Encoder {
    /// Whether the runtime has storage item `pallet.item`.
    pub fn has_storage(&self, pallet: &str, item: &str) -> bool {
        self.at().is_ok_and(|at| {
            at.metadata()
                .pallet_by_name(pallet)
                .and_then(|p| p.storage())
                .and_then(|s| s.entry_by_name(item))
                .is_some()
        })
    }

    /// A storage value as a number: `raw` as the node returned it, or the item's default when
    /// unset (`None`).
    pub fn storage_number(&self, pallet: &str, item: &str, raw: Option<&[u8]>) -> Result<u64> {
        let at = self.at()?;
        let md = at.metadata();
        let entry = md
            .pallet_by_name(pallet)
            .and_then(|p| p.storage())
            .and_then(|s| s.entry_by_name(item))
            .ok_or_else(|| user(format!("the runtime has no storage item {pallet}.{item}")))?;
        let bytes = raw.or(entry.default_value()).unwrap_or(&[]);
        let v = subxt::ext::scale_value::scale::decode_as_type(
            &mut &bytes[..],
            entry.value_ty(),
            md.types(),
        )
        .map_err(|e| anyhow::anyhow!("{pallet}.{item} does not decode: {e}"))?;
        num(&v).ok_or_else(|| anyhow::anyhow!("{pallet}.{item} is not a number: {v}"))
    }
}

/// `DispatchError::Module { index, error }` → `Pallet.ErrorName`; other variants by name.
fn dispatch_error_name(md: &subxt::Metadata, e: &SValue<()>) -> String {
    let ValueDef::Variant(v) = &e.value else {
        return format!("{e}");
    };
    if v.name == "Module" {
        let inner = v.values.values().next();
        let idx = inner.and_then(|m| field(m, "index")).and_then(num);
        let mut code = Vec::new();
        let err = inner
            .and_then(|m| field(m, "error"))
            .and_then(|x| bytes(x, &mut code));
        if let (Some(i), Some(())) = (idx, err)
            && let Some(p) = md.pallet_by_error_index(i as u8)
            && let Some(var) = code.first().and_then(|c| p.error_variant_by_index(*c))
        {
            return format!("{}.{}", p.name(), var.name);
        }
        return format!("Module error {e}");
    }
    match v.values.values().next() {
        Some(inner) => format!("{}({inner})", v.name),
        None => v.name.clone(),
    }
}

/// One part of a storage key.
#[derive(Debug, Clone)]
pub enum StorageKeyPart {
    Int(u64),
    Account([u8; 32]),
}

/// An sr25519 signature of a signer payload, as substrate signs it: payloads longer than 256
/// bytes are signed as their blake2-256 hash.
pub fn sign(key: &crate::wallet::Key, payload: &[u8]) -> [u8; 64] {
    if payload.len() > 256 {
        use blake2::Digest;
        let h = blake2::Blake2b::<blake2::digest::consts::U32>::digest(payload);
        key.sign(&h)
    } else {
        key.sign(payload)
    }
}

/// `Commitments.CommitmentOf` value: `Registration { deposit: u64, block: u32, info: { fields:
/// Vec<Data> } }`; returns (deposit, block, the first Raw field's bytes).
pub fn decode_commitment_of(raw: &[u8]) -> Result<(u64, u32, Option<Vec<u8>>)> {
    let bad = || user("a CommitmentOf value that does not decode");
    let deposit = u64::from_le_bytes(raw.get(0..8).ok_or_else(bad)?.try_into()?);
    let block = u32::from_le_bytes(raw.get(8..12).ok_or_else(bad)?.try_into()?);
    let rest = &raw[12..];
    // Compact<u32> field count (one byte for < 64).
    let (count, mut i) = match rest.first().ok_or_else(bad)? {
        b if b & 0b11 == 0 => ((b >> 2) as usize, 1),
        _ => return Err(bad()),
    };
    if count == 0 {
        return Ok((deposit, block, None));
    }
    let tag = *rest.get(i).ok_or_else(bad)?;
    i += 1;
    let data = match tag {
        1..=129 => {
            let len = (tag - 1) as usize;
            Some(rest.get(i..i + len).ok_or_else(bad)?.to_vec())
        }
        _ => None,
    };
    Ok((deposit, block, data))
}

use subxt::ext::scale_value::{Composite, Value as SValue, ValueDef};

/// The part of `SubnetInfoRuntimeApi.get_selective_mechagraph` sn9 uses.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Mechagraph {
    pub netuid: u16,
    pub block: u64,
    pub num_uids: u64,
    pub max_uids: u64,
    pub tempo: u64,
    pub weights_version: u64,
    pub weights_rate_limit: u64,
    pub commit_reveal_weights_enabled: bool,
    pub commit_reveal_period: u64,
    /// SS58 (prefix 42) per uid.
    pub hotkeys: Vec<String>,
    pub coldkeys: Vec<String>,
    pub validator_permit: Vec<bool>,
    /// Rao per uid.
    pub total_stake: Vec<u64>,
    pub alpha_stake: Vec<u64>,
    pub last_update: Vec<u64>,
    pub block_at_registration: Vec<u64>,
    /// (hotkey SS58, the SCALE bytes of its `Registration`).
    pub commitments: Vec<(String, Vec<u8>)>,
}

/// `Some(x)` → x, `None` → nothing, anything else as is (the runtime wraps most fields in Option).
fn some<T>(v: &SValue<T>) -> Option<&SValue<T>> {
    match &v.value {
        ValueDef::Variant(var) if var.name == "Some" => var.values.values().next(),
        ValueDef::Variant(var) if var.name == "None" => None,
        _ => Some(v),
    }
}

fn field<'a, T>(v: &'a SValue<T>, name: &str) -> Option<&'a SValue<T>> {
    match &v.value {
        ValueDef::Composite(Composite::Named(f)) => {
            f.iter().find(|(k, _)| k == name).and_then(|(_, x)| some(x))
        }
        _ => None,
    }
}

/// A number, through newtype wrappers (compact and `AlphaCurrency`-style structs).
fn num<T>(v: &SValue<T>) -> Option<u64> {
    if let Some(n) = v.as_u128() {
        return u64::try_from(n).ok();
    }
    match &v.value {
        ValueDef::Composite(c) if c.len() == 1 => num(c.values().next()?),
        _ => None,
    }
}

/// Flattens nested composites of u8 into bytes (AccountId32 is `([u8; 32])`).
fn bytes<T>(v: &SValue<T>, out: &mut Vec<u8>) -> Option<()> {
    match &v.value {
        ValueDef::Composite(c) => {
            for x in c.values() {
                bytes(x, out)?;
            }
            Some(())
        }
        _ => {
            out.push(u8::try_from(v.as_u128()?).ok()?);
            Some(())
        }
    }
}

fn account<T>(v: &SValue<T>) -> Option<String> {
    let mut b = Vec::new();
    bytes(v, &mut b)?;
    let a: [u8; 32] = b.try_into().ok()?;
    Some(crate::chain::ss58::encode(42, &a))
}

fn list<T>(v: Option<&SValue<T>>) -> Vec<&SValue<T>> {
    match v.map(|v| &v.value) {
        Some(ValueDef::Composite(c)) => c.values().collect(),
        _ => Vec::new(),
    }
}

/// Decodes the SCALE result of `SubnetInfoRuntimeApi_get_selective_mechagraph` with the
/// runtime's own type for it.
pub fn decode_mechagraph(metadata: &[u8], result: &[u8]) -> Result<Mechagraph> {
    let md = subxt::Metadata::decode_from(metadata)
        .map_err(|e| user(format!("the runtime metadata does not decode: {e}")))?;
    let api = md
        .runtime_api_trait_by_name("SubnetInfoRuntimeApi")
        .and_then(|t| t.method_by_name("get_selective_mechagraph"))
        .ok_or_else(|| user("the runtime has no SubnetInfoRuntimeApi.get_selective_mechagraph"))?;
    let ty = api.output_ty();
    let v = subxt::ext::scale_value::scale::decode_as_type(&mut &result[..], ty, md.types())
        .map_err(|e| {
            user(format!(
                "the mechagraph does not decode with the runtime's type: {e}"
            ))
        })?;
    let m = some(&v).ok_or_else(|| user("the node has no such subnet (None)"))?;
    let get = |k: &str| field(m, k).and_then(num).unwrap_or(0);
    let nums = |k: &str| {
        list(field(m, k))
            .into_iter()
            .map(|x| num(x).unwrap_or(0))
            .collect::<Vec<u64>>()
    };
    let accounts = |k: &str| {
        list(field(m, k))
            .into_iter()
            .filter_map(account)
            .collect::<Vec<String>>()
    };
    let mut commitments = Vec::new();
    for c in list(field(m, "commitments")) {
        // (AccountId32, Vec<Compact<u8>>): the Registration's bytes, compact-encoded one by one.
        let parts: Vec<&SValue<u32>> = match &c.value {
            ValueDef::Composite(x) => x.values().collect(),
            _ => continue,
        };
        if let (Some(a), Some(b)) = (parts.first().and_then(|a| account(a)), parts.get(1)) {
            let raw: Vec<u8> = list(Some(*b))
                .into_iter()
                .filter_map(|x| num(x).map(|n| n as u8))
                .collect();
            commitments.push((a, raw));
        }
    }
    Ok(Mechagraph {
        netuid: get("netuid") as u16,
        block: get("block"),
        num_uids: get("num_uids"),
        max_uids: get("max_uids"),
        tempo: get("tempo"),
        weights_version: get("weights_version"),
        weights_rate_limit: get("weights_rate_limit"),
        commit_reveal_weights_enabled: field(m, "commit_reveal_weights_enabled")
            .and_then(|b| b.as_bool())
            .unwrap_or(false),
        commit_reveal_period: get("commit_reveal_period"),
        hotkeys: accounts("hotkeys"),
        coldkeys: accounts("coldkeys"),
        validator_permit: list(field(m, "validator_permit"))
            .into_iter()
            .map(|b| b.as_bool().unwrap_or(false))
            .collect(),
        total_stake: nums("total_stake"),
        alpha_stake: nums("alpha_stake"),
        last_update: nums("last_update"),
        block_at_registration: nums("block_at_registration"),
        commitments,
    })
}
