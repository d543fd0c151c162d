//! An in-process subtensor stand-in: JSON-RPC over WebSocket on 127.0.0.1 (ephemeral port)
//! replaying the real Finney responses recorded at block 6,852,690
//! (`fixtures/chain/replay_finney_spec343_block6852690.json`), like `shared/chain/standin.py`,
//! plus what a submission needs: nonces, `author_submitAndWatchExtrinsic` (the extrinsic is
//! kept for the test, then reported ready and in block 6,852,691), that block's body and its
//! `System.Events`. It can also lie (another genesis, metadata that does not decode), refuse a
//! transaction, fail it at dispatch, and drop connections.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use subxt::ext::scale_value::{Composite, Value as SValue, ValueDef};
use tungstenite::Message;

/// The recorded responses.
pub fn recording() -> Value {
    let p = super::root().join("fixtures/chain/replay_finney_spec343_block6852690.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The recorded result of a `state_call` by name.
pub fn recorded_call(method: &str) -> String {
    recording()["state_call"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["method"] == method)
        .unwrap()["result"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The block a submission lands in.
pub const INCLUDED_HASH: &str =
    "0x1111111111111111111111111111111111111111111111111111111111111111";
pub const INCLUDED_NUMBER: u64 = 6_852_691;

/// `System.Events` with one `ExtrinsicSuccess` for extrinsic 0 (phase ApplyExtrinsic(0), weight
/// 0/0, class Normal, pays Yes, no topics).
pub const EVENTS_SUCCESS: &str = "0x0400000000000000000000000000";

#[derive(Clone, Default)]
pub struct Behaviour {
    /// Answer `chain_getBlockHash(0)` with this instead of the recorded genesis.
    pub genesis: Option<String>,
    /// Answer `Metadata_metadata_at_version` with bytes that do not decode as metadata.
    pub garbage_metadata: bool,
    /// Refuse submissions with this JSON-RPC error `(code, message, data)`.
    pub refuse: Option<(i64, String, String)>,
    /// `System.Events` of the including block (default [`EVENTS_SUCCESS`]).
    pub events: Option<String>,
    /// Close the first connection after this many answers.
    pub drop_after: Option<usize>,
}

pub struct ReplayNode {
    pub url: String,
    shared: Arc<Shared>,
    /// Submitted extrinsics (hex).
    pub submitted: Arc<Mutex<Vec<String>>>,
}

/// What every connection of one node sees.
struct Shared {
    rec: Value,
    b: Behaviour,
    /// Every request's method, in order.
    log: Mutex<Vec<String>>,
    submitted: Arc<Mutex<Vec<String>>>,
    /// `state_call` answers: (method, data hex without 0x) → result hex.
    calls: Mutex<HashMap<(String, String), String>>,
    /// Storage (key hex with 0x → value hex); unset keys answer null.
    storage: Mutex<HashMap<String, String>>,
}

impl ReplayNode {
    pub fn start(b: Behaviour) -> ReplayNode {
        let rec = recording();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let mut calls = HashMap::new();
        for c in rec["state_call"].as_array().unwrap() {
            calls.insert(
                (
                    c["method"].as_str().unwrap().to_string(),
                    c["data"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("0x")
                        .to_string(),
                ),
                c["result"].as_str().unwrap().to_string(),
            );
        }
        let submitted = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            rec,
            b,
            log: Mutex::new(Vec::new()),
            submitted: submitted.clone(),
            calls: Mutex::new(calls),
            storage: Mutex::new(HashMap::new()),
        });
        let node = ReplayNode {
            url,
            shared: shared.clone(),
            submitted,
        };
        std::thread::spawn(move || {
            let mut first = true;
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let sh = shared.clone();
                let drop_after = if first { sh.b.drop_after } else { None };
                first = false;
                std::thread::spawn(move || serve(stream, &sh, drop_after));
            }
        });
        node
    }

    /// Adds a `state_call` answer.
    pub fn add_call(&self, method: &str, data: &str, result: &str) {
        self.shared.calls.lock().unwrap().insert(
            (method.into(), data.trim_start_matches("0x").into()),
            result.into(),
        );
    }

    /// Sets a storage value (`key`, `value`: 0x hex).
    pub fn add_storage(&self, key: &str, value: &str) {
        self.shared
            .storage
            .lock()
            .unwrap()
            .insert(key.into(), value.into());
    }

    /// Every request's method so far.
    pub fn methods(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().clone()
    }
}

fn serve(stream: std::net::TcpStream, sh: &Shared, drop_after: Option<usize>) {
    let Ok(mut ws) = tungstenite::accept(stream) else {
        return;
    };
    let mut answered = 0;
    loop {
        let msg = match ws.read() {
            Ok(Message::Text(t)) => t.to_string(),
            Ok(Message::Close(_)) | Err(_) => return,
            Ok(_) => continue,
        };
        if drop_after.is_some_and(|n| answered >= n) {
            return; // the connection drops without an answer
        }
        let req: Value = serde_json::from_str(&msg).unwrap();
        let method = req["method"].as_str().unwrap_or("").to_string();
        let params = req["params"].as_array().cloned().unwrap_or_default();
        sh.log.lock().unwrap().push(method.clone());
        let mut after = Vec::new();
        let resp = match answer(sh, &method, &params, &mut after) {
            Ok(r) => json!({"jsonrpc": "2.0", "id": req["id"], "result": r}),
            Err(e) => json!({"jsonrpc": "2.0", "id": req["id"], "error": e}),
        };
        if ws.send(Message::text(resp.to_string())).is_err() {
            return;
        }
        for n in after {
            if ws.send(Message::text(n.to_string())).is_err() {
                return;
            }
        }
        answered += 1;
    }
}

fn answer(
    sh: &Shared,
    method: &str,
    params: &[Value],
    after: &mut Vec<Value>,
) -> Result<Value, Value> {
    let (rec, b) = (&sh.rec, &sh.b);
    let p = |i: usize| params.get(i).and_then(|v| v.as_str()).unwrap_or("");
    let included = || {
        let mut h = rec["header"].clone();
        h["parentHash"] = rec["block_hash"].clone();
        h["number"] = json!(format!("0x{INCLUDED_NUMBER:x}"));
        h
    };
    Ok(match method {
        "chain_getBlockHash" => match params.first().and_then(|v| v.as_u64()) {
            Some(0) => match &b.genesis {
                Some(g) => json!(g),
                None => rec["genesis_hash"].clone(),
            },
            Some(n) if n > rec["block_number"].as_u64().unwrap() => Value::Null,
            _ => rec["block_hash"].clone(),
        },
        "chain_getFinalizedHead" => rec["block_hash"].clone(),
        "chain_getHeader" if p(0) == INCLUDED_HASH => included(),
        "chain_getHeader" => rec["header"].clone(),
        "chain_getBlock" if p(0) == INCLUDED_HASH => {
            // The latest submission, as extrinsic 0.
            let last = sh.submitted.lock().unwrap().last().cloned();
            json!({"block": {"header": included(), "extrinsics": last.into_iter().collect::<Vec<_>>()}})
        }
        "state_getRuntimeVersion" => rec["runtime_version"].clone(),
        "system_accountNextIndex" => json!(7),
        "state_getStorage" if p(1) == INCLUDED_HASH => {
            json!(
                b.events
                    .clone()
                    .unwrap_or_else(|| EVENTS_SUCCESS.to_string())
            )
        }
        "state_getStorage" => sh
            .storage
            .lock()
            .unwrap()
            .get(p(0))
            .map_or(Value::Null, |v| json!(v)),
        "state_call" => {
            let (name, data) = (p(0), p(1).trim_start_matches("0x"));
            match name {
                "Core_version" => rec["core_version_scale"].clone(),
                "Metadata_metadata_versions" => json!("0x080e0000000f000000"),
                "Metadata_metadata_at_version" if b.garbage_metadata => {
                    json!("0x0110deadbeef")
                }
                "Metadata_metadata_at_version" if data == "0f000000" => {
                    rec["metadata_at_version_15_result"].clone()
                }
                "Metadata_metadata_at_version" => json!("0x00"),
                _ => match sh
                    .calls
                    .lock()
                    .unwrap()
                    .get(&(name.to_string(), data.to_string()))
                {
                    Some(r) => json!(r),
                    None => {
                        return Err(json!({"code": -32000,
                            "message": format!("no recording for state_call {name} 0x{:.64}", data)}));
                    }
                },
            }
        }
        "author_submitAndWatchExtrinsic" => {
            if let Some((code, message, data)) = &b.refuse {
                return Err(json!({"code": code, "message": message, "data": data}));
            }
            sh.submitted.lock().unwrap().push(p(0).to_string());
            for st in [json!("ready"), json!({"inBlock": INCLUDED_HASH})] {
                after.push(json!({"jsonrpc": "2.0", "method": "author_extrinsicUpdate",
                    "params": {"subscription": "sub-1", "result": st}}));
            }
            json!("sub-1")
        }
        _ => {
            return Err(
                json!({"code": -32601, "message": format!("method not recorded: {method}")}),
            );
        }
    })
}

// Building mechagraph answers from the recorded one (scale-value edits, re-encoded with the
// runtime's type).

pub fn some_mut(v: &mut SValue<u32>) -> &mut SValue<u32> {
    if matches!(&v.value, ValueDef::Variant(var) if var.name == "Some") {
        let ValueDef::Variant(var) = &mut v.value else {
            unreachable!()
        };
        return match &mut var.values {
            Composite::Named(f) => &mut f[0].1,
            Composite::Unnamed(f) => &mut f[0],
        };
    }
    v
}

pub fn field_mut<'a>(v: &'a mut SValue<u32>, name: &str) -> &'a mut SValue<u32> {
    let v = some_mut(v);
    match &mut v.value {
        ValueDef::Composite(Composite::Named(f)) => {
            some_mut(&mut f.iter_mut().find(|(k, _)| k == name).unwrap().1)
        }
        _ => panic!("not a struct"),
    }
}

