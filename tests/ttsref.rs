//! Parity with the reference's TTS code on the tiny models of `fixtures/ttsref` (or the directory
//! named by `SN9_TTSREF`, a split of the same shape): every case directory is checked through
//! sn9's library — text front end and vocab parsing exactly, torch's CPU noise bit for bit,
//! durations, parameter counts and state-dict keys exactly, mels / backbone / sampler / vocoder /
//! end-to-end waves within the tolerances of the fixtures' README. Prints `ttsref <case>: ok`
//! per case; a case kind sn9 does not know fails the run (nothing is skipped by name).

use std::path::{Path, PathBuf};

use base64::Engine;
use burn::prelude::*;
use serde_json::Value;
use sn9::model::Cpu;
use sn9::model::safetensors::{Dtype, SafeFile};
use sn9::tts::audio::{MelConfig, MelSpec, MelType};
use sn9::tts::e2tts::{E2tts, SampleRequest, seed_mod_2_32, time_grid};
use sn9::tts::randn::randn;
use sn9::tts::synth::{generation_duration, synthesize};
use sn9::tts::text::{Vocab, convert_char_to_pinyin, list_str_to_idx};
use sn9::tts::unett::Drop;
use sn9::tts::vocos::Vocos;
use sn9::tts::wer::{sample_wer, task_score, word_distance};

type R<T> = Result<T, String>;

// `check_resample` and `check_tts_data` (People's Speech loader, torchaudio resampler).
#[path = "common/npy.rs"]
mod npy;
#[path = "ttsref_whisper/checks.rs"]
mod whisper_checks;
use npy::read_npy_f32;

include!("ttsref_speech/checks.rs");

/// `resample_cases/`: checked against its split directory.
fn check_resample_case(dir: &Path) -> R<String> {
    check_resample(
        dir.parent()
            .ok_or("resample_cases has no parent directory")?,
    )
}

/// `tts_data_golden.json` (with the assets under `tts_data/`).
fn check_tts_data_case(file: &Path) -> R<String> {
    check_tts_data(
        file.parent()
            .ok_or("tts_data_golden.json has no parent directory")?,
    )
}

/// `tts_data/` holds the assets of `tts_data_golden.json`, checked there.
fn tts_data_assets(_: &Path) -> R<String> {
    Ok("assets of tts_data_golden.json (checked there)".into())
}

struct Arrays(SafeFile);

impl Arrays {
    fn open(dir: &Path) -> R<Arrays> {
        SafeFile::open(&dir.join("arrays.safetensors"))
            .map(Arrays)
            .map_err(|e| format!("{e:#}"))
    }
    fn shape(&self, k: &str) -> R<Vec<usize>> {
        self.0
            .tensors
            .get(k)
            .map(|i| i.shape.clone())
            .ok_or(format!("no array {k}"))
    }
    fn f32(&self, k: &str) -> R<Vec<f32>> {
        self.0.read_f32(k).map_err(|e| format!("{e:#}"))
    }
    fn ints(&self, k: &str) -> R<Vec<i64>> {
        let info = self.0.tensors.get(k).ok_or(format!("no array {k}"))?;
        let b = self.0.bytes(info);
        Ok(match info.dtype {
            Dtype::I64 => b
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            Dtype::U8 | Dtype::Bool => b.iter().map(|&x| x as i64).collect(),
            d => return Err(format!("{k}: unexpected dtype {d:?}")),
        })
    }
    /// Rows of a 2-D int array.
    fn int_rows(&self, k: &str) -> R<Vec<Vec<i64>>> {
        let s = self.shape(k)?;
        let v = self.ints(k)?;
        Ok(v.chunks(s[1]).map(|c| c.to_vec()).collect())
    }
}

fn json(path: &Path) -> R<Value> {
    let t = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&t).map_err(|e| format!("{}: {e}", path.display()))
}

