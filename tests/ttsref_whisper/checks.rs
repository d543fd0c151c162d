//! Whisper checks for `tests/ttsref.rs` (case directory `whisper_tiny/` of a ttsref split; the
//! split directory itself is accepted too). They use the harness's `R`, `json` and `close`.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sn9::asr::decode::WhisperTokenizer;
use sn9::asr::features::{N_MELS, SEGMENT_FRAMES, WhisperFeatureExtractor, mel_filter_bank_f64};
use sn9::asr::genconfig::GenConfig;
use sn9::asr::generate::{WhisperStep, init_tokens, segment, transcribe};

use super::{R, close, json};

/// The `whisper_tiny` case directory and the split directory its `.npy` paths are relative to.
fn whisper_dirs(dir: &Path) -> (PathBuf, PathBuf) {
    if dir.join("whisper_tiny").is_dir() {
        (dir.join("whisper_tiny"), dir.to_path_buf())
    } else {
        let split = dir.parent().unwrap_or(Path::new(".")).to_path_buf();
        (dir.to_path_buf(), split)
    }
}

/// A `.npy` as its shape and f64 values.
fn npy(path: &Path) -> R<(Vec<usize>, Vec<f64>)> {
    super::npy::read_npy(path).map(|n| (n.shape, n.data))
}

fn npy_f32(split: &Path, rel: &Value) -> R<(Vec<usize>, Vec<f32>)> {
    let rel = rel
        .as_str()
        .ok_or(format!("expected an .npy path, found {rel}"))?;
    let (s, v) = npy(&split.join(rel))?;
    Ok((s, v.into_iter().map(|x| x as f32).collect()))
}

/// The pipeline input of a fixture wave: `int16 / 32768` as f32, or wave 0 tiled to `n`
/// samples (`numpy.resize`).
fn wave(split: &Path, waves: &[Value], w: &Value) -> R<Vec<f32>> {
    let from_int16 = |rel: &Value| -> R<Vec<f32>> {
        let (_, v) = npy(&split.join(rel.as_str().ok_or("wave_int16 path")?))?;
        Ok(v.into_iter().map(|x| x as f32 / 32768.0).collect())
    };
    if !w["wave_int16"].is_null() {
        return from_int16(&w["wave_int16"]);
    }
    let n = w["wave_recipe"]["n"]
        .as_u64()
        .ok_or("wave_recipe without n")? as usize;
    let base = from_int16(&waves[0]["wave_int16"])?;
    Ok((0..n).map(|i| base[i % base.len()]).collect())
}

fn stats_close(what: &str, got: &[f32], st: &Value, tol: f64, worst: &mut f64) -> R<()> {
    let sum: f64 = got.iter().map(|&x| x as f64).sum();
    let min = got.iter().fold(f32::INFINITY, |a, &b| a.min(b)) as f64;
    let max = got.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let n = st["n"].as_u64().unwrap_or(0) as usize;
    if n != got.len() {
        return Err(format!("{what}: {} values, expected {n}", got.len()));
    }
    let dmean = (sum - st["sum_f64"].as_f64().unwrap_or(f64::NAN)).abs() / n as f64;
    let dmin = (min - st["min"].as_f64().unwrap_or(f64::NAN)).abs();
    let dmax = (max - st["max"].as_f64().unwrap_or(f64::NAN)).abs();
    let m = dmean.max(dmin).max(dmax);
    *worst = worst.max(m);
    if m.is_nan() || m > tol {
        return Err(format!(
            "{what}: stats differ (mean {dmean:.2e}, min {dmin:.2e}, max {dmax:.2e})"
        ));
    }
    Ok(())
}

/// `[80, frames]` columns `a..b` as `[80, b − a]`.
fn cols(f: &[f32], frames: usize, a: usize, b: usize) -> Vec<f32> {
    (0..N_MELS)
        .flat_map(|m| f[m * frames + a..m * frames + b].iter().copied())
        .collect()
}

