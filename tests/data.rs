//! `sn9 data ...` through the binary against a loopback fake datasets-server.

mod common;

use std::process::Command;
use std::time::Duration;

use assert_cmd::prelude::*;
use std::io::Write;

use common::{FakeDatasetsServer, Faults, golden, json_out, root, sn9};
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

/// `sn9 --json data sample` of competition 2 at block 5,200,123 with 64-token sequences against
/// the loopback server `url`, no pause between retries.
fn sample_cmd(url: &str, out: &std::path::Path, hash: &str, timeout_ms: &str) -> Command {
    let mut c = sn9();
    c.args([
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
        url,
        "--backoff-ms",
        "0",
        "--timeout-ms",
        timeout_ms,
        "--force",
    ]);
    c
}

fn sample(server: &FakeDatasetsServer, out: &std::path::Path, hash: &str) -> std::process::Output {
    sample_cmd(&server.url, out, hash, "2000").output().unwrap()
}

/// The first golden sync-block case: its seed (decimal) and block hash.
fn seed_and_hash(g: &Value) -> (String, String) {
    let c = &g["sync_block_seed"][0];
    (
        c["seed"].as_str().unwrap().to_string(),
        c["block_hash"].as_str().unwrap().to_string(),
    )
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
    let (seed, hash) = seed_and_hash(&g);
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
    let (seed, hash) = seed_and_hash(&g);
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
    let (seed, hash) = seed_and_hash(&g);
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
    let m = json_out(&mut sample_cmd(
        &server.url,
        &dir.path().join("o"),
        &hash,
        "100",
    ));
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
    let down = [
        "--seed",
        "1",
        "--seq-len",
        "8",
        "--datasets-server",
        "http://127.0.0.1:9",
    ];
    let mut c = sn9();
    base(&mut c);
    let out = c
        .args(down)
        .args(["--backoff-ms", "0", "--timeout-ms", "200"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("x").exists());
    // With the reference's pauses the same outage would retry for hours: the deadline stops
    // the command (exit 2, the service's fault) and nothing is written.
    let mut c = sn9();
    base(&mut c);
    let t = std::time::Instant::now();
    let out = c
        .args(down)
        .args(["--backoff-ms", "300", "--deadline-s", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--deadline-s"), "{err}");
    assert!(t.elapsed() < std::time::Duration::from_secs(20));
    assert!(!dir.path().join("x").exists());
}

/// Packing reproduces Python `tokenizers` ids: documents are the cl100k reference strings, the
/// stream is their ids each followed by EOS 100257, cut into windows, the tail dropped.
#[test]
fn pack_matches_python_tokenizer_ids() {
    let cases: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/tokenizer/cl100k_cases.json")).unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut jsonl = Vec::new();
    let mut want: Vec<u32> = Vec::new();
    let mut docs = 0;
    for c in cases["cases"].as_array().unwrap() {
        let text = c["text"].as_str().unwrap();
        if text.trim().is_empty() {
            continue; // empty documents are skipped and counted
        }
        docs += 1;
        writeln!(
            jsonl,
            "{}",
            serde_json::json!({"text": text, "source": c["name"]})
        )
        .unwrap();
        want.extend(
            c["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32),
        );
        want.push(100257);
    }
    // Bad documents: not UTF-8, no text field, empty; and one 5 MB single-line document.
    jsonl.extend_from_slice(
        b"{\"text\": \"\xff\xfe broken\"}\n{\"title\": \"no text\"}\n{\"text\": \"\"}\n",
    );
    std::fs::write(dir.path().join("a.jsonl"), &jsonl).unwrap();
    let big = format!("{{\"text\": \"{}\"}}\n", "word ".repeat(1_000_000));
    std::fs::write(dir.path().join("b.jsonl"), big).unwrap();
    let out = dir.path().join("packed");
    let o = sn9()
        .args(["--json", "data", "pack"])
        .arg(dir.path().join("a.jsonl"))
        .arg(dir.path().join("b.jsonl"))
        .arg("--tokenizer")
        .arg(root().join("fixtures/tokenizer/cl100k"))
        .args(["--seq-len", "16", "--sequences-per-shard", "5000"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 not UTF-8, 1 without a text field"));
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();
    let stats = &m["origin"]["stats"];
    assert_eq!(stats["documents"], docs + 1);
    assert_eq!(stats["non_utf8_documents"], 1);
    let shards = sn9::data::shards::Shards::open(&out).unwrap();
    let got: Vec<u32> = (0..shards.manifest.shards.len())
        .flat_map(|i| shards.sequences(i).flatten().collect::<Vec<_>>())
        .collect();
    assert!(got.len() > want.len(), "the big document follows");
    assert_eq!(&got[..want.len() / 16 * 16], &want[..want.len() / 16 * 16]);
    assert_eq!(got.len() % 16, 0);
    assert!(
        shards.manifest.shards.len() >= 2,
        "sharded at 5000 sequences"
    );

    // Refuses to overwrite, unknown inputs, missing files: exit 1, nothing half-written.
    let mut c = sn9();
    c.args(["data", "pack"])
        .arg(dir.path().join("a.jsonl"))
        .arg("--tokenizer")
        .arg(root().join("fixtures/tokenizer/cl100k"))
        .arg("--out")
        .arg(&out);
    assert_eq!(c.output().unwrap().status.code(), Some(1));
    std::fs::write(dir.path().join("c.csv"), "text\nhello\n").unwrap();
    let o = sn9()
        .args(["data", "pack"])
        .arg(dir.path().join("c.csv"))
        .arg("--tokenizer")
        .arg(root().join("fixtures/tokenizer/cl100k"))
        .arg("--out")
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!dir.path().join("x").exists());
    assert_eq!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp"))
            .count(),
        0
    );
}

/// The dedicated cl100k encoder packs the same shards as the generic `tokenizers` path
/// (`SN9_GENERIC_TOKENIZER=1`): mixed scripts, every whitespace kind, contractions, long runs,
/// and documents holding added-token text (which take the generic path inside the fast run).
#[test]
fn pack_fast_cl100k_equals_generic_path() {
    let dir = tempfile::tempdir().unwrap();
    let alphabet: Vec<char> = "aZs'tTrReEvVmMlLdD \t\r\n\u{b}\u{85}\u{a0}\u{2028}\u{3000}09٣Ⅻ²!.,-=<|>_/ſKéü中文ǅ\u{301}\u{200d}😀"
        .chars()
        .collect();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut jsonl = String::new();
    for i in 0..400 {
        let len = 1 + (next() % 300) as usize;
        let mut text: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        if i % 50 == 7 {
            text.push_str(" <|endoftext|> and <|fim_prefix|>");
        }
        if i % 100 == 3 {
            text.push_str(&"=".repeat(5000));
        }
        jsonl.push_str(&serde_json::json!({ "text": text }).to_string());
        jsonl.push('\n');
    }
    std::fs::write(dir.path().join("mixed.jsonl"), jsonl).unwrap();
    let pack = |name: &str, generic: bool| {
        let out = dir.path().join(name);
        let mut c = sn9();
        c.args(["--json", "data", "pack"])
            .arg(dir.path().join("mixed.jsonl"))
            .arg("--tokenizer")
            .arg(root().join("fixtures/tokenizer/cl100k"))
            .args(["--seq-len", "64"])
            .arg("--out")
            .arg(&out);
        if generic {
            c.env("SN9_GENERIC_TOKENIZER", "1");
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let shards = sn9::data::shards::Shards::open(&out).unwrap();
        (0..shards.manifest.shards.len())
            .flat_map(|i| shards.sequences(i).flatten().collect::<Vec<_>>())
            .collect::<Vec<u32>>()
    };
    let fast = pack("fast", false);
    let generic = pack("generic", true);
    assert!(fast.len() > 20_000, "{} tokens", fast.len());
    assert!(fast.contains(&100258), "added tokens encoded as such");
    assert_eq!(fast, generic);
}

/// The validator's path end to end through the binary: data sample (loopback fake server) →
/// eval (a tiny model with the subnet's vocabulary) → score.
#[test]
fn sample_eval_score_pipeline() {
    let g = golden();
    let (_, hash) = seed_and_hash(&g);
    let dir = tempfile::tempdir().unwrap();
    let server = FakeDatasetsServer::start(configs(&g), Faults::default());
    let batches = dir.path().join("batches");
    let o = sample(&server, &batches, &hash);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cfg = serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "vocab_size": 100288, "hidden_size": 16, "intermediate_size": 32,
        "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 256,
        "tie_word_embeddings": true, "initializer_range": 0.5
    });
    std::fs::write(dir.path().join("config.json"), cfg.to_string()).unwrap();
    for (name, seed) in [("m1", "1"), ("m2", "2")] {
        let o = sn9()
            .args(["model", "init", "--model-config"])
            .arg(dir.path().join("config.json"))
            .args(["--seed", seed])
            .arg(dir.path().join(name))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = sn9()
        .arg("eval")
        .arg(dir.path().join("m1"))
        .arg(dir.path().join("m2"))
        .arg("--batches")
        .arg(&batches)
        .args([
            "--skip-checks",
            "--uid",
            "4,7",
            "--model-block",
            "5190000,5195000",
            "--batch-size",
            "10",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(
        rows.lines().count(),
        2 * 5,
        "two models × five sampled tasks (Stack v2 is gated)"
    );
    let s = assert_cmd::Command::from_std(sn9())
        .args(["--json", "score", "-"])
        .write_stdin(rows)
        .output()
        .unwrap();
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    let w: Value = serde_json::from_slice(&s.stdout).unwrap();
    assert_eq!(w["block"], 5200123);
    assert_eq!(w["competitions"][0]["evaluated"], serde_json::json!([4, 7]));
}

/// Batches tokenized with another tokenizer are refused by `eval --tokenizer`.
#[test]
fn eval_refuses_batches_of_another_tokenizer() {
    let cases: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/tokenizer/cl100k_cases.json")).unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text: String = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| serde_json::json!({"text": c["text"]}).to_string() + "\n")
        .collect();
    std::fs::write(dir.path().join("a.jsonl"), text).unwrap();
    let tok = root().join("fixtures/tokenizer/cl100k");
    let o = sn9()
        .args(["data", "pack"])
        .arg(dir.path().join("a.jsonl"))
        .arg("--tokenizer")
        .arg(&tok)
        .args(["--seq-len", "8"])
        .arg("--out")
        .arg(dir.path().join("b"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Same tokenizer: accepted (the model then fails on the ids, as a row).
    let ok = sn9()
        .arg("eval")
        .arg(root().join("fixtures/hfref/llama_gqa"))
        .arg("--batches")
        .arg(dir.path().join("b"))
        .args(["--competition", "2", "--skip-checks", "--tokenizer"])
        .arg(&tok)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Another tokenizer file: refused.
    let other = dir.path().join("other.json");
    let mut t: Value =
        serde_json::from_str(&std::fs::read_to_string(tok.join("tokenizer.json")).unwrap())
            .unwrap();
    t["added_tokens"].as_array_mut().unwrap().pop();
    std::fs::write(&other, t.to_string()).unwrap();
    let o = sn9()
        .arg("eval")
        .arg(root().join("fixtures/hfref/llama_gqa"))
        .arg("--batches")
        .arg(dir.path().join("b"))
        .args(["--competition", "2", "--tokenizer"])
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("were tokenized with"));
}

/// fetch (paged, retried, resumable) → pack, through the binary against the loopback server.
#[test]
fn fetch_resumes_and_feeds_pack() {
    let dir = tempfile::tempdir().unwrap();
    let server = FakeDatasetsServer::start(
        vec![("default".into(), 1000)],
        Faults {
            fail_first_rows: 2,
            ..Default::default()
        },
    );
    let out = dir.path().join("rows.jsonl");
    let fetch = || {
        sn9()
            .args([
                "--json",
                "data",
                "fetch",
                "--dataset",
                "org/ds",
                "--rows",
                "230",
                "--offset",
                "7",
            ])
            .arg("--out")
            .arg(&out)
            .args(["--datasets-server", &server.url, "--backoff-ms", "1"])
            .output()
            .unwrap()
    };
    let o = fetch();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stats: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(stats["rows_written"], 230);
    assert_eq!(stats["retries"], 2);
    let lines: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 230);
    assert_eq!(lines[0]["row"], 7);
    assert_eq!(
        lines[229]["text"],
        common::fake_text("org/ds", "default", 236)
    );
    let pages: Vec<u64> = server
        .requests()
        .iter()
        .filter(|r| r["endpoint"] == "rows")
        .map(|r| r["length"].as_u64().unwrap())
        .collect();
    assert!(pages.iter().all(|&l| l <= 100));

    // An interrupted run (120 complete rows and half a line) resumes without gaps or repeats.
    let text = std::fs::read_to_string(&out).unwrap();
    let keep: String = text
        .lines()
        .take(120)
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + "{\"text\": \"half";
    std::fs::write(&out, keep).unwrap();
    let o = fetch();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stats: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(stats["resumed_from"], 120);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);

    let o = sn9()
        .args(["--json", "data", "pack"])
        .arg(&out)
        .arg("--tokenizer")
        .arg(root().join("fixtures/tokenizer/cl100k"))
        .args(["--seq-len", "32"])
        .arg("--out")
        .arg(dir.path().join("packed"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(m["origin"]["stats"]["documents"], 230);

    // An unreachable server: bounded retries, then exit 2 (the service, not the input); a run
    // that got nothing leaves no empty output behind.
    let o = sn9()
        .args([
            "data",
            "fetch",
            "--dataset",
            "org/ds",
            "--rows",
            "10",
            "--retries",
            "1",
            "--backoff-ms",
            "1",
            "--timeout-ms",
            "200",
        ])
        .arg("--out")
        .arg(dir.path().join("x.jsonl"))
        .args(["--datasets-server", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("gave up after 2 attempts") && err.contains("nothing was written"),
        "{err}"
    );
    assert!(!dir.path().join("x.jsonl").exists());
}

/// Stack v2: rows hold blob ids; contents come gzip-compressed from the (fake) Software Heritage
/// bucket with SigV4 signatures from the AWS environment credentials.
#[test]
fn sample_fetches_stack_v2_contents_from_s3() {
    let g = golden();
    let (_, hash) = seed_and_hash(&g);
    let dir = tempfile::tempdir().unwrap();
    let server = FakeDatasetsServer::start(configs(&g), Faults::default());
    let o = sample_cmd(&server.url, &dir.path().join("o"), &hash, "2000")
        .env("HF_TOKEN", "hf_test")
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret-never-printed")
        .args(["--s3-endpoint", &server.url])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("secret-never-printed"));
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();
    let t = task(&m, "STACKV2_DEDUP");
    assert!(t["skipped"].is_null(), "{t}");
    assert_eq!(t["sequences"], 50);
    assert_eq!(t["pages"].as_array().unwrap().len(), 30);
    let s3: Vec<Value> = server
        .requests()
        .into_iter()
        .filter(|r| r["endpoint"] == "s3")
        .collect();
    assert_eq!(s3.len(), 30 * 50);
    assert!(
        s3[0]["authorization"]
            .as_str()
            .unwrap()
            .starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/")
    );
}
