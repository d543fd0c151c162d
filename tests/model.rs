//! `sn9 model ...` through the binary: init, info (competition fit, --memory), generate, forward,
//! bench, convert, and bad model files (each a clear error naming the file and tensor, exit 1,
//! never a panic).

mod common;
use common::{case, json_out, sn9};

use std::path::Path;

use assert_cmd::prelude::*;
use predicates::prelude::*;
use serde_json::{Value, json};

#[test]
fn init_info_generate_convert() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let cfg = case("llama_gqa").join("config.json");
    for (out, seed) in [(&a, "1"), (&b, "1")] {
        sn9()
            .args(["model", "init", "--model-config"])
            .arg(&cfg)
            .args(["--seed", seed])
            .arg(out)
            .assert()
            .success();
    }
    // Same seed, same bytes; another seed, other weights.
    assert_eq!(
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(b.join("model.safetensors")).unwrap()
    );
    let c = dir.path().join("c");
    sn9()
        .args(["model", "init", "--model-config"])
        .arg(&cfg)
        .args(["--seed", "2"])
        .arg(&c)
        .assert()
        .success();
    assert_ne!(
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(c.join("model.safetensors")).unwrap()
    );

    let info = json_out(sn9().args(["--json", "model", "info"]).arg(&a));
    assert_eq!(info["parameters"], 204224);
    assert_eq!(info["architecture"], "LlamaForCausalLM");
    assert_eq!(info["dtype"], "float32");
    let b3 = info["competitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == 2)
        .unwrap();
    assert_eq!(b3["fits"], false);

    let g = json_out(sn9().args(["--json", "model", "generate"]).arg(&a).args([
        "--prompt-ids",
        "1,2,3",
        "--max-new-tokens",
        "5",
    ]));
    assert_eq!(g["new_tokens"].as_array().unwrap().len(), 5);

    // The reference case through the binary: transformers' greedy tokens.
    let exp: Value = serde_json::from_str(
        &std::fs::read_to_string(case("llama_gqa").join("expected.json")).unwrap(),
    )
    .unwrap();
    let prompt: Vec<String> = exp["generate"]["prompt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect();
    let g = json_out(
        sn9()
            .args(["--json", "model", "generate"])
            .arg(case("llama_gqa"))
            .args(["--prompt-ids", &prompt.join(","), "--max-new-tokens", "12"]),
    );
    assert_eq!(g["new_tokens"], exp["generate"]["new_tokens"]);

    // Convert to bf16, sharded: reloadable, torch_dtype set, index written.
    let d = dir.path().join("d");
    sn9()
        .args(["model", "convert"])
        .arg(case("llama_gqa"))
        .arg(&d)
        .args(["--dtype", "bf16", "--max-shard-size", "100KB"])
        .assert()
        .success();
    assert!(d.join("model.safetensors.index.json").exists());
    let info = json_out(sn9().args(["--json", "model", "info"]).arg(&d));
    assert_eq!(info["dtype"], "bfloat16");
    sn9()
        .args(["model", "generate"])
        .arg(&d)
        .args(["--prompt-ids", "1,2", "--max-new-tokens", "3"])
        .assert()
        .success();

    // bf16 compute through the flag and the env var.
    let g = json_out(
        sn9()
            .args(["--json", "model", "generate"])
            .arg(case("llama_bf16"))
            .args([
                "--prompt-ids",
                "5,6,7",
                "--max-new-tokens",
                "4",
                "--dtype",
                "bf16",
            ]),
    );
    assert_eq!(g["new_tokens"].as_array().unwrap().len(), 4);
    sn9()
        .env("SN9_DTYPE", "bf16")
        .args(["model", "generate"])
        .arg(case("llama_bf16"))
        .args(["--prompt-ids", "5"])
        .assert()
        .success();
    sn9()
        .env("SN9_DTYPE", "f64")
        .args(["model", "generate"])
        .arg(case("llama_bf16"))
        .args(["--prompt-ids", "5"])
        .assert()
        .code(1);
}

#[test]
fn info_explains_fit_for_competitions_2_and_4() {
    let dir = tempfile::tempdir().unwrap();
    // A 3.33B Llama with the subnet's vocabulary: fits B3, not B14.
    let cfg = json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 100352,
        "hidden_size": 3072, "intermediate_size": 8192, "num_hidden_layers": 30,
        "num_attention_heads": 24, "num_key_value_heads": 8, "tie_word_embeddings": true,
        "max_position_embeddings": 4096, "rope_theta": 500000.0, "torch_dtype": "bfloat16"
    });
    std::fs::write(dir.path().join("config.json"), cfg.to_string()).unwrap();
    let info = json_out(
        sn9()
            .args(["--json", "model", "info"])
            .arg(dir.path())
            .args(["--block", "5200000"]),
    );
    assert_eq!(info["parameters"], 3_328_367_616u64);
    let comp = |id: u64| {
        info["competitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(comp(2)["fits"], true, "{}", comp(2));
    assert_eq!(comp(4)["fits"], false);
    assert!(
        comp(4)["why_not"][0]
            .as_str()
            .unwrap()
            .contains("outside 13700000000")
    );
    sn9()
        .args(["model", "info"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("2 B3_MODEL   yes"));
}

#[test]
fn bad_model_files() {
    let dir = tempfile::tempdir().unwrap();
    let try_generate = |d: &Path| {
        let out = sn9()
            .args(["model", "generate"])
            .arg(d)
            .args(["--prompt-ids", "1,2", "--max-new-tokens", "2"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{}: {err}", d.display());
        assert!(!err.contains("panicked"), "{err}");
        err
    };

    // Truncated weights.
    let t = dir.path().join("truncated");
    common::copy_dir(&case("llama_gqa"), &t);
    let bytes = std::fs::read(t.join("model.safetensors")).unwrap();
    std::fs::write(t.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    let err = try_generate(&t);
    assert!(
        err.contains("model.safetensors") && err.contains("truncated"),
        "{err}"
    );

    // A 100 GB header length.
    let h = dir.path().join("header");
    common::copy_dir(&case("llama_gqa"), &h);
    let mut huge = (100u64 << 30).to_le_bytes().to_vec();
    huge.extend_from_slice(&bytes[8..64]);
    std::fs::write(h.join("model.safetensors"), &huge).unwrap();
    assert!(try_generate(&h).contains("implausible"));

    // A config that lies about sizes.
    let l = dir.path().join("lies");
    common::copy_dir(&case("llama_gqa"), &l);
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(l.join("config.json")).unwrap()).unwrap();
    cfg["intermediate_size"] = json!(200);
    std::fs::write(l.join("config.json"), cfg.to_string()).unwrap();
    let err = try_generate(&l);
    assert!(
        err.contains("gate_proj.weight") && err.contains("[176, 64]"),
        "{err}"
    );

    // A missing shard.
    let s = dir.path().join("shard");
    common::copy_dir(&case("llama_sharded"), &s);
    std::fs::remove_file(s.join("model-00003-of-00005.safetensors")).unwrap();
    assert!(try_generate(&s).contains("shard model-00003-of-00005.safetensors is missing"));

    // An architecture outside the nine names the accepted ones.
    let a = dir.path().join("arch");
    common::copy_dir(&case("llama_gqa"), &a);
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("config.json")).unwrap()).unwrap();
    cfg["architectures"] = json!(["GPT2LMHeadModel"]);
    std::fs::write(a.join("config.json"), cfg.to_string()).unwrap();
    assert!(try_generate(&a).contains("they accept: LlamaForCausalLM, MistralForCausalLM"));

    // A tensor with an integer dtype.
    let i = dir.path().join("int");
    std::fs::create_dir_all(&i).unwrap();
    std::fs::copy(
        case("llama_tied").join("config.json"),
        i.join("config.json"),
    )
    .unwrap();
    let header = json!({"__metadata__": {"format": "pt"}, "model.embed_tokens.weight": {"dtype": "I32", "shape": [512, 64], "data_offsets": [0, 512 * 64 * 4]}}).to_string();
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend(std::iter::repeat_n(0u8, 512 * 64 * 4));
    std::fs::write(i.join("model.safetensors"), file).unwrap();
    let err = try_generate(&i);
    assert!(
        err.contains("missing") || err.contains("I32") || err.contains("tensors in all"),
        "{err}"
    );

    // No weights at all; a prompt token outside the vocabulary.
    let n = dir.path().join("none");
    std::fs::create_dir_all(&n).unwrap();
    std::fs::copy(case("llama_gqa").join("config.json"), n.join("config.json")).unwrap();
    assert!(try_generate(&n).contains("no model.safetensors"));
    let out = sn9()
        .args(["model", "generate"])
        .arg(case("llama_gqa"))
        .args(["--prompt-ids", "9999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside the vocabulary"));
}

/// `model forward` on the CPU equals transformers' numbers for a reference case (loss per row,
/// argmax per position, the .npy logits' shape), reads ids as JSON or JSON Lines from a file or
/// stdin, and refuses malformed ids with exit 1.
#[test]
fn forward_matches_reference_and_refuses_bad_ids() {
    let dir = tempfile::tempdir().unwrap();
    let c = case("llama_gqa");
    let exp: Value =
        serde_json::from_str(&std::fs::read_to_string(c.join("expected.json")).unwrap()).unwrap();
    let npy = dir.path().join("logits.npy");
    let out = sn9()
        .args(["--json", "model", "forward", "--ids"])
        .arg(c.join("input_ids.json"))
        .arg("--logits")
        .arg(&npy)
        .arg(&c)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    for (r, want) in rows.iter().zip(exp["loss"]["per_row"].as_array().unwrap()) {
        let (g, w) = (r["loss"].as_f64().unwrap(), want.as_f64().unwrap());
        assert!((g - w).abs() / w < 1e-4, "loss {g} vs {w}");
    }
    assert_eq!(
        rows.iter().map(|r| r["argmax"].clone()).collect::<Vec<_>>(),
        exp["logits"]["pos_argmax"].as_array().unwrap().clone()
    );
    let a = common::npy::read_npy(&npy).unwrap();
    assert_eq!(a.shape, vec![2, 33, 512]);
    // JSON Lines on stdin give the same rows.
    let ids: Value =
        serde_json::from_str(&std::fs::read_to_string(c.join("input_ids.json")).unwrap()).unwrap();
    let jsonl: String = ids["input_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{r}\n"))
        .collect();
    let again = assert_cmd::Command::from_std(sn9())
        .args(["--json", "model", "forward", "--ids", "-"])
        .arg(&c)
        .write_stdin(jsonl)
        .output()
        .unwrap();
    assert_eq!(again.stdout, out.stdout);
    for (bad, why) in [
        ("[[1, 2, 3], [4, 5]]", "equal length"),
        ("{\"ids\": [[1]]}", "no `input_ids`"),
        ("[[1, 2, 99999]]", "outside the model's vocabulary"),
        ("not json", "line 1"),
        ("[]", "no token ids"),
    ] {
        let f = dir.path().join("ids.json");
        std::fs::write(&f, bad).unwrap();
        sn9()
            .args(["model", "forward", "--ids"])
            .arg(&f)
            .arg(&c)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(why));
    }
}

