//! `sn9 tts synth`, `sn9 model info|init` on E2TTS directories and `sn9 hub push|pull` of TTS
//! repositories, through the binary: the synthesised wave equals the reference `compute_wer`
//! wave of fixtures/ttsref, counts equal the reference's, bad input exits 1 with a reason.

mod common;
use common::fakehub::{FakeHub, HubFaults};
use common::{json_out, root, sn9};

use std::path::{Path, PathBuf};

use serde_json::Value;
use sn9::model::safetensors::SafeFile;
use sn9::tts::wav;

fn tts(rel: &str) -> PathBuf {
    root().join("fixtures/ttsref").join(rel)
}

fn e2e() -> Value {
    serde_json::from_str(&std::fs::read_to_string(tts("e2e_compute_wer/expected.json")).unwrap())
        .unwrap()
}

fn e2e_array(name: &str) -> Vec<f32> {
    SafeFile::open(&tts("e2e_compute_wer/arrays.safetensors"))
        .unwrap()
        .read_f32(name)
        .unwrap()
}

/// Writes the fixture's first reference clip (24 kHz, already at RMS 0.1) as a float WAV.
fn ref_wav(dir: &Path) -> PathBuf {
    let p = dir.join("ref.wav");
    std::fs::write(
        &p,
        wav::encode_f32_mono(&e2e_array("sample0.ref_audio"), 24000),
    )
    .unwrap();
    p
}

/// `sn9 tts synth MODEL --ref-audio REF --ref-text … --text … --vocoder VOC --out OUT`.
fn synth_cmd(
    model: &Path,
    refw: &Path,
    vocoder: &Path,
    ref_text: &str,
    text: &str,
    out: &Path,
) -> std::process::Command {
    let mut c = sn9();
    c.args(["tts", "synth"])
        .arg(model)
        .arg("--ref-audio")
        .arg(refw)
        .args(["--ref-text", ref_text, "--text", text])
        .arg("--vocoder")
        .arg(vocoder)
        .arg("--out")
        .arg(out);
    c
}

/// The fixture's first e2e sample (texts and seed) with the tiny vocoder.
fn synth(model: &Path, refw: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let e = e2e();
    let s = &e["samples"][0];
    synth_cmd(
        model,
        refw,
        &tts("vocos_tiny/model"),
        s["ref_text"].as_str().unwrap(),
        s["query_text"].as_str().unwrap(),
        out,
    )
    .args(["--seed", e["seed"].as_str().unwrap()])
    .args(extra)
    .output()
    .unwrap()
}

