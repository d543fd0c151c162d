//! `sn9 wallet` and `sn9 chain` through the binary: the SDK's test wallet (addresses, coldkey
//! password), wallets created by sn9, and the local chain (`--network file://DIR`): register,
//! commit, commitments, weights with subtensor's checks, blocks.

mod common;
use common::{hex_bytes, hex0x, root, sn9};

use std::path::Path;

use assert_cmd::prelude::*;
use predicates::prelude::*;
use serde_json::Value;

fn json(c: &mut std::process::Command) -> Value {
    let out = c.output().unwrap();
    common::ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `sn9 wallet show --check-coldkey` on the fixture wallet under `w`.
fn check(w: &Path) -> std::process::Command {
    let mut c = sn9();
    c.args([
        "wallet",
        "show",
        "--check-coldkey",
        "--wallet-name",
        "sn9test",
        "--wallet-path",
    ])
    .arg(w);
    c
}

#[test]
fn sdk_wallet_addresses_and_coldkey_password() {
    let w = root().join("fixtures/chain/wallet");
    let v = json(
        sn9()
            .args([
                "--json",
                "wallet",
                "show",
                "--wallet-name",
                "sn9test",
                "--wallet-path",
            ])
            .arg(&w),
    );
    let pubf = |p: &str| -> String {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(w.join("sn9test").join(p)).unwrap())
                .unwrap();
        v["ss58Address"].as_str().unwrap().to_string()
    };
    assert_eq!(v["coldkey"], pubf("coldkeypub.txt"));
    assert_eq!(v["hotkey"], pubf("hotkeys/defaultpub.txt"));
    let d = tempfile::tempdir().unwrap();
    let good = d.path().join("pw");
    std::fs::write(&good, "correct horse battery staple\n").unwrap();
    check(&w)
        .arg("--password-file")
        .arg(&good)
        .assert()
        .success()
        .stderr(predicate::str::contains("password ok"));
    check(&w)
        .env("SN9_WALLET_PASSWORD", "wrong")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("wrong password"));
    // A corrupt key file is a clear error.
    let bad = d.path().join("bad");
    std::fs::create_dir_all(bad.join("x/hotkeys")).unwrap();
    std::fs::write(bad.join("x/hotkeys/default"), "{not json").unwrap();
    std::fs::write(
        bad.join("x/coldkeypub.txt"),
        std::fs::read(w.join("sn9test/coldkeypub.txt")).unwrap(),
    )
    .unwrap();
    let chain = d.path().join("chain");
    sn9()
        .args(["chain", "local", "init"])
        .arg(&chain)
        .assert()
        .success();
    let meta = format!("alice:tiny:{}:{}=:2", "ab".repeat(20), "Q".repeat(43));
    sn9()
        .args(["chain", "commit", &meta, "--network"])
        .arg(format!("file://{}", chain.display()))
        .args(["--wallet-name", "x", "--wallet-path"])
        .arg(&bad)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("corrupt JSON"));
}

