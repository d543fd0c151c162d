//! End-to-end tests of the `sn9` binary: each spawns it on temp dirs, as a user or script would.

mod common;
use common::{golden, root, sn9};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use assert_cmd::prelude::*;
use predicates::prelude::*;
use serde_json::{Value, json};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn row(uid: u64, comp: u64, block: Value, task: &str, loss: Value) -> String {
    json!({"uid": uid, "hotkey": format!("hk{uid}"), "competition": comp, "block": block, "task": task, "loss": loss})
        .to_string()
}

/// Replays the reference validator's 9 golden steps through `sn9 score` with a state file:
/// the u16 weights printed by the binary must equal the reference's at every step.
#[test]
fn score_replays_reference_pipeline() {
    let g = golden();
    let Some(p) = g.get("validator_weights_pipeline") else {
        eprintln!("validator_weights_pipeline absent from the golden file; skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let n = p["num_neurons"].as_u64().unwrap();
    for st in p["steps"].as_array().unwrap() {
        let comp = st["competition_id"].as_u64().unwrap();
        // One task per competition: its weight renormalises to 1, so the loss is the score.
        let task = if comp == 6 { "PPL_SPEECH" } else { "FINEWEB" };
        let mut lines = String::new();
        for uid in st["uids"].as_array().unwrap() {
            let k = uid.to_string();
            let block = &st["uid_to_block"][&k];
            let block = if block.is_string() {
                Value::Null
            } else {
                block.clone()
            };
            lines += &row(
                uid.as_u64().unwrap(),
                comp,
                block,
                task,
                st["uid_to_score"][&k].clone(),
            );
            lines.push('\n');
        }
        let results = write(dir.path(), "results.jsonl", &lines);
        let out = sn9()
            .args(["--json", "score"])
            .arg(&results)
            .args([
                "--block",
                &st["current_block"].to_string(),
                "--neurons",
                &n.to_string(),
            ])
            .arg("--state")
            .arg(&state)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "step {}: {}",
            st["step"],
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["u16_uids"], st["u16_uids"], "step {}", st["step"]);
        assert_eq!(doc["u16_weights"], st["u16_weights"], "step {}", st["step"]);
        assert_eq!(doc["version_key"], 4062);
    }
}

fn results_fixture(dir: &Path) -> PathBuf {
    let lines = [
        row(3, 2, json!(100), "FINEWEB", json!(2.0)),
        row(3, 2, json!(100), "STACKV2_DEDUP", json!(1.5)),
        row(5, 2, json!(200), "FINEWEB", json!(1.9)),
        row(5, 2, json!(200), "STACKV2_DEDUP", json!(1.4)),
        row(7, 2, json!(300), "FINEWEB", json!(2.0)),
        row(7, 2, json!(300), "STACKV2_DEDUP", json!(1.5)),
        row(9, 2, Value::Null, "FINEWEB", json!("inf")),
        row(9, 2, Value::Null, "STACKV2_DEDUP", json!("inf")),
    ];
    write(dir, "results.jsonl", &(lines.join("\n") + "\n"))
}

#[test]
fn score_table_explain_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let results = results_fixture(dir.path());
    sn9()
        .arg("score")
        .arg(&results)
        .args(["--block", "400", "--explain"])
        .assert()
        .success()
        .stdout(predicate::str::contains("uid  weight"))
        .stdout(predicate::str::contains(
            "not competitive: uid 3 (block 100)",
        ))
        .stderr(predicate::str::contains(
            "competition 2 (B3_MODEL): 4 evaluated",
        ));
    let out = sn9()
        .arg("score")
        .arg(&results)
        .args(["--block", "400", "--csv"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("uid,weight,u16\n"), "{text}");
    // uid 5 (better by more than epsilon) beats uid 3; uid 7 is a later clone of 3.
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    let top = rows.iter().find(|r| &r[2] == "65535").unwrap();
    assert_eq!(&top[0], "5");
}

#[test]
fn score_reads_stdin_and_eval_block() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(results_fixture(dir.path())).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v["eval_block"] = json!(400);
            v.to_string() + "\n"
        })
        .collect();
    let out = assert_cmd::Command::from_std(sn9())
        .args(["--json", "score", "-"])
        .write_stdin(text)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["block"], 400);
    assert_eq!(doc["num_neurons"], 10);
}

