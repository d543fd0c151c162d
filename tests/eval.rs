//! `sn9 eval` through the binary: losses equal transformers' on the reference models, the
//! competition checks, the sanity gate, resume from a partial results file, and the pipe into
//! `sn9 score`.

mod common;
use common::{case, sn9};

use std::path::{Path, PathBuf};

use assert_cmd::prelude::*;
use serde_json::{Value, json};
use sn9::data::shards::{Manifest, SCHEMA, VERSION, write};

fn expected(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(case(name).join("expected.json")).unwrap())
        .unwrap()
}

/// Batches for competition 2 at block 5,200,000: two tasks, each holding the reference case's
/// two input rows (33 tokens), so the task loss is transformers' `mean_over_rows`.
fn batches(dir: &Path) -> PathBuf {
    let inputs: Value = serde_json::from_str(
        &std::fs::read_to_string(case("llama_gqa").join("input_ids.json")).unwrap(),
    )
    .unwrap();
    let rows: Vec<u32> = inputs["input_ids"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
        })
        .collect();
    let m = Manifest {
        schema: SCHEMA.into(),
        version: VERSION,
        seq_len: 33,
        eos_id: 0,
        tokenizer: Value::Null,
        shards: vec![],
        origin: json!({"competition": 2, "block": 5_200_000}),
    };
    let out = dir.join("batches");
    write(
        &out,
        m,
        &[
            ("FINEWEB".into(), rows.clone(), Value::Null),
            ("FINEMATH_3P".into(), rows, Value::Null),
        ],
        false,
    )
    .unwrap();
    out
}

