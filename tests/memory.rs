//! `sn9 model info --memory` against measured peaks: `sn9 eval` and `sn9 train` run on the CPU
//! backend at small sizes with `-v`, which reports the peak resident memory of the process and
//! its evaluation worker, and the estimate for the same model, sequence length and batch must be
//! within `TOL` of it. The shapes are chosen so that the model-dependent terms (weights,
//! optimiser state, activations, the loss's logits) dominate the process's own ~30 MiB.

mod common;
use common::sn9;

use std::path::Path;

use serde_json::{Value, json};

/// Relative difference allowed between the estimate and the measured peak.
const TOL: f64 = 0.25;

fn config(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("config.json");
    let c = json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 16000,
        "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 1024,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false,
        "initializer_range": 0.02, "hidden_act": "silu", "torch_dtype": "float32"
    });
    std::fs::write(&p, c.to_string()).unwrap();
    p
}

/// `n` random sequences of `seq` tokens below `vocab`, as token shards.
fn shards(dir: &Path, seq: usize, n: usize, vocab: u32) -> std::path::PathBuf {
    use sn9::data::shards::{Manifest, SCHEMA, VERSION, write};
    let out = dir.join(format!("shards-{seq}"));
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let toks: Vec<u32> = (0..seq * n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % vocab as u64) as u32
        })
        .collect();
    let m = Manifest {
        schema: SCHEMA.into(),
        version: VERSION,
        seq_len: seq,
        eos_id: 0,
        tokenizer: Value::Null,
        shards: vec![],
        origin: json!({"competition": 2}),
    };
    write(&out, m, &[("rows".into(), toks, Value::Null)], false).unwrap();
    out
}

/// The peak sn9 reports with `-v` (`peak host memory 1.2 GiB`), in bytes.
fn measured(stderr: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .find(|l| l.contains("peak host memory"))
        .unwrap_or_else(|| panic!("no peak memory line in {text}"));
    let mut it = line.rsplit(' ');
    let unit = it.next().unwrap();
    let v: f64 = it.next().unwrap().parse().unwrap();
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unit {other}"),
    };
    v * scale
}

fn estimate(model: &Path, what: &str, seq: usize, batch: usize) -> f64 {
    let out = sn9()
        .args([
            "--json", "model", "info", "--memory", "--dtype", "f32", "--device", "cpu",
        ])
        .args([
            "--seq-len",
            &seq.to_string(),
            "--batch-size",
            &batch.to_string(),
        ])
        .arg(model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["memory"][what]["bytes"].as_f64().unwrap()
}

fn close(what: &str, est: f64, got: f64) {
    let rel = (est - got).abs() / got;
    eprintln!(
        "{what}: estimate {:.0} MiB, measured {:.0} MiB ({:+.0}%)",
        est / 1048576.0,
        got / 1048576.0,
        (est / got - 1.0) * 100.0
    );
    assert!(rel <= TOL, "{what}: estimate {est} vs measured {got}");
}

#[test]
fn eval_estimate_matches_measured_peak() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let model = dir.path().join("m");
    let st = sn9()
        .args(["-q", "model", "init", "--model-config"])
        .arg(&cfg)
        .arg(&model)
        .status()
        .unwrap();
    assert!(st.success());
    let data = shards(dir.path(), 512, 8, 16000);
    for batch in [1, 8] {
        let out = sn9()
            .args([
                "-v",
                "eval",
                "--skip-checks",
                "--competition",
                "2",
                "--batch-size",
            ])
            .arg(batch.to_string())
            .arg(&model)
            .arg("--batches")
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        close(
            &format!("eval batch {batch}"),
            estimate(&model, "eval", 512, batch),
            measured(&out.stderr),
        );
    }
}

#[test]
fn train_estimate_matches_measured_peak() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let data = shards(dir.path(), 256, 16, 16000);
    let out = sn9()
        .args([
            "-v",
            "train",
            "--steps",
            "2",
            "--batch-size",
            "8",
            "--val-sequences",
            "0",
        ])
        .args(["--save-every", "0", "--eval-every", "0", "--data"])
        .arg(&data)
        .arg("--model")
        .arg(&cfg)
        .arg("--out")
        .arg(dir.path().join("run"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    close(
        "train batch 8",
        estimate(&cfg, "train", 256, 8),
        measured(&out.stderr),
    );
}
