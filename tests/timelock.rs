//! sn9's drand timelock against the SDK's own implementation (`bittensor-drand` 2.0.0 from PyPI,
//! in a venv under the target directory; skipped with the reason when Python or PyPI is not
//! available): each side decrypts what the other encrypted to quicknet round 1000 with that
//! round's published signature, and both predict the same reveal round for the same epoch state.

mod common;

use serde_json::Value;
use sn9::chain::timelock::{
    EpochState, decrypt, encrypt, first_reveal_block, reveal_round, weights_payload,
};

/// drand quicknet's published round-1000 signature.
const SIG_1000: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Runs `script` with the venv's python and `arg`; its stdout as JSON.
fn python(py: &std::path::Path, script: &str, arg: &str) -> Value {
    let out = std::process::Command::new(py)
        .args(["-c", script, arg])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const SCRIPT: &str = r#"
import json, sys, time
import bittensor_drand as d
sig = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39"
a = json.loads(sys.argv[1])
payload = bytes.fromhex(a["payload"])
# encrypt_at_round returns SCALE (Vec<u8> ciphertext, u64 round); decrypt_with_signature reads it.
wrapped, _ = d.encrypt_at_round(payload, 1000)
ours = bytes.fromhex(a["ours"])
n = len(ours) << 2 | 1
ours_wrapped = n.to_bytes(2, "little") + ours + (1000).to_bytes(8, "little")
rounds = []
for s in a["states"]:
    before = time.time()
    _, r = d.get_encrypted_commit_v2([0, 1], [65535, 1], 4062, s["last_epoch_block"],
        s["pending_epoch_at"], s["subnet_epoch_index"], s["tempo"], s["blocks_since_last_step"],
        s["current_block"], s["period"], 12.0, bytes(32))
    rounds.append({"round": r, "before": before, "after": time.time()})
print(json.dumps({"theirs": wrapped.hex(), "ours_plain": d.decrypt_with_signature(ours_wrapped, sig).hex(),
    "rounds": rounds}))
"#;

#[test]
fn timelock_and_reveal_round_match_bittensor_drand() {
    let Some(py) = common::python_venv("py-drand", &["bittensor-drand==2.0.0"]) else {
        return;
    };
    let sig = common::hex_bytes(SIG_1000);
    let payload = weights_payload(&[7; 32], &[0, 1, 2, 255], &[65535, 32768, 1, 0], 4062);
    let ours = encrypt(&payload, 1000).unwrap();
    let states: Vec<(EpochState, u64)> = vec![
        (
            EpochState {
                last_epoch_block: 100,
                pending_epoch_at: 0,
                subnet_epoch_index: 0,
                tempo: 50,
                blocks_since_last_step: 0,
                current_block: 120,
            },
            1,
        ),
        (
            EpochState {
                last_epoch_block: 6_852_600,
                pending_epoch_at: 0,
                subnet_epoch_index: 19_000,
                tempo: 360,
                blocks_since_last_step: 90,
                current_block: 6_852_690,
            },
            2,
        ),
        (
            EpochState {
                last_epoch_block: 6_852_600,
                pending_epoch_at: 6_852_700,
                subnet_epoch_index: 19_000,
                tempo: 360,
                blocks_since_last_step: 90,
                current_block: 6_852_690,
            },
            1,
        ),
        (
            EpochState {
                last_epoch_block: 1000,
                pending_epoch_at: 0,
                subnet_epoch_index: 3,
                tempo: 99,
                blocks_since_last_step: 60_000,
                current_block: 1_050,
            },
            3,
        ),
    ];
    let arg = serde_json::json!({
        "payload": hex(&payload),
        "ours": hex(&ours),
        "states": states.iter().map(|(s, p)| serde_json::json!({
            "last_epoch_block": s.last_epoch_block, "pending_epoch_at": s.pending_epoch_at,
            "subnet_epoch_index": s.subnet_epoch_index, "tempo": s.tempo,
            "blocks_since_last_step": s.blocks_since_last_step,
            "current_block": s.current_block, "period": p})).collect::<Vec<_>>(),
    });
    let t0 = now();
    let got = python(&py, SCRIPT, &arg.to_string());
    let t1 = now();
    assert!(t1 - t0 < 600.0);

    // The SDK decrypts sn9's ciphertext.
    assert_eq!(got["ours_plain"].as_str().unwrap(), hex(&payload));
    // sn9 decrypts the SDK's (its SCALE wrapper: a 2-byte compact length, the ciphertext, the round).
    let theirs = common::hex_bytes(got["theirs"].as_str().unwrap());
    let ct = &theirs[2..theirs.len() - 8];
    assert_eq!(
        u64::from_le_bytes(theirs[theirs.len() - 8..].try_into().unwrap()),
        1000
    );
    assert_eq!(decrypt(ct, &sig).unwrap(), payload);

    // The same reveal round from the same state, at the same moment.
    for ((s, period), r) in states.iter().zip(got["rounds"].as_array().unwrap()) {
        let first = first_reveal_block(s, *period).unwrap();
        let lo = reveal_round(first, s.current_block, 12.0, r["before"].as_f64().unwrap());
        let hi = reveal_round(first, s.current_block, 12.0, r["after"].as_f64().unwrap());
        let theirs = r["round"].as_u64().unwrap();
        assert!(
            (lo..=hi).contains(&theirs),
            "{s:?} period {period}: sn9 {lo}..={hi}, bittensor-drand {theirs}"
        );
    }
}