fn rows(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn eval_matches_transformers_resumes_and_feeds_score() {
    let dir = tempfile::tempdir().unwrap();
    let b = batches(dir.path());
    let results = dir.path().join("results.jsonl");
    let out = sn9()
        .arg("eval")
        .arg(case("llama_gqa"))
        .arg(case("llama_sharded"))
        .arg("--batches")
        .arg(&b)
        .args([
            "--skip-checks",
            "--uid",
            "3,5",
            "--hotkey",
            "hkA,hkB",
            "--model-block",
            "5190000,5195000",
            "--results",
        ])
        .arg(&results)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = rows(&out.stdout);
    assert_eq!(r.len(), 4);
    let want = expected("llama_gqa")["loss"]["mean_over_rows"]
        .as_f64()
        .unwrap();
    let got = r
        .iter()
        .find(|x| x["uid"] == 3 && x["task"] == "FINEWEB")
        .unwrap()["loss"]
        .as_f64()
        .unwrap();
    assert!((got - want).abs() / want < 1e-5, "{got} vs {want}");
    assert_eq!(r[0]["eval_block"], 5_200_000);
    assert_eq!(r[0]["hotkey"], "hkA");
    assert_eq!(r[0]["block"], 5_190_000);

    // Resume: both models are in the results file already.
    let again = sn9()
        .arg("eval")
        .arg(case("llama_gqa"))
        .arg(case("llama_sharded"))
        .arg("--batches")
        .arg(&b)
        .args(["--skip-checks", "--uid", "3,5", "--results"])
        .arg(&results)
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(again.stdout.is_empty());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already in the results file"));

    // The rows are what `sn9 score` reads.
    let scored = sn9()
        .args(["--json", "score"])
        .arg(&results)
        .output()
        .unwrap();
    assert!(
        scored.status.success(),
        "{}",
        String::from_utf8_lossy(&scored.stderr)
    );
    let w: Value = serde_json::from_slice(&scored.stdout).unwrap();
    assert_eq!(w["block"], 5_200_000);
    assert!(!w["u16_uids"].as_array().unwrap().is_empty());
}

#[test]
fn eval_applies_competition_checks_and_sanity_gate() {
    let dir = tempfile::tempdir().unwrap();
    let b = batches(dir.path());
    // Without --skip-checks, a 204K-parameter model fails competition 2: a row with the reason.
    let out = sn9()
        .arg("eval")
        .arg(case("llama_gqa"))
        .arg("--batches")
        .arg(&b)
        .output()
        .unwrap();
    let mut c = sn9();
    c.arg("eval")
        .arg(case("llama_gqa"))
        .arg("--batches")
        .arg(&b);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = rows(&out.stdout);
    assert_eq!(r[0]["loss"], "inf");
    assert!(
        r[0]["error"]
            .as_str()
            .unwrap()
            .contains("parameters, outside"),
        "{}",
        r[0]
    );

    // A model that repeats its input (tied embeddings, tiny weights) fails the sanity gate.
    let cfg: Value = serde_json::from_str(
        &std::fs::read_to_string(case("llama_tied").join("config.json")).unwrap(),
    )
    .unwrap();
    let mut cfg = cfg;
    cfg["initializer_range"] = json!(1e-4);
    std::fs::write(dir.path().join("config.json"), cfg.to_string()).unwrap();
    let m = dir.path().join("parrot");
    sn9()
        .args(["model", "init", "--model-config"])
        .arg(dir.path().join("config.json"))
        .arg(&m)
        .assert()
        .success();
    let out = sn9()
        .arg("eval")
        .arg(&m)
        .arg("--batches")
        .arg(&b)
        .arg("--skip-checks")
        .output()
        .unwrap();
    let r = rows(&out.stdout);
    assert_eq!(r[0]["loss"], "inf", "{}", r[0]);
    assert!(
        r[0]["error"].as_str().unwrap().contains("sanity"),
        "{}",
        r[0]
    );

    // A broken model directory is a row with the reason, not a crash.
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("config.json"), "{").unwrap();
    let out = sn9()
        .arg("eval")
        .arg(&broken)
        .arg("--batches")
        .arg(&b)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        rows(&out.stdout)[0]["error"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    // Mismatched per-model flags and missing batches are user errors.
    sn9()
        .arg("eval")
        .arg(case("llama_gqa"))
        .arg("--batches")
        .arg(&b)
        .args(["--uid", "1,2"])
        .assert()
        .code(1);
    sn9()
        .arg("eval")
        .arg(case("llama_gqa"))
        .arg("--batches")
        .arg(dir.path().join("nope"))
        .assert()
        .code(1);
}

#[test]
fn eval_isolates_each_model_with_a_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let b = batches(dir.path());
    // In its own process: the same loss as in-process.
    let out = sn9()
        .arg("eval")
        .arg(case("llama_gqa"))
        .arg("--batches")
        .arg(&b)
        .args(["--skip-checks", "--time-limit-s", "120"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = expected("llama_gqa")["loss"]["mean_over_rows"]
        .as_f64()
        .unwrap();
    let got = rows(&out.stdout)[0]["loss"].as_f64().unwrap();
    assert!((got - want).abs() / want < 1e-5, "{got} vs {want}");
    // A model over its time limit is killed: a row with the reason; the next model still runs.
    let out = sn9()
        .arg("eval")
        .arg(case("llama_gqa"))
        .arg(case("llama_mha"))
        .arg("--batches")
        .arg(&b)
        .args(["--skip-checks", "--time-limit-s", "0"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let r = rows(&out.stdout);
    assert_eq!(r.len(), 4);
    assert!(
        r.iter()
            .all(|x| x["error"].as_str().unwrap_or("").contains("timed out")),
        "{r:?}"
    );
}

#[test]
fn eval_against_top_predicts_rank() {
    let dir = tempfile::tempdir().unwrap();
    let b = batches(dir.path());
    let top = |score1: f64| {
        let mut s = String::new();
        for (uid, block, score) in [(1, 5_190_000, score1), (2, 5_195_000, 7.0)] {
            for task in ["FINEWEB", "FINEMATH_3P"] {
                s += &json!({"uid": uid, "competition": 2, "block": block, "task": task, "loss": score}).to_string();
                s.push('\n');
            }
        }
        let p = dir.path().join(format!("top-{score1}.jsonl"));
        std::fs::write(&p, s).unwrap();
        p
    };
    let run = |against: &Path| {
        let o = sn9()
            .arg("eval")
            .arg(case("llama_gqa"))
            .arg("--batches")
            .arg(&b)
            .args(["--skip-checks", "--uid", "9", "--against"])
            .arg(against)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    // llama_gqa scores ≈ 6.447: better than an earlier 6.6 by more than its epsilon → rank 1.
    let err = run(&top(6.6));
    assert!(err.contains("what-if"), "{err}");
    let line = err.lines().find(|l| l.starts_with("9 ")).unwrap();
    assert!(
        line.contains("true") && line.contains("1.0000") && line.contains("1 of 2"),
        "{line}"
    );
    // Against an earlier, better 6.3: not competitive, beaten by uid 1.
    let err = run(&top(6.3));
    let line = err.lines().find(|l| l.starts_with("9 ")).unwrap();
    assert!(line.contains("false") && line.contains("uid 1"), "{line}");
}
