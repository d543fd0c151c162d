//! `sn9 chain ... --network ws://127.0.0.1:PORT` against the in-process replay node
//! (tests/common/replay.rs, real Finney responses at block 6,852,690): the metagraph and
//! commitments equal the SDK's decoding; submissions carry exactly the SDK's bytes (the golden
//! mortal extrinsics, nonce 7, era 64 from the recorded head) with signatures that verify; lying,
//! refusing, failing and unreachable nodes give clear errors and get nothing signed.

mod common;
use common::replay::{
    Behaviour, INCLUDED_NUMBER, ReplayNode, field_mut, item, mechagraph_request, num,
    recorded_call, recording, set_bytes,
};
use common::{hex0x, root, sn9};

use std::path::Path;

use serde_json::{Value, json};
use subxt::ext::scale_value::Value as SValue;

fn golden() -> Value {
    common::fixture_json("chain/golden_chain_calls_spec343.json")
}

fn metadata() -> subxt::Metadata {
    let md = std::fs::read(root().join("fixtures/chain/finney-spec343-v15.scale")).unwrap();
    subxt::Metadata::decode_from(&md[..]).unwrap()
}

/// `sn9 --json chain ARGS --network URL` plus the test wallet.
fn chain(url: &str, args: &[&str]) -> std::process::Command {
    let mut c = sn9();
    c.arg("--json")
        .arg("chain")
        .args(args)
        .args(["--network", url])
        .env("SN9_WALLET_PATH", root().join("fixtures/chain/wallet"))
        .env("SN9_WALLET_NAME", "sn9test");
    c
}

fn ok_json(c: &mut std::process::Command) -> Value {
    let out = c.output().unwrap();
    common::ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs and expects exit `code` with `needle` in stderr.
fn fails(c: &mut std::process::Command, code: i32, needle: &str) -> String {
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(needle), "expected `{needle}` in: {err}");
    err
}

/// The recorded netuid-1 mechagraph re-encoded as netuid 9 with the test hotkey at uid 3 (a
/// validator that never set weights), no weights version and commit-reveal on or off.
fn mechagraph_netuid9(commit_reveal: bool) -> String {
    let md = metadata();
    let api = md
        .runtime_api_trait_by_name("SubnetInfoRuntimeApi")
        .unwrap()
        .method_by_name("get_selective_mechagraph")
        .unwrap();
    let ty = api.output_ty();
    let raw = common::hex_bytes(&recorded_call(
        "SubnetInfoRuntimeApi_get_selective_mechagraph",
    ));
    let mut v =
        subxt::ext::scale_value::scale::decode_as_type(&mut &raw[..], ty, md.types()).unwrap();
    let hotkey = common::hex_bytes(golden()["signer"]["public_key"].as_str().unwrap());
    *field_mut(&mut v, "netuid") = num(9);
    *field_mut(&mut v, "weights_version") = num(0);
    *field_mut(&mut v, "commit_reveal_weights_enabled") =
        SValue::bool(commit_reveal).map_context(|_| 0);
    set_bytes(
        item(field_mut(&mut v, "hotkeys"), 3),
        &mut hotkey.into_iter(),
    );
    *item(field_mut(&mut v, "validator_permit"), 3) = SValue::bool(true).map_context(|_| 0);
    *item(field_mut(&mut v, "last_update"), 3) = num(0);
    let mut out = Vec::new();
    subxt::ext::scale_value::scale::encode_as_type(&v, ty, md.types(), &mut out).unwrap();
    hex0x(&out)
}

fn node_with_netuid9(b: Behaviour) -> ReplayNode {
    let node = ReplayNode::start(b);
    node.add_call(
        "SubnetInfoRuntimeApi_get_selective_mechagraph",
        &mechagraph_request(9),
        &mechagraph_netuid9(false),
    );
    node
}

/// A weights document as `sn9 score --out` writes it.
fn weights_file(dir: &Path, uids: &[u16], weights: &[u16]) -> std::path::PathBuf {
    let p = dir.join(format!("weights-{}.json", uids.len()));
    std::fs::write(
        &p,
        json!({"schema": "sn9.weights", "netuid": 9, "version_key": 4062,
            "u16_uids": uids, "u16_weights": weights})
        .to_string(),
    )
    .unwrap();
    p
}