#[test]
fn synth_writes_the_validators_wave() {
    let d = tempfile::tempdir().unwrap();
    let refw = ref_wav(d.path());
    let out = d.path().join("out.wav");
    let o = synth(&tts("e2tts_tiny/model"), &refw, &out, &["--json", "-v"]);
    common::ok(&o);
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let audio = wav::read(&out).unwrap();
    assert_eq!(audio.sample_rate, 24000);
    assert_eq!(audio.channels.len(), 1);
    // 222 frames sampled, 146 prompt frames dropped: 256 · (76 − 1) samples.
    let e = e2e();
    let want = e2e_array("e2tts_tiny.sample0.wave");
    assert_eq!(
        want.len() as u64,
        e["runs"]["e2tts_tiny"]["samples"][0]["wave_len"]
            .as_u64()
            .unwrap()
    );
    assert_eq!(audio.channels[0].len(), want.len());
    assert_eq!(doc["samples"].as_u64().unwrap() as usize, want.len());
    assert_eq!(doc["frames"], 222);
    assert_eq!(doc["rms_scaled"], true);
    let err = audio.channels[0]
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(err < 1e-5, "wave differs from the reference's by {err}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("RMS rule"));
    // `-` writes the WAV itself to stdout.
    let o = synth(&tts("e2tts_tiny/model"), &refw, Path::new("-"), &[]);
    common::ok(&o);
    assert_eq!(o.stdout, std::fs::read(&out).unwrap());
}

#[test]
fn model_info_counts_as_the_reference() {
    for (case, params) in [("e2tts_tiny", 222_896u64), ("e2tts_tiny_conv", 97_412)] {
        let doc = json_out(
            sn9()
                .args(["--json", "model", "info"])
                .arg(tts(&format!("{case}/model"))),
        );
        assert_eq!(doc["architecture"], "E2TTS");
        assert_eq!(doc["parameters"].as_u64().unwrap(), params, "{case}");
        // The TTS competition needs 350M–400M parameters; a tiny model does not fit, and says why.
        let t = doc["competitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == 6)
            .unwrap();
        assert_eq!(t["fits"], false);
        assert!(t["why_not"][0].as_str().unwrap().contains("350000000"));
        let b3 = doc["competitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == 2)
            .unwrap();
        assert!(
            b3["why_not"][0]
                .as_str()
                .unwrap()
                .contains("architecture E2TTS")
        );
    }
    let o = sn9()
        .args(["model", "info"])
        .arg(tts("e2tts_tiny/model"))
        .output()
        .unwrap();
    common::ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("parameters    222896"));
}

/// A full-size config: `model info` on a bare config.json + vocab.txt gives the reference's
/// closed-form count (synth_provenance.json: depth 26 → 360,755,948 with a 2545-entry vocab).
#[test]
fn full_size_config_fits_the_competition() {
    let d = tempfile::tempdir().unwrap();
    let cfg = serde_json::json!({
        "architectures": ["E2TTS"],
        "mel_spectrogram": {"target_sample_rate": 24000, "n_mel_channels": 100, "hop_length": 256, "win_length": 1024, "n_fft": 1024, "mel_spec_type": "vocos"},
        "backbone": {"dim": 1024, "depth": 26, "heads": 16, "dim_head": 64, "ff_mult": 4},
        "odeint": {"method": "euler"},
        "sampling": {"nfe_step": 32, "cfg_strength": 2.0, "sway_sampling_coef": -1.0}
    });
    std::fs::write(d.path().join("config.json"), cfg.to_string()).unwrap();
    let vocab: String = (0..2545).map(|i| format!("t{i}\n")).collect();
    std::fs::write(d.path().join("vocab.txt"), vocab).unwrap();
    let doc = json_out(sn9().args(["--json", "model", "info"]).arg(d.path()));
    assert_eq!(doc["parameters"], 360_755_948u64);
    let t = doc["competitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == 6)
        .unwrap();
    assert_eq!(t["fits"], true, "{t}");
}

fn tiny_config() -> Value {
    serde_json::json!({
        "architectures": ["E2TTS"],
        "mel_spectrogram": {"mel_spec_type": "vocos", "n_mel_channels": 100},
        "backbone": {"dim": 32, "depth": 2, "heads": 2, "dim_head": 16, "ff_mult": 2, "text_dim": 16, "conv_layers": 1},
        "odeint": {"method": "midpoint"},
        "sampling": {"nfe_step": 2, "cfg_strength": 2.0, "sway_sampling_coef": -1.0}
    })
}

#[test]
fn init_then_synth_then_hub_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let cfgp = d.path().join("e2tts.json");
    std::fs::write(&cfgp, tiny_config().to_string()).unwrap();
    let m = d.path().join("model");
    let init = json_out(
        sn9()
            .args([
                "--json",
                "-q",
                "model",
                "init",
                "--seed",
                "7",
                "--model-config",
            ])
            .arg(&cfgp)
            .arg(&m),
    );
    let info = json_out(sn9().args(["--json", "model", "info"]).arg(&m));
    assert_eq!(info["parameters"], init["parameters"]);
    assert_eq!(info["vocab_size"], 46);
    // Deterministic for a seed.
    let m2 = d.path().join("model2");
    common::ok(
        &sn9()
            .args(["-q", "model", "init", "--seed", "7", "--model-config"])
            .arg(&cfgp)
            .arg(&m2)
            .output()
            .unwrap(),
    );
    assert_eq!(
        std::fs::read(m.join("model.safetensors")).unwrap(),
        std::fs::read(m2.join("model.safetensors")).unwrap()
    );
    // It speaks (noise, but the right length).
    let out = d.path().join("o.wav");
    common::ok(&synth(&m, &ref_wav(d.path()), &out, &["--frames", "160"]));
    assert_eq!(
        wav::read(&out).unwrap().channels[0].len(),
        256 * (160 - 146 - 1)
    );

    // The whole directory goes to the hub (vocab.txt included), and the hash validators compute
    // over the whole snapshot — the hub's .gitattributes included — is the one push prints.
    std::fs::write(m.join("README.md"), "a tiny E2TTS").unwrap();
    let fake = FakeHub::start(HubFaults::default());
    let home = d.path().join("hf");
    let hotkey = "5F3sa2TJAWMqDhXG6jhV4N8ko9SxwGy8TpaNS1repo5EYjQX";
    let pushed = json_out(
        sn9()
            .env("SN9_HUB", &fake.url)
            .env("HF_HOME", &home)
            .args(["--json", "hub", "push", "--hotkey", hotkey])
            .arg(&m)
            .arg("alice/tts"),
    );
    let commit = pushed["commit"].as_str().unwrap();
    let got = json_out(
        sn9()
            .env("SN9_HUB", &fake.url)
            .env("HF_HOME", &home)
            .env_remove("HF_ENDPOINT")
            .env_remove("HF_HUB_CACHE")
            .args([
                "--json",
                "hub",
                "pull",
                "alice/tts",
                "--revision",
                commit,
                "--competition",
                "6",
                "--hotkey",
                hotkey,
                "--expect-hash",
            ])
            .arg(pushed["secure_hash"].as_str().unwrap()),
    );
    assert_eq!(
        got["files"],
        serde_json::json!([
            ".gitattributes",
            "README.md",
            "config.json",
            "model.safetensors",
            "vocab.txt"
        ])
    );
    assert_eq!(got["directory_hash"], pushed["directory_hash"]);
    // `hub hash` of the pulled snapshot agrees.
    let h = json_out(
        sn9()
            .args(["--json", "hub", "hash"])
            .arg(got["dir"].as_str().unwrap()),
    );
    assert_eq!(h["directory_hash"], pushed["directory_hash"]);
    // The pulled snapshot loads and speaks, with a vocoder pulled from the hub too: exactly what
    // `Vocos.from_pretrained` reads (config.yaml + pytorch_model.bin).
    let vp = json_out(
        sn9()
            .env("SN9_HUB", &fake.url)
            .env("HF_HOME", &home)
            .args(["--json", "hub", "push"])
            .arg(tts("vocos_tiny/model"))
            .arg("charactr/vocos-tiny"),
    );
    let vgot = json_out(
        sn9()
            .env("SN9_HUB", &fake.url)
            .env("HF_HOME", &home)
            .env_remove("HF_ENDPOINT")
            .env_remove("HF_HUB_CACHE")
            .args(["--json", "hub", "pull", "charactr/vocos-tiny", "--revision"])
            .arg(vp["commit"].as_str().unwrap()),
    );
    assert_eq!(
        vgot["files"],
        serde_json::json!(["config.yaml", "pytorch_model.bin"])
    );
    let o = synth_cmd(
        Path::new(got["dir"].as_str().unwrap()),
        &ref_wav(d.path()),
        Path::new(vgot["dir"].as_str().unwrap()),
        "so we started as an organisation in two thousand and nine",
        "thank you",
        &out,
    )
    .args(["--frames", "160"])
    .output()
    .unwrap();
    common::ok(&o);
    assert_eq!(
        wav::read(&out).unwrap().channels[0].len(),
        256 * (160 - 146 - 1)
    );
}

fn fails_with(o: std::process::Output, what: &str) {
    assert_eq!(
        o.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(what), "expected {what:?} in: {err}");
}

/// Copies a fixture model so a test can break it.
#[test]
fn bad_input_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let refw = ref_wav(d.path());
    let out = d.path().join("o.wav");
    let good = tts("e2tts_tiny/model");

    // Empty text.
    let o = synth_cmd(
        &good,
        &refw,
        &tts("vocos_tiny/model"),
        "hello there",
        "  ",
        &out,
    )
    .output()
    .unwrap();
    fails_with(o, "--text is empty");
    // A file that is not WAV; a WAV at another rate (resampling arrives with part 2).
    let notwav = d.path().join("x.wav");
    std::fs::write(&notwav, b"ID3 this is an mp3, honest").unwrap();
    fails_with(synth(&good, &notwav, &out, &[]), "not a WAV file");
    let w16 = d.path().join("16k.wav");
    std::fs::write(&w16, wav::encode_f32_mono(&vec![0.1; 16000], 16000)).unwrap();
    fails_with(synth(&good, &w16, &out, &[]), "24000 Hz");

    // Model directories: no vocab.txt, a config without a section, a tensor of the wrong shape.
    let m = d.path().join("novocab");
    common::copy_dir(&good, &m);
    std::fs::remove_file(m.join("vocab.txt")).unwrap();
    fails_with(synth(&m, &refw, &out, &[]), "no vocab.txt");
    let m = d.path().join("nosampling");
    common::copy_dir(&good, &m);
    let mut c: Value =
        serde_json::from_str(&std::fs::read_to_string(m.join("config.json")).unwrap()).unwrap();
    c.as_object_mut().unwrap().remove("sampling");
    std::fs::write(m.join("config.json"), c.to_string()).unwrap();
    fails_with(synth(&m, &refw, &out, &[]), "\"sampling\"");
    let m = d.path().join("wrongvocab");
    common::copy_dir(&good, &m);
    std::fs::write(m.join("vocab.txt"), " \na\nb\n").unwrap();
    fails_with(
        synth(&m, &refw, &out, &[]),
        "text_embed.text_embed.weight has shape",
    );
    let m = d.path().join("latin1vocab");
    common::copy_dir(&good, &m);
    std::fs::write(m.join("vocab.txt"), b" \ncaf\xe9\n").unwrap();
    fails_with(synth(&m, &refw, &out, &[]), "UnicodeDecodeError");
    let m = d.path().join("missingtensor");
    common::copy_dir(&good, &m);
    let st = SafeFile::open(&m.join("model.safetensors")).unwrap();
    let kept: Vec<sn9::model::safetensors::OutTensor> = st
        .tensors
        .iter()
        .filter(|(n, _)| !n.ends_with("norm_out.g"))
        .map(|(n, i)| sn9::model::safetensors::OutTensor {
            name: n.clone(),
            shape: i.shape.clone(),
            data: st.read_f32(n).unwrap(),
        })
        .collect();
    drop(st);
    let refs: Vec<&sn9::model::safetensors::OutTensor> = kept.iter().collect();
    sn9::model::safetensors::write_one(
        &m.join("model.safetensors"),
        &refs,
        sn9::model::safetensors::Dtype::BF16,
    )
    .unwrap();
    fails_with(
        synth(&m, &refw, &out, &[]),
        "missing [transformer.norm_out.g]",
    );
    let m = d.path().join("emptyvocab");
    common::copy_dir(&good, &m);
    std::fs::write(m.join("vocab.txt"), "").unwrap();
    fails_with(synth(&m, &refw, &out, &[]), "vocab");

    // A vocoder whose pytorch_model.bin is not a checkpoint.
    let v = d.path().join("vocos");
    common::copy_dir(&tts("vocos_tiny/model"), &v);
    std::fs::write(
        v.join("pytorch_model.bin"),
        b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.",
    )
    .unwrap();
    let o = synth_cmd(&good, &refw, &v, "hello there", "general kenobi", &out)
        .output()
        .unwrap();
    fails_with(o, "pytorch_model.bin");
    assert!(!out.exists(), "nothing is written on failure");
}

/// `sn9 data sample` for the TTS competition through the binary, against a loopback
/// datasets-server replaying the reference loader's runs (`fixtures/ttsref/tts_data_golden.json`):
/// the same pages and samples, in the same order, with the same texts, tokens and lengths, and
/// the clips within the README's tolerance; a run whose audio answers 404 fails as the
/// reference's loader raises. One sample goes on through `eval` (tiny E2TTS, Vocos, Whisper)
/// and `score`.
#[test]
fn data_sample_tts_reproduces_the_reference_loader() {
    use common::speechserver::SpeechServer;
    let split = root().join("fixtures/ttsref");
    let g: Value =
        serde_json::from_str(&std::fs::read_to_string(split.join("tts_data_golden.json")).unwrap())
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for scenario in [
        "main_seed2",
        "rows_request_fails_once",
        "silent_clip_nan",
        "audio_404",
    ] {
        let run = g["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["scenario"] == scenario)
            .unwrap();
        let server = SpeechServer::start(split.clone(), run);
        let out = dir.path().join(scenario);
        let o = sn9()
            .args([
                "--json",
                "data",
                "sample",
                "--block",
                "5177981",
                "--competition",
                "6",
            ])
            .args(["--seed", run["seed"].as_str().unwrap()])
            .args(["--datasets-server", &server.url, "--backoff-ms", "1"])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        if let Some(exc) = run["exception"].as_str() {
            assert_eq!(o.status.code(), Some(1), "{scenario}");
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                exc.contains("HTTP 404") && err.contains("HTTP 404"),
                "{err}"
            );
            assert!(!out.exists());
            continue;
        }
        common::ok(&o);
        let m: Value = serde_json::from_slice(&o.stdout).unwrap();
        let task = &m["origin"]["tasks"][0];
        let pages: Vec<String> = run["pages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{}_{}_{}",
                    p[0].as_str().unwrap(),
                    p[1],
                    p[2].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(task["page_names"], serde_json::json!(pages), "{scenario}");
        let b = sn9::data::speech_batches::SpeechBatches::open(&out).unwrap();
        let got = b.entries(0).unwrap();
        let want = run["validator_batches"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{scenario}");
        for (e, w) in got.iter().zip(want) {
            assert_eq!(e.ref_text, w["ref_text"].as_str().unwrap());
            assert_eq!(e.query_text, w["query_text"].as_str().unwrap());
            assert_eq!(serde_json::json!([e.tokenized_text]), w["tokenized_text"]);
            assert_eq!(e.ref_audio_len as u64, w["ref_audio_len"].as_u64().unwrap());
            assert_eq!(e.gen_audio_len as u64, w["gen_audio_len"].as_u64().unwrap());
            assert_eq!(e.has_nan, w["ref_audio_has_nan"].as_bool().unwrap());
            let (_, audio) =
                common::npy::read_npy_f32(&split.join(w["ref_audio"].as_str().unwrap())).unwrap();
            assert_eq!(e.ref_audio.len(), audio.len());
            for (x, y) in e.ref_audio.iter().zip(&audio) {
                assert!(
                    (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-5,
                    "{scenario}: {x} vs {y}"
                );
            }
        }
        if scenario == "main_seed2" {
            // The sampled batches go on through the validator's path: eval of a tiny E2TTS with
            // the tiny vocoder and Whisper (the batches' own seed drives the noise), then score.
            let o = sn9()
                .arg("eval")
                .arg(tts("e2tts_tiny/model"))
                .arg("--batches")
                .arg(&out)
                .args(["--skip-checks", "--uid", "7", "--model-block", "5177990"])
                .arg("--vocoder")
                .arg(tts("vocos_tiny/model"))
                .arg("--asr")
                .arg(tts("whisper_tiny"))
                .output()
                .unwrap();
            common::ok(&o);
            let rows = String::from_utf8_lossy(&o.stdout).to_string();
            let row: Value = serde_json::from_str(rows.trim()).unwrap();
            assert_eq!(row["competition"], 6);
            assert!(row["loss"].as_f64().is_some_and(|l| l >= 0.0), "{row}");
            let s = assert_cmd::Command::from_std(sn9())
                .args(["--json", "score", "-"])
                .write_stdin(rows)
                .output()
                .unwrap();
            common::ok(&s);
            let w: Value = serde_json::from_slice(&s.stdout).unwrap();
            assert_eq!(w["competitions"][0]["id"], 6, "{w}");
            assert_eq!(w["u16_uids"], serde_json::json!([7]), "{w}");
        }
    }
}

/// Rows of a served People's Speech page of the fixtures as `data pack-speech` input: `n`
/// rows with their texts and the WAV files behind them.
fn speech_rows(dir: &Path, n: usize) -> PathBuf {
    let split = root().join("fixtures/ttsref");
    let page: Value = serde_json::from_str(
        &std::fs::read_to_string(split.join("tts_data/main_seed0/page0_rows.json")).unwrap(),
    )
    .unwrap();
    let mut lines = String::new();
    for r in page["rows"].as_array().unwrap().iter().take(n) {
        let idx = r["row_idx"].as_u64().unwrap();
        let wav = split.join(format!("tts_data/main_seed0/page0_row{idx}.wav"));
        lines += &serde_json::json!({"text": r["row"]["text"], "audio": wav}).to_string();
        lines.push('\n');
    }
    let p = dir.join("rows.jsonl");
    std::fs::write(&p, lines).unwrap();
    p
}

/// The TTS competition end to end through the binary: speech batches from local clips → `eval`
/// of two E2TTS models with the vocoder and Whisper (each sample synthesised with the batches'
/// seed and tokens, transcribed, scored by WER; the task mean is what the library's pipeline
/// gives on the same batches) → `score` with text-competition rows of the same round: one
/// weight vector, shared by the competitions' rewards.
#[test]
fn pack_speech_eval_score_with_text() {
    use sn9::asr::Transcriber;
    use sn9::tts::e2tts::{E2tts, seed_mod_2_32};
    use sn9::tts::synth::synthesize_tokens;
    use sn9::tts::vocos::Vocos;
    let d = tempfile::tempdir().unwrap();
    let rows = speech_rows(d.path(), 5);
    let batches = d.path().join("speech");
    let m = json_out(
        sn9()
            .args([
                "--json",
                "data",
                "pack-speech",
                "--seed",
                "123456789012345678901234567890",
            ])
            .arg(&rows)
            .arg("--out")
            .arg(&batches),
    );
    assert_eq!(m["schema"], "sn9.speech");
    let schedule = root().join("fixtures/demo/schedule.json");
    let (vocoder, asr) = (tts("vocos_tiny/model"), tts("whisper_tiny"));
    let models = [tts("e2tts_tiny/model"), tts("e2tts_tiny_conv/model")];
    let o = sn9()
        .env("SN9_SCHEDULE", &schedule)
        .arg("eval")
        .args(&models)
        .arg("--batches")
        .arg(&batches)
        .args([
            "--competition",
            "6",
            "--uid",
            "3,5",
            "--model-block",
            "90,95",
        ])
        // Each model in its own worker process, as validators run it.
        .args(["--time-limit-s", "300"])
        .arg("--vocoder")
        .arg(&vocoder)
        .arg("--asr")
        .arg(&asr)
        .output()
        .unwrap();
    common::ok(&o);
    let rows_out = String::from_utf8_lossy(&o.stdout).to_string();
    let got: Vec<Value> = common::json_lines(&rows_out);
    assert_eq!(got.len(), 2);
    // The same samples through the library.
    let dev = Default::default();
    let b = sn9::data::speech_batches::SpeechBatches::open(&batches).unwrap();
    let entries = b.entries(0).unwrap();
    assert_eq!(entries.len(), 5);
    let voc = Vocos::<sn9::model::Cpu>::load(&vocoder, &dev).unwrap();
    let whisper = Transcriber::<sn9::model::Cpu>::load(&asr, &dev).unwrap();
    let seed = seed_mod_2_32("123456789012345678901234567890").unwrap();
    for (row, dir) in got.iter().zip(&models) {
        let model = E2tts::<sn9::model::Cpu>::load(dir, &dev).unwrap();
        let wers: Vec<f64> = entries
            .iter()
            .map(|e| {
                let s = synthesize_tokens(
                    &model,
                    &voc,
                    &e.ref_audio,
                    &e.tokenized_text,
                    e.gen_audio_len,
                    seed,
                    &dev,
                )
                .unwrap();
                let text = whisper.transcribe(&s.wave).unwrap();
                sn9::tts::wer::sample_wer(&e.query_text, &text).unwrap()
            })
            .collect();
        assert_eq!(row["task"], "PPL_SPEECH");
        assert_eq!(row["error"], Value::Null, "{row}");
        assert_eq!(
            row["loss"].as_f64().unwrap(),
            sn9::tts::wer::task_score(&wers),
            "{row}"
        );
    }
    // Text rows of the same round, then one score over both competitions.
    let mut all = rows_out.clone();
    for (uid, loss) in [(1, 2.5), (2, 3.0)] {
        all += &serde_json::json!({"uid": uid, "competition": 2, "block": 80, "task": "TINY", "loss": loss, "model": format!("text{uid}")}).to_string();
        all.push('\n');
    }
    let s = assert_cmd::Command::from_std(sn9())
        .env("SN9_SCHEDULE", &schedule)
        .args(["--json", "score", "-", "--block", "200"])
        .write_stdin(all)
        .output()
        .unwrap();
    common::ok(&s);
    let w: Value = serde_json::from_slice(&s.stdout).unwrap();
    let weights: Vec<f64> = w["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    // The demo schedule's rewards: text 0.15, TTS 0.55 (competition 4 has no rows this round),
    // normalised over the weight vector.
    let tts_share = weights[3] + weights[5];
    assert!((tts_share - 0.55 / 0.70).abs() < 1e-6, "{w}");
    assert!((weights[1] + weights[2] - 0.15 / 0.70).abs() < 1e-6, "{w}");
}

/// Hostile or broken inputs of the TTS evaluation: clear errors for the operator's tools and
/// unreadable clips; a model without `vocab.txt` scored inf with the reason, the others still
/// scored.
#[test]
fn tts_evaluation_bad_input() {
    let d = tempfile::tempdir().unwrap();
    let rows = speech_rows(d.path(), 3);
    let batches = d.path().join("speech");
    common::ok(
        &sn9()
            .args(["-q", "data", "pack-speech"])
            .arg(&rows)
            .arg("--out")
            .arg(&batches)
            .output()
            .unwrap(),
    );
    let schedule = root().join("fixtures/demo/schedule.json");
    let eval = |models: &[&Path], vocoder: &Path, asr: &Path| {
        sn9()
            .env("SN9_SCHEDULE", &schedule)
            .arg("eval")
            .args(models)
            .arg("--batches")
            .arg(&batches)
            .args(["--competition", "6", "--vocoder"])
            .arg(vocoder)
            .arg("--asr")
            .arg(asr)
            .output()
            .unwrap()
    };
    let good = tts("e2tts_tiny/model");
    // A Whisper directory without tokenizer.json, a vocoder directory without config.yaml.
    let asr = d.path().join("asr");
    std::fs::create_dir(&asr).unwrap();
    for f in ["config.json", "generation_config.json", "model.safetensors"] {
        std::fs::copy(tts("whisper_tiny").join(f), asr.join(f)).unwrap();
    }
    fails_with(
        eval(&[&good], &tts("vocos_tiny/model"), &asr),
        "tokenizer.json",
    );
    fails_with(
        eval(&[&good], d.path(), &tts("whisper_tiny")),
        "config.yaml",
    );
    // Token shards for the TTS competition are refused.
    let o = sn9()
        .env("SN9_SCHEDULE", &schedule)
        .arg("eval")
        .arg(&good)
        .arg("--batches")
        .arg(root().join("fixtures/demo"))
        .args(["--competition", "6"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    // A miner's repository without vocab.txt: inf with the reason; the good one is scored.
    let bad = d.path().join("novocab");
    common::copy_dir(&good, &bad);
    std::fs::remove_file(bad.join("vocab.txt")).unwrap();
    let o = eval(
        &[&bad, &good],
        &tts("vocos_tiny/model"),
        &tts("whisper_tiny"),
    );
    common::ok(&o);
    let rows: Vec<Value> = common::json_lines(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["loss"], "inf");
    assert!(
        rows[0]["error"].as_str().unwrap().contains("vocab.txt"),
        "{}",
        rows[0]
    );
    assert!(rows[1]["loss"].as_f64().is_some(), "{}", rows[1]);
    // Clips that are not audio, hold no samples, or claim an absurd rate.
    let clip = |name: &str, bytes: &[u8], want: &str| {
        let p = d.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let rows = d.path().join(format!("{name}.jsonl"));
        std::fs::write(
            &rows,
            format!(
                "{{\"text\": \"hello world\", \"audio\": \"{}\"}}\n",
                p.display()
            ),
        )
        .unwrap();
        let o = sn9()
            .args(["data", "pack-speech"])
            .arg(&rows)
            .arg("--out")
            .arg(d.path().join(format!("{name}.out")))
            .output()
            .unwrap();
        fails_with(o, want);
    };
    let header = |rate: u32, frames: u32| {
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&(36 + frames * 2).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&(rate * 2).to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&(frames * 2).to_le_bytes());
        h.extend(std::iter::repeat_n(0u8, frames as usize * 2));
        h
    };
    clip("html.wav", b"<html>404</html>", "not a WAV");
    clip("empty.wav", &header(16000, 0), "empty.wav");
    clip("absurd.wav", &header(4_000_000, 10), "sample rate");
}
