//! Hostile input (issue 21), through the binary: what miners upload must load exactly when the
//! reference loads it and fail exactly when the reference fails it. Each case names the library
//! behaviour it mirrors (transformers 4.44.1 `modeling_utils.py`, safetensors 0.4.5
//! `tensor.rs`). Grows as new cases are found.

mod common;
use common::{json_out, root, sn9};

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// A tiny Llama (the demo's config, `max_position_embeddings` replaced when given), initialised
/// with `seed` into `dir`.
fn tiny(dir: &Path, seed: u64, max_pos: Option<u64>) -> PathBuf {
    let mut cfg: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/demo/model.json")).unwrap(),
    )
    .unwrap();
    if let Some(m) = max_pos {
        cfg["max_position_embeddings"] = json!(m);
    }
    let cfgp = dir.join(format!("config-{seed}.json"));
    std::fs::write(&cfgp, cfg.to_string()).unwrap();
    let out = dir.join(format!("m{seed}-{}", max_pos.unwrap_or(0)));
    common::ok(
        &sn9()
            .args([
                "-q",
                "model",
                "init",
                "--seed",
                &seed.to_string(),
                "--model-config",
            ])
            .arg(&cfgp)
            .arg(&out)
            .output()
            .unwrap(),
    );
    out
}

/// The fixture corpus packed as task TINY (byte tokenizer, `seq_len`-token sequences) in
/// `dir/name`.
fn pack(dir: &Path, name: &str, seq_len: usize) -> PathBuf {
    let out = dir.join(name);
    if !out.exists() {
        common::ok(
            &sn9()
                .args(["-q", "data", "pack"])
                .arg(root().join("fixtures/corpus/tiny.jsonl"))
                .arg("--tokenizer")
                .arg(root().join("fixtures/tokenizer/bytes"))
                .args(["--seq-len", &seq_len.to_string(), "--task", "TINY", "--out"])
                .arg(&out)
                .output()
                .unwrap(),
        );
    }
    out
}

/// `sn9 data pack INPUT` with the byte tokenizer, 32-token sequences, into `out`.
fn pack_to(input: &Path, out: &Path) -> std::process::Command {
    let mut c = sn9();
    c.args(["data", "pack"])
        .arg(input)
        .arg("--tokenizer")
        .arg(root().join("fixtures/tokenizer/bytes"))
        .args(["--seq-len", "32", "--out"])
        .arg(out);
    c
}

/// Held-out batches of the fixture corpus (32-token sequences).
fn batches(dir: &Path) -> PathBuf {
    pack(dir, "eval", 32)
}

/// The eval row of one model: its loss, or its error.
fn eval(dir: &Path, model: &Path) -> Result<f64, String> {
    let o = sn9()
        .env("SN9_SCHEDULE", root().join("fixtures/demo/schedule.json"))
        .arg("eval")
        .arg(model)
        .arg("--batches")
        .arg(batches(dir))
        .args(["--competition", "2", "--skip-checks"])
        .output()
        .unwrap();
    common::ok(&o);
    let row: Value = serde_json::from_slice(&o.stdout).unwrap();
    row["loss"]
        .as_f64()
        .ok_or_else(|| row["error"].as_str().unwrap_or("").to_string())
}

/// A safetensors file's header and data.
fn split(path: &Path) -> (serde_json::Map<String, Value>, Vec<u8>) {
    let b = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let h: Value = serde_json::from_slice(&b[8..8 + n]).unwrap();
    (h.as_object().unwrap().clone(), b[8 + n..].to_vec())
}

fn join(path: &Path, header: &serde_json::Map<String, Value>, data: &[u8]) {
    let mut h = serde_json::to_vec(&Value::Object(header.clone())).unwrap();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    std::fs::write(path, out).unwrap();
}

/// transformers 4.44.1 `from_pretrained` on a directory holding both `model.safetensors` and
/// `model.safetensors.index.json` + shards loads `model.safetensors`.
#[test]
fn single_file_wins_over_shards_as_in_transformers() {
    let d = tempfile::tempdir().unwrap();
    let a = tiny(d.path(), 1, None);
    let b = tiny(d.path(), 2, None);
    let b_sharded = d.path().join("b-sharded");
    common::ok(
        &sn9()
            .args(["-q", "model", "convert", "--max-shard-size", "40KB"])
            .arg(&b)
            .arg(&b_sharded)
            .output()
            .unwrap(),
    );
    assert!(b_sharded.join("model.safetensors.index.json").exists());
    let both = d.path().join("both");
    common::copy_dir(&b_sharded, &both);
    std::fs::copy(a.join("model.safetensors"), both.join("model.safetensors")).unwrap();
    let (la, lb, lboth) = (
        eval(d.path(), &a).unwrap(),
        eval(d.path(), &b_sharded).unwrap(),
        eval(d.path(), &both).unwrap(),
    );
    assert_ne!(la, lb);
    assert_eq!(lboth, la, "the single file's weights, not the shards'");
}