/// max |a − b|, failing over `tol` (or on a length mismatch).
fn close(what: &str, a: &[f32], b: &[f32], tol: f32, worst: &mut f32) -> R<()> {
    if a.len() != b.len() {
        return Err(format!("{what}: {} values, expected {}", a.len(), b.len()));
    }
    let mut m = 0f32;
    for (x, y) in a.iter().zip(b) {
        let d = (x - y).abs();
        if d.is_nan() || d > m {
            m = if d.is_nan() { f32::INFINITY } else { d };
        }
    }
    *worst = worst.max(m);
    if m > tol {
        return Err(format!("{what}: max abs err {m:.3e} > {tol:.0e}"));
    }
    Ok(())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn entries(v: &Value) -> Vec<(String, i64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| (e[0].as_str().unwrap().to_string(), e[1].as_i64().unwrap()))
        .collect()
}

fn tensor3(v: Vec<f32>, s: &[usize]) -> Tensor<Cpu, 3> {
    Tensor::from_data(TensorData::new(v, [s[0], s[1], s[2]]), &Default::default())
}

fn read3(t: Tensor<Cpu, 3>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().unwrap()
}

fn check_text(dir: &Path) -> R<String> {
    let p = json(&dir.join("pinyin_cases.json"))?;
    let cases = p["cases"].as_array().ok_or("pinyin_cases.json: no cases")?;
    for c in cases {
        let got = convert_char_to_pinyin(c["text"].as_str().unwrap());
        if got != strings(&c["output"]) {
            return Err(format!(
                "convert_char_to_pinyin({:?}) = {got:?}, expected {}",
                c["text"], c["output"]
            ));
        }
    }
    let v = json(&dir.join("vocab_cases.json"))?;
    let vcases = v["cases"].as_array().ok_or("vocab_cases.json: no cases")?;
    for c in vcases {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(c["bytes_b64"].as_str().unwrap())
            .unwrap();
        match (Vocab::parse(&bytes), c["error"].is_null()) {
            (Ok(voc), true) => {
                if voc.entries() != entries(&c["entries"])
                    || voc.size() as u64 != c["vocab_size"].as_u64().unwrap()
                {
                    return Err(format!("vocab case {}: {:?}", c["name"], voc.entries()));
                }
            }
            (Err(_), false) => {}
            (Ok(_), false) => {
                return Err(format!(
                    "vocab case {}: loaded, the reference raised {}",
                    c["name"], c["error"]
                ));
            }
            (Err(e), true) => return Err(format!("vocab case {}: {e:#}", c["name"])),
        }
    }
    let l = json(&dir.join("list_str_to_idx_cases.json"))?;
    let mut text = String::new();
    for (tok, _) in entries(&l["vocab_char_map"]) {
        text.push_str(&tok);
        text.push('\n');
    }
    let vocab = Vocab::parse(text.as_bytes()).map_err(|e| format!("{e:#}"))?;
    let rows: Vec<Vec<String>> = l["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(strings)
        .collect();
    let want: Vec<Vec<i64>> = l["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap())
                .collect()
        })
        .collect();
    if list_str_to_idx(&rows, &vocab) != want {
        return Err("list_str_to_idx differs".into());
    }
    Ok(format!(
        "{} pinyin, {} vocab, 1 list_str_to_idx cases exact",
        cases.len(),
        vcases.len()
    ))
}

fn check_randn(dir: &Path) -> R<String> {
    let e = json(&dir.join("expected.json"))?;
    let a = Arrays::open(dir)?;
    let cases = e["cases"].as_array().ok_or("no cases")?;
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let n: usize = c["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .product();
        let got = randn(c["seed"].as_u64().unwrap(), n).map_err(|e| format!("{e:#}"))?;
        let want = a.f32(&format!("{name}.scalar"))?;
        if got
            .iter()
            .map(|x| x.to_bits())
            .ne(want.iter().map(|x| x.to_bits()))
        {
            return Err(format!(
                "randn {name}: not bit-identical to torch's scalar path"
            ));
        }
    }
    Ok(format!("{} noise tensors bit-identical", cases.len()))
}

fn mel_cfg(t: MelType) -> MelConfig {
    MelConfig {
        mel_type: t,
        ..MelConfig::default()
    }
}