fn setup(d: &Path) -> (String, std::path::PathBuf) {
    let chain = d.join("chain");
    let net = format!("file://{}", chain.display());
    sn9()
        .args(["chain", "local", "init", "--weights-rate-limit", "10"])
        .arg(&chain)
        .assert()
        .success();
    let wallets = d.join("wallets");
    for (name, extra) in [
        ("vali", vec!["--stake", "1000", "--validator"]),
        ("m1", vec![]),
        ("m2", vec![]),
    ] {
        let out = sn9()
            .args([
                "wallet",
                "create",
                "--no-password",
                "--wallet-name",
                name,
                "--wallet-path",
            ])
            .arg(&wallets)
            .output()
            .unwrap();
        assert!(out.status.success());
        // Secrets are never printed.
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(wallets.join(name).join("hotkeys/default")).unwrap(),
        )
        .unwrap();
        let phrase = v["secretPhrase"].as_str().unwrap();
        assert!(!String::from_utf8_lossy(&out.stdout).contains(phrase));
        assert!(!String::from_utf8_lossy(&out.stderr).contains(phrase));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(wallets.join(name).join("hotkeys/default"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        sn9()
            .args([
                "chain",
                "local",
                "register",
                "--network",
                &net,
                "--wallet-name",
                name,
                "--wallet-path",
            ])
            .arg(&wallets)
            .args(extra)
            .assert()
            .success();
    }
    (net, wallets)
}

#[test]
fn local_chain_commit_and_weights() {
    let d = tempfile::tempdir().unwrap();
    let (net, wallets) = setup(d.path());
    let mg = json(sn9().args(["--json", "chain", "metagraph", "--network", &net]));
    assert_eq!(mg["neurons"].as_array().unwrap().len(), 3);
    assert_eq!(mg["neurons"][0]["validator_permit"], true);
    let commit = |who: &str, data: &str| {
        let mut c = sn9();
        c.args([
            "chain",
            "commit",
            data,
            "--network",
            &net,
            "--wallet-name",
            who,
            "--wallet-path",
        ])
        .arg(&wallets);
        c
    };
    let meta =
        format!("alice/tiny:{}:{}=:2", "ab".repeat(20), "Q".repeat(43)).replacen('/', ":", 1);
    let b = commit("m1", &meta).output().unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    // Malformed or oversized metadata is refused before signing.
    commit("m2", "alice:tiny:notasha:x:2")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("40-hex"));
    let long = format!(
        "{}:{}:{}:{}=:2",
        "a".repeat(20),
        "b".repeat(60),
        "ab".repeat(20),
        "Q".repeat(43)
    );
    commit("m2", &long).assert().code(1);
    let out = sn9()
        .args(["--json", "chain", "commitments", "--network", &net])
        .output()
        .unwrap();
    let rows: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["uid"], 1);
    assert_eq!(rows[0]["model_id"]["competition_id"], 2);
    assert_eq!(
        rows[0]["block"].as_u64().unwrap(),
        String::from_utf8(b.stdout)
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    );

    let wfile = d.path().join("w.json");
    let write = |uids: &str, ws: &str| {
        std::fs::write(&wfile, format!(r#"{{"schema":"sn9.weights","netuid":9,"version_key":4062,"u16_uids":{uids},"u16_weights":{ws}}}"#)).unwrap();
    };
    let set = |who: &str, extra: &[&str]| {
        let mut c = sn9();
        c.args(["chain", "weights", "set"])
            .arg(&wfile)
            .args(["--network", &net, "--wallet-name", who, "--wallet-path"])
            .arg(&wallets)
            .args(extra);
        c
    };
    write("[0,1,2]", "[0,65535,3]");
    let dry = json(&mut set("vali", &["--dry-run", "--json"]));
    assert!(dry["signer_payload"].as_str().unwrap().starts_with("0x"));
    set("vali", &[]).assert().success();
    set("vali", &[])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("SettingWeightsTooFast"));
    set("m1", &[])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("NeuronNoValidatorPermit"));
    sn9()
        .args(["chain", "local", "advance", "10", "--network", &net])
        .assert()
        .success();
    write("[0,7]", "[1,1]");
    set("vali", &[])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("uid 7 is not in the metagraph"));
    write("[0,1]", "[0,0]");
    set("vali", &[])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("all weights are zero"));
    write("[0,1,2]", "[5,5,5]");
    set("vali", &[]).assert().success();
    let mg = json(sn9().args(["--json", "chain", "metagraph", "--network", &net]));
    let blk = json(sn9().args(["--json", "chain", "block", "--network", &net]));
    assert_eq!(mg["neurons"][0]["last_update"], blk["block"]);
    assert!(blk["hash"].as_str().unwrap().starts_with("0x"));
}

fn arr<const N: usize>(s: &str) -> [u8; N] {
    hex_bytes(s).try_into().unwrap()
}