pub fn item(v: &mut SValue<u32>, i: usize) -> &mut SValue<u32> {
    match &mut v.value {
        ValueDef::Composite(c) => match c {
            Composite::Named(f) => &mut f[i].1,
            Composite::Unnamed(f) => &mut f[i],
        },
        _ => panic!("not a list"),
    }
}

/// Overwrites the leaves (bytes) of a nested composite in order.
pub fn set_bytes(v: &mut SValue<u32>, b: &mut impl Iterator<Item = u8>) {
    match &mut v.value {
        ValueDef::Composite(c) => {
            let items: Vec<&mut SValue<u32>> = match c {
                Composite::Named(f) => f.iter_mut().map(|(_, x)| x).collect(),
                Composite::Unnamed(f) => f.iter_mut().collect(),
            };
            for x in items {
                set_bytes(x, b);
            }
        }
        _ => *v = SValue::u128(b.next().unwrap() as u128).map_context(|_| 0),
    }
}

pub fn num(x: u128) -> SValue<u32> {
    SValue::u128(x).map_context(|_| 0)
}

/// The `state_call` data of `get_selective_mechagraph(netuid, 0, 0..=73)`.
pub fn mechagraph_request(netuid: u16) -> String {
    let mut d = netuid.to_le_bytes().to_vec();
    d.push(0);
    d.extend([0x29, 0x01]); // Compact(74)
    for i in 0u16..=73 {
        d.extend(i.to_le_bytes());
    }
    super::hex0x(&d)
}