#[test]
fn score_state_carries_ema_and_out_file() {
    let dir = tempfile::tempdir().unwrap();
    let results = results_fixture(dir.path());
    let state = dir.path().join("state.json");
    let weights = dir.path().join("weights.json");
    for block in ["400", "500"] {
        sn9()
            .arg("score")
            .arg(&results)
            .args(["--block", block, "--state"])
            .arg(&state)
            .arg("--out")
            .arg(&weights)
            .assert()
            .success();
    }
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(s["schema"], "sn9.score-state");
    assert_eq!(s["block"], 500);
    assert_eq!(s["models"]["hk5"]["history"].as_array().unwrap().len(), 2);
    let w: Value = serde_json::from_str(&std::fs::read_to_string(&weights).unwrap()).unwrap();
    assert_eq!(w["u16_uids"], json!([5]));
    // Going back in time is refused and leaves the state alone.
    let before = std::fs::read(&state).unwrap();
    sn9()
        .arg("score")
        .arg(&results)
        .args(["--block", "450", "--state"])
        .arg(&state)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("before the state's last round"));
    assert_eq!(std::fs::read(&state).unwrap(), before);
}

/// Bad input: each case exits 1 with a clear one-line error and leaves the state file untouched.
#[test]
fn score_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    sn9()
        .arg("score")
        .arg(results_fixture(dir.path()))
        .args(["--block", "400", "--state"])
        .arg(&state)
        .assert()
        .success();
    let before = std::fs::read(&state).unwrap();
    let good = row(1, 2, json!(10), "FINEWEB", json!(1.0));
    let cases: Vec<(&str, String, &str)> = vec![
        ("malformed", format!("{good}\n{{\"uid\": 2,\n"), "line 2"),
        (
            "unknown competition",
            row(1, 77, json!(10), "FINEWEB", json!(1.0)),
            "unknown competition id 77",
        ),
        (
            "nan loss",
            row(1, 2, json!(10), "FINEWEB", json!("nan")),
            "NaN",
        ),
        (
            "negative block",
            row(1, 2, json!(-10), "FINEWEB", json!(1.0)),
            "negative",
        ),
        (
            "duplicate uid",
            format!("{good}\n{good}\n"),
            "duplicate uid 1",
        ),
        (
            "unknown task",
            row(1, 2, json!(10), "NOPE", json!(1.0)),
            "task NOPE",
        ),
        ("empty", String::new(), "no evaluation results"),
    ];
    for (name, text, msg) in cases {
        let f = write(dir.path(), "bad.jsonl", &text);
        let out = sn9()
            .arg("score")
            .arg(&f)
            .args(["--block", "400", "--state"])
            .arg(&state)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(msg), "{name}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{name}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: one line: {err}");
        assert_eq!(
            std::fs::read(&state).unwrap(),
            before,
            "{name}: state changed"
        );
    }
    // A state file of another schema version.
    let other = write(
        dir.path(),
        "other.json",
        "{\"schema\": \"sn9.score-state\", \"version\": 0}",
    );
    let copy = std::fs::read(&other).unwrap();
    sn9()
        .arg("score")
        .arg(results_fixture(dir.path()))
        .args(["--block", "400", "--state"])
        .arg(&other)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("schema version 0"));
    assert_eq!(std::fs::read(&other).unwrap(), copy);
    // No block anywhere.
    sn9()
        .arg("score")
        .arg(results_fixture(dir.path()))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--block"));
    // Missing file.
    sn9()
        .args(["score", "/nonexistent/r.jsonl", "--block", "1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot open"));
}