/// The mel bank (f64 and f32) and the log-mel features of every wave (stored frames, the padding
/// value of all later frames, the stats), atol 5e-5.
pub fn check_whisper_features(dir: &Path) -> R<String> {
    let (case, split) = whisper_dirs(dir);
    let e = json(&case.join("asr_expected/asr_expected.json"))?;
    let fe = WhisperFeatureExtractor::new();
    let (shape, bank64) = npy(&split.join(
        e["feature_extractor"]["mel_filters"]
            .as_str()
            .ok_or("mel_filters")?,
    ))?;
    if shape != [201, 80] {
        return Err(format!("mel_filters shape {shape:?}"));
    }
    let ours = mel_filter_bank_f64();
    let bank_err = ours
        .iter()
        .zip(&bank64)
        .map(|(a, b)| (a - b).abs())
        .fold(0f64, f64::max);
    if bank_err > 1e-12 {
        return Err(format!("mel filters f64 differ by {bank_err:.2e}"));
    }
    let (_, bank32) = npy_f32(&split, &e["feature_extractor"]["mel_filters_f32"])?;
    let ours32 = fe.mel_filters_f32(); // [80, 201]
    let mut bank32_err = 0f32;
    for f in 0..201 {
        for m in 0..80 {
            bank32_err = bank32_err.max((ours32[m * 201 + f] - bank32[f * 80 + m]).abs());
        }
    }
    if bank32_err > 0.0 {
        return Err(format!("mel filters f32 differ by {bank32_err:.2e}"));
    }
    let waves = e["waves"].as_array().ok_or("no waves")?;
    let (mut worst, mut worst_stats) = (0f32, 0f64);
    let mut slowest = 0f64;
    for w in waves {
        let name = w["name"].as_str().unwrap_or("?");
        let x = wave(&split, waves, w)?;
        let t0 = std::time::Instant::now();
        let (f, frames) = fe.extract(&x).map_err(|e| format!("{name}: {e:#}"))?;
        slowest = slowest.max(t0.elapsed().as_secs_f64());
        let want_frames = w["features_shape"][2].as_u64().unwrap_or(0) as usize;
        if frames != want_frames {
            return Err(format!("{name}: {frames} frames, expected {want_frames}"));
        }
        let ff = &w["features_first_frames"];
        if ff.is_string() {
            let (s, want) = npy_f32(&split, ff)?;
            let k = s[1];
            close(
                &format!("{name} first {k} frames"),
                &cols(&f, frames, 0, k),
                &want,
                5e-5,
                &mut worst,
            )?;
            if let Some(p) = w["features_padding_value_after_stored_frames"].as_f64() {
                let rest = cols(&f, frames, k, frames);
                close(
                    &format!("{name} padding"),
                    &rest,
                    &vec![p as f32; rest.len()],
                    5e-5,
                    &mut worst,
                )?;
            }
        } else {
            let (_, first) = npy_f32(&split, &ff["first_300"])?;
            close(
                &format!("{name} first 300"),
                &cols(&f, frames, 0, 300),
                &first,
                5e-5,
                &mut worst,
            )?;
            let (_, last) = npy_f32(&split, &ff["last_100"])?;
            close(
                &format!("{name} last 100"),
                &cols(&f, frames, frames - 100, frames),
                &last,
                5e-5,
                &mut worst,
            )?;
        }
        stats_close(name, &f, &w["features_stats"], 5e-5, &mut worst_stats)?;
    }
    Ok(format!(
        "mel bank f64 err {bank_err:.1e}, f32 exact; {} waves' features max abs err {worst:.2e}, \
         stats err {worst_stats:.2e}; slowest extraction {:.1} ms",
        waves.len(),
        slowest * 1e3
    ))
}

