// sn9's People's Speech loader (`data::speech`) and torchaudio resampler (`tts::resample`)
// against the reference, for `tests/ttsref.rs`: `check_resample(split_dir)` and
// `check_tts_data(split_dir)`, each returning a one-line summary. Expects in scope:
// `std::path::{Path, PathBuf}`, `serde_json::Value`, `type R<T> = Result<T, String>`, `json()`
// and the `.npy` readers of `tests/common/npy.rs`.


/// max |a − b| (NaN where both are NaN counts as equal; NaN on one side only fails).
fn max_diff(what: &str, a: &[f32], b: &[f32]) -> R<f32> {
    if a.len() != b.len() {
        return Err(format!("{what}: {} values, expected {}", a.len(), b.len()));
    }
    let mut m = 0f32;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x.is_nan() || y.is_nan() {
            if x.is_nan() != y.is_nan() {
                return Err(format!("{what}[{i}]: {x} vs expected {y}"));
            }
            continue;
        }
        m = m.max((x - y).abs());
    }
    Ok(m)
}

/// A canonical 44-byte PCM16 WAV header (Python's `wave` module) for `frames` frames of silence.
fn pcm16_header(rate: u32, channels: u16, frames: u32) -> Vec<u8> {
    let data = frames * channels as u32 * 2;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * channels as u32 * 2).to_le_bytes());
    b.extend_from_slice(&(channels * 2).to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    b.resize(44 + data as usize, 0);
    b
}

// ---- resample_cases/ ------------------------------------------------------------------------