#[test]
fn settings_precedence_flag_env_config() {
    let dir = tempfile::tempdir().unwrap();
    let results = results_fixture(dir.path());
    let cfg = write(dir.path(), "sn9.toml", "[score]\nblock = 600\nnetuid = 3\n");
    let block_of = |cmd: &mut Command| -> Value {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        json!([v["block"], v["netuid"]])
    };
    let base = |c: &mut Command| {
        c.arg("--json")
            .arg("--config")
            .arg(&cfg)
            .arg("score")
            .arg(&results);
    };
    let mut c = sn9();
    base(&mut c);
    assert_eq!(block_of(&mut c), json!([600, 3]));
    let mut c = sn9();
    base(&mut c);
    c.env("SN9_BLOCK", "700");
    assert_eq!(block_of(&mut c), json!([700, 3]));
    let mut c = sn9();
    base(&mut c);
    c.env("SN9_BLOCK", "700")
        .args(["--block", "800", "--netuid", "4"]);
    assert_eq!(block_of(&mut c), json!([800, 4]));
    // A broken config file is a user error.
    let bad = write(dir.path(), "bad.toml", "[score\n");
    sn9()
        .arg("--config")
        .arg(&bad)
        .arg("competitions")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not valid TOML"));
}

#[test]
fn competitions_by_block() {
    sn9()
        .args(["competitions", "--block", "5177980"])
        .assert()
        .success()
        .stdout(predicate::str::contains("B3_MODEL").and(predicate::str::contains("TTS_V0").not()));
    let out = sn9()
        .args(["--json", "competitions", "--block", "5177981"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<u64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![6, 2, 4]);
    // The whole schedule round-trips as a schedule file.
    let dir = tempfile::tempdir().unwrap();
    let out = sn9().args(["--json", "competitions"]).output().unwrap();
    let f = dir.path().join("schedule.json");
    std::fs::write(&f, &out.stdout).unwrap();
    sn9()
        .args(["competitions", "--schedule"])
        .arg(&f)
        .assert()
        .success()
        .stdout(predicate::str::contains("TTS_V0"));
    sn9()
        .args(["competitions", "--block", "-1"])
        .assert()
        .code(1);
    let bad = write(
        dir.path(),
        "bad.json",
        "[{\"from_block\": 5, \"competitions\": []}]",
    );
    sn9()
        .args(["competitions", "--schedule"])
        .arg(&bad)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("block 0"));
}