/// The generation config (effective values, prompts, the config.json fallback) and the text of
/// every wave's `generate_tokens` and the `decode_checks`, exactly.
pub fn check_whisper_decode(dir: &Path) -> R<String> {
    let (case, _) = whisper_dirs(dir);
    let e = json(&case.join("asr_expected/asr_expected.json"))?;
    let cfg = GenConfig::load(&case).map_err(|e| format!("{e:#}"))?;
    let eff = &e["generation_config_effective"];
    let ids = |v: &Value| -> Vec<u32> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_u64())
                    .map(|x| x as u32)
                    .collect()
            })
            .unwrap_or_default()
    };
    if cfg.suppress_tokens != ids(&eff["suppress_tokens"])
        || cfg.begin_suppress_tokens != ids(&eff["begin_suppress_tokens"])
        || Some(cfg.max_length as u64) != eff["max_length"].as_u64()
        || Some(cfg.eos as u64) != eff["eos_token_id"].as_u64()
        || Some(cfg.pad as u64) != eff["pad_token_id"].as_u64()
        || Some(cfg.decoder_start as u64) != eff["decoder_start_token_id"].as_u64()
        || cfg.no_timestamps.map(u64::from) != eff["no_timestamps_token_id"].as_u64()
        || cfg.max_initial_timestamp_index.map(u64::from)
            != eff["max_initial_timestamp_index"].as_u64()
        || cfg.language_ids().len() != 99
    {
        return Err(format!("generation config differs: {cfg:?}"));
    }
    // Without generation_config.json: forced English, no detection.
    let model_cfg = json(&case.join("config.json"))?;
    let fallback = GenConfig::from_model_config(model_cfg.as_object().ok_or("config.json")?)
        .map_err(|e| format!("{e:#}"))?;
    let (p, lang) = init_tokens(&fallback, false, &mut || {
        Err(anyhow::anyhow!("no detection"))
    })
    .map_err(|e| format!("{e:#}"))?;
    if p != [50258, 50259, 50359, 50363] || lang.is_some() {
        return Err(format!("config.json fallback prompt {p:?}"));
    }
    let tok = WhisperTokenizer::from_dir(&case).map_err(|e| format!("{e:#}"))?;
    if tok.special_ids().len() as u64
        != e["tokenizer"]["all_special_ids_count"]
            .as_u64()
            .unwrap_or(0)
    {
        return Err(format!("{} special ids", tok.special_ids().len()));
    }
    let waves = e["waves"].as_array().ok_or("no waves")?;
    for w in waves {
        let name = w["name"].as_str().unwrap_or("?");
        let prompt = ids(&w["prompt"]);
        let (p, _) = init_tokens(&cfg, prompt.len() == 3, &mut || {
            Ok(w["language_detection"]["detected_lang_id"]
                .as_u64()
                .unwrap_or(0) as u32)
        })
        .map_err(|e| format!("{e:#}"))?;
        if p != prompt {
            return Err(format!("{name}: prompt {p:?}, expected {prompt:?}"));
        }
        let text = tok
            .decode_asr(&ids(&w["generate_tokens"]))
            .map_err(|e| format!("{e:#}"))?;
        if text != w["pipeline_text"].as_str().unwrap_or("") {
            return Err(format!(
                "{name}: text {text:?}, expected {}",
                w["pipeline_text"]
            ));
        }
    }
    let checks = e["decode_checks"].as_array().ok_or("no decode_checks")?;
    for c in checks {
        let w = &waves[c["wave"].as_u64().unwrap_or(0) as usize];
        let text_ids: Vec<u32> = ids(&w["generate_tokens"])
            .into_iter()
            .filter(|&t| !tok.special_ids().contains(&t) && t < tok.timestamp_begin())
            .collect();
        let all = ids(&w["generate_tokens"]);
        let got = [
            tok.decode(&text_ids),
            tok.decode_raw(&text_ids),
            tok.decode_skip_special(&all),
        ];
        let keys = [
            "decode_text_tokens_clean_up_true",
            "decode_text_tokens_clean_up_false",
            "batch_decode_skip_special_tokens",
        ];
        for (g, k) in got.into_iter().zip(keys) {
            let g = g.map_err(|e| format!("{e:#}"))?;
            if c.get(k).is_some_and(|v| v.as_str() != Some(g.as_str())) {
                return Err(format!(
                    "decode_checks wave {}: {k} = {g:?}, expected {}",
                    c["wave"], c[k]
                ));
            }
        }
    }
    Ok(format!(
        "generation config, prompts and {} pipeline texts and {} decode checks exact",
        waves.len(),
        checks.len()
    ))
}

/// A [`WhisperStep`] whose encoder output can be read, for [`check_whisper_model`].
pub trait WhisperProbe: WhisperStep {
    /// Encoder output `[1500, d_model]` row-major of one `[80, 3000]` segment.
    fn encoder_output(&mut self, segment: &[f32]) -> anyhow::Result<Vec<f32>>;
}

