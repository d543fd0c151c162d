//! `make demo` and `sn9 validate --once` through the binary: the whole subnet offline (local
//! chain, local hub, three trained miners), the expected ordering and the EMA carried between
//! rounds; a crash after every step resumes the round and sets weights exactly once; a held
//! lock stops a second run; a miner whose hash mismatches is scored inf with the reason.

mod common;
use common::root;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sn9"))
}

/// Runs scripts/demo.sh (with this build's binary) in `dir`.
fn demo(dir: &Path, setup_only: bool) -> std::process::Output {
    let mut c = Command::new("bash");
    c.arg(root().join("scripts/demo.sh")).arg(bin()).arg(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("SN9_") || k.starts_with("HF_") {
            c.env_remove(k);
        }
    }
    if setup_only {
        c.env("SN9_DEMO_SETUP_ONLY", "1");
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "demo failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The directory of the latest validator round.
fn last_round(dir: &Path) -> PathBuf {
    let rounds = dir.join("vali-state/rounds");
    let last: u64 = std::fs::read_dir(&rounds)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
        .max()
        .unwrap();
    rounds.join(last.to_string())
}

fn chain_state(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("chain/chain.json")).unwrap()).unwrap()
}

/// `sn9` with the demo world's settings.
fn sn9(dir: &Path) -> Command {
    let mut c = Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("SN9_") || k.starts_with("HF_") {
            c.env_remove(k);
        }
    }
    c.env(
        "SN9_NETWORK",
        format!("file://{}", dir.join("chain").display()),
    )
    .env("SN9_HUB", format!("file://{}", dir.join("hub").display()))
    .env("SN9_WALLET_PATH", dir.join("wallets"))
    .env("SN9_SCHEDULE", root().join("fixtures/demo/schedule.json"))
    .env("HF_HOME", dir.join("hf"))
    .env(
        "SN9_VOCODER",
        root().join("fixtures/ttsref/vocos_tiny/model"),
    )
    .env("SN9_ASR", root().join("fixtures/ttsref/whisper_tiny"))
    .current_dir(dir);
    c
}

fn validate(dir: &Path) -> Command {
    let mut c = sn9(dir);
    c.args([
        "validate",
        "--once",
        "--state-dir",
        "vali-state",
        "--eval-data",
        "2=eval,4=eval,6=speech",
        "--wallet-name",
        "vali",
        "--time-limit-s",
        "300",
    ]);
    c
}