#[test]
fn hub_hash_matches_reference() {
    use base64::Engine;
    let g = golden();
    let Some(h) = g.get("model_directory_hash") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, b64) in h["files_b64"].as_object().unwrap() {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(
            &p,
            base64::engine::general_purpose::STANDARD
                .decode(b64.as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
    }
    let hotkey = h["hotkey"].as_str().unwrap();
    let out = sn9()
        .args(["--json", "hub", "hash"])
        .arg(dir.path())
        .args(["--hotkey", hotkey])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["directory_hash"], h["directory_hash"]);
    assert_eq!(v["secure_hash"], h["secure_hash"]);
    sn9()
        .args(["hub", "hash"])
        .arg(dir.path())
        .args(["--hotkey", "5notanaddress"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("SS58"));
    sn9()
        .args(["hub", "hash", "/nonexistent/dir"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot read model directory"));
}

#[test]
fn chain_metadata_encode_decode() {
    let commit = "a".repeat(40);
    let out = sn9()
        .args([
            "chain",
            "metadata",
            "encode",
            "my-org/my-model",
            "--commit",
            &commit,
        ])
        .args([
            "--secure-hash",
            "k2oYXKqiZrucvpgengXLeM1zKwsygOuURBK7b4+PB68=",
            "--competition",
            "2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        s.trim(),
        format!("my-org:my-model:{commit}:k2oYXKqiZrucvpgengXLeM1zKwsygOuURBK7b4+PB68=:2")
    );
    let out = sn9()
        .args(["--json", "chain", "metadata", "decode", s.trim()])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["competition_id"], 2);
    sn9()
        .args(["chain", "metadata", "decode", "a:b:c"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("3 field"));
    sn9()
        .args([
            "chain",
            "metadata",
            "encode",
            "noslash",
            "--commit",
            &commit,
            "--secure-hash",
            "x",
            "--competition",
            "2",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("<org or user name>/<repo_name>"));
}

#[test]
fn device_check_and_missing_backend() {
    sn9()
        .args(["device"])
        .assert()
        .success()
        .stdout(predicate::str::contains("523776"));
    if !cfg!(feature = "cuda") {
        sn9()
            .args(["device", "--device", "cuda:0"])
            .assert()
            .code(1)
            .stderr(predicate::str::contains("--features cuda"));
    }
    sn9().args(["device", "--device", "tpu"]).assert().code(1);
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    sn9().arg("frobnicate").assert().code(1);
    sn9().args(["score"]).assert().code(1);
    sn9().arg("--help").assert().success();
    sn9().arg("--version").assert().success();
}

/// A closed stdout (e.g. `sn9 ... | head -1`) ends sn9 quietly with exit 0.
#[test]
fn broken_pipe_is_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = String::new();
    for uid in 0..3000u64 {
        lines += &row(
            uid,
            2,
            json!(uid + 1),
            "FINEWEB",
            json!(2.0 + uid as f64 * 1e-3),
        );
        lines.push('\n');
    }
    let f = write(dir.path(), "many.jsonl", &lines);
    let mut child = sn9()
        .arg("score")
        .arg(&f)
        .args(["--block", "99999", "--explain"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("error"), "{err}");
}

/// `--help` of every command matches its snapshot in tests/snapshots (regenerate with
/// `UPDATE_SNAPSHOTS=1 cargo test --test cli`).
#[test]
fn help_snapshots() {
    let cmds: &[&[&str]] = &[
        &[],
        &["competitions"],
        &["score"],
        &["hub"],
        &["hub", "hash"],
        &["chain", "metadata", "encode"],
        &["chain", "metadata", "decode"],
        &["device"],
        &["eval"],
        &["data"],
        &["data", "sample"],
        &["data", "pack"],
        &["data", "pack-speech"],
        &["data", "fetch"],
        &["model"],
        &["model", "init"],
        &["model", "info"],
        &["model", "generate"],
        &["model", "convert"],
        &["tts"],
        &["tts", "synth"],
        &["train"],
        &["train", "import-job"],
    ];
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut stale = Vec::new();
    for c in cmds {
        let out = sn9()
            .args(*c)
            .arg("--help")
            .env("COLUMNS", "100")
            .output()
            .unwrap();
        assert!(out.status.success());
        let name = if c.is_empty() {
            "sn9".to_string()
        } else {
            format!("sn9-{}", c.join("-"))
        };
        let p = root()
            .join("tests/snapshots")
            .join(format!("{name}.help.txt"));
        let text = String::from_utf8(out.stdout).unwrap();
        if update {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, &text).unwrap();
        } else if std::fs::read_to_string(&p).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "help changed for {stale:?}; review and run `UPDATE_SNAPSHOTS=1 cargo test --test cli`"
    );
}

/// The checked-in completions are what the binary generates (regenerate with `make completions`).
#[test]
fn completions_are_fresh() {
    for (shell, file) in [("bash", "sn9.bash"), ("zsh", "_sn9"), ("fish", "sn9.fish")] {
        let out = sn9().args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let checked_in = std::fs::read(root().join("completions").join(file)).unwrap_or_default();
        assert!(
            checked_in == out.stdout,
            "completions/{file} is stale: run `make completions`"
        );
    }
    let mut c = sn9();
    c.args(["completions", "bash"]).stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut s = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut s).unwrap();
    child.wait().unwrap();
    assert!(s.contains("score"));
    let _ = std::io::stdout().flush();
}