/// `resample_cases/`: every kernel (vs the transform's f32 buffer), every case's output (within
/// 1e-5, exact length), the zero-length error, and `torchaudio.load` of every WAV (exact).
fn check_resample(split: &Path) -> R<String> {
    use sn9::tts::resample::Resampler;
    let j = json(&split.join("resample_cases/resample_cases.json"))?;
    let mut worst_kernel = 0f32;
    let mut kernels = 0;
    for (name, k) in j["kernels"].as_object().ok_or("no kernels")? {
        let (a, b) = name
            .split_once("_to_")
            .ok_or(format!("kernel name {name}"))?;
        let (orig, new): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
        let r = Resampler::new(orig, new).map_err(|e| format!("{name}: {e:#}"))?;
        let (shape, want) = read_npy_f32(&split.join(k["transform_kernel_f32"].as_str().unwrap()))?;
        let (n, taps, width) = r.shape();
        if shape != [n, 1, taps] || width as u64 != k["width"].as_u64().unwrap() {
            return Err(format!(
                "{name}: shape {shape:?} width {}, got [{n}, 1, {taps}] width {width}",
                k["width"]
            ));
        }
        // Bit-exact here (glibc's sin/cos); one f32 ulp of slack for other libms.
        let d = max_diff(name, r.kernel(), &want)?;
        if d > 1.2e-7 {
            return Err(format!("{name}: kernel max abs err {d:.3e} > 1.2e-7"));
        }
        worst_kernel = worst_kernel.max(d);
        kernels += 1;
    }
    let mut worst = 0f32;
    let cases = j["cases"].as_array().ok_or("no cases")?;
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let r = Resampler::new(
            c["orig_freq"].as_u64().unwrap() as u32,
            c["new_freq"].as_u64().unwrap() as u32,
        )
        .map_err(|e| format!("{name}: {e:#}"))?;
        let (_, x) = read_npy_f32(&split.join(c["input"].as_str().unwrap()))?;
        let (_, want) = read_npy_f32(&split.join(c["transform_out"].as_str().unwrap()))?;
        if r.output_len(x.len()) as u64 != c["output_len"].as_u64().unwrap() {
            return Err(format!(
                "{name}: output_len {} expected {}",
                r.output_len(x.len()),
                c["output_len"]
            ));
        }
        let y = r.apply(&x).map_err(|e| format!("{name}: {e:#}"))?;
        let d = max_diff(name, &y, &want)?;
        if d > 1e-5 {
            return Err(format!("{name}: max abs err {d:.3e} > 1e-5"));
        }
        worst = worst.max(d);
    }
    if !j["zero_length_input"]
        .as_str()
        .is_some_and(|s| s.contains("0 elements"))
    {
        return Err(format!("zero_length_input: {}", j["zero_length_input"]));
    }
    if Resampler::new(16000, 24000).unwrap().apply(&[]).is_ok() {
        return Err("zero-length input: expected an error".into());
    }
    let wavs = j["wav_load"]["cases"]
        .as_array()
        .ok_or("no wav_load cases")?;
    for c in wavs {
        let name = c["name"].as_str().unwrap();
        if c.get("wav").is_none() {
            // The 0-frame file is recorded without bytes: a canonical 44-byte PCM header.
            let (rate, ch) = (
                c["sample_rate"].as_u64().unwrap() as u32,
                c["shape"][0].as_u64().unwrap() as u16,
            );
            let a = sn9::tts::wav::decode(&pcm16_header(rate, ch, 0), name)
                .map_err(|e| format!("{name}: {e:#}"))?;
            if a.sample_rate != rate
                || a.channels.len() != ch as usize
                || a.channels.iter().any(|c| !c.is_empty())
            {
                return Err(format!("{name}: expected {ch} empty channels at {rate} Hz"));
            }
            continue;
        }
        let bytes = std::fs::read(split.join(c["wav"].as_str().unwrap()))
            .map_err(|e| format!("{name}: {e}"))?;
        let a = sn9::tts::wav::decode(&bytes, name).map_err(|e| format!("{name}: {e:#}"))?;
        let (shape, want) = read_npy_f32(&split.join(c["expected"].as_str().unwrap()))?;
        let got: Vec<f32> = a.channels.concat();
        if a.sample_rate as u64 != c["sample_rate"].as_u64().unwrap()
            || shape != [a.channels.len(), a.channels[0].len()]
            || got
                .iter()
                .zip(&want)
                .any(|(x, y)| x.to_bits() != y.to_bits())
        {
            return Err(format!(
                "{name}: decoded {}×{} at {} Hz differs from torchaudio.load",
                a.channels.len(),
                a.channels[0].len(),
                a.sample_rate
            ));
        }
    }
    Ok(format!(
        "{kernels} kernels (max diff {worst_kernel:.1e}), {} cases (worst {worst:.2e}), zero-length error, {} WAVs exact",
        cases.len(),
        wavs.len()
    ))
}

// ---- tts_data_golden.json + tts_data/ -------------------------------------------------------

/// A datasets-server that replays one run of `tts_data_golden.json`: `/size` from the run's
/// `server.size_splits`, `/rows` pages from `pages_served[*].rows_json` (a request listed in
/// `rows_requests_failing_once_with_500` fails the first time), audio from the assets' WAVs
/// (404 for `audio_urls_failing_with_404`). Every request is logged as the fixture records it.
struct ReplayServer {
    split_dir: PathBuf,
    size: Value,
    pages: Vec<((String, String, u64), PathBuf)>,
    fail_once: Vec<(String, String, u64)>,
    audio: std::collections::HashMap<String, PathBuf>,
    fail_404: Vec<String>,
    log: Vec<Value>,
}

const SERVER: &str = "https://datasets-server.huggingface.co";