/// A Whisper network against the fixture: per wave the encoder output (positions 0–3 and
/// 1496–1499, stats), the 99 language logits, the first-step raw logits (atol 1e-4), then the
/// greedy tokens, detected language and pipeline text (exact); and the transcripts of
/// `compute_wer_end_to_end`.
pub fn check_whisper_model(dir: &Path, model: &mut dyn WhisperProbe) -> R<String> {
    let (case, split) = whisper_dirs(dir);
    let e = json(&case.join("asr_expected/asr_expected.json"))?;
    let cfg = GenConfig::load(&case).map_err(|e| format!("{e:#}"))?;
    let tok = WhisperTokenizer::from_dir(&case).map_err(|e| format!("{e:#}"))?;
    let fe = WhisperFeatureExtractor::new();
    let mut lang_ids = cfg.language_ids();
    lang_ids.sort_unstable();
    let waves = e["waves"].as_array().ok_or("no waves")?;
    let (mut w_enc, mut w_lang, mut w_step) = (0f32, 0f32, 0f32);
    let mut w_stats = 0f64;
    let mut matched = Vec::new();
    let ids = |v: &Value| -> Vec<u32> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_u64())
                    .map(|x| x as u32)
                    .collect()
            })
            .unwrap_or_default()
    };
    let err = |e: anyhow::Error| format!("{e:#}");
    for w in waves {
        let name = w["name"].as_str().unwrap_or("?");
        let x = wave(&split, waves, w)?;
        let (f, frames) = fe.extract(&x).map_err(err)?;
        let seg0 = segment(&f, frames, 0, SEGMENT_FRAMES);
        let enc = model.encoder_output(&seg0).map_err(err)?;
        let d = enc.len() / 1500;
        let (_, want) = npy_f32(&split, &w["encoder_out_first4_last4"])?;
        let got: Vec<f32> = enc[..4 * d]
            .iter()
            .chain(&enc[1496 * d..])
            .copied()
            .collect();
        close(
            &format!("{name} encoder out"),
            &got,
            &want,
            1e-4,
            &mut w_enc,
        )?;
        stats_close(
            &format!("{name} encoder stats"),
            &enc,
            &w["encoder_out_stats"],
            1e-4,
            &mut w_stats,
        )?;
        (&mut *model as &mut dyn WhisperStep)
            .encode(&seg0)
            .map_err(err)?;
        let logits = model.logits(&[cfg.decoder_start]).map_err(err)?;
        let got: Vec<f32> = lang_ids.iter().map(|&i| logits[i as usize]).collect();
        let (_, want) = npy_f32(&split, &w["language_detection"]["lang_logits_99"])?;
        close(
            &format!("{name} language logits"),
            &got,
            &want,
            1e-4,
            &mut w_lang,
        )?;
        let prompt = ids(&w["prompt"]);
        let first = model.logits(&prompt).map_err(err)?;
        if w["first_step_raw_logits"].is_string() {
            let (_, want) = npy_f32(&split, &w["first_step_raw_logits"])?;
            close(
                &format!("{name} first-step logits"),
                &first,
                &want,
                1e-4,
                &mut w_step,
            )?;
        }
        stats_close(
            &format!("{name} first-step stats"),
            &first,
            &w["first_step_logits_stats"],
            1e-4,
            &mut w_stats,
        )?;
        let t = transcribe(model, &f, frames, &cfg).map_err(err)?;
        let want = ids(&w["generate_tokens"]);
        let same = t
            .tokens
            .iter()
            .zip(&want)
            .take_while(|(a, b)| a == b)
            .count();
        if t.tokens != want {
            return Err(format!(
                "{name}: tokens differ from index {same} ({} vs {} tokens): {:?}",
                t.tokens.len(),
                want.len(),
                t.tokens
            ));
        }
        let lang = w["language_detection"]["detected_lang_id"]
            .as_u64()
            .map(|x| x as u32);
        if t.language != lang || t.prompt != prompt {
            return Err(format!(
                "{name}: language {:?} prompt {:?}",
                t.language, t.prompt
            ));
        }
        let text = tok.decode_asr(&t.tokens).map_err(err)?;
        if text != w["pipeline_text"].as_str().unwrap_or("") {
            return Err(format!("{name}: text {text:?}"));
        }
        matched.push(format!("{}/{}", same, want.len()));
    }
    let e2e = &e["compute_wer_end_to_end"]["per_batch"];
    let batches = e2e.as_array().ok_or("no compute_wer_end_to_end")?;
    for b in batches {
        let x = if b["transcriber_input"].is_string() {
            npy_f32(&split, &b["transcriber_input"])?.1
        } else {
            let i = b["vocoder_wave_index"]
                .as_u64()
                .ok_or("vocoder_wave_index")? as usize;
            wave(&split, waves, &waves[i])?
        };
        let (f, frames) = fe.extract(&x).map_err(err)?;
        let t = transcribe(model, &f, frames, &cfg).map_err(err)?;
        let text = tok.decode_asr(&t.tokens).map_err(err)?;
        if text != b["transcript"].as_str().unwrap_or("") {
            return Err(format!(
                "end-to-end {}: transcript {text:?}",
                b["query_text"]
            ));
        }
    }
    Ok(format!(
        "encoder out err {w_enc:.2e}, language logits {w_lang:.2e}, first-step logits \
         {w_step:.2e}, stats {w_stats:.2e}; tokens matched {}; {} end-to-end transcripts exact",
        matched.join(" "),
        batches.len()
    ))
}