/// safetensors 0.4.5 `read_metadata`/`validate`: bytes after the last tensor
/// (MetadataIncompleteBuffer), a gap before the first (InvalidOffset) and `__metadata__` that is
/// not a string map (InvalidHeaderDeserialization) are refused, so the reference scores such a
/// model inf; transformers 4.44.1 `load_state_dict` then requires `__metadata__["format"]`
/// (`metadata.get` on None fails) and `from_pretrained` accepts only `pt` and `mlx` for a single
/// file (`tf`/`flax` go to conversions a validator cannot run).
#[test]
fn safetensors_files_are_refused_where_the_library_refuses_them() {
    let d = tempfile::tempdir().unwrap();
    let a = tiny(d.path(), 1, None);
    let good = eval(d.path(), &a).unwrap();
    let (header, data) = split(&a.join("model.safetensors"));
    let case = |name: &str, header: &serde_json::Map<String, Value>, data: &[u8]| {
        let m = d.path().join(name);
        common::copy_dir(&a, &m);
        join(&m.join("model.safetensors"), header, data);
        eval(d.path(), &m)
    };
    // Trailing bytes.
    let mut more = data.clone();
    more.extend_from_slice(&[0; 8]);
    let e = case("trailing", &header, &more).unwrap_err();
    assert!(e.contains("MetadataIncompleteBuffer"), "{e}");
    // A gap before the first tensor.
    let mut shifted = header.clone();
    for (k, v) in shifted.iter_mut() {
        if k != "__metadata__" {
            let o = v["data_offsets"].as_array().unwrap();
            let (s, t) = (o[0].as_u64().unwrap(), o[1].as_u64().unwrap());
            v["data_offsets"] = json!([s + 8, t + 8]);
        }
    }
    let mut gap = vec![0u8; 8];
    gap.extend_from_slice(&data);
    let e = case("gap", &shifted, &gap).unwrap_err();
    assert!(e.contains("InvalidOffset"), "{e}");
    // __metadata__ with a non-string value.
    let mut h = header.clone();
    h.insert("__metadata__".into(), json!({"format": "pt", "step": 3}));
    let e = case("meta-int", &h, &data).unwrap_err();
    assert!(e.contains("__metadata__"), "{e}");
    // No __metadata__ at all.
    let mut h = header.clone();
    h.remove("__metadata__");
    let e = case("no-meta", &h, &data).unwrap_err();
    assert!(e.contains("no __metadata__ format"), "{e}");
    // Formats: tf refused, mlx loaded as pt.
    let mut h = header.clone();
    h.insert("__metadata__".into(), json!({"format": "tf"}));
    let e = case("tf", &h, &data).unwrap_err();
    assert!(e.contains("\"tf\""), "{e}");
    h.insert("__metadata__".into(), json!({"format": "mlx"}));
    assert_eq!(case("mlx", &h, &data).unwrap(), good);
}

/// transformers computes the rotary embedding for the positions a forward uses, whatever
/// `max_position_embeddings` says: a config claiming 2³³ positions, or fewer than the
/// sequences have, scores exactly as the sane config (and never allocates tables for 2³³).
#[test]
fn max_position_embeddings_does_not_bound_or_blow_up_the_rotary_tables() {
    let d = tempfile::tempdir().unwrap();
    let base = eval(d.path(), &tiny(d.path(), 1, None)).unwrap();
    assert_eq!(
        eval(d.path(), &tiny(d.path(), 1, Some(1 << 33))).unwrap(),
        base
    );
    assert_eq!(eval(d.path(), &tiny(d.path(), 1, Some(4))).unwrap(), base);
    // Generation past max_position_embeddings, as the validator's sanity check does.
    let m = tiny(d.path(), 1, Some(4));
    let g = json_out(
        sn9()
            .args([
                "--json",
                "model",
                "generate",
                "--prompt-ids",
                "1,2,3",
                "--max-new-tokens",
                "6",
            ])
            .arg(&m),
    );
    assert_eq!(g["new_tokens"].as_array().map(|a| a.len()), Some(6), "{g}");
}

