//! The nine transformers classes the text competitions accept, through the binary (issue 17):
//! Gemma2 and Phi evaluate to transformers' validator loss (fixtures/hfref, transformers
//! 4.44.1); Falcon, GPT-NeoX and Bart get an `inf` row with the reference's error (its
//! `model(x, past_key_values=DynamicCache())` raises for them); `model info` counts them and says
//! so; `train --competition` and `hub push --competition` refuse them before any work; Gemma and
//! Phi train; bad configs are clear errors naming the field.

mod common;
use common::{json_out, root, sn9};

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

fn case(name: &str) -> PathBuf {
    root().join("fixtures/hfref").join(name)
}

fn expected(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(case(name).join("expected.json")).unwrap())
        .unwrap()
}

/// Token batches (one task, `TINY`) holding exactly the case's two input rows.
fn batches_of(name: &str, dir: &Path) -> PathBuf {
    let inputs: Value =
        serde_json::from_str(&std::fs::read_to_string(case(name).join("input_ids.json")).unwrap())
            .unwrap();
    let rows: Vec<Vec<u32>> = serde_json::from_value(inputs["input_ids"].clone()).unwrap();
    let t = rows[0].len();
    let out = dir.join(format!("batches-{name}"));
    std::fs::create_dir_all(&out).unwrap();
    let bytes: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    std::fs::write(out.join("TINY.bin"), bytes).unwrap();
    let manifest = json!({
        "schema": "sn9.tokens", "version": 1, "seq_len": t, "eos_id": 511,
        "tokenizer": {"path": null, "sha256": null, "max_doc_tokens": null},
        "shards": [{"name": "TINY", "file": "TINY.bin", "tokens": t * rows.len(),
                    "sequences": rows.len(), "source": null}],
        "origin": {"command": "test", "case": name},
    });
    std::fs::write(out.join("manifest.json"), manifest.to_string()).unwrap();
    out
}