/// One neuron of a built mechagraph.
pub struct NeuronSpec {
    pub hotkey: [u8; 32],
    pub coldkey: [u8; 32],
    pub validator_permit: bool,
    pub stake_rao: u64,
    pub registered_at: u64,
    pub last_update: u64,
}

fn metadata() -> subxt::Metadata {
    let md = std::fs::read(super::root().join("fixtures/chain/finney-spec343-v15.scale")).unwrap();
    subxt::Metadata::decode_from(&md[..]).unwrap()
}

/// A list field rebuilt from its first element as template, one element per `f` call.
fn rebuild<T>(v: &mut SValue<u32>, name: &str, xs: &[T], f: impl Fn(&mut SValue<u32>, &T)) {
    let list = field_mut(v, name);
    let template = item(list, 0).clone();
    let items = xs
        .iter()
        .map(|x| {
            let mut t = template.clone();
            f(&mut t, x);
            t
        })
        .collect::<Vec<_>>();
    *list = SValue {
        value: ValueDef::Composite(Composite::Unnamed(items)),
        context: 0,
    };
}

/// Sets the innermost number of a (possibly newtype-wrapped) value.
fn set_num(v: &mut SValue<u32>, x: u64) {
    match &mut v.value {
        ValueDef::Composite(Composite::Unnamed(f)) if f.len() == 1 => set_num(&mut f[0], x),
        ValueDef::Composite(Composite::Named(f)) if f.len() == 1 => set_num(&mut f[0].1, x),
        _ => *v = num(x as u128),
    }
}