/// Every call, signer payload, signed extrinsic and storage key of the SDK's golden file
/// (bittensor 11.3.0 on Finney spec 343) is reproduced byte for byte from the runtime metadata;
/// the recorded signatures verify against the signer's hotkey; sn9's own signatures verify too.
#[test]
fn golden_chain_encodings_match_the_sdk() {
    use sn9::chain::subtensor::{Call, Encoder, Era, StorageKeyPart, decode_commitment_of, sign};
    let g: Value = common::fixture_json("chain/golden_chain_calls_spec343.json");
    let md = std::fs::read(root().join("fixtures/chain/finney-spec343-v15.scale")).unwrap();
    let enc = Encoder::new(&md, arr(g["genesis_hash"].as_str().unwrap()), 343, 1).unwrap();
    let u16s = |v: &Value| -> Vec<u16> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u16)
            .collect()
    };
    let call_of = |c: &Value| -> Call {
        let p = &c["params"];
        let netuid = p["netuid"].as_u64().unwrap() as u16;
        let vk = || p["version_key"].as_u64().unwrap();
        match c["call"].as_str().unwrap() {
            "set_weights" => Call::SetWeights {
                netuid,
                dests: u16s(&p["dests"]),
                weights: u16s(&p["weights"]),
                version_key: vk(),
            },
            "set_mechanism_weights" => Call::SetMechanismWeights {
                netuid,
                mecid: p["mecid"].as_u64().unwrap() as u8,
                dests: u16s(&p["dests"]),
                weights: u16s(&p["weights"]),
                version_key: vk(),
            },
            "commit_weights" => Call::CommitWeights {
                netuid,
                commit_hash: arr(p["commit_hash"].as_str().unwrap()),
            },
            "reveal_weights" => Call::RevealWeights {
                netuid,
                uids: u16s(&p["uids"]),
                values: u16s(&p["values"]),
                salt: u16s(&p["salt"]),
                version_key: vk(),
            },
            "commit_timelocked_weights" => Call::CommitTimelockedWeights {
                netuid,
                commit: hex_bytes(p["commit"].as_str().unwrap()),
                reveal_round: p["reveal_round"].as_u64().unwrap(),
                commit_reveal_version: p["commit_reveal_version"].as_u64().unwrap() as u16,
            },
            "commit_timelocked_mechanism_weights" => Call::CommitTimelockedMechanismWeights {
                netuid,
                mecid: 0,
                commit: hex_bytes(p["commit"].as_str().unwrap()),
                reveal_round: p["reveal_round"].as_u64().unwrap(),
                commit_reveal_version: p["commit_reveal_version"].as_u64().unwrap() as u16,
            },
            "set_commitment" => {
                let (_, v) = p["info"]["fields"][0]
                    .as_object()
                    .unwrap()
                    .iter()
                    .next()
                    .unwrap();
                Call::SetCommitment {
                    netuid,
                    data: hex_bytes(v.as_str().unwrap()),
                }
            }
            other => panic!("unknown call {other}"),
        }
    };
    let calls = g["calls"].as_array().unwrap();
    for c in calls {
        assert_eq!(
            hex0x(&enc.call_data(&call_of(c)).unwrap()),
            c["call_data"].as_str().unwrap(),
            "{}",
            c["call"]
        );
    }
    let signer = g["signer"]["ss58"].as_str().unwrap();
    let pk: [u8; 32] = arr(g["signer"]["public_key"].as_str().unwrap());
    let hotkey = sn9::wallet::load_key(
        &root().join("fixtures/chain/wallet/sn9test/hotkeys/default"),
        || unreachable!(),
    )
    .unwrap();
    assert_eq!(
        hotkey.ss58(),
        signer,
        "the golden signer is the fixture wallet's hotkey"
    );
    for e in g["extrinsics"].as_array().unwrap() {
        let call = call_of(calls.iter().find(|c| c["call"] == e["call"]).unwrap());
        let era = match e["era"].get("period") {
            Some(p) => Era::Mortal {
                period: p.as_u64().unwrap(),
                block: e["era"]["current"].as_u64().unwrap(),
                hash: arr(e["era_block_hash"].as_str().unwrap()),
            },
            None => Era::Immortal,
        };
        let nonce = e["nonce"].as_u64().unwrap();
        let payload = enc.signer_payload(&call, nonce, era).unwrap();
        assert_eq!(
            hex0x(&payload),
            e["signer_payload"].as_str().unwrap(),
            "{} {}",
            e["call"],
            e["era"]
        );
        let sig: [u8; 64] = arr(e["signature_sr25519"].as_str().unwrap());
        // All golden payloads are under 256 bytes: the signature is over the payload itself.
        assert!(payload.len() <= 256);
        assert!(
            sn9::wallet::verify(signer, &payload, &sig),
            "recorded signature of {} does not verify",
            e["call"]
        );
        assert_eq!(
            hex0x(&enc.extrinsic(&call, nonce, era, pk, sig).unwrap()),
            e["extrinsic"].as_str().unwrap()
        );
        let ours = sign(&hotkey, &payload);
        assert!(sn9::wallet::verify(signer, &payload, &ours));
    }
    for k in g["storage_keys"].as_array().unwrap() {
        let parts = k["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| match p {
                Value::Number(n) => StorageKeyPart::Int(n.as_u64().unwrap()),
                Value::String(s) => StorageKeyPart::Account(sn9::chain::ss58::decode(s).unwrap().1),
                _ => panic!(),
            })
            .collect();
        let key = enc
            .storage_key(
                k["pallet"].as_str().unwrap(),
                k["item"].as_str().unwrap(),
                parts,
            )
            .unwrap();
        assert_eq!(
            hex0x(&key),
            k["key"].as_str().unwrap(),
            "{}.{}",
            k["pallet"],
            k["item"]
        );
    }
    let d = &g["decodes"][0];
    let (deposit, block, data) =
        decode_commitment_of(&hex_bytes(d["raw"].as_str().unwrap())).unwrap();
    assert_eq!(deposit, d["decoded"]["deposit"].as_u64().unwrap());
    assert_eq!(block as u64, d["decoded"]["block"].as_u64().unwrap());
    assert_eq!(
        String::from_utf8(data.unwrap()).unwrap(),
        g["sn9_commitment_string"].as_str().unwrap()
    );
    // Over 128 bytes is refused before anything is encoded.
    assert!(
        enc.call_data(&Call::SetCommitment {
            netuid: 9,
            data: vec![b'a'; 129]
        })
        .is_err()
    );
}