/// The golden mortal extrinsic of `call`.
fn golden_extrinsic(call: &str) -> Value {
    golden()["extrinsics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["call"] == call && x["era"]["period"] == 64)
        .unwrap()
        .clone()
}

/// Equal to the golden extrinsic except the (randomised) signature, which verifies.
fn assert_sdk_extrinsic(ours: &str, call: &str) {
    let g = golden_extrinsic(call);
    let (ours, theirs) = (
        common::hex_bytes(ours),
        common::hex_bytes(g["extrinsic"].as_str().unwrap()),
    );
    assert_eq!(ours.len(), theirs.len());
    // compact length (2 bytes here), 0x84, 0x00 + 32-byte account, 0x01, 64-byte signature
    let sig_at = 2 + 1 + 1 + 32 + 1;
    assert_eq!(&ours[..sig_at], &theirs[..sig_at]);
    assert_eq!(&ours[sig_at + 64..], &theirs[sig_at + 64..]);
    let payload = common::hex_bytes(g["signer_payload"].as_str().unwrap());
    let signed = if payload.len() > 256 {
        use blake2::Digest;
        blake2::Blake2b::<blake2::digest::consts::U32>::digest(&payload).to_vec()
    } else {
        payload
    };
    assert!(sn9::wallet::verify(
        golden()["signer"]["ss58"].as_str().unwrap(),
        &signed,
        &ours[sig_at..sig_at + 64]
    ));
}

/// Through the binary, the replay node's metagraph, commitments and blocks equal the SDK's
/// decoding of the same recorded responses.
#[test]
fn metagraph_and_commitments_from_a_node_match_the_sdk() {
    let node = ReplayNode::start(Behaviour::default());
    let rec = recording();
    let g: Value = common::fixture_json("chain/golden_metagraph_decode_spec343.json");
    let want = &g["decoded_summary"]["SubnetInfoRuntimeApi_get_selective_mechagraph"];
    let m = ok_json(&mut chain(&node.url, &["metagraph", "--netuid", "1"]));
    assert_eq!(m["block"], want["block"]);
    assert_eq!(m["block_hash"], rec["block_hash"]);
    assert_eq!(m["genesis_hash"], rec["genesis_hash"]);
    let n = m["neurons"].as_array().unwrap();
    assert_eq!(n.len() as u64, want["hotkeys_len"].as_u64().unwrap());
    for i in 0..3 {
        assert_eq!(n[i]["uid"], i);
        assert_eq!(n[i]["hotkey"], want["hotkeys_first3"][i]);
        assert_eq!(n[i]["last_update"], want["last_update_first3"][i]);
        assert_eq!(
            n[i]["stake"].as_f64().unwrap(),
            want["total_stake_first3"][i].as_u64().unwrap() as f64 / 1e9
        );
    }
    let lite = &g["decoded_summary"]["NeuronInfoRuntimeApi_get_neurons_lite"]["first"];
    assert_eq!(n[0]["coldkey"], lite["coldkey"]);
    assert_eq!(
        n.iter().filter(|x| x["validator_permit"] == true).count() as u64,
        want["validator_permit_true"].as_u64().unwrap()
    );
    let hp = &m["hyperparams"];
    assert_eq!(hp["tempo"], want["tempo"]);
    assert_eq!(hp["weights_rate_limit"], want["weights_rate_limit"]);
    assert_eq!(hp["weights_version_key"], want["weights_version"]);
    assert_eq!(
        hp["commit_reveal_weights_enabled"],
        want["commit_reveal_weights_enabled"]
    );
    // The table and CSV forms of the same data.
    let out = sn9()
        .args(["chain", "metagraph", "--netuid", "1", "--csv", "--network"])
        .arg(&node.url)
        .output()
        .unwrap();
    common::ok(&out);
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv.lines().count(), 1 + 1024);
    assert!(csv.lines().nth(1).unwrap().starts_with(&format!(
        "0,{}",
        want["hotkeys_first3"][0].as_str().unwrap()
    )));

    // Commitments: one JSON line per metagraph hotkey with one, each decoded from the runtime's
    // `Registration` bytes (these netuid-1 ones are not sn9 metadata: listed with the reason).
    let out = chain(&node.url, &["commitments", "--netuid", "1"])
        .output()
        .unwrap();
    common::ok(&out);
    let rows = common::json_lines(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(rows.len() as u64, want["commitments"].as_u64().unwrap());
    for r in &rows {
        assert!(r["block"].as_u64().unwrap() <= 6_852_690, "{r}");
        assert!(r["invalid"].is_string() || r["model_id"].is_object(), "{r}");
        match r["uid"].as_u64() {
            Some(u) => assert_eq!(n[u as usize]["hotkey"], r["hotkey"]),
            None => assert!(
                r["invalid"]
                    .as_str()
                    .unwrap()
                    .contains("not in the metagraph")
            ),
        }
    }

    // Blocks: the head, a past block, the genesis, and the future.
    let b = ok_json(&mut chain(&node.url, &["block"]));
    assert_eq!(b["block"], 6_852_690);
    assert_eq!(b["hash"], rec["block_hash"]);
    let b = ok_json(&mut chain(&node.url, &["block", "--at", "0"]));
    assert_eq!(b["hash"], rec["genesis_hash"]);
    fails(
        &mut chain(&node.url, &["block", "--at", "6852700"]),
        1,
        "future",
    );
    // A subnet the node does not have.
    node.add_call(
        "SubnetInfoRuntimeApi_get_selective_mechagraph",
        &mechagraph_request(77),
        "0x00",
    );
    fails(
        &mut chain(&node.url, &["metagraph", "--netuid", "77"]),
        1,
        "subnet 77 does not exist",
    );
    // Read-only commands never submit.
    assert!(node.submitted.lock().unwrap().is_empty());
}

/// `chain weights set` and `chain commit` send the SDK's exact extrinsics, watch them into a
/// block and check the block's events; `--dry-run` prints the SDK's signer payload and sends
/// nothing.
#[test]
fn weights_and_commitments_are_submitted_as_the_sdk_would() {
    let node = node_with_netuid9(Behaviour::default());
    let d = tempfile::tempdir().unwrap();
    let g = golden();
    let wf = weights_file(d.path(), &[0, 1, 2, 255], &[65535, 32768, 1, 0]);

    let dry = ok_json(chain(&node.url, &["weights", "set", "--dry-run", "--netuid", "9"]).arg(&wf));
    let gx = golden_extrinsic("set_weights");
    assert_eq!(dry["signer_payload"], gx["signer_payload"]);
    assert_eq!(dry["nonce"], 7);
    assert_eq!(dry["era"]["block"], 6_852_690);
    let call = g["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["call"] == "set_weights")
        .unwrap();
    assert_eq!(dry["call_data"], call["call_data"]);
    assert!(node.submitted.lock().unwrap().is_empty());

    let set = ok_json(chain(&node.url, &["weights", "set", "--netuid", "9"]).arg(&wf));
    assert_eq!(set["block"], INCLUDED_NUMBER);
    let sent = node.submitted.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_sdk_extrinsic(&sent[0], "set_weights");
    assert!(node.methods().contains(&"chain_getBlock".to_string()));

    let commitment = g["sn9_commitment_string"].as_str().unwrap();
    let c = ok_json(&mut chain(
        &node.url,
        &["commit", commitment, "--netuid", "9"],
    ));
    assert_eq!(c["block"], INCLUDED_NUMBER);
    let sent = node.submitted.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    assert_sdk_extrinsic(&sent[1], "set_commitment");
}

/// `System.Events` of the including block: `ExtrinsicFailed` with
/// `SubtensorModule.SettingWeightsTooFast` for extrinsic 0.
fn events_failed() -> String {
    let md = metadata();
    let p = md.pallet_by_name("SubtensorModule").unwrap();
    let err = p
        .error_variants()
        .unwrap()
        .iter()
        .find(|v| v.name == "SettingWeightsTooFast")
        .unwrap()
        .index;
    // count, phase ApplyExtrinsic(0), System, ExtrinsicFailed, DispatchError::Module {index 7,
    // error [err,0,0,0]}, dispatch info (weight 0/0, Normal, Yes), no topics
    hex0x(&[4, 0, 0, 0, 0, 0, 0, 1, 3, 7, err, 0, 0, 0, 0, 0, 0, 0, 0])
}

/// Lying, refusing, failing, flaky and unreachable nodes; bad weights and commitments.
#[test]
fn bad_nodes_and_bad_input_get_clear_errors_and_nothing_signed() {
    let d = tempfile::tempdir().unwrap();
    let wf = weights_file(d.path(), &[0, 1, 2, 255], &[65535, 32768, 1, 0]);
    let g = golden();
    let commitment = g["sn9_commitment_string"].as_str().unwrap();

    // Another chain than the one asked for.
    let node = node_with_netuid9(Behaviour {
        genesis: Some(format!("0x{}", "ab".repeat(32))),
        ..Default::default()
    });
    let genesis = recording()["genesis_hash"].as_str().unwrap().to_string();
    fails(
        chain(
            &node.url,
            &["weights", "set", "--netuid", "9", "--genesis", &genesis],
        )
        .arg(&wf),
        1,
        "nothing was sent",
    );
    assert!(node.submitted.lock().unwrap().is_empty());

    // Metadata that does not decode.
    let node = node_with_netuid9(Behaviour {
        garbage_metadata: true,
        ..Default::default()
    });
    fails(
        &mut chain(&node.url, &["metagraph", "--netuid", "9"]),
        2,
        "metadata",
    );

    // The pool refuses the transaction.
    let node = node_with_netuid9(Behaviour {
        refuse: Some((1010, "Invalid Transaction".into(), "Custom error: 6".into())),
        ..Default::default()
    });
    fails(
        chain(&node.url, &["weights", "set", "--netuid", "9"]).arg(&wf),
        1,
        "Invalid Transaction (Custom error: 6)",
    );

    // Included, but the runtime refused it at dispatch.
    let node = node_with_netuid9(Behaviour {
        events: Some(events_failed()),
        ..Default::default()
    });
    fails(
        chain(&node.url, &["weights", "set", "--netuid", "9"]).arg(&wf),
        1,
        "SubtensorModule.SettingWeightsTooFast",
    );

    // Checked before anything is signed: uids outside the metagraph, all-zero weights, a
    // commitment over 128 bytes, commit-reveal on (netuid 1).
    let node = node_with_netuid9(Behaviour::default());
    let far = weights_file(d.path(), &[0, 5000], &[1, 2]);
    fails(
        chain(&node.url, &["weights", "set", "--netuid", "9"]).arg(&far),
        1,
        "uid 5000",
    );
    let zero = weights_file(d.path(), &[0, 1, 2], &[0, 0, 0]);
    fails(
        chain(&node.url, &["weights", "set", "--netuid", "9"]).arg(&zero),
        1,
        "all weights are zero",
    );
    let long = format!("{commitment}:{}", "x".repeat(30));
    fails(
        &mut chain(&node.url, &["commit", &long, "--netuid", "9"]),
        1,
        "136 bytes, over the chain's 128-byte limit",
    );
    let one = d.path().join("w1.json");
    std::fs::write(
        &one,
        json!({"schema": "sn9.weights", "netuid": 1, "version_key": 99999,
            "u16_uids": [0], "u16_weights": [1]})
        .to_string(),
    )
    .unwrap();
    fails(
        chain(&node.url, &["weights", "set", "--netuid", "1"]).arg(&one),
        1,
        "not registered",
    );
    assert!(node.submitted.lock().unwrap().is_empty());

    // A connection that drops mid-way: reconnected and retried.
    let node = node_with_netuid9(Behaviour {
        drop_after: Some(3),
        ..Default::default()
    });
    let out = chain(&node.url, &["metagraph", "--netuid", "9"])
        .output()
        .unwrap();
    common::ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("retrying"));
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["neurons"][3]["hotkey"], g["signer"]["ss58"]);
    assert_eq!(m["neurons"][3]["validator_permit"], true);

    // Nobody listening: retried with backoff, then an environment error (exit 2).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    fails(
        &mut chain(&format!("ws://127.0.0.1:{port}"), &["block"]),
        2,
        "gave up",
    );
    // Not a network at all.
    fails(&mut chain("mainnet", &["block"]), 1, "--network mainnet");
}