/// `sn9 eval MODEL --batches B` (checks skipped: the fixtures are tiny), its one row.
fn eval(model: &Path, batches: &Path) -> Value {
    let o = sn9()
        .env("SN9_SCHEDULE", root().join("fixtures/demo/schedule.json"))
        .arg("eval")
        .arg(model)
        .arg("--batches")
        .arg(batches)
        .args(["--competition", "2", "--skip-checks", "--batch-size", "2"])
        .output()
        .unwrap();
    common::ok(&o);
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn gemma2_and_phi_evaluate_to_the_validator_loss() {
    let d = tempfile::tempdir().unwrap();
    for name in ["gemma2", "phi", "gemma"] {
        let row = eval(&case(name), &batches_of(name, d.path()));
        let per_row: Vec<f64> =
            serde_json::from_value(expected(name)["loss"]["per_row"].clone()).unwrap();
        let want = per_row.iter().sum::<f64>() / per_row.len() as f64;
        let got = row["loss"]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: {row}"));
        assert!(
            ((got - want) / want).abs() < 1e-5,
            "{name}: loss {got}, transformers {want}"
        );
    }
}

#[test]
fn falcon_neox_and_bart_score_inf_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    for (name, class) in [
        ("falcon_7b", "FalconForCausalLM"),
        ("gptneox_parallel", "GPTNeoXForCausalLM"),
        ("bart_causal", "BartForCausalLM"),
    ] {
        let row = eval(&case(name), &batches_of(name, d.path()));
        assert_eq!(row["loss"], "inf", "{name}: {row}");
        let err = row["error"].as_str().unwrap_or_default();
        assert!(
            err.contains(class) && err.contains("Cache only has 0 layers"),
            "{name}: {row}"
        );
        // model info counts it as the competitions do and says why it cannot compete.
        let info = json_out(
            sn9()
                .env("SN9_SCHEDULE", root().join("fixtures/demo/schedule.json"))
                .args(["--json", "model", "info"])
                .arg(case(name)),
        );
        assert_eq!(info["parameters"], expected(name)["param_count"], "{info}");
        let text: Vec<&Value> = info["competitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["id"] != 6)
            .collect();
        assert!(
            text.iter()
                .all(|c| c["fits"] == false && c["why_not"].to_string().contains("cannot score")),
            "{info}"
        );
    }
    // Before any work: training for a competition and pushing for one are refused.
    let batches = batches_of("falcon_7b", d.path());
    let o = sn9()
        .env("SN9_SCHEDULE", root().join("fixtures/demo/schedule.json"))
        .arg("train")
        .arg("--data")
        .arg(&batches)
        .arg("--model")
        .arg(case("falcon_7b"))
        .arg("--out")
        .arg(d.path().join("run"))
        .args(["--steps", "1", "--competition", "2"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot score FalconForCausalLM"), "{err}");
    assert!(!d.path().join("run/checkpoints").exists());
    let o = sn9()
        .env("SN9_SCHEDULE", root().join("fixtures/demo/schedule.json"))
        .args(["hub", "push"])
        .arg(case("bart_causal"))
        .args(["alice/bart-try", "--competition", "2", "--hub"])
        .arg(format!("file://{}", d.path().join("hub").display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot score BartForCausalLM") && err.contains("nothing was uploaded"));
}

#[test]
fn gemma_and_phi_train_and_load_back() {
    let d = tempfile::tempdir().unwrap();
    for name in ["gemma", "phi"] {
        let batches = batches_of(name, d.path());
        let run = d.path().join(format!("run-{name}"));
        let o = sn9()
            .arg("-q")
            .arg("train")
            .arg("--data")
            .arg(&batches)
            .arg("--model")
            .arg(case(name))
            .arg("--out")
            .arg(&run)
            .args(["--steps", "3", "--batch-size", "2", "--val-sequences", "0"])
            .args(["--lr", "1e-3", "--warmup-steps", "0", "--save-dtype", "f32"])
            .output()
            .unwrap();
        common::ok(&o);
        let saved: Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("model/config.json")).unwrap())
                .unwrap();
        assert_eq!(
            saved["architectures"],
            expected(name)["architecture"]
                .as_str()
                .map_or(json!(null), |a| json!([a]))
        );
        // Trained on these two rows, the saved model scores them lower than the start did.
        let before = eval(&case(name), &batches)["loss"].as_f64().unwrap();
        let after = eval(&run.join("model"), &batches)["loss"].as_f64().unwrap();
        assert!(after < before, "{name}: {before} → {after}");
    }
}

/// Configs that contradict themselves are clear errors naming the field (exit 1).
#[test]
fn bad_configs_name_the_field() {
    let d = tempfile::tempdir().unwrap();
    let base: Value =
        serde_json::from_str(&std::fs::read_to_string(case("phi").join("config.json")).unwrap())
            .unwrap();
    for (patch, needle) in [
        (
            json!({"architectures": ["MambaForCausalLM"]}),
            "MambaForCausalLM",
        ),
        (
            json!({"num_attention_heads": 5}),
            "not divisible by 5 heads",
        ),
        (
            json!({"partial_rotary_factor": 0.2}),
            "odd rotary dimension",
        ),
        (
            json!({"architectures": ["Gemma2ForCausalLM"], "sliding_window": 0}),
            "sliding_window",
        ),
        (
            json!({"architectures": ["Gemma2ForCausalLM"], "query_pre_attn_scalar": null}),
            "query_pre_attn_scalar",
        ),
        (json!({"hidden_act": "swiglu_v9"}), "swiglu_v9"),
    ] {
        let mut cfg = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            cfg[k] = v.clone();
        }
        let p = d.path().join("cfg");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("config.json"), cfg.to_string()).unwrap();
        let o = sn9().args(["model", "info"]).arg(&p).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(1), "{patch}: {err}");
        assert!(err.contains(needle), "{patch}: {err}");
    }
    // A missing tensor and a wrong shape name the tensor.
    let m = d.path().join("m");
    common::copy_dir(&case("gemma2"), &m);
    let st = m.join("model.safetensors");
    let b = std::fs::read(&st).unwrap();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let mut h: serde_json::Map<String, Value> = serde_json::from_slice(&b[8..8 + n]).unwrap();
    let key = "model.layers.1.pre_feedforward_layernorm.weight";
    let entry = h.remove(key).unwrap();
    h.insert(
        "model.layers.1.pre_feedforward_layernorm.weightx".into(),
        entry,
    );
    let mut hb = serde_json::to_vec(&Value::Object(h)).unwrap();
    while !hb.len().is_multiple_of(8) {
        hb.push(b' ');
    }
    let mut out = (hb.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&hb);
    out.extend_from_slice(&b[8 + n..]);
    std::fs::write(&st, out).unwrap();
    let batches = batches_of("gemma2", d.path());
    let row = eval(&m, &batches);
    assert_eq!(row["loss"], "inf");
    assert!(row["error"].as_str().unwrap().contains(key), "{row}");
}