fn check_mel_frontend(dir: &Path) -> R<String> {
    let e = json(&dir.join("expected.json"))?;
    let a = Arrays::open(dir)?;
    let mut worst = 0f32;
    let vocos = MelSpec::new(&mel_cfg(MelType::Vocos)).map_err(|e| format!("{e:#}"))?;
    let bigvgan = MelSpec::new(&mel_cfg(MelType::Bigvgan)).map_err(|e| format!("{e:#}"))?;
    for (i, w) in e["waves"].as_array().unwrap().iter().enumerate() {
        let wave = a.f32(&format!("wave{i}"))?;
        for (spec, kind, key) in [
            (&vocos, "vocos", "vocos_frames"),
            (&bigvgan, "bigvgan", "bigvgan_frames"),
        ] {
            let (m, frames) = spec.compute(&wave).map_err(|e| format!("{e:#}"))?;
            if frames as u64 != w[key].as_u64().unwrap() {
                return Err(format!("wave{i} {kind}: {frames} frames"));
            }
            close(
                &format!("wave{i}.{kind}"),
                &m,
                &a.f32(&format!("wave{i}.{kind}"))?,
                1e-4,
                &mut worst,
            )?;
        }
    }
    let batch = a.f32("batch.wave")?;
    let n = a.shape("batch.wave")?[1];
    for (spec, kind) in [(&vocos, "vocos"), (&bigvgan, "bigvgan")] {
        let want = a.f32(&format!("batch.{kind}"))?;
        let per = want.len() / 2;
        for r in 0..2 {
            let (m, _) = spec
                .compute(&batch[r * n..(r + 1) * n])
                .map_err(|e| format!("{e:#}"))?;
            close(
                &format!("batch.{kind}[{r}]"),
                &m,
                &want[r * per..(r + 1) * per],
                1e-4,
                &mut worst,
            )?;
        }
    }
    Ok(format!("max abs err {worst:.2e}"))
}

