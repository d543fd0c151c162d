//! `sn9 train` through the binary: a tiny model on the fixture corpus learns (loss far below
//! ln V), an interrupted-and-resumed run equals the uninterrupted one step for step, and bad
//! input (foreign tokenizer, long sequences, empty data, damaged checkpoint, an unacceptable
//! competition model) fails with exit 1 before any work.

mod common;
use common::{root, sn9};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::prelude::*;
use predicates::prelude::*;
use serde_json::Value;

fn micro() -> PathBuf {
    root().join("fixtures/train/micro-llama.json")
}

/// Packs the fixture corpus with the byte tokenizer into `dir/shards` (seq_len 32).
fn pack(dir: &Path, seq_len: usize) -> PathBuf {
    let out = dir.join(format!("shards-{seq_len}"));
    sn9()
        .args(["data", "pack", "-q", "--seq-len", &seq_len.to_string()])
        .arg(root().join("fixtures/corpus/tiny.jsonl"))
        .arg("--tokenizer")
        .arg(root().join("fixtures/tokenizer/bytes"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    out
}

fn train(shards: &Path, out: &Path, extra: &[&str]) -> std::process::Command {
    let mut c = sn9();
    c.args(["train", "--data"])
        .arg(shards)
        .arg("--model")
        .arg(micro())
        .arg("--out")
        .arg(out)
        .args(["--batch-size", "8", "--lr", "5e-3", "--warmup-steps", "10"])
        .args(extra);
    c
}

/// The metrics rows without their timing fields.
fn curve(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            for k in ["tokens_per_s", "elapsed_s", "mfu"] {
                v.as_object_mut().unwrap().remove(k);
            }
            v
        })
        .collect()
}

#[test]
fn learns_and_writes_a_loadable_model() {
    let d = tempfile::tempdir().unwrap();
    let shards = pack(d.path(), 32);
    let run = d.path().join("run");
    let out = train(
        &shards,
        &run,
        &[
            "--steps",
            "300",
            "--eval-every",
            "100",
            "--save-every",
            "100",
            "--keep",
            "2",
            "--json",
            "-q",
        ],
    )
    .output()
    .unwrap();
    common::ok(&out);
    let rows = common::json_lines(&String::from_utf8(out.stdout).unwrap());
    let train: Vec<&Value> = rows.iter().filter(|r| r["kind"] == "train").collect();
    let val: Vec<&Value> = rows.iter().filter(|r| r["kind"] == "val").collect();
    assert_eq!(train.len(), 300);
    assert_eq!(val.len(), 3);
    let ln_v = (257f64).ln();
    let first = train[0]["loss"].as_f64().unwrap();
    assert!(
        (first - ln_v).abs() < 0.3,
        "initial loss {first} should be near ln 257 = {ln_v}"
    );
    let last_val = val[2]["val_loss"].as_f64().unwrap();
    assert!(
        last_val < 0.5 * ln_v,
        "validation loss {last_val} did not fall well below ln V"
    );
    assert!(
        train
            .iter()
            .all(|r| r["grad_norm"].as_f64().unwrap().is_finite())
    );
    let done = rows.last().unwrap();
    assert_eq!(done["kind"], "done");
    assert_eq!(done["steps"], 300);
    // Keep 2: steps 200 and 300 remain, `latest` names 300.
    let ckpts: Vec<String> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("step-"))
        .collect();
    let mut ckpts = ckpts;
    ckpts.sort();
    assert_eq!(ckpts, ["step-00000200", "step-00000300"]);
    assert_eq!(
        std::fs::read_to_string(run.join("checkpoints/latest"))
            .unwrap()
            .trim(),
        "step-00000300"
    );
    // The final model is saved in bf16 and loads and generates in sn9.
    let model = run.join("model");
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["torch_dtype"], "bfloat16");
    let info: Value = serde_json::from_slice(
        &sn9()
            .args(["model", "info", "--json"])
            .arg(&model)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    // 257·64 (embedding) + 2 · 45,440 (layers) + 64 (norm) + 257·64 (untied head).
    assert_eq!(info["parameters"], 123_840);
    assert_eq!(info["dtype"], "bfloat16");
    let out = sn9()
        .args([
            "model",
            "generate",
            "--max-new-tokens",
            "4",
            "--prompt-ids",
            "84,104,101",
        ])
        .arg(&model)
        .output()
        .unwrap();
    common::ok(&out);
}

