//! `sn9 wallet` and `sn9 chain` through the binary: the SDK's test wallet (addresses, coldkey
//! password), wallets created by sn9, and the local chain (`--network file://DIR`): register,
//! commit, commitments, weights with subtensor's checks, blocks.

mod common;
use common::{root, sn9};

use std::path::Path;

use assert_cmd::prelude::*;
use predicates::prelude::*;
use serde_json::Value;

fn json(c: &mut std::process::Command) -> Value {
    let out = c.output().unwrap();
    common::ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
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
    sn9()
        .args([
            "wallet",
            "show",
            "--check-coldkey",
            "--wallet-name",
            "sn9test",
            "--wallet-path",
        ])
        .arg(&w)
        .arg("--password-file")
        .arg(&good)
        .assert()
        .success()
        .stderr(predicate::str::contains("password ok"));
    sn9()
        .args([
            "wallet",
            "show",
            "--check-coldkey",
            "--wallet-name",
            "sn9test",
            "--wallet-path",
        ])
        .arg(&w)
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
    // Live networks are not reachable from this build: a clear error.
    sn9()
        .args(["chain", "block", "--network", "finney"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("file://DIR"));
}