fn check_vocos(dir: &Path) -> R<String> {
    let e = json(&dir.join("expected.json"))?;
    let a = Arrays::open(dir)?;
    let dev = Default::default();
    let model = dir.join("model");
    let voc =
        Vocos::<Cpu>::load(&model, &dev).map_err(|e| format!("load (pytorch_model.bin): {e:#}"))?;
    if voc.config.parameter_count() != e["param_count"].as_u64().unwrap() {
        return Err(format!("param_count {}", voc.config.parameter_count()));
    }
    let keys: Vec<String> = voc
        .config
        .state_dict_shapes()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let want: Vec<String> = e["state_dict"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    if keys != want {
        return Err("state dict keys differ".into());
    }
    // The same weights from model.safetensors alone.
    let only_st = tempfile::tempdir().unwrap();
    for f in ["config.yaml", "model.safetensors"] {
        std::fs::copy(model.join(f), only_st.path().join(f)).unwrap();
    }
    let voc_st = Vocos::<Cpu>::load(only_st.path(), &dev)
        .map_err(|e| format!("load (safetensors): {e:#}"))?;
    let mut worst = 0f32;
    let mel_s = a.shape("decode.mel")?;
    let mel = a.f32("decode.mel")?;
    let bb = read3(voc.backbone(tensor3(mel.clone(), &mel_s)));
    close(
        "decode.backbone_out",
        &bb,
        &a.f32("decode.backbone_out")?,
        1e-5,
        &mut worst,
    )?;
    let z = read3(voc.head_linear(tensor3(bb, &a.shape("decode.backbone_out")?)));
    close(
        "decode.head_linear_out",
        &z,
        &a.f32("decode.head_linear_out")?,
        1e-5,
        &mut worst,
    )?;
    let frames = mel_s[2];
    let want = a.f32("decode.wave")?;
    for (which, v) in [("pytorch_model.bin", &voc), ("model.safetensors", &voc_st)] {
        let wave = v
            .decode(&mel, frames, &dev)
            .map_err(|e| format!("{which} decode: {e:#}"))?;
        close(
            &format!("decode.wave ({which})"),
            &wave,
            &want,
            1e-6,
            &mut worst,
        )?;
    }
    // Vocos's own feature extractor: the vocos mel with a 1e-7 floor.
    let fe = MelSpec::new(&mel_cfg(MelType::Vocos))
        .map_err(|e| format!("{e:#}"))?
        .with_log_floor(1e-7);
    let (m, _) = fe
        .compute(&a.f32("features.wave")?)
        .map_err(|e| format!("{e:#}"))?;
    close(
        "features.mel",
        &m,
        &a.f32("features.mel")?,
        1e-4,
        &mut worst,
    )?;
    Ok(format!("max abs err {worst:.2e}"))
}

fn check_e2tts(dir: &Path) -> R<String> {
    let e = json(&dir.join("expected.json"))?;
    let a = Arrays::open(dir)?;
    let dev = Default::default();
    let model = E2tts::<Cpu>::load(&dir.join("model"), &dev).map_err(|e| format!("load: {e:#}"))?;
    let mut worst = 0f32;

    // Vocab, counts, state dict, rotary buffer.
    if model.vocab.entries() != entries(&e["vocab"]["entries"])
        || model.vocab.size() as u64 != e["vocab"]["vocab_size"].as_u64().unwrap()
    {
        return Err("vocab entries differ".into());
    }
    let count = model.config.backbone.parameter_count();
    if count != e["param_count"].as_u64().unwrap() {
        return Err(format!("param_count {count} != {}", e["param_count"]));
    }
    let keys: Vec<(String, Vec<u64>)> = model
        .config
        .backbone
        .state_dict_shapes()
        .into_iter()
        .map(|(n, s)| (n, s.into_iter().map(|x| x as u64).collect()))
        .collect();
    let mut want: Vec<(String, Vec<u64>)> = e["state_dict"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap())
                    .collect(),
            )
        })
        .collect();
    let mut got = keys.clone();
    got.sort();
    want.sort();
    if got != want {
        return Err("state dict keys/shapes differ".into());
    }
    if model.backbone.inv_freq != a.f32("rotary_inv_freq")? {
        return Err("rotary inv_freq differs from the file's".into());
    }

    // A bf16 copy of the checkpoint loads (into float32, as `load_state_dict` copies it).
    if e["bf16_checkpoint_loads_as"] == serde_json::json!(["float32"]) {
        let tmp = tempfile::tempdir().unwrap();
        for f in ["config.json", "vocab.txt"] {
            std::fs::copy(dir.join("model").join(f), tmp.path().join(f)).unwrap();
        }
        let st =
            SafeFile::open(&dir.join("model/model.safetensors")).map_err(|e| format!("{e:#}"))?;
        let tensors: Vec<sn9::model::safetensors::OutTensor> = st
            .tensors
            .keys()
            .map(|n| sn9::model::safetensors::OutTensor {
                name: n.clone(),
                shape: st.tensors[n].shape.clone(),
                data: st.read_f32(n).unwrap(),
            })
            .collect();
        let refs: Vec<_> = tensors.iter().collect();
        sn9::model::safetensors::write_one(
            &tmp.path().join("model.safetensors"),
            &refs,
            Dtype::BF16,
        )
        .map_err(|e| format!("{e:#}"))?;
        E2tts::<Cpu>::load(tmp.path(), &dev).map_err(|e| format!("bf16 copy: {e:#}"))?;
    }

    // Text.
    let t = &e["text"];
    let toks = convert_char_to_pinyin(t["raw"].as_str().unwrap());
    if toks != strings(&t["convert_char_to_pinyin"]) {
        return Err(format!("text tokens {toks:?}"));
    }
    let ids: Vec<i64> = t["list_str_to_idx"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    if list_str_to_idx(&[toks], &model.vocab)[0] != ids {
        return Err("text ids differ".into());
    }

    // Mel front end.
    let (mel, frames) = model
        .mel
        .compute(&a.f32("mel.wave")?)
        .map_err(|e| format!("{e:#}"))?;
    if frames as u64 != e["mel"]["frames"].as_u64().unwrap() {
        return Err(format!("mel frames {frames}"));
    }
    close("mel.out", &mel, &a.f32("mel.out")?, 1e-4, &mut worst)?;

    // Backbone: one row, all four CFG flag combinations.
    let s = a.shape("backbone.single.x")?;
    let x = a.f32("backbone.single.x")?;
    let cond = a.f32("backbone.single.cond")?;
    let text = a.int_rows("backbone.single.text")?;
    let time = a.f32("backbone.single.time")?;
    for (da, dt) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        let out = model.backbone.forward(
            tensor3(x.clone(), &s),
            tensor3(cond.clone(), &s),
            &text,
            &time,
            Drop {
                audio_cond: da == 1,
                text: dt == 1,
            },
            None,
        );
        let k = format!("backbone.single.out.drop_audio_{da}_drop_text_{dt}");
        close(&k, &read3(out), &a.f32(&k)?, 1e-5, &mut worst)?;
    }
    // Two rows with a mask and a text longer than the mel.
    let s = a.shape("backbone.batch2.x")?;
    let mask: Vec<Vec<bool>> = a
        .int_rows("backbone.batch2.mask")?
        .iter()
        .map(|r| r.iter().map(|&v| v != 0).collect())
        .collect();
    for (da, dt) in [(0, 0), (1, 1)] {
        let out = model.backbone.forward(
            tensor3(a.f32("backbone.batch2.x")?, &s),
            tensor3(a.f32("backbone.batch2.cond")?, &s),
            &a.int_rows("backbone.batch2.text")?,
            &a.f32("backbone.batch2.time")?,
            Drop {
                audio_cond: da == 1,
                text: dt == 1,
            },
            Some(&mask),
        );
        let k = format!("backbone.batch2.out.drop_audio_{da}_drop_text_{dt}");
        close(&k, &read3(out), &a.f32(&k)?, 1e-5, &mut worst)?;
    }

    // The sampler: noise, grid, durations, then the ODE.
    let sp = &e["sample"];
    let seed = seed_mod_2_32(sp["seed"].as_str().unwrap()).map_err(|e| format!("{e:#}"))?;
    if seed as u64 != sp["seed_mod_2_32"].as_u64().unwrap() {
        return Err("seed % 2^32 differs".into());
    }
    let y0 = a.f32("sample.y0")?;
    let dstar = a.shape("sample.y0")?[1];
    let noise = randn(seed as u64, y0.len()).map_err(|e| format!("{e:#}"))?;
    if noise != y0 {
        return Err("sample.y0 is not torch's CPU noise for the seed".into());
    }
    let tg = time_grid(
        model.config.sampling.nfe_step,
        model.config.sampling.sway_sampling_coef,
    );
    close("sample.t", &tg, &a.f32("sample.t")?, 2e-7, &mut worst)?;
    let ref_audio = a.f32("sample.ref_audio")?;
    let text_idx = a.int_rows("sample.text_idx")?;
    let gen_frames = sp["gen_duration"].as_u64().unwrap() as usize;
    let cond_mel = a.f32("sample.cond_mel")?;
    let f = a.shape("sample.cond_mel")?[1];
    let run = |y0: Option<Vec<f32>>, t: Option<Vec<f32>>, cond: Option<(Vec<f32>, usize)>| {
        model
            .sample(
                SampleRequest {
                    ref_audio: std::slice::from_ref(&ref_audio),
                    text: text_idx.clone(),
                    duration: vec![gen_frames],
                    seed,
                    y0,
                    t,
                    cond_mel: cond,
                },
                &dev,
            )
            .map_err(|e| format!("sample: {e:#}"))
    };
    let exact = run(
        Some(y0.clone()),
        Some(a.f32("sample.t")?),
        Some((cond_mel.clone(), f)),
    )?;
    if exact.frames != dstar || exact.duration[0] as u64 != sp["duration"].as_u64().unwrap() {
        return Err(format!(
            "duration {} (D* {}), expected {}",
            exact.duration[0], exact.frames, sp["duration"]
        ));
    }
    let want_calls: Vec<f32> = a.f32("sample.transformer_call_times")?;
    let got_calls: Vec<f32> = exact.calls.iter().map(|c| c.0).collect();
    close(
        "sample.transformer_call_times",
        &got_calls,
        &want_calls,
        0.0,
        &mut worst,
    )?;
    let traj = a.f32("sample.trajectory")?;
    let per = dstar * 100;
    for (k, state) in exact.trajectory.iter().enumerate() {
        close(
            &format!("sample.trajectory[{k}]"),
            state,
            &traj[k * per..(k + 1) * per],
            1e-5,
            &mut worst,
        )?;
    }
    close(
        "sample.out (cond mel loaded)",
        &exact.out,
        &a.f32("sample.out")?,
        1e-5,
        &mut worst,
    )?;
    // From the wave and the seed alone, as the validator calls it.
    let full = run(None, None, None)?;
    close(
        "sample.out (from ref_audio + seed)",
        &full.out,
        &a.f32("sample.out")?,
        1e-4,
        &mut worst,
    )?;

    // Two rows (the mask path), each row re-seeded.
    if let Some(b2) = e.get("sample_batch2") {
        let waves = a.f32("sample_batch2.ref_audio")?;
        let n = a.shape("sample_batch2.ref_audio")?[1];
        let refs: Vec<Vec<f32>> = waves.chunks(n).map(|c| c.to_vec()).collect();
        let durs: Vec<usize> = b2["duration_in"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect();
        let s = model
            .sample(
                SampleRequest {
                    ref_audio: &refs,
                    text: a.int_rows("sample_batch2.text_idx")?,
                    duration: durs,
                    seed,
                    y0: None,
                    t: None,
                    cond_mel: None,
                },
                &dev,
            )
            .map_err(|e| format!("sample_batch2: {e:#}"))?;
        let used: Vec<u64> = s.duration.iter().map(|&d| d as u64).collect();
        let want_used: Vec<u64> = b2["duration_used"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        if used != want_used {
            return Err(format!("sample_batch2 durations {used:?}"));
        }
        if s.trajectory[0] != a.f32("sample_batch2.y0")? {
            return Err("sample_batch2.y0 differs (per-row reseeding)".into());
        }
        close(
            "sample_batch2.out",
            &s.out,
            &a.f32("sample_batch2.out")?,
            1e-4,
            &mut worst,
        )?;
    }
    Ok(format!("{count} parameters, max abs err {worst:.2e}"))
}

fn check_e2e(dir: &Path) -> R<String> {
    let e = json(&dir.join("expected.json"))?;
    let a = Arrays::open(dir)?;
    let dev = Default::default();
    let vocoder = Vocos::<Cpu>::load(&dir.join(e["vocoder"].as_str().unwrap()), &dev)
        .map_err(|e| format!("vocoder: {e:#}"))?;
    let seed = seed_mod_2_32(e["seed"].as_str().unwrap()).map_err(|e| format!("{e:#}"))?;
    let mut worst = 0f32;
    let samples = e["samples"].as_array().unwrap();
    for (i, s) in samples.iter().enumerate() {
        let (rt, qt) = (
            s["ref_text"].as_str().unwrap(),
            s["query_text"].as_str().unwrap(),
        );
        let text = format!("{rt} {qt}");
        if vec![convert_char_to_pinyin(&text)]
            != s["tokenized_text"]
                .as_array()
                .unwrap()
                .iter()
                .map(strings)
                .collect::<Vec<_>>()
        {
            return Err(format!("sample {i}: tokenized text differs"));
        }
        let ref_audio = a.f32(&format!("sample{i}.ref_audio"))?;
        let (ral, gal) =
            generation_duration(ref_audio.len(), rt, qt).map_err(|e| format!("{e:#}"))?;
        if ral as u64 != s["ref_audio_len"].as_u64().unwrap()
            || gal as u64 != s["gen_audio_len"].as_u64().unwrap()
        {
            return Err(format!("sample {i}: lengths ({ral}, {gal})"));
        }
    }
    for (name, run) in e["runs"].as_object().unwrap() {
        let model = E2tts::<Cpu>::load(&dir.join(run["model"].as_str().unwrap()), &dev)
            .map_err(|e| format!("{name}: {e:#}"))?;
        if (model.config.sampling.target_rms - run["target_rms"].as_f64().unwrap()).abs() > 1e-12 {
            return Err(format!(
                "{name}: target_rms {}",
                model.config.sampling.target_rms
            ));
        }
        for (i, s) in run["samples"].as_array().unwrap().iter().enumerate() {
            let ss = &samples[i];
            let ref_audio = a.f32(&format!("sample{i}.ref_audio"))?;
            let text = format!(
                "{} {}",
                ss["ref_text"].as_str().unwrap(),
                ss["query_text"].as_str().unwrap()
            );
            let gal = ss["gen_audio_len"].as_u64().unwrap() as usize;
            let out = synthesize(&model, &vocoder, &ref_audio, &text, gal, seed, &dev)
                .map_err(|e| format!("{name} sample {i}: {e:#}"))?;
            close(
                &format!("{name}.sample{i}.sample_out"),
                &out.mel,
                &a.f32(&format!("{name}.sample{i}.sample_out"))?,
                1e-4,
                &mut worst,
            )?;
            if out.scaled != s["scaled"].as_bool().unwrap() {
                return Err(format!(
                    "{name} sample {i}: RMS rule scaled = {}",
                    out.scaled
                ));
            }
            close(
                &format!("{name}.sample{i}.wave"),
                &out.wave,
                &a.f32(&format!("{name}.sample{i}.wave"))?,
                1e-5,
                &mut worst,
            )?;
            if s["decode_out_stored"].as_bool().unwrap() {
                close(
                    &format!("{name}.sample{i}.decode_out"),
                    &out.decoded,
                    &a.f32(&format!("{name}.sample{i}.decode_out"))?,
                    1e-5,
                    &mut worst,
                )?;
            }
        }
    }
    Ok(format!(
        "{} samples × {} models, max abs err {worst:.2e}",
        samples.len(),
        e["runs"].as_object().unwrap().len()
    ))
}

fn check_wer(path: &Path) -> R<String> {
    let e = json(path)?;
    let cases = e["cases"].as_array().ok_or("no cases")?;
    for c in cases {
        let (r, h) = (
            c["reference"].as_str().unwrap(),
            c["hypothesis"].as_str().unwrap(),
        );
        if sn9::eval::clean_sentence(r) != c["clean_reference"].as_str().unwrap()
            || sn9::eval::clean_sentence(h) != c["clean_hypothesis"].as_str().unwrap()
        {
            return Err(format!("clean_sentence differs on {c}"));
        }
        match (sample_wer(r, h), c["wer"].as_f64()) {
            (Ok(got), Some(want)) if got == want => {}
            (Err(_), None) if c["exception"].is_string() => {}
            (got, _) => {
                return Err(format!(
                    "wer({r:?}, {h:?}) = {got:?}, expected {} {}",
                    c["wer"], c["exception"]
                ));
            }
        }
        if let Some(k) = c.get("jiwer_counts") {
            let cr = sn9::eval::clean_sentence(r);
            let ch = sn9::eval::clean_sentence(h);
            let (rw, hw): (Vec<&str>, Vec<&str>) =
                (cr.split(' ').collect(), ch.split(' ').collect());
            let edits = k["substitutions"].as_u64().unwrap()
                + k["deletions"].as_u64().unwrap()
                + k["insertions"].as_u64().unwrap();
            if rw.len() as u64 != k["ref_words"].as_u64().unwrap()
                || word_distance(&rw, &hw) as u64 != edits
            {
                return Err(format!("word counts differ on {c}"));
            }
        }
    }
    let means = e["task_means"].as_array().ok_or("no task_means")?;
    for m in means {
        let q = strings(&m["query_texts"]);
        let t = strings(&m["transcripts"]);
        let scores: Result<Vec<f64>, _> = q.iter().zip(&t).map(|(q, t)| sample_wer(q, t)).collect();
        match (scores.map(|s| task_score(&s)), &m["score"]) {
            (Ok(got), Value::Number(n)) if got == n.as_f64().unwrap() => {}
            (Ok(got), Value::String(s)) if s == "inf" && got.is_infinite() => {}
            (Err(_), Value::Null) if m["exception"].is_string() => {}
            (got, want) => return Err(format!("task mean {got:?}, expected {want}")),
        }
    }
    Ok(format!(
        "{} pairs and {} task means exact",
        cases.len(),
        means.len()
    ))
}

/// Whisper on `whisper_tiny`: the feature extractor, decoding of the reference's tokens, then
/// sn9's network in burn through the whole pipeline (encoder, language detection, first-step
/// logits, greedy tokens, texts, the end-to-end transcripts).
fn check_whisper(dir: &Path) -> R<String> {
    use sn9::asr::generate::WhisperStep;
    use sn9::asr::whisper::{Session, Whisper};
    struct Probe<'a>(Session<'a, Cpu>);
    impl WhisperStep for Probe<'_> {
        fn encode(&mut self, segment: &[f32]) -> anyhow::Result<()> {
            self.0.encode(segment)
        }
        fn logits(&mut self, tokens: &[u32]) -> anyhow::Result<Vec<f32>> {
            self.0.logits(tokens)
        }
    }
    impl whisper_checks::WhisperProbe for Probe<'_> {
        fn encoder_output(&mut self, segment: &[f32]) -> anyhow::Result<Vec<f32>> {
            self.0.encode(segment)?;
            self.0
                .encoded()
                .expect("encoded above")
                .clone()
                .into_data()
                .to_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))
        }
    }
    let features = whisper_checks::check_whisper_features(dir)?;
    let decode = whisper_checks::check_whisper_decode(dir)?;
    let model = Whisper::<Cpu>::load(dir, &Default::default()).map_err(|e| format!("{e:#}"))?;
    let net = whisper_checks::check_whisper_model(dir, &mut Probe(Session::new(&model)))?;
    Ok(format!("{features}; {decode}; {net}"))
}