#[test]
fn interrupted_and_resumed_equals_uninterrupted() {
    let d = tempfile::tempdir().unwrap();
    let shards = pack(d.path(), 32);
    let args = [
        "--steps",
        "60",
        "--eval-every",
        "20",
        "--save-every",
        "5",
        "-q",
    ];
    let a = d.path().join("a");
    train(&shards, &a, &args).assert().success();

    let b = d.path().join("b");
    let child = train(&shards, &b, &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !b.join("checkpoints/latest").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    let partial = curve(&b);
    assert!(
        partial.len() < curve(&a).len(),
        "the run finished before the signal"
    );

    // Without --resume the run directory is refused; with it, the settings come from run.json.
    train(&shards, &b, &args)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--resume"));
    sn9()
        .args(["train", "--resume", "-q", "--out"])
        .arg(&b)
        .assert()
        .success();
    assert_eq!(curve(&a), curve(&b));
    assert_eq!(
        std::fs::read(a.join("model/model.safetensors")).unwrap(),
        std::fs::read(b.join("model/model.safetensors")).unwrap()
    );
    // A changed trajectory setting is refused on resume.
    sn9()
        .args(["train", "--resume", "--batch-size", "4", "--out"])
        .arg(&b)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("batch_size was 8, now 4"));
}

#[test]
fn damaged_checkpoint_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let shards = pack(d.path(), 32);
    let run = d.path().join("run");
    train(&shards, &run, &["--steps", "4", "--save-every", "2", "-q"])
        .assert()
        .success();
    let f = run.join("checkpoints/step-00000004/optimizer.safetensors");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    sn9()
        .args(["train", "--resume", "--steps", "8", "--out"])
        .arg(&run)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("step-00000004 is damaged"))
        .stderr(predicate::str::contains("optimizer.safetensors"));
    // Pointing `latest` at the older checkpoint resumes from it.
    std::fs::write(run.join("checkpoints/latest"), "step-00000002\n").unwrap();
    sn9()
        .args(["train", "--resume", "--steps", "8", "-q", "--out"])
        .arg(&run)
        .assert()
        .success();
}