#[test]
fn demo_runs_the_whole_subnet_offline() {
    let d = tempfile::tempdir().unwrap();
    let out = demo(d.path(), false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("validator round 2"), "{text}");
    let s = chain_state(d.path());
    let w = s["subnets"]["9"]["weights"].as_array().unwrap();
    assert_eq!(w.len(), 2, "weights set once per round");
    // Every competition has its winner, weighted by its reward (15%, 30%, 55%): the
    // longest-trained, earliest text miner (uid 1) in competition 2, the only (valid) one in
    // competition 4 (uid 2), the better of the two TTS miners (uid 4) in competition 6.
    assert_eq!(w[0]["uids"], serde_json::json!([1, 2, 4]));
    assert_eq!(w[0]["weights"], serde_json::json!([17873, 35746, 65535]));
    let tts_rows: Vec<Value> = std::fs::read_to_string(last_round(d.path()).join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["competition"] == 6)
        .collect();
    assert_eq!(tts_rows.len(), 2);
    assert!(
        tts_rows
            .iter()
            .all(|r| r["task"] == "PPL_SPEECH" && r["loss"].as_f64().is_some())
    );
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(d.path().join("vali-state/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        state["block"].as_u64().unwrap(),
        w[1]["block"].as_u64().unwrap() - 1
    );
    // Round 2 carried round 1's EMA: the losers' competition weight moved off the single-round value.
    let r: Vec<u64> = std::fs::read_dir(d.path().join("vali-state/rounds"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
        .collect();
    assert_eq!(r.len(), 2);
    let score = |b: u64| {
        std::fs::read_to_string(d.path().join(format!("vali-state/rounds/{b}/score.txt"))).unwrap()
    };
    let (b1, b2) = (*r.iter().min().unwrap(), *r.iter().max().unwrap());
    assert!(score(b1).contains("3.784e-44"));
    assert!(score(b2).contains("3.924e-44"), "{}", score(b2));
    // Losses are ordered as the training was: uid 1 < uid 2.
    let losses: Vec<(u64, f64)> = std::fs::read_to_string(
        d.path()
            .join(format!("vali-state/rounds/{b1}/results.jsonl")),
    )
    .unwrap()
    .lines()
    .map(|l| serde_json::from_str::<Value>(l).unwrap())
    .map(|v| {
        (
            v["uid"].as_u64().unwrap(),
            v["loss"].as_f64().unwrap_or(f64::INFINITY),
        )
    })
    .collect();
    let l = |u: u64| losses.iter().find(|x| x.0 == u).unwrap().1;
    assert!(l(1) < l(2), "{losses:?}");
}

#[test]
fn a_crash_after_any_step_resumes_and_sets_weights_once() {
    let d = tempfile::tempdir().unwrap();
    demo(d.path(), true);
    let steps = ["sync", "plan", "pull", "data", "eval", "score", "weights"];
    for (i, step) in steps.iter().enumerate() {
        let out = validate(d.path())
            .env("SN9_VALIDATE_FAIL_AFTER", step)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(3),
            "{step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = validate(d.path()).output().unwrap();
        assert!(
            out.status.success(),
            "{step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let w = chain_state(d.path())["subnets"]["9"]["weights"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(
            w.len(),
            i + 1,
            "after a crash at {step}: weights set once per round"
        );
        assert_eq!(w[i]["uids"], w[0]["uids"]);
        assert_eq!(w[i]["weights"], w[0]["weights"]);
        assert!(!d.path().join("vali-state/current-round").exists());
        sn9(d.path())
            .args(["chain", "local", "advance", "11"])
            .output()
            .unwrap();
    }
    // A second run while a round holds the lock does nothing.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(d.path().join("vali-state/validate.lock"))
        .unwrap();
    f.lock().unwrap();
    let out = validate(d.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another `sn9 validate` round is running")
    );
}

#[test]
fn a_mismatched_hash_is_scored_inf_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    demo(d.path(), true);
    // Miner 3 re-commits its model with somebody else's secure hash.
    let c: Vec<Value> = String::from_utf8(
        sn9(d.path())
            .args(["--json", "chain", "commitments"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    let m1 = &c[0]["model_id"];
    let m3 = &c[2]["model_id"];
    let meta = format!(
        "{}:{}:{}:{}:2",
        m3["namespace"].as_str().unwrap(),
        m3["name"].as_str().unwrap(),
        m3["commit"].as_str().unwrap(),
        m1["secure_hash"].as_str().unwrap()
    );
    let out = sn9(d.path())
        .args(["chain", "commit", &meta, "--wallet-name", "m3"])
        .output()
        .unwrap();
    common::ok(&out);
    sn9(d.path())
        .args(["chain", "local", "advance", "12"])
        .output()
        .unwrap();
    let out = validate(d.path()).output().unwrap();
    common::ok(&out);
    let b = last_round(d.path());
    let rows: Vec<Value> = std::fs::read_to_string(b.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let r3 = rows.iter().find(|r| r["uid"] == 3).unwrap();
    assert_eq!(r3["loss"], "inf");
    assert!(r3["error"].as_str().unwrap().contains("expected"), "{r3}");
    let events = std::fs::read_to_string(b.join("events.jsonl")).unwrap();
    assert!(events.contains("pull_failed"));
}

/// The hub going away mid-round: bounded retries, then a clear failure (exit 2) that scores
/// nobody as failed and leaves the state as it was; the next run resumes and completes.
#[test]
fn a_hub_outage_stops_the_round_without_zeroing_models() {
    let d = tempfile::tempdir().unwrap();
    demo(d.path(), true);
    let out = validate(d.path())
        .env("SN9_HUB", "http://127.0.0.1:1")
        .env("SN9_RETRIES", "1")
        .env("SN9_BACKOFF_MS", "10")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!d.path().join("vali-state/state.json").exists());
    assert!(d.path().join("vali-state/current-round").exists());
    assert!(
        chain_state(d.path())["subnets"]["9"]["weights"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let out = validate(d.path()).output().unwrap();
    common::ok(&out);
    let b = last_round(d.path());
    let rows = std::fs::read_to_string(b.join("results.jsonl")).unwrap();
    assert!(
        rows.lines()
            .any(|l| l.contains("\"uid\":1") && !l.contains("\"inf\"")),
        "{rows}"
    );
    assert!(
        std::fs::read_to_string(b.join("events.jsonl"))
            .unwrap()
            .contains("pull_interrupted")
    );
}

/// A model over the memory cap, and a repository that vanished: scored inf with the reason in
/// the round's results, the round still completes and sets weights.
#[test]
fn memory_cap_and_vanished_repos_are_scored_with_reasons() {
    let d = tempfile::tempdir().unwrap();
    demo(d.path(), true);
    let rows = |d: &Path| -> Vec<Value> {
        std::fs::read_to_string(last_round(d).join("results.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let out = validate(d.path())
        .args(["--memory-limit-mb", "1"])
        .output()
        .unwrap();
    common::ok(&out);
    let r = rows(d.path());
    assert_eq!(r.len(), 5, "three text and two TTS models");
    assert!(
        r.iter().all(|x| x["loss"] == "inf" && {
            let e = x["error"].as_str().unwrap();
            e.contains("allocate memory") || e.contains("out of memory")
        }),
        "{r:?}"
    );
    sn9(d.path())
        .args(["chain", "local", "advance", "11"])
        .output()
        .unwrap();
    std::fs::remove_dir_all(d.path().join("hub/models/miner2")).unwrap();
    let out = validate(d.path()).output().unwrap();
    common::ok(&out);
    let r = rows(d.path());
    let r2 = r.iter().find(|x| x["uid"] == 2).unwrap();
    assert_eq!(r2["loss"], "inf");
    assert!(
        r2["error"].as_str().unwrap().contains("does not exist"),
        "{r2}"
    );
    assert!(r.iter().find(|x| x["uid"] == 1).unwrap()["loss"].is_f64());
}

/// A round against a subtensor node (the in-process replay node of tests/common/replay.rs,
/// serving the demo world's neurons and commitments as a mechagraph): the evaluation data is
/// sampled at the sync block from a (fake) datasets-server, and the weights go out as a signed
/// `set_weights` extrinsic carrying exactly the round's u16 weights. Before that, with the node
/// unreachable, the round stops with a clear environment error and leaves no state.
#[test]
fn a_round_against_a_node_samples_its_data_and_submits_weights() {
    use common::replay::{Behaviour, NeuronSpec, ReplayNode, mechagraph, mechagraph_request};
    let d = tempfile::tempdir().unwrap();
    demo(d.path(), true);
    let s = chain_state(d.path());
    let sn = &s["subnets"]["9"];
    let key = |a: &Value| sn9::chain::ss58::decode(a.as_str().unwrap()).unwrap().1;
    let neurons: Vec<NeuronSpec> = sn["neurons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| NeuronSpec {
            hotkey: key(&n["hotkey"]),
            coldkey: key(&n["coldkey"]),
            validator_permit: n["validator_permit"].as_bool().unwrap(),
            stake_rao: (n["stake"].as_f64().unwrap() * 1e9) as u64,
            registered_at: n["registered_at"].as_u64().unwrap(),
            last_update: 0,
        })
        .collect();
    let commitments: Vec<([u8; 32], String, u32)> = sn["commitments"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(hk, c)| {
            (
                key(&Value::String(hk.clone())),
                c["data"].as_str().unwrap().to_string(),
                c["block"].as_u64().unwrap() as u32,
            )
        })
        .collect();
    assert_eq!(commitments.len(), 5, "three text and two TTS miners");
    let node = ReplayNode::start(Behaviour::default());
    node.add_call(
        "SubnetInfoRuntimeApi_get_selective_mechagraph",
        &mechagraph_request(9),
        &mechagraph(9, &neurons, &commitments, false),
    );
    let server = common::FakeDatasetsServer::start(
        vec![("CC-MAIN-2024-10".to_string(), 888_888)],
        common::Faults::default(),
    );
    let round = |network: &str| {
        let mut c = sn9(d.path());
        c.env("SN9_NETWORK", network)
            .env("SN9_DATASETS_SERVER", &server.url)
            .args([
                "validate",
                "--once",
                "--state-dir",
                "node-state",
                "--tokenizer",
            ])
            .arg(root().join("fixtures/tokenizer/bytes"))
            .args(["--wallet-name", "vali", "--time-limit-s", "300"]);
        c.output().unwrap()
    };

    // Nobody listening: bounded retries, exit 2, nothing kept as state.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = round(&format!("ws://127.0.0.1:{port}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("gave up after"), "{err}");
    assert!(!d.path().join("node-state/state.json").exists());

    let out = round(&node.url);
    common::ok(&out);
    let rounds = d.path().join("node-state/rounds");
    let dir = rounds.join("6852690");
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    assert!(events.contains("\"weights_set\""), "{events}");
    // The data: the competition's sample at the sync block, from the node's block hash.
    let m: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("batches-2/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(m["origin"]["sync_block"], 6_852_600);
    assert!(!server.requests().is_empty());
    // The TTS competition's loader fails on this (text-only) server: as in the reference, its
    // task is skipped and with no task left every loadable model scores 0.
    let m6: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("batches-6/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(m6["tasks"], serde_json::json!([]));
    assert!(m6["origin"]["tasks"][0]["skipped"].is_string(), "{m6}");
    let rows: Vec<Value> = std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &Value| v["competition"] == 6)
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r["score"] == 0.0 && r["error"].is_null()),
        "{rows:?}"
    );
    // The extrinsic: set_weights(9, the round's u16 uids and weights, 4062).
    let w: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("weights.json")).unwrap()).unwrap();
    let sent = node.submitted.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let xt = common::hex_bytes(&sent[0]);
    let u16s = |k: &str| -> Vec<u16> {
        w[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u16)
            .collect()
    };
    let md = std::fs::read(root().join("fixtures/chain/finney-spec343-v15.scale")).unwrap();
    let genesis: [u8; 32] = common::hex_bytes(
        common::replay::recording()["genesis_hash"]
            .as_str()
            .unwrap(),
    )
    .try_into()
    .unwrap();
    let call = sn9::chain::subtensor::Encoder::new(&md, genesis, 343, 1)
        .unwrap()
        .call_data(&sn9::chain::subtensor::Call::SetWeights {
            netuid: 9,
            dests: u16s("u16_uids"),
            weights: u16s("u16_weights"),
            version_key: 4062,
        })
        .unwrap();
    assert!(
        xt.ends_with(&call),
        "the extrinsic carries the round's weights"
    );
    assert!(d.path().join("node-state/state.json").exists());
}