/// A parameter count that overflows u64 when computed naively (vocab 144115188101636412 ×
/// hidden 4096 wraps to a small number) saturates: the model never fits a competition and
/// nothing is allocated for it.
#[test]
fn overflowing_parameter_counts_never_fit() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("huge");
    std::fs::create_dir(&m).unwrap();
    let cfg = json!({
        "architectures": ["LlamaForCausalLM"], "vocab_size": 144115188101636412u64,
        "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 2,
        "num_attention_heads": 32, "num_key_value_heads": 32, "tie_word_embeddings": true
    });
    std::fs::write(m.join("config.json"), cfg.to_string()).unwrap();
    let info = json_out(sn9().args(["--json", "model", "info"]).arg(&m));
    assert_eq!(info["parameters"], json!(u64::MAX), "{info}");
    let fits = info["competitions"].as_array().unwrap();
    assert!(fits.iter().all(|c| c["fits"] == false), "{info}");
    // Building such a model (or merely a 2⁴⁰-parameter one) is refused before any allocation
    // with what it would need, never an abort on allocation failure.
    for vocab in [144115188101636412u64, 1 << 34] {
        let mut cfg = cfg.clone();
        cfg["vocab_size"] = json!(vocab);
        cfg["hidden_size"] = json!(64);
        cfg["intermediate_size"] = json!(128);
        cfg["num_attention_heads"] = json!(4);
        cfg["num_key_value_heads"] = json!(4);
        let c = d.path().join("big.json");
        std::fs::write(&c, cfg.to_string()).unwrap();
        let o = sn9()
            .args(["model", "init", "--model-config"])
            .arg(&c)
            .arg(d.path().join("out"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("of memory, this machine has"), "{err}");
        assert!(!d.path().join("out").exists());
    }
}

/// `--out` naming something that is not a regular file is written through, never replaced by
/// a regular file (as root, replacing `/dev/null` would break the host); a symlink keeps
/// pointing at its target; a missing parent directory is created.
#[test]
fn outputs_write_through_special_files_and_links() {
    let d = tempfile::tempdir().unwrap();
    let rows = d.path().join("rows.jsonl");
    std::fs::write(
        &rows,
        "{\"uid\":1,\"competition\":2,\"block\":10,\"task\":\"TINY\",\"loss\":1.5}\n",
    )
    .unwrap();
    let score = |out: &Path| {
        sn9()
            .env("SN9_SCHEDULE", root().join("fixtures/demo/schedule.json"))
            .args(["-q", "score", "--block", "100"])
            .arg(&rows)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    // A FIFO: the reader gets the weights, the FIFO stays a FIFO.
    let fifo = d.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path in a fresh temp dir.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    common::ok(&score(&fifo));
    let got = reader.join().unwrap();
    assert!(got.contains("\"sn9.weights\""), "{got}");
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // A symlink to a regular file: the link stays, the target gets the weights.
    let target = d.path().join("target.json");
    std::fs::write(&target, "old").unwrap();
    let link = d.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    common::ok(&score(&link));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .contains("sn9.weights")
    );
    // A parent directory that does not exist yet.
    let nested = d.path().join("a/b/weights.json");
    common::ok(&score(&nested));
    assert!(nested.is_file());
}

/// Integer edges and closed pipes: a block advance past u32 is refused (the head never moves
/// backwards), and `completions | head -1` ends quietly.
#[test]
fn integer_edges_and_closed_pipes() {
    let d = tempfile::tempdir().unwrap();
    let chain = d.path().join("chain");
    common::ok(
        &sn9()
            .args(["-q", "chain", "local", "init"])
            .arg(&chain)
            .output()
            .unwrap(),
    );
    let net = format!("file://{}", chain.display());
    let o = sn9()
        .args([
            "chain",
            "local",
            "advance",
            "18446744073709551615",
            "--network",
            &net,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("u32"));
    let b = json_out(sn9().args(["--json", "chain", "block", "--network", &net]));
    assert_eq!(b["block"], 1000);
    // A version key past u64 is refused, not replaced by the default; it is read before any
    // wallet or chain is touched.
    let doc = d.path().join("weights.json");
    std::fs::write(
        &doc,
        r#"{"schema": "sn9.weights", "u16_uids": [0], "u16_weights": [65535], "version_key": 1180591620717411303424}"#,
    )
    .unwrap();
    let o = sn9()
        .args([
            "chain",
            "weights",
            "set",
            "--network",
            &net,
            "--wallet-path",
        ])
        .arg(d.path().join("no-wallets"))
        .arg(&doc)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("version_key"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A metagraph of a billion neurons is refused before anything is allocated.
    let rows = d.path().join("rows.jsonl");
    std::fs::write(
        &rows,
        "{\"uid\":1,\"competition\":2,\"block\":10,\"task\":\"TINY\",\"loss\":1.5}\n",
    )
    .unwrap();
    let o = sn9()
        .env("SN9_SCHEDULE", root().join("fixtures/demo/schedule.json"))
        .args(["score", "--block", "100", "--neurons", "1000000000"])
        .arg(&rows)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("65536"));
    // A reader that stops after the first line.
    let mut child = sn9()
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(101));
}

