//! `sn9 train --engine torchtitan` and `sn9 train import-job` through the binary, without torch:
//! the job directory matches its snapshot, its Python and shell pass a syntax check, its sample
//! order (standard-library Python) equals `sn9 train`'s, bad input fails before anything is
//! written, and an imported checkpoint is a model that `sn9 eval` and `sn9 hub push` take.
//! The torch side (model, weights, dataloader under torchtitan 0.3.0) is
//! tests/torchtitan/check.py (`make test-torchtitan`).

mod common;
use common::{root, sn9};

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The demo's data: the fixture corpus packed with the byte tokenizer (seq_len 32).
fn pack(dir: &Path, name: &str, task: Option<&str>) -> PathBuf {
    let out = dir.join(name);
    let mut c = sn9();
    c.args(["-q", "data", "pack", "--seq-len", "32"])
        .arg(root().join("fixtures/corpus/tiny.jsonl"))
        .arg("--tokenizer")
        .arg(root().join("fixtures/tokenizer/bytes"))
        .arg("--out")
        .arg(&out);
    if let Some(t) = task {
        c.args(["--task", t]);
    }
    common::ok(&c.output().unwrap());
    out
}

fn export(data: &Path, model: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    sn9()
        .env_remove("SN9_SCHEDULE")
        .args(["train", "--engine", "torchtitan", "--data"])
        .arg(data)
        .arg("--model")
        .arg(model)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn demo_model() -> PathBuf {
    root().join("fixtures/demo/model.json")
}

const LAYOUT: &[&str] = &[
    "--nodes",
    "2",
    "--gpus-per-node",
    "2",
    "--batch-size",
    "4",
    "--global-batch-size",
    "32",
    "--steps",
    "20",
    "--save-every",
    "10",
    "--val-sequences",
    "16",
    "--seed",
    "7",
];

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// The job directory as text: every file with its mode, the generated files whole (paths of the
/// temporary directory replaced by `<TMP>`), the fixed ones by sha256.
fn describe(job: &Path, tmp: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let generated = [
        "job.json",
        "job.env",
        "launch.slurm",
        "README.md",
        "sn9_titan/settings.json",
    ];
    let mut s = String::new();
    for f in files_under(job) {
        let rel = f.strip_prefix(job).unwrap().to_string_lossy().into_owned();
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        let bytes = std::fs::read(&f).unwrap();
        if generated.contains(&rel.as_str()) {
            s += &format!("== {rel} ({mode:o})\n{}\n", String::from_utf8_lossy(&bytes));
        } else {
            s += &format!("== {rel} ({mode:o}) sha256 {:x}\n", Sha256::digest(&bytes));
        }
    }
    let tmp = tmp.canonicalize().unwrap();
    // The manifest names the tokenizer by its absolute path: its hash depends on the checkout.
    let manifest = std::fs::read(tmp.join("shards/manifest.json")).unwrap();
    s.replace(
        &format!("{:x}", Sha256::digest(&manifest)),
        "<MANIFEST_SHA256>",
    )
    .replace(&tmp.display().to_string(), "<TMP>")
    .replace(&root().display().to_string(), "<ROOT>")
    .replace(env!("CARGO_PKG_VERSION"), "<VERSION>")
}

#[test]
fn job_directory_snapshot_syntax_and_order() {
    let d = tempfile::tempdir().unwrap();
    let shards = pack(d.path(), "shards", None);
    let job = d.path().join("job");
    let o = export(&shards, &demo_model(), &job, LAYOUT);
    common::ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("HSDP: 2 replicas") && err.contains("import-job"),
        "{err}"
    );

    // Snapshot (UPDATE_SNAPSHOTS=1 rewrites it).
    let text = describe(&job, d.path());
    let snap = root().join("tests/snapshots/titan-job.txt");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&snap, &text).unwrap();
    } else {
        assert_eq!(
            text,
            read(&snap),
            "the job directory changed; if on purpose, UPDATE_SNAPSHOTS=1 cargo test --test titan"
        );
    }
    let settings: Value =
        serde_json::from_str(&read(&job.join("sn9_titan/settings.json"))).unwrap();
    assert_eq!(settings["grad_accum"], 2); // 32 / (2 nodes × 2 GPUs × 4)
    assert_eq!(settings["dp_degree"], 4);
    assert_eq!(settings["total_sequences"], 2025);

    // The Python compiles (no torch needed) and the shell parses.
    let py = std::process::Command::new("python3")
        .args(["-m", "py_compile"])
        .args(
            files_under(&job.join("sn9_titan"))
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e == "py")),
        )
        .output()
        .expect("python3");
    common::ok(&py);
    for sh in ["launch.sh", "dryrun.sh", "launch.slurm"] {
        let o = std::process::Command::new("bash")
            .arg("-n")
            .arg(job.join(sh))
            .output()
            .unwrap();
        common::ok(&o);
    }
    // One node of a two-node job without HEAD: refused with what to do.
    let o = std::process::Command::new("bash")
        .arg(job.join("launch.sh"))
        .env_remove("HEAD")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("set HEAD"));

    // The sample order: each rank's windows, in order, are sn9 train's stream cut into micro-batch
    // rounds of dp × b (the job's order.py with only the standard library).
    let total = 2025u64;
    let split = sn9::train::data::Split::new(total, 16, 7).unwrap();
    let stream: Vec<u64> = (0..4).flat_map(|e| split.epoch_order(e)).collect();
    let (dp, b, n) = (4usize, 4usize, 600usize); // 2400 cursors: past the first epoch (2009)
    for rank in 0..dp {
        let o = std::process::Command::new("python3")
            .args(["-m", "sn9_titan.order"])
            .args(
                [total as usize, 16, 7, dp, rank, b, n]
                    .iter()
                    .map(|x| x.to_string()),
            )
            .current_dir(&job)
            .output()
            .unwrap();
        common::ok(&o);
        let got: Vec<u64> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        let want: Vec<u64> = (0..n)
            .map(|k| stream[(k / b) * dp * b + rank * b + k % b])
            .collect();
        assert_eq!(got, want, "rank {rank}");
    }
}