/// A `get_selective_mechagraph` answer (hex) for subnet `netuid` with these neurons and
/// commitments (hotkey, commitment string, block), built from the recorded Finney one.
pub fn mechagraph(
    netuid: u16,
    neurons: &[NeuronSpec],
    commitments: &[([u8; 32], String, u32)],
    commit_reveal: bool,
) -> String {
    let md = metadata();
    let ty = md
        .runtime_api_trait_by_name("SubnetInfoRuntimeApi")
        .unwrap()
        .method_by_name("get_selective_mechagraph")
        .unwrap()
        .output_ty();
    let raw = super::hex_bytes(&recorded_call(
        "SubnetInfoRuntimeApi_get_selective_mechagraph",
    ));
    let mut v =
        subxt::ext::scale_value::scale::decode_as_type(&mut &raw[..], ty, md.types()).unwrap();
    *field_mut(&mut v, "netuid") = num(netuid as u128);
    *field_mut(&mut v, "weights_version") = num(0);
    *field_mut(&mut v, "num_uids") = num(neurons.len() as u128);
    *field_mut(&mut v, "commit_reveal_weights_enabled") =
        SValue::bool(commit_reveal).map_context(|_| 0);
    rebuild(&mut v, "hotkeys", neurons, |t, n| {
        set_bytes(t, &mut n.hotkey.into_iter())
    });
    rebuild(&mut v, "coldkeys", neurons, |t, n| {
        set_bytes(t, &mut n.coldkey.into_iter())
    });
    rebuild(&mut v, "validator_permit", neurons, |t, n| {
        *t = SValue::bool(n.validator_permit).map_context(|_| 0)
    });
    rebuild(&mut v, "total_stake", neurons, |t, n| {
        set_num(t, n.stake_rao)
    });
    rebuild(&mut v, "last_update", neurons, |t, n| {
        set_num(t, n.last_update)
    });
    rebuild(&mut v, "block_at_registration", neurons, |t, n| {
        set_num(t, n.registered_at)
    });
    rebuild(
        &mut v,
        "commitments",
        commitments,
        |t, (hk, data, block)| {
            // Registration { deposit: 0, block, info: { fields: [Raw(data)] } } as Vec<Compact<u8>>
            let mut reg = 0u64.to_le_bytes().to_vec();
            reg.extend(block.to_le_bytes());
            reg.push(4);
            reg.push(data.len() as u8 + 1);
            reg.extend(data.as_bytes());
            set_bytes(item(t, 0), &mut hk.iter().copied());
            *item(t, 1) = SValue {
                value: ValueDef::Composite(Composite::Unnamed(
                    reg.into_iter().map(|b| num(b as u128)).collect(),
                )),
                context: 0,
            };
        },
    );
    let mut out = Vec::new();
    subxt::ext::scale_value::scale::encode_as_type(&v, ty, md.types(), &mut out).unwrap();
    super::hex0x(&out)
}