/// What the operator typed is checked before any work: a model path that does not exist, an
/// unreadable `--against` file: exit 1 with the reason, no rows.
#[test]
fn eval_checks_its_arguments_first() {
    let d = tempfile::tempdir().unwrap();
    let m = tiny(d.path(), 1, None);
    let eval = |model: &Path, against: Option<&Path>| {
        let mut c = sn9();
        c.env("SN9_SCHEDULE", root().join("fixtures/demo/schedule.json"))
            .arg("eval")
            .arg(model)
            .arg("--batches")
            .arg(batches(d.path()))
            .args(["--competition", "2", "--skip-checks"]);
        if let Some(a) = against {
            c.arg("--against").arg(a);
        }
        c.output().unwrap()
    };
    let o = eval(&d.path().join("typo"), None);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
    let bad = d.path().join("against.jsonl");
    std::fs::write(&bad, "{not json\n").unwrap();
    let o = eval(&m, Some(&bad));
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty(), "no model was evaluated");
    // --results written on one set of batches does not resume on another.
    let results = d.path().join("results.jsonl");
    let with_results = |batches: &Path| {
        sn9()
            .env("SN9_SCHEDULE", root().join("fixtures/demo/schedule.json"))
            .arg("eval")
            .arg(&m)
            .arg("--batches")
            .arg(batches)
            .args(["--competition", "2", "--skip-checks", "--results"])
            .arg(&results)
            .output()
            .unwrap()
    };
    common::ok(&with_results(&batches(d.path())));
    let other = pack(d.path(), "other", 16);
    let o = with_results(&other);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("other batches"));
}

/// `hub push` sends only files inside the directory, as the validator will load them: a link to
/// a file elsewhere (a key) is refused, so is a truncated weights file; a pulled snapshot (HF
/// cache links into its blob store) pushes fine.
#[test]
fn push_sends_only_what_is_inside_and_loadable() {
    let d = tempfile::tempdir().unwrap();
    let hub = format!("file://{}", d.path().join("hub").display());
    let push = |dir: &Path, repo: &str| {
        sn9()
            .env("SN9_HUB", &hub)
            .env("HF_HOME", d.path().join("hf"))
            .args(["--json", "-q", "hub", "push"])
            .arg(dir)
            .arg(repo)
            .output()
            .unwrap()
    };
    let m = tiny(d.path(), 1, None);
    // A link to a file outside the directory.
    let leak = d.path().join("leak");
    common::copy_dir(&m, &leak);
    let key = d.path().join("coldkey");
    std::fs::write(&key, "secret").unwrap();
    std::os::unix::fs::symlink(&key, leak.join("tokenizer.json")).unwrap();
    let o = push(&leak, "eve/leak");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("links outside"));
    // Truncated weights.
    let cut = d.path().join("cut");
    common::copy_dir(&m, &cut);
    let w = std::fs::read(cut.join("model.safetensors")).unwrap();
    std::fs::write(cut.join("model.safetensors"), &w[..w.len() - 100]).unwrap();
    let o = push(&cut, "eve/cut");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("model.safetensors"));
    // Push, pull into the HF cache, push the pulled snapshot again.
    let pushed: Value = serde_json::from_slice(&push(&m, "alice/ok").stdout).unwrap();
    let pulled = json_out(
        sn9()
            .env("SN9_HUB", &hub)
            .env("HF_HOME", d.path().join("hf"))
            .args(["--json", "-q", "hub", "pull", "alice/ok", "--revision"])
            .arg(pushed["commit"].as_str().unwrap()),
    );
    let o = push(Path::new(pulled["dir"].as_str().unwrap()), "alice/again");
    common::ok(&o);
}