/// On a commit-reveal subnet, `chain weights set` commits the weights timelocked
/// (`commit_timelocked_mechanism_weights`): the commit carries the chain's commit-reveal
/// version and the predicted round, and opens with that round's drand signature to exactly
/// `WeightsTlockPayload(hotkey, uids, values, version_key)`. (The round is forced to 1000 with
/// `SN9_TIMELOCK_ROUND` so the published round-1000 signature can open it here.)
#[test]
fn commit_reveal_subnets_get_timelocked_commits() {
    let node = ReplayNode::start(Behaviour::default());
    node.add_call(
        "SubnetInfoRuntimeApi_get_selective_mechagraph",
        &mechagraph_request(9),
        &mechagraph_netuid9(true),
    );
    // Tempo(9) = 99 (u16), as in the mechagraph.
    let md = std::fs::read(root().join("fixtures/chain/finney-spec343-v15.scale")).unwrap();
    let genesis: [u8; 32] = common::hex_bytes(recording()["genesis_hash"].as_str().unwrap())
        .try_into()
        .unwrap();
    let enc = sn9::chain::subtensor::Encoder::new(&md, genesis, 343, 1).unwrap();
    let key = enc
        .storage_key(
            "SubtensorModule",
            "Tempo",
            vec![sn9::chain::subtensor::StorageKeyPart::Int(9)],
        )
        .unwrap();
    node.add_storage(&hex0x(&key), "0x6300");
    let d = tempfile::tempdir().unwrap();
    let wf = weights_file(d.path(), &[0, 1, 2, 255], &[65535, 32768, 1, 0]);
    // Spec 343 predates the stateful epoch schedule: epochs of tempo + 1 = 100 blocks offset by
    // netuid + 1, so a commit at 6,852,691 is revealed from block 6,852,790.
    let dry = ok_json(chain(&node.url, &["weights", "set", "--dry-run", "--netuid", "9"]).arg(&wf));
    let plan = &dry["commit_reveal"];
    assert_eq!(plan["first_reveal_block"], 6_852_790);
    assert_eq!(plan["version"], 4);
    assert_eq!(plan["reveal_period_epochs"], 1);
    assert_eq!(plan["stateful"], false);
    let secs = (6_852_793 - 6_852_690) as f64 * 12.0;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let want = ((now + secs - 1_692_803_367.0) / 3.0).floor() as i64;
    assert!(
        (plan["reveal_round"].as_i64().unwrap() - want).abs() <= 2,
        "{plan}"
    );
    assert!(node.submitted.lock().unwrap().is_empty());

    let out = chain(&node.url, &["weights", "set", "--netuid", "9"])
        .arg(&wf)
        .env("SN9_TIMELOCK_ROUND", "1000")
        .output()
        .unwrap();
    common::ok(&out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["block"], INCLUDED_NUMBER);
    assert_eq!(v["commit_reveal"]["reveal_round"], 1000);
    assert!(String::from_utf8_lossy(&out.stderr).contains("timelocked to drand round 1000"));
    let xt = common::hex_bytes(&node.submitted.lock().unwrap()[0]);
    // compact length (2) | 0x84 | 0x00 + account | 0x01 + signature | era (2), nonce, tip, mode
    let call = &xt[2 + 1 + 33 + 65 + 5..];
    assert_eq!(
        &call[..5],
        &[7, 118, 9, 0, 0],
        "commit_timelocked_mechanism_weights(9, 0, ..)"
    );
    let (len, at) = match call[5] & 3 {
        1 => ((u16::from_le_bytes([call[5], call[6]]) >> 2) as usize, 7),
        0 => ((call[5] >> 2) as usize, 6),
        _ => panic!("unexpected compact"),
    };
    let commit = &call[at..at + len];
    let rest = &call[at + len..];
    assert_eq!(u64::from_le_bytes(rest[..8].try_into().unwrap()), 1000);
    assert_eq!(u16::from_le_bytes(rest[8..10].try_into().unwrap()), 4);
    assert_eq!(rest.len(), 10);
    let sig = common::hex_bytes(
        "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39",
    );
    let opened = sn9::chain::timelock::decrypt(commit, &sig).unwrap();
    let hotkey: [u8; 32] = common::hex_bytes(golden()["signer"]["public_key"].as_str().unwrap())
        .try_into()
        .unwrap();
    assert_eq!(
        opened,
        sn9::chain::timelock::weights_payload(
            &hotkey,
            &[0, 1, 2, 255],
            &[65535, 32768, 1, 0],
            4062
        )
    );
    // The extrinsic is signed by the hotkey over what the chain will check.
    assert_eq!(
        &xt[3..36],
        &common::hex_bytes(&format!(
            "00{}",
            &golden()["signer"]["public_key"].as_str().unwrap()[2..]
        ))[..]
    );
}