/// The job's learning-rate schedule (standard-library Python) equals `sn9 train`'s, step by step.
#[test]
fn job_schedule_equals_sn9_train() {
    use sn9::train::schedule::{Decay, Schedule};
    let d = tempfile::tempdir().unwrap();
    let shards = pack(d.path(), "shards", None);
    let job = d.path().join("job");
    common::ok(&export(
        &shards,
        &demo_model(),
        &job,
        &["--gpus-per-node", "1"],
    ));
    for (decay, name) in [
        (Decay::Cosine, "cosine"),
        (Decay::Linear, "linear"),
        (Decay::Constant, "constant"),
    ] {
        let s = Schedule {
            lr: 1e-3,
            min_lr: 1e-4,
            warmup_steps: 10,
            total_steps: 110,
            decay,
        };
        let o = std::process::Command::new("python3")
            .args([
                "-m",
                "sn9_titan.schedule",
                "1e-3",
                "1e-4",
                "10",
                "110",
                name,
            ])
            .current_dir(&job)
            .output()
            .unwrap();
        common::ok(&o);
        let got: Vec<f64> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        assert_eq!(got.len(), 110);
        for (step, g) in got.iter().enumerate() {
            let want = s.lr_at(step as u64);
            assert!(
                (g - want).abs() <= 1e-15,
                "{name} step {step}: {g} vs {want}"
            );
        }
    }
}

#[test]
fn competition_shaped_jobs_from_the_demo_shards() {
    let d = tempfile::tempdir().unwrap();
    let shards = pack(d.path(), "shards", None);
    for (cfg, comp, params) in [
        ("b3.json", "2", 3_334_179_840u64),
        ("b14.json", "4", 13_715_020_800),
    ] {
        let job = d.path().join(cfg);
        let o = export(
            &shards,
            &root().join("fixtures/titan").join(cfg),
            &job,
            &[
                "--competition",
                comp,
                "--nodes",
                "4",
                "--global-batch-size",
                "1024",
                "--batch-size",
                "1",
            ],
        );
        common::ok(&o);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("accepted"), "{err}");
        let j: Value = serde_json::from_str(&read(&job.join("job.json"))).unwrap();
        assert_eq!(j["parameters"], params);
        assert_eq!(j["topology"]["world_size"], 32);
        let s: Value = serde_json::from_str(&read(&job.join("sn9_titan/settings.json"))).unwrap();
        assert_eq!(s["grad_accum"], 32);
        assert_eq!(s["vocab_size"], 100277);
    }
}