/// `chain metadata encode` writes only strings its own decode (and the validators') read back as
/// the same fields: a `:` inside a field, or a field spelled `None`, is refused.
#[test]
fn metadata_encode_round_trips_or_refuses() {
    let enc = |secure: &str| {
        sn9()
            .args(["chain", "metadata", "encode", "ns/name", "--commit"])
            .arg("0123456789abcdef0123456789abcdef01234567")
            .args(["--secure-hash", secure, "--competition", "2"])
            .output()
            .unwrap()
    };
    for bad in ["a:b", "None"] {
        let o = enc(bad);
        assert_eq!(o.status.code(), Some(1), "{bad}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("would not read back"));
    }
    let o = enc("abc123");
    common::ok(&o);
    let s = String::from_utf8(o.stdout).unwrap();
    let d = json_out(sn9().args(["--json", "chain", "metadata", "decode", s.trim()]));
    assert_eq!(d["secure_hash"], "abc123", "{d}");
    assert_eq!(d["competition_id"], 2, "{d}");
}

/// Endless inputs (`/dev/zero` behind a password file, a settings file, a model's config.json, a
/// corpus, a results file) end in a user error at the documented bound of their kind
/// (`output::Limit`), never in memory exhaustion.
#[test]
fn endless_inputs_stop_at_their_bound() {
    let d = tempfile::tempdir().unwrap();
    let refused = |o: std::process::Output, bound: &str| {
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("larger than sn9 reads") && err.contains(bound),
            "{err}"
        );
    };
    // A password file (1 MiB).
    refused(
        sn9()
            .args(["wallet", "create", "--wallet-name", "w", "--wallet-path"])
            .arg(d.path().join("wallets"))
            .args(["--password-file", "/dev/zero"])
            .output()
            .unwrap(),
        "1 MiB",
    );
    assert!(!d.path().join("wallets/w/coldkey").exists());
    // The settings file (64 MiB).
    refused(
        sn9()
            .args(["--config", "/dev/zero", "competitions"])
            .output()
            .unwrap(),
        "64 MiB",
    );
    // A miner's config.json (256 MiB).
    let m = d.path().join("m");
    std::fs::create_dir(&m).unwrap();
    std::os::unix::fs::symlink("/dev/zero", m.join("config.json")).unwrap();
    refused(
        sn9().args(["model", "info"]).arg(&m).output().unwrap(),
        "256 MiB",
    );
    // One endless line of a corpus (1 GiB), and a results file read whole (1 GiB).
    let corpus = d.path().join("zero.jsonl");
    std::os::unix::fs::symlink("/dev/zero", &corpus).unwrap();
    refused(
        pack_to(&corpus, &d.path().join("packed")).output().unwrap(),
        "1 GiB",
    );
    assert!(!d.path().join("packed").exists());
    refused(
        sn9()
            .args(["score", "/dev/zero", "--block", "1"])
            .output()
            .unwrap(),
        "1 GiB",
    );
}

/// Leftovers: a wallet created on a full disk (simulated with `ulimit -f 0`, SIGXFSZ ignored so
/// the write fails with EFBIG as ENOSPC would) leaves no key behind and the next try succeeds;
/// an empty key file left by an older failed create is replaced; a hidden temporary directory of
/// a killed `data pack` is removed by the next pack of the same output.
#[test]
fn failed_and_killed_runs_leave_nothing_that_blocks_the_next() {
    let d = tempfile::tempdir().unwrap();
    let wallets = d.path().join("wallets");
    let create = |full_disk: bool| {
        let mut c = std::process::Command::new("sh");
        c.arg("-c")
            .arg(if full_disk {
                "trap '' XFSZ; ulimit -f 0; exec \"$@\""
            } else {
                "exec \"$@\""
            })
            .arg("sh")
            .arg(sn9().get_program())
            .args(["wallet", "create", "--no-password", "--wallet-name", "w"])
            .arg("--wallet-path")
            .arg(&wallets);
        c.env_remove("SN9_WALLET_PATH").output().unwrap()
    };
    let o = create(true);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("disk full"), "{err}");
    let left: Vec<_> = walkdir(&wallets)
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    common::ok(&create(false));
    assert!(std::fs::metadata(wallets.join("w/coldkey")).unwrap().len() > 0);
    // An empty hotkey left by an older version is replaced, a real one never.
    let hot = wallets.join("w/hotkeys/default");
    std::fs::write(&hot, b"").unwrap();
    std::fs::remove_file(wallets.join("w/hotkeys/defaultpub.txt")).unwrap();
    let add = || {
        sn9()
            .args(["wallet", "create", "--hotkey-only", "--wallet-name", "w"])
            .arg("--wallet-path")
            .arg(&wallets)
            .output()
            .unwrap()
    };
    common::ok(&add());
    assert!(std::fs::metadata(&hot).unwrap().len() > 0);
    assert_eq!(add().status.code(), Some(1));

    // A killed pack's temporary directory (its process gone) is swept by the next pack.
    let gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    let mut gone = gone;
    gone.wait().unwrap();
    let stale = d.path().join(format!(".packed.tmp-{pid}"));
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("shard-00000.bin"), [0u8; 64]).unwrap();
    pack(d.path(), "packed", 32);
    assert!(!stale.exists());
    assert!(d.path().join("packed/manifest.json").is_file());
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walkdir(&p));
            }
            out.push(p);
        }
    }
    out
}