#[test]
fn bad_input_fails_before_training() {
    let d = tempfile::tempdir().unwrap();
    let shards = pack(d.path(), 32);
    // Sequences longer than max_position_embeddings (32).
    let long = pack(d.path(), 48);
    train(&long, &d.path().join("r1"), &["--steps", "1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("max_position_embeddings 32"));
    // Shards of another tokenizer (cl100k ids ≥ 257).
    let cl = d.path().join("cl100k");
    sn9()
        .args(["data", "pack", "-q", "--seq-len", "32"])
        .arg(root().join("fixtures/corpus/tiny.jsonl"))
        .arg("--tokenizer")
        .arg(root().join("fixtures/tokenizer/cl100k"))
        .arg("--out")
        .arg(&cl)
        .assert()
        .success();
    train(&cl, &d.path().join("r2"), &["--steps", "1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("another tokenizer"));
    // No shards at all.
    let empty = d.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    train(&empty, &d.path().join("r3"), &["--steps", "1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("sn9 token-shard directory"));
    // Competition 2 refuses a 257-token, 0.1M-parameter model before any step.
    let r4 = d.path().join("r4");
    train(&shards, &r4, &["--steps", "1", "--competition", "2"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "would not be accepted in competition 2",
        ));
    assert!(!r4.join("checkpoints").exists());
}

#[test]
fn csv_and_settings_file() {
    let d = tempfile::tempdir().unwrap();
    let shards = pack(d.path(), 32);
    let cfg = d.path().join("train.toml");
    std::fs::write(
        &cfg,
        format!(
            "[train]\ndata = {:?}\nmodel = {:?}\nsteps = 3\nbatch-size = 4\ndecay = \"linear\"\n",
            shards,
            micro()
        ),
    )
    .unwrap();
    let run = d.path().join("run");
    let out = sn9()
        .args(["train", "--csv", "-q", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    common::ok(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "step,loss,lr,grad_norm,tokens,tokens_per_s,mfu,elapsed_s"
    );
    assert_eq!(lines.len(), 4);
    let settings: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(settings["trajectory"]["batch_size"], 4);
    assert_eq!(settings["trajectory"]["schedule"]["decay"], "linear");
    // The flag beats the environment, which beats the file.
    let run2 = d.path().join("run2");
    sn9()
        .args(["train", "-q", "--steps", "2", "--config"])
        .arg(&cfg)
        .env("SN9_TRAIN_BATCH_SIZE", "2")
        .env("SN9_TRAIN_STEPS", "9")
        .arg("--out")
        .arg(&run2)
        .assert()
        .success();
    let s2: Value =
        serde_json::from_str(&std::fs::read_to_string(run2.join("run.json")).unwrap()).unwrap();
    assert_eq!(s2["trajectory"]["batch_size"], 2);
    assert_eq!(s2["trajectory"]["schedule"]["total_steps"], 2);
}

/// Data-parallel replicas (`--device cpu,cpu`: two replicas in two threads, gradients reduced on
/// the first) follow exactly the curve of one device accumulating the same two micro-batches.
#[test]
fn data_parallel_equals_gradient_accumulation() {
    let d = tempfile::tempdir().unwrap();
    let shards = pack(d.path(), 32);
    let args = ["--steps", "12", "--eval-every", "6", "-q"];
    let dp = d.path().join("dp");
    let mut c = train(&shards, &dp, &args);
    c.args(["--device", "cpu,cpu"]).assert().success();
    let acc = d.path().join("acc");
    let mut c = train(&shards, &acc, &args);
    c.args(["--grad-accum", "2"]).assert().success();
    assert_eq!(curve(&dp), curve(&acc));
    let run: Value =
        serde_json::from_str(&std::fs::read_to_string(dp.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["trajectory"]["replicas"], 2);
    assert_eq!(curve(&dp).last().unwrap()["step"], 12);
    // Resuming with another number of devices would change the batch: refused.
    sn9()
        .args(["train", "--resume", "--device", "cpu", "--out"])
        .arg(&dp)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("replicas was 2, now 1"));
}

/// bf16 compute with f32 master weights tracks the f32 run closely.
#[test]
fn bf16_compute_tracks_f32() {
    let d = tempfile::tempdir().unwrap();
    let shards = pack(d.path(), 32);
    let args = ["--steps", "40", "--eval-every", "40", "-q"];
    let f = d.path().join("f32");
    train(&shards, &f, &args).assert().success();
    let b = d.path().join("bf16");
    let mut c = train(&shards, &b, &args);
    c.args(["--dtype", "bf16"]).assert().success();
    let val = |run: &Path| {
        curve(run)
            .iter()
            .rev()
            .find(|r| r["kind"] == "val")
            .unwrap()["val_loss"]
            .as_f64()
            .unwrap()
    };
    let (vf, vb) = (val(&f), val(&b));
    assert!(vf < 0.8 * (257f64).ln(), "f32 run did not learn: {vf}");
    assert!((vf - vb).abs() / vf < 0.03, "bf16 {vb} vs f32 {vf}");
    assert_ne!(curve(&f), curve(&b), "--dtype bf16 changed nothing");
}

/// `--save-dtype` decides the final model's dtype (`f32` once saved bf16: the lowercase name was
/// not recognised).
#[test]
fn save_dtype_is_the_final_models_dtype() {
    let d = tempfile::tempdir().unwrap();
    let shards = pack(d.path(), 32);
    for (flag, torch) in [("f32", "float32"), ("f16", "float16"), ("bf16", "bfloat16")] {
        let run = d.path().join(flag);
        train(&shards, &run, &["--steps", "2", "-q", "--save-dtype", flag])
            .assert()
            .success();
        let out = sn9()
            .args(["--json", "model", "info"])
            .arg(run.join("model"))
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["dtype"], torch, "--save-dtype {flag}");
    }
}