/// Asserts a refused export: exit 1, `needle` in the message, nothing written.
fn refused(o: std::process::Output, needle: &str, job: &Path) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(needle), "expected `{needle}` in: {err}");
    assert!(!job.exists(), "{} was written", job.display());
    let parent = job.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bad_input_is_refused_before_anything_is_written() {
    let d = tempfile::tempdir().unwrap();
    let shards = pack(d.path(), "shards", None);
    let job = d.path().join("job");
    let mut c: Value = serde_json::from_str(&read(&demo_model())).unwrap();
    let write = |name: &str, v: &Value| {
        let p = d.path().join(name);
        std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
        p
    };
    c["attention_bias"] = true.into();
    let bias = write("bias.json", &c);
    refused(export(&shards, &bias, &job, &[]), "attention_bias", &job);
    c["attention_bias"] = false.into();
    c["rope_scaling"] = serde_json::json!({"type": "linear", "factor": 2.0});
    let linear = write("linear.json", &c);
    refused(
        export(&shards, &linear, &job, &[]),
        "linear rope_scaling",
        &job,
    );
    let qwen = root().join("fixtures/hfref/qwen2/config.json");
    refused(
        export(&shards, &qwen, &job, &[]),
        "only LlamaForCausalLM",
        &job,
    );
    // Shards from another tokenizer: ids past the model's vocabulary.
    c["rope_scaling"] = Value::Null;
    c["vocab_size"] = 200.into();
    let small = write("small.json", &c);
    refused(
        export(&shards, &small, &job, &[]),
        "another tokenizer",
        &job,
    );
    // Counts that do not divide the batch.
    refused(
        export(
            &shards,
            &demo_model(),
            &job,
            &["--nodes", "3", "--global-batch-size", "32"],
        ),
        "not a multiple",
        &job,
    );
    refused(
        export(&shards, &demo_model(), &job, &["--keep", "1"]),
        "at least 2 checkpoints",
        &job,
    );
    refused(
        export(&shards, &demo_model(), &job, &["--competition", "2"]),
        "would not be accepted",
        &job,
    );
    // An existing directory is not replaced.
    std::fs::create_dir_all(&job).unwrap();
    let o = export(&shards, &demo_model(), &job, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    assert_eq!(std::fs::read_dir(&job).unwrap().count(), 0);
}

#[test]
fn imported_checkpoint_evaluates_and_pushes() {
    let d = tempfile::tempdir().unwrap();
    let shards = pack(d.path(), "shards", None);
    let eval = pack(d.path(), "eval", Some("TINY"));
    // Continue a model: its weights become the job's init_hf.
    let init = d.path().join("init");
    common::ok(
        &sn9()
            .args(["-q", "model", "init", "--model-config"])
            .arg(demo_model())
            .args(["--seed", "3"])
            .arg(&init)
            .output()
            .unwrap(),
    );
    let job = d.path().join("job");
    common::ok(&export(
        &shards,
        &init,
        &job,
        &["--gpus-per-node", "1", "--steps", "20"],
    ));
    assert!(job.join("init_hf/model.safetensors").exists());
    let j: Value = serde_json::from_str(&read(&job.join("job.json"))).unwrap();
    assert_eq!(j["init_from_weights"], true);

    let import = |extra: &[&str]| {
        sn9()
            .args(["--json", "train", "import-job"])
            .arg(&job)
            .arg("--out")
            .arg(d.path().join("model"))
            .args(extra)
            .output()
            .unwrap()
    };
    // Nothing trained yet.
    let o = import(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("has the job run"));
    // A DCP step: the message says how to convert it.
    let dcp = job.join("outputs/checkpoint/step-10");
    std::fs::create_dir_all(&dcp).unwrap();
    std::fs::write(dcp.join(".metadata"), b"dcp").unwrap();
    let o = import(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("python -m sn9_titan.export --step 10"));
    // torchtitan's last save in Hugging Face format: f32 weights, as torchtitan names the file.
    let last = job.join("outputs/checkpoint/step-20");
    std::fs::create_dir_all(&last).unwrap();
    std::fs::copy(
        init.join("model.safetensors"),
        last.join("model-00001-of-00001.safetensors"),
    )
    .unwrap();
    let o = import(&[]);
    common::ok(&o);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["step"], 20);
    let model = d.path().join("model");
    let cfg: Value = serde_json::from_str(&read(&model.join("config.json"))).unwrap();
    assert_eq!(cfg["torch_dtype"], "bfloat16");
    // The imported weights are the checkpoint's, rounded to bf16.
    let info = common::json_out(sn9().args(["--json", "model", "info"]).arg(&model));
    assert_eq!(
        info["parameters"].as_u64().or(info["params"].as_u64()),
        Some(123_840),
        "{info}"
    );
    let e = sn9()
        .env("SN9_SCHEDULE", root().join("fixtures/demo/schedule.json"))
        .arg("eval")
        .arg(&model)
        .arg("--batches")
        .arg(&eval)
        .args(["--competition", "2", "--skip-checks", "--batch-size", "4"])
        .output()
        .unwrap();
    common::ok(&e);
    let loss = common::json_lines(&String::from_utf8_lossy(&e.stdout));
    assert!(!loss.is_empty());
    let o = sn9()
        .env("SN9_SCHEDULE", root().join("fixtures/demo/schedule.json"))
        .args(["-q", "hub", "push"])
        .arg(&model)
        .args(["alice/titan-tiny", "--competition", "2", "--hub"])
        .arg(format!("file://{}", d.path().join("hub").display()))
        .output()
        .unwrap();
    common::ok(&o);

    // A damaged checkpoint file (truncated in copying) is a clear error, and nothing is written.
    let good = std::fs::read(last.join("model-00001-of-00001.safetensors")).unwrap();
    std::fs::write(
        last.join("model-00001-of-00001.safetensors"),
        &good[..good.len() / 2],
    )
    .unwrap();
    let o = import(&["--force"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("model-00001-of-00001.safetensors"));
    assert!(
        model.join("model.safetensors").exists(),
        "the imported model was kept"
    );

    // A checkpoint of another model is refused, and so is a job of another version.
    std::fs::copy(
        root().join("fixtures/hfref/llama_gqa/model.safetensors"),
        last.join("model-00001-of-00001.safetensors"),
    )
    .unwrap();
    let o = import(&["--force"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("shape"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut j2 = j.clone();
    j2["version"] = 2.into();
    std::fs::write(job.join("job.json"), serde_json::to_string(&j2).unwrap()).unwrap();
    let o = import(&["--force"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("regenerate the job"));
    std::fs::write(job.join("job.json"), b"{\"schema\": ").unwrap();
    let o = import(&["--force"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not valid JSON"));
}