/// File names that are not UTF-8: an argument naming one is refused before any work (sn9 records
/// the paths it is given in JSON, which holds only UTF-8); `hub push` leaves such a file out (the
/// Hub cannot hold its name) and says so. Never a panic.
#[test]
fn non_utf8_names_are_refused_or_left_out() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let d = tempfile::tempdir().unwrap();
    let bad = |s: &str| {
        let mut b = s.as_bytes().to_vec();
        b.extend_from_slice(b"\xff\xfe");
        OsStr::from_bytes(&b).to_os_string()
    };
    let corpus = d.path().join(bad("corpus")).with_extension("jsonl");
    std::fs::copy(root().join("fixtures/corpus/tiny.jsonl"), &corpus).unwrap();
    let o = pack_to(&corpus, &d.path().join("packed")).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("is not UTF-8"), "{err}");
    let data = pack(d.path(), "eval", 32);
    let o = sn9()
        .arg("train")
        .arg("--data")
        .arg(&data)
        .arg("--model")
        .arg(root().join("fixtures/train/micro-llama.json"))
        .arg("--out")
        .arg(d.path().join(bad("run")))
        .args(["--steps", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!d.path().join(bad("run")).exists());
    // A push leaves the file out and warns.
    let m = tiny(d.path(), 1, None);
    std::fs::write(m.join(bad("extra")).with_extension("safetensors"), b"x").unwrap();
    let o = sn9()
        .args(["hub", "push"])
        .arg(&m)
        .args(["abcd/efgh", "--hub"])
        .arg(format!("file://{}", d.path().join("hub").display()))
        .output()
        .unwrap();
    common::ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not pushed"));
}

/// What a new user hits first: `data pack` reports progress in plain lines when stderr is not
/// a terminal; `chain local` commands have no network default they could never use, and `chain
/// local init` says how to name the chain; `--config` is only ever sn9's settings file, and a
/// model's config.json given to it is pointed at the right flag.
#[test]
fn first_steps_say_what_to_do() {
    let d = tempfile::tempdir().unwrap();
    let corpus = root().join("fixtures/corpus/tiny.jsonl");
    let o = sn9()
        .args(["data", "pack"])
        .arg(&corpus)
        .arg(&corpus)
        .arg("--tokenizer")
        .arg(root().join("fixtures/tokenizer/bytes"))
        .args(["--seq-len", "32", "--out"])
        .arg(d.path().join("p"))
        .output()
        .unwrap();
    common::ok(&o);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        err.contains("done (1/2)") && err.contains("done (2/2)"),
        "{err}"
    );

    let chain = d.path().join("chain");
    let o = sn9()
        .args(["chain", "local", "init"])
        .arg(&chain)
        .output()
        .unwrap();
    common::ok(&o);
    let url = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("--network {url}")));
    let o = sn9()
        .args(["chain", "local", "advance", "3"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("pass --network file://DIR"));
    let o = sn9()
        .env("SN9_NETWORK", &url)
        .args(["chain", "local", "advance", "3"])
        .output()
        .unwrap();
    common::ok(&o);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "1003");

    let o = sn9()
        .args(["model", "info", "--config"])
        .arg(root().join("fixtures/demo/model.json"))
        .arg(root().join("fixtures/demo/model.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--model-config"));
}