/// `model bench` times the evaluation computation and reports tokens/s and MFU; bad sizes exit 1.
#[test]
fn bench_reports_throughput() {
    let c = case("llama_gqa");
    let v = json_out(
        sn9()
            .args([
                "model",
                "bench",
                "--seq-len",
                "16",
                "--batch-size",
                "2",
                "--iters",
                "2",
                "--peak-tflops",
                "1",
            ])
            .arg(&c),
    );
    assert_eq!(v["seq_len"], 16);
    assert!(v["tokens_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["mfu"].as_f64().unwrap() > 0.0);
    assert!(v["loss"].as_f64().unwrap().is_finite());
    sn9()
        .args(["model", "bench", "--seq-len", "1"])
        .arg(&c)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--seq-len"));
}

/// `model info --memory` on a bare config.json: both estimates with their parts, whether they
/// fit the given device memory, and the 13.8B shape fitting 80 GiB for evaluation only.
#[test]
fn info_memory_estimates() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("b14.json");
    std::fs::write(
        &cfg,
        json!({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
               "vocab_size": 100288, "hidden_size": 5120, "intermediate_size": 13824,
               "num_hidden_layers": 40, "num_attention_heads": 40, "num_key_value_heads": 40,
               "max_position_embeddings": 4096, "tie_word_embeddings": false})
        .to_string(),
    )
    .unwrap();
    let v = json_out(
        sn9()
            .args(["--json", "model", "info", "--memory", "--device", "cuda:0"])
            .args(["--device-memory-gib", "80"])
            .arg(&cfg),
    );
    let m = &v["memory"];
    assert_eq!(m["eval"]["fits"], true);
    assert_eq!(m["train"]["fits"], false);
    let parts: u64 = m["eval"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(parts, m["eval"]["bytes"].as_u64().unwrap());
    assert_eq!(v["bytes_on_disk"], 0);
    // The table says the same in words.
    sn9()
        .args([
            "model",
            "info",
            "--memory",
            "--device",
            "cuda:0",
            "--device-memory-gib",
            "80",
        ])
        .arg(&cfg)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("evaluation").and(predicate::str::contains("DOES NOT FIT")),
        );
    // --seq-len without --memory, a nonsense size: exit 1 with the flag named.
    sn9()
        .args(["model", "info", "--seq-len", "10"])
        .arg(&cfg)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--memory"));
    sn9()
        .args(["model", "info", "--memory", "--device-memory-gib=-3"])
        .arg(&cfg)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--device-memory-gib"));
}