impl ReplayServer {
    fn new(split_dir: &Path, run: &Value) -> R<ReplayServer> {
        let server = &run["server"];
        let arr = |v: &Value| v.as_array().cloned().unwrap_or_default();
        let splits: Vec<Value> = arr(&server["size_splits"])
            .iter()
            .map(|s| serde_json::json!({"dataset": sn9::data::speech::DATASET, "config": s[0], "split": s[1], "num_rows": s[2]}))
            .collect();
        let key = |v: &Value| {
            (
                v[0].as_str().unwrap_or("").to_string(),
                v[1].as_str().unwrap_or("").to_string(),
                v[2].as_u64().unwrap_or(0),
            )
        };
        let mut pages = Vec::new();
        let mut audio = std::collections::HashMap::new();
        for p in arr(&run["pages_served"]) {
            let k = (
                p["config"].as_str().unwrap().to_string(),
                p["split"].as_str().unwrap().to_string(),
                p["offset"].as_u64().unwrap(),
            );
            pages.push((k, split_dir.join(p["rows_json"].as_str().unwrap())));
            for a in arr(&p["assets"]) {
                audio.insert(
                    a["src"].as_str().unwrap().to_string(),
                    split_dir.join(a["wav"].as_str().unwrap()),
                );
            }
        }
        Ok(ReplayServer {
            split_dir: split_dir.to_path_buf(),
            size: serde_json::json!({"size": {"splits": splits}}),
            pages,
            fail_once: arr(&server["rows_requests_failing_once_with_500"])
                .iter()
                .map(key)
                .collect(),
            audio,
            fail_404: arr(&server["audio_urls_failing_with_404"])
                .iter()
                .map(|u| u.as_str().unwrap().to_string())
                .collect(),
            log: Vec::new(),
        })
    }
}

impl sn9::data::sample::RowSource for ReplayServer {
    fn size(
        &mut self,
        dataset: &str,
    ) -> Result<Vec<sn9::data::sample::SizeEntry>, sn9::data::sample::FetchError> {
        self.log.push(
            serde_json::json!({"url": format!("{SERVER}/size"), "params": {"dataset": dataset}}),
        );
        sn9::data::http::parse_size(dataset, &self.size)
    }

    fn rows(
        &mut self,
        dataset: &str,
        config: &str,
        split: &str,
        offset: u64,
        length: u64,
        _auth: bool,
    ) -> Result<Vec<sn9::data::sample::Row>, sn9::data::sample::FetchError> {
        use sn9::data::sample::FetchError;
        self.log.push(serde_json::json!({"url": format!("{SERVER}/rows"), "params": {
            "dataset": dataset, "config": config, "split": split, "offset": offset, "length": length}}));
        let k = (config.to_string(), split.to_string(), offset);
        if let Some(i) = self.fail_once.iter().position(|f| *f == k) {
            self.fail_once.remove(i);
            return Err(FetchError::Retryable("HTTP 500 (replayed)".into()));
        }
        let path = self
            .pages
            .iter()
            .find(|(pk, _)| *pk == k)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| {
                FetchError::Fatal(anyhow::anyhow!("the fixture served no page {k:?}"))
            })?;
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        sn9::data::http::parse_rows(dataset, &v)
    }

    fn audio(&mut self, url: &str) -> Result<Vec<u8>, sn9::data::sample::FetchError> {
        use sn9::data::sample::FetchError;
        self.log.push(serde_json::json!({"url": url}));
        if self.fail_404.iter().any(|u| u == url) {
            return Err(FetchError::Fatal(anyhow::anyhow!(
                "Failed to download audio file: HTTP 404 (GET {url})"
            )));
        }
        let path = self
            .audio
            .get(url)
            .ok_or_else(|| FetchError::Fatal(anyhow::anyhow!("the fixture has no asset {url}")))?;
        std::fs::read(path).map_err(|e| {
            FetchError::Fatal(anyhow::anyhow!(
                "{}: {e}",
                self.split_dir.join(path).display()
            ))
        })
    }
}

/// The fixture's `requests` without the `timeout` field (sn9's client sets its own).
fn expected_requests(run: &Value) -> Vec<Value> {
    run["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.as_object_mut().unwrap().remove("timeout");
            r
        })
        .collect()
}

