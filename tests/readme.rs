//! The README's examples run as written: the command lines of "A validator's round by hand" and
//! "Scoring a round" are read from README.md itself and run through `sh` in a fresh directory
//! (with `sn9` on PATH), so an example that stops working fails this test. Only what cannot run
//! offline is set up instead: the sampled batches come from the loopback datasets-server (the
//! README's `data sample` line needs the real one), and lines with a `...` placeholder are left
//! out.

mod common;
use common::{FakeDatasetsServer, Faults, golden, root, sn9};

use std::path::Path;

/// The shell command lines of the first ```sh block after `heading` (continuations joined).
fn block(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README.md has no `{heading}`"));
    let rest = &readme[start..];
    let open = rest.find("```sh\n").expect("a sh block") + 6;
    let body = &rest[open..open + rest[open..].find("```").unwrap()];
    let mut lines = Vec::new();
    let mut cur = String::new();
    for l in body.lines() {
        if let Some(head) = l.strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
        } else {
            cur.push_str(l);
            lines.push(std::mem::take(&mut cur));
        }
    }
    lines
}

/// Runs `line` with `sh` in `dir`, `sn9` first on PATH; returns stdout.
fn run(dir: &Path, line: &str) -> String {
    let bin = sn9().get_program().to_owned();
    let bin_dir = Path::new(&bin).parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("set -e; {line}"))
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("SN9_CONFIG")
        .env_remove("SN9_STATE")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "README example failed: {line}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn readme_round_and_scoring_examples_run_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // Set-up the examples assume: sampled batches, a tokenizer, three model directories.
    let g = golden();
    let hash = g["sync_block_seed"][0]["block_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let configs = g["dataset_sampling_and_packing"]["fixture"]["size_configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c[0].as_str().unwrap().to_string(), c[1].as_u64().unwrap()))
        .collect();
    let server = FakeDatasetsServer::start(configs, Faults::default());
    common::copy_dir(
        &root().join("fixtures/tokenizer/cl100k"),
        &dir.join("gpt-4"),
    );
    common::ok(
        &sn9()
            .current_dir(dir)
            .args([
                "-q",
                "data",
                "sample",
                "--block",
                "5200123",
                "--block-hash",
                &hash,
            ])
            .args([
                "--tokenizer",
                "gpt-4/",
                "--out",
                "batches/",
                "--seq-len",
                "64",
            ])
            .args(["--datasets-server", &server.url, "--backoff-ms", "0"])
            .output()
            .unwrap(),
    );
    let cfg = serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "vocab_size": 100288, "hidden_size": 16,
        "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
        "num_key_value_heads": 1, "max_position_embeddings": 256, "tie_word_embeddings": true
    });
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    for (name, seed) in [("models/a", "1"), ("models/b", "2"), ("my-model", "3")] {
        common::ok(
            &sn9()
                .current_dir(dir)
                .args([
                    "-q",
                    "model",
                    "init",
                    "--model-config",
                    "config.json",
                    "--seed",
                    seed,
                ])
                .arg(name)
                .output()
                .unwrap(),
        );
    }
    let mut ran = 0;
    for line in block(&readme, "### A validator's round by hand") {
        if line.contains("data sample") {
            continue; // set up above against the loopback server
        }
        run(dir, &line);
        ran += 1;
    }
    assert!(dir.join("vali/state.json").is_file() && dir.join("weights.json").is_file());
    std::fs::copy(dir.join("round.jsonl"), dir.join("results.jsonl")).unwrap();
    std::fs::remove_dir_all(dir.join("vali")).unwrap();
    let jq = std::process::Command::new("jq")
        .arg("--version")
        .output()
        .is_ok();
    for line in block(&readme, "### Scoring a round") {
        if line.contains("...") || line.contains('…') {
            continue;
        }
        if line.contains("| jq") && !jq {
            eprintln!("skipped (no jq on this machine): {line}");
            continue;
        }
        run(dir, &line);
        ran += 1;
    }
    assert!(ran >= 5, "only {ran} README lines ran");
}