/// The checker for a case directory, by the kind its name gives.
fn checker(name: &str) -> Option<fn(&Path) -> R<String>> {
    Some(match name {
        "text" => check_text,
        "randn" => check_randn,
        "mel_frontend" => check_mel_frontend,
        "e2e_compute_wer" => check_e2e,
        "wer_cases.json" => check_wer,
        "resample_cases" => check_resample_case,
        "tts_data_golden.json" => check_tts_data_case,
        "tts_data" => tts_data_assets,
        n if n.starts_with("whisper_") => check_whisper,
        n if n.starts_with("vocos_") => check_vocos,
        n if n.starts_with("e2tts_") => check_e2tts,
        _ => return None,
    })
}

fn main() {
    let root = std::env::var_os("SN9_TTSREF")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/ttsref"));
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                || p.file_name().is_some_and(|n| {
                    n.to_string_lossy().ends_with("_cases.json")
                        || n.to_string_lossy().starts_with("tts_data")
                })
        })
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases under {}", root.display());
    let (mut passed, mut failed) = (0, 0);
    for c in &cases {
        let name = c.file_name().unwrap().to_string_lossy().to_string();
        let Some(check) = checker(&name) else {
            println!("ttsref {name}: FAILED: unknown case kind");
            failed += 1;
            continue;
        };
        let started = std::time::Instant::now();
        match std::panic::catch_unwind(|| check(c)) {
            Ok(Ok(msg)) => {
                println!(
                    "ttsref {name}: ok ({msg}; {:.1}s)",
                    started.elapsed().as_secs_f64()
                );
                passed += 1;
            }
            Ok(Err(msg)) => {
                println!("ttsref {name}: FAILED: {msg}");
                failed += 1;
            }
            Err(_) => {
                println!("ttsref {name}: FAILED (panic above)");
                failed += 1;
            }
        }
    }
    println!("ttsref: {passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