/// One run: requests, pages, rows kept/skipped, the validator's batches (texts, pinyin,
/// lengths exactly; audio within 1e-5, NaN where the reference has NaN), or the exception.
fn check_tts_run(split: &Path, run: &Value) -> R<(usize, f32)> {
    use sn9::data::pyrandom::BigUint;
    use sn9::data::sample::{FetchOptions, Page};
    use sn9::data::speech::{RowFate, sample_speech};
    let scenario = run["scenario"].as_str().unwrap_or("?");
    let err = |m: String| format!("run {scenario}: {m}");
    let seed = BigUint::parse_decimal(run["seed"].as_str().ok_or(err("no seed".into()))?)
        .ok_or(err("bad seed".into()))?;
    let mut server = ReplayServer::new(split, run)?;
    let opt = FetchOptions {
        retry_delay: std::time::Duration::ZERO,
        verbose: false,
        deadline: None,
    };
    let got = sample_speech(&seed, 1, &mut server, &opt);
    let want_requests = expected_requests(run);
    if server.log != want_requests {
        let i = server
            .log
            .iter()
            .zip(&want_requests)
            .position(|(a, b)| a != b)
            .unwrap_or(server.log.len().min(want_requests.len()));
        return Err(err(format!(
            "{} requests, expected {}; first difference at #{i}: {:?} vs {:?}",
            server.log.len(),
            want_requests.len(),
            server.log.get(i),
            want_requests.get(i)
        )));
    }
    if let Some(exc) = run["exception"].as_str() {
        let e = match got {
            Ok(_) => return Err(err(format!("loaded, expected {exc}"))),
            Err(e) => e.to_string(),
        };
        let ok = if exc.contains("Failed to download audio file: HTTP 404") {
            let url = run["server"]["audio_urls_failing_with_404"][0]
                .as_str()
                .unwrap_or("");
            e.contains("HTTP 404") && e.contains(url)
        } else if exc.contains("empty range for randrange()") {
            e.contains("too few for a page")
        } else {
            return Err(err(format!("exception kind unknown to this check: {exc}")));
        };
        if !ok {
            return Err(err(format!(
                "error {e:?} does not match the reference's {exc:?}"
            )));
        }
        return Ok((0, 0.0));
    }
    let data = got.map_err(|e| err(format!("{e}")))?;
    // Pages.
    let pages: Vec<Value> = data
        .pages
        .iter()
        .map(|p| match p {
            Page::Config {
                config,
                offset,
                split,
            } => serde_json::json!([config, offset, split]),
            Page::Offset(o) => serde_json::json!(o),
        })
        .collect();
    if Value::from(pages.clone()) != run["pages"] {
        return Err(err(format!("pages {pages:?}, expected {}", run["pages"])));
    }
    // Rows: decoding, RMS raise, resampled length, kept/skipped.
    let mut texts = std::collections::HashMap::new();
    for p in run["pages_served"].as_array().unwrap() {
        let v = json(&split.join(p["rows_json"].as_str().unwrap()))?;
        for r in v["rows"].as_array().unwrap() {
            texts.insert(
                r["row"]["audio"][0]["src"].as_str().unwrap().to_string(),
                r["row"]["text"].as_str().unwrap().to_string(),
            );
        }
    }
    let procs = run["audio_processing"].as_array().unwrap();
    if procs.len() != data.rows.len() {
        return Err(err(format!(
            "{} rows processed, expected {}",
            data.rows.len(),
            procs.len()
        )));
    }
    for (r, p) in data.rows.iter().zip(procs) {
        let dur = p["duration_after"].as_f64().unwrap();
        let text = &texts[&r.url];
        let fate = if dur >= 15.0 {
            RowFate::TooLong
        } else if text.chars().count() < 5 {
            RowFate::ShortText
        } else {
            RowFate::Kept
        };
        let shape = &p["loaded_shape"];
        if r.url != p["url"].as_str().unwrap()
            || r.sample_rate as u64 != p["loaded_sr"].as_u64().unwrap()
            || r.channels as u64 != shape[0].as_u64().unwrap()
            || r.frames as u64 != shape[1].as_u64().unwrap()
            || r.raised != p["rms_below_target"].as_bool().unwrap()
            || r.resampled_len as u64 != p["resampled_len"].as_u64().unwrap()
            || r.resampled_len as f64 / 24000.0 != dur
            || r.fate != fate
        {
            return Err(err(format!(
                "row {r:?} differs from {p} (expected {fate:?})"
            )));
        }
    }
    let kept = data.rows.iter().filter(|r| r.fate == RowFate::Kept).count();
    if data.batches_before_truncation != kept {
        return Err(err(format!(
            "{} batches for {kept} kept rows",
            data.batches_before_truncation
        )));
    }
    // The validator's batches.
    let vb = run["validator_batches"].as_array().unwrap();
    if data.entries.len() != vb.len() {
        return Err(err(format!(
            "{} batches, expected {}",
            data.entries.len(),
            vb.len()
        )));
    }
    let mut worst = 0f32;
    for (i, (e, w)) in data.entries.iter().zip(vb).enumerate() {
        let tok: Vec<&str> = w["tokenized_text"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        if e.ref_text != w["ref_text"].as_str().unwrap()
            || e.query_text != w["query_text"].as_str().unwrap()
            || e.tokenized_text != tok
            || w["tokenized_text"].as_array().unwrap().len() != 1
            || e.ref_audio_len as u64 != w["ref_audio_len"].as_u64().unwrap()
            || e.gen_audio_len as u64 != w["gen_audio_len"].as_u64().unwrap()
            || e.ref_audio_duration != w["ref_audio_duration"].as_f64().unwrap()
        {
            return Err(err(format!(
                "batch {i}: {:?}/{:?} lens {}/{} dur {}, expected {}",
                e.ref_text, e.query_text, e.ref_audio_len, e.gen_audio_len, e.ref_audio_duration, w
            )));
        }
        let (shape, audio) = read_npy_f32(&split.join(w["ref_audio"].as_str().unwrap()))?;
        if shape != [1, e.ref_audio.len()] {
            return Err(err(format!(
                "batch {i}: audio shape {shape:?}, have {}",
                e.ref_audio.len()
            )));
        }
        if w["ref_audio_has_nan"].as_bool() == Some(true) && !e.ref_audio.iter().all(|x| x.is_nan())
        {
            return Err(err(format!(
                "batch {i}: the reference audio is NaN, sn9's is not"
            )));
        }
        let d = max_diff(
            &format!("run {scenario} batch {i} ref_audio"),
            &e.ref_audio,
            &audio,
        )?;
        if d > 1e-5 {
            return Err(err(format!(
                "batch {i}: ref_audio max abs err {d:.3e} > 1e-5"
            )));
        }
        worst = worst.max(d);
    }
    Ok((vb.len(), worst))
}

/// `tts_data_golden.json`: every run of the real loader against the fake server.
fn check_tts_data(split: &Path) -> R<String> {
    let g = json(&split.join("tts_data_golden.json"))?;
    let runs = g["runs"]
        .as_array()
        .ok_or("tts_data_golden.json: no runs")?;
    let (mut batches, mut worst, mut raised) = (0, 0f32, 0);
    for run in runs {
        let (n, w) = check_tts_run(split, run)?;
        batches += n;
        worst = worst.max(w);
        raised += run["exception"].is_string() as usize;
    }
    let cases = g["pinyin_cases"]
        .as_array()
        .ok_or("tts_data_golden.json: no pinyin_cases")?;
    for c in cases {
        let text = c["text"].as_str().unwrap();
        let got = sn9::tts::text::convert_char_to_pinyin(text);
        if c["out"].as_array().map(|o| o.len()) != Some(1)
            || Value::from(got.clone()) != c["out"][0]
        {
            return Err(format!(
                "convert_char_to_pinyin({text:?}) = {got:?}, expected {}",
                c["out"]
            ));
        }
    }
    Ok(format!(
        "{} runs ({raised} raising as the reference), {batches} batches, worst audio diff {worst:.1e}; {} pinyin cases exact",
        runs.len(),
        cases.len()
    ))
}
