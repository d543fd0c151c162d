//! `sn9 data ...` through the binary against a loopback fake datasets-server.

mod common;

use std::process::Command;
use std::time::Duration;

use assert_cmd::prelude::*;
use common::{FakeDatasetsServer, Faults, golden, root, sn9};
use serde_json::Value;

fn configs(g: &Value) -> Vec<(String, u64)> {
    g["dataset_sampling_and_packing"]["fixture"]["size_configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c[0].as_str().unwrap().to_string(), c[1].as_u64().unwrap()))
        .collect()
}

/// The golden run of `task` for the seed of block hash `hash`.
fn golden_run(g: &Value, seed: &str, task: &str, failure: bool) -> Value {
    g["dataset_sampling_and_packing"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["seed"] == seed && r["task"] == task && r["inject_first_request_failure"] == failure
        })
        .cloned()
        .unwrap()
}

fn sample(server: &FakeDatasetsServer, out: &std::path::Path, hash: &str) -> std::process::Output {
    sn9()
        .args([
            "--json",
            "data",
            "sample",
            "--block",
            "5200123",
            "--block-hash",
            hash,
            "--competition",
            "2",
            "--seq-len",
            "64",
        ])
        .arg("--tokenizer")
        .arg(root().join("fixtures/tokenizer/cl100k"))
        .arg("--out")
        .arg(out)
        .args([
            "--datasets-server",
            &server.url,
            "--retry-delay-ms",
            "0",
            "--timeout-ms",
            "2000",
            "--force",
        ])
        .output()
        .unwrap()
}

fn task<'a>(m: &'a Value, name: &str) -> &'a Value {
    m["origin"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == name)
        .unwrap()
}

#[test]
fn sample_reproduces_reference_pages_over_http() {
    let g = golden();
    let seed = g["sync_block_seed"][0]["seed"]
        .as_str()
        .unwrap()
        .to_string();
    let hash = g["sync_block_seed"][0]["block_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let server = FakeDatasetsServer::start(configs(&g), Faults::default());
    let out = sample(&server, &dir.path().join("a"), &hash);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["origin"]["seed"], seed.as_str());
    assert_eq!(m["origin"]["sync_block"], 5200050);
    // Page choice is independent of the tokenizer: the same pages as the reference's run.
    for name in ["FINEWEB", "FINEWEB_EDU2", "PES2OX", "FINEMATH_3P"] {
        let want = golden_run(&g, &seed, name, false);
        assert_eq!(task(&m, name)["page_names"], want["page_names"], "{name}");
        assert_eq!(task(&m, name)["sequences"], 50, "{name}");
    }
    // Stack v2 is gated (no HF_TOKEN here): skipped, as the reference skips it.
    assert!(
        task(&m, "STACKV2_DEDUP")["skipped"]
            .as_str()
            .unwrap()
            .contains("HF_TOKEN")
    );
    let fw = m["shards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "FINEWEB")
        .unwrap();
    assert_eq!(fw["tokens"], 50 * 64);
    assert_eq!(
        std::fs::metadata(dir.path().join("a").join("FINEWEB.bin"))
            .unwrap()
            .len(),
        50 * 64 * 4
    );
    // The request sequence of FINEWEB equals the reference's (dataset, config, split, offset, length).
    let want = golden_run(&g, &seed, "FINEWEB", false)["requests"].clone();
    let log: Vec<Value> = server
        .requests()
        .into_iter()
        .filter(|r| r["dataset"] == "HuggingFaceFW/fineweb")
        .collect();
    assert_eq!(Value::Array(log), want);

    // Deterministic: a second run writes identical shards.
    let again = sample(&server, &dir.path().join("b"), &hash);
    assert!(again.status.success());
    for f in ["FINEWEB.bin", "PES2OX.bin"] {
        assert_eq!(
            std::fs::read(dir.path().join("a").join(f)).unwrap(),
            std::fs::read(dir.path().join("b").join(f)).unwrap()
        );
    }
}

#[test]
fn sample_redraws_after_failed_request_like_the_reference() {
    let g = golden();
    let seed = g["sync_block_seed"][0]["seed"]
        .as_str()
        .unwrap()
        .to_string();
    let hash = g["sync_block_seed"][0]["block_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let server = FakeDatasetsServer::start(
        configs(&g),
        Faults {
            fail_first_rows: 1,
            ..Default::default()
        },
    );
    let out = sample(&server, &dir.path().join("a"), &hash);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = golden_run(&g, &seed, "FINEWEB", true);
    assert_eq!(task(&m, "FINEWEB")["page_names"], want["page_names"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("503"));
}

#[test]
fn sample_skips_broken_and_stalled_tasks() {
    let g = golden();
    let seed = g["sync_block_seed"][0]["seed"]
        .as_str()
        .unwrap()
        .to_string();
    let hash = g["sync_block_seed"][0]["block_hash"]
        .as_str()
        .unwrap()
        .to_string();
    // Pes2oX's first page returns malformed JSON forever; FineMath's first page stalls past the
    // timeout forever: both tasks are skipped after the reference's 15 tries, the rest is kept.
    let pes = golden_run(&g, &seed, "PES2OX", false)["pages"][0]
        .as_u64()
        .unwrap();
    let fm = golden_run(&g, &seed, "FINEMATH_3P", false)["pages"][0]
        .as_u64()
        .unwrap();
    let server = FakeDatasetsServer::start(
        configs(&g),
        Faults {
            malformed_offset: Some(pes),
            stall_offset: Some((fm, Duration::from_millis(400))),
            ..Default::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let out = sn9()
        .args([
            "--json",
            "data",
            "sample",
            "--block",
            "5200123",
            "--block-hash",
            &hash,
            "--seq-len",
            "64",
            "--timeout-ms",
            "100",
        ])
        .arg("--tokenizer")
        .arg(root().join("fixtures/tokenizer/cl100k"))
        .arg("--out")
        .arg(dir.path().join("o"))
        .args(["--datasets-server", &server.url, "--retry-delay-ms", "0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        task(&m, "PES2OX")["skipped"]
            .as_str()
            .unwrap()
            .contains("malformed JSON")
    );
    assert!(
        task(&m, "FINEMATH_3P")["skipped"]
            .as_str()
            .unwrap()
            .contains("15 failed requests")
    );
    assert_eq!(task(&m, "FINEWEB")["sequences"], 50);
    assert!(!dir.path().join("o").join("PES2OX.bin").exists());
}

#[test]
fn sample_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let tok = root().join("fixtures/tokenizer/cl100k");
    let base = |c: &mut Command| {
        c.args(["data", "sample", "--block", "100"])
            .arg("--tokenizer")
            .arg(&tok)
            .arg("--out")
            .arg(dir.path().join("x"));
    };
    let mut c = sn9();
    base(&mut c);
    c.args(["--block-hash", "0xABC"]).assert().code(1);
    let mut c = sn9();
    base(&mut c);
    c.args(["--seed", "12x"]).assert().code(1);
    let mut c = sn9();
    base(&mut c);
    c.args(["--seed", "1", "--competition", "99"])
        .assert()
        .code(1);
    // Unreachable endpoint: every task fails; nothing is written; exit 1.
    let mut c = sn9();
    base(&mut c);
    let out = c
        .args([
            "--seed",
            "1",
            "--seq-len",
            "8",
            "--datasets-server",
            "http://127.0.0.1:9",
            "--retry-delay-ms",
            "0",
            "--timeout-ms",
            "200",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("x").exists());
}