/// `sn9 chain encode` through the binary: the SDK's bytes for a commitment, and a signature by
/// the wallet's hotkey that verifies.
#[test]
fn encode_command_matches_the_sdk() {
    let g: Value = common::fixture_json("chain/golden_chain_calls_spec343.json");
    let e = g["extrinsics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["call"] == "set_commitment" && e["era"] == "00")
        .unwrap();
    let v = json(
        sn9()
            .args([
                "--json",
                "chain",
                "encode",
                "set-commitment",
                g["sn9_commitment_string"].as_str().unwrap(),
            ])
            .arg("--metadata")
            .arg(root().join("fixtures/chain/finney-spec343-v15.scale"))
            .args([
                "--spec-version",
                "343",
                "--nonce",
                "7",
                "--sign",
                "--wallet-name",
                "sn9test",
                "--wallet-path",
            ])
            .arg(root().join("fixtures/chain/wallet")),
    );
    assert_eq!(v["signer_payload"], e["signer_payload"]);
    let payload = hex_bytes(v["signer_payload"].as_str().unwrap());
    assert!(sn9::wallet::verify(
        v["signer"].as_str().unwrap(),
        &payload,
        &hex_bytes(v["signature"].as_str().unwrap())
    ));
    // Same extrinsic as the SDK's but for the (randomised) signature bytes.
    let (ours, theirs) = (
        v["extrinsic"].as_str().unwrap(),
        e["extrinsic"].as_str().unwrap(),
    );
    assert_eq!(ours.len(), theirs.len());
    let sig_at = 2 + 2 * (3 + 1 + 32 + 1);
    assert_eq!(&ours[..sig_at], &theirs[..sig_at]);
    assert_eq!(&ours[sig_at + 128..], &theirs[sig_at + 128..]);
}

/// The selective mechagraph recorded from Finney decodes, with the runtime's own types, to what
/// the SDK decoded.
#[test]
fn mechagraph_decode_matches_the_sdk() {
    let md = std::fs::read(root().join("fixtures/chain/finney-spec343-v15.scale")).unwrap();
    let raw = hex_bytes(&common::replay::recorded_call(
        "SubnetInfoRuntimeApi_get_selective_mechagraph",
    ));
    let g: Value = common::fixture_json("chain/golden_metagraph_decode_spec343.json");
    let want = &g["decoded_summary"]["SubnetInfoRuntimeApi_get_selective_mechagraph"];
    let m = sn9::chain::subtensor::decode_mechagraph(&md, &raw).unwrap();
    assert_eq!(m.netuid as u64, want["netuid"].as_u64().unwrap());
    assert_eq!(m.block, want["block"].as_u64().unwrap());
    assert_eq!(m.num_uids, want["num_uids"].as_u64().unwrap());
    assert_eq!(m.max_uids, want["max_uids"].as_u64().unwrap());
    assert_eq!(m.weights_version, want["weights_version"].as_u64().unwrap());
    assert_eq!(
        m.weights_rate_limit,
        want["weights_rate_limit"].as_u64().unwrap()
    );
    assert_eq!(
        m.commit_reveal_weights_enabled,
        want["commit_reveal_weights_enabled"].as_bool().unwrap()
    );
    assert_eq!(
        m.commit_reveal_period,
        want["commit_reveal_period"].as_u64().unwrap()
    );
    assert_eq!(m.tempo, want["tempo"].as_u64().unwrap());
    assert_eq!(
        m.hotkeys.len() as u64,
        want["hotkeys_len"].as_u64().unwrap()
    );
    assert_eq!(serde_json::json!(m.hotkeys[..3]), want["hotkeys_first3"]);
    assert_eq!(
        m.validator_permit.iter().filter(|&&b| b).count() as u64,
        want["validator_permit_true"].as_u64().unwrap()
    );
    assert_eq!(
        serde_json::json!(m.total_stake[..3]),
        want["total_stake_first3"]
    );
    assert_eq!(
        serde_json::json!(m.alpha_stake[..3]),
        want["alpha_stake_first3"]
    );
    assert_eq!(
        serde_json::json!(m.last_update[..3]),
        want["last_update_first3"]
    );
    assert_eq!(
        m.commitments.len() as u64,
        want["commitments"].as_u64().unwrap()
    );
    for (hk, raw) in &m.commitments {
        let (_, block, data) = sn9::chain::subtensor::decode_commitment_of(raw).unwrap();
        assert!(
            block as u64 <= m.block && data.is_some(),
            "{hk}: block {block}"
        );
    }
    // The neurons-lite call agrees on the first neuron's hotkey.
    assert_eq!(
        m.hotkeys[0],
        g["decoded_summary"]["NeuronInfoRuntimeApi_get_neurons_lite"]["first"]["hotkey"]
    );
}
