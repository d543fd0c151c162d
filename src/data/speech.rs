//! The TTS task's evaluation data: pretraining `pretrain/dataset.py` `SubsetPeopleSpeechLoader`
//! (`shared/notes/tts-evaluation.md` §1) and the validator's `Random(seed).shuffle` + `[:50]`.
//!
//! 1. `random.seed(seed)`; up to 14 FineWeb-style attempts (`/size`, `initial_offset =
//!    randint(0, 39)`, one page of 40 rows), stopping once the buffer holds an entry; the buffer
//!    is kept across attempts, the pages are the last attempt's;
//! 2. per row, in order: download the WAV, decode it as `torchaudio.load`, mono + RMS raise,
//!    resample to 24 kHz, skip when `duration ≥ 15` or the text has fewer than 5 characters;
//! 3. each entry's query is `choice` of the other entries (the same global generator), its
//!    `tokenized_text` is `convert_char_to_pinyin(ref + " " + query)`, its lengths
//!    `add_generation_duration`'s;
//! 4. the entries (batches of one) are shuffled with a fresh `Random(seed)` and cut to 50.
//!
//! Any failure of a row (download, decoding, an empty clip reaching the resampler) aborts the
//! loader, as the reference's exception escapes it (the validator then skips the task).

use std::collections::HashMap;

use serde::Serialize;

use super::pyrandom::{BigUint, PyRandom};
use super::sample::{FetchError, FetchOptions, Page, PageWalk, Row, RowSource, fineweb_attempt};
use super::speech_batches::SpeechEntry;
use crate::tts::resample::Resampler;
use crate::tts::synth::{generation_duration, preprocess_audio};
use crate::tts::text::convert_char_to_pinyin;
use crate::tts::wav;

/// `name` of the loader.
pub const DATASET: &str = "MLCommons/peoples_speech";
/// `DatasetId.PPLSPEECH` in the competition schedule.
pub const DATASET_ID: u8 = 9;
/// The task name in the schedule.
pub const TASK: &str = "PPL_SPEECH";
/// `num_rows_per_page`.
pub const ROWS_PER_PAGE: u64 = 40;
/// `dataset_kwargs["num_pages"]` of the TTS task.
pub const NUM_PAGES: u64 = 1;
/// `while fetch_attempt < 15` starting at 1: 14 attempts.
pub const FETCH_ATTEMPTS: u32 = 14;
/// `target_sr`.
pub const TARGET_SR: u32 = 24_000;
/// `target_rms` (the RMS a quieter clip is raised to; applied in `preprocess_audio`).
pub const TARGET_RMS: f64 = 0.1;
/// `ref_audio_max_duration` in seconds (a clip of this length or more is skipped).
pub const MAX_DURATION_S: f64 = 15.0;
/// `hop_length` (samples per mel frame at 24 kHz).
pub const HOP_LENGTH: usize = 256;
/// Texts shorter than this (in Unicode code points, Python's `len`) are skipped.
pub const MIN_TEXT_CHARS: usize = 5;
/// Tries of one audio download on transient failures. The reference makes one request; a
/// connection error or 5xx there raises and the task is lost for the step — retrying only turns
/// such a transient failure into the answer the reference gets when the network works.
pub const AUDIO_TRIES: u32 = 4;

/// Why a row was skipped or kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowFate {
    Kept,
    /// `ref_audio_duration >= 15` (after resampling).
    TooLong,
    /// `len(ref_text) < 5`.
    ShortText,
}

/// One processed row (`download_audio_torch` + `preprocess_audio`), in the order handled.
#[derive(Debug, Clone, Serialize)]
pub struct RowRecord {
    pub url: String,
    pub sample_rate: u32,
    pub channels: usize,
    pub frames: usize,
    /// The clip was quieter than RMS 0.1 and raised to it.
    pub raised: bool,
    /// Samples at 24 kHz.
    pub resampled_len: usize,
    pub fate: RowFate,
}

/// Skipped rows by reason (a row both too long and short-texted counts as too long, the
/// reference's first test).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SkipCounts {
    pub too_long: usize,
    pub short_text: usize,
}

/// The TTS task's evaluation data for a seed.
#[derive(Debug, Clone, Serialize)]
pub struct SpeechData {
    pub task: String,
    pub dataset: String,
    /// `loader.pages` (the last attempt's).
    pub pages: Vec<Page>,
    pub page_names: Vec<String>,
    /// Every row handled, over all attempts.
    pub rows: Vec<RowRecord>,
    pub skipped: SkipCounts,
    /// `len(list(loader))`.
    pub batches_before_truncation: usize,
    /// The validator's samples, in post-shuffle order (at most 50).
    pub entries: Vec<SpeechEntry>,
}

impl SpeechData {
    /// What happened to the rows, for people: `R rows (T too long, S with short texts), K of B
    /// samples kept`.
    pub fn counts(&self) -> String {
        format!(
            "{} rows ({} too long, {} with short texts), {} of {} samples kept",
            self.rows.len(),
            self.skipped.too_long,
            self.skipped.short_text,
            self.entries.len(),
            self.batches_before_truncation
        )
    }
}

fn fatal(msg: String) -> FetchError {
    FetchError::Fatal(anyhow::anyhow!(msg))
}

/// `requests.get(url)` with a few retries of transient failures (bounded backoff: the retry
/// delay, doubled per try, at most 4×); a fatal answer (404…) ends at once.
fn download(src: &mut dyn RowSource, url: &str, opt: &FetchOptions) -> Result<Vec<u8>, FetchError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match src.audio(url) {
            Ok(b) => return Ok(b),
            Err(FetchError::Retryable(m)) if tries < AUDIO_TRIES => {
                eprintln!("warning: {TASK}: audio {url} failed ({m}); retrying");
                opt.pause(1u32 << (tries - 1).min(2), TASK)?;
            }
            Err(FetchError::Retryable(m)) => {
                return Err(fatal(format!(
                    "{TASK}: audio {url}: {AUDIO_TRIES} failed downloads; last: {m} (the reference \
                     raises on a failed download, so the task has no data for this step)"
                )));
            }
            Err(FetchError::Fatal(e)) => {
                return Err(FetchError::Fatal(
                    e.context(format!("{TASK}: downloading audio {url}")),
                ));
            }
            Err(e @ FetchError::Deadline(_)) => return Err(e),
        }
    }
}

/// A kept row before query pairing: `{ref_text, ref_audio, ref_audio_duration}`.
#[derive(Debug)]
struct Kept {
    text: String,
    audio: Vec<f32>,
}

/// `SubsetPeopleSpeechLoader._get_content_from_row` (with `download_audio_torch` and
/// `preprocess_audio`): the row's entry, or `None` when it is skipped.
fn process_row(
    src: &mut dyn RowSource,
    page: &Page,
    row: Row,
    opt: &FetchOptions,
    resamplers: &mut HashMap<u32, Resampler>,
    records: &mut Vec<RowRecord>,
) -> Result<Option<Kept>, FetchError> {
    let (url, kind) = row.audio.ok_or_else(|| {
        fatal(format!(
            "{DATASET}: a row of page {} has no audio[0].src/type (the reference raises here too)",
            page.name()
        ))
    })?;
    // `audio_type = type.split("/")[1]`: unused, but an IndexError without a '/'.
    if !kind.contains('/') {
        return Err(fatal(format!(
            "{DATASET}: audio {url} has type {kind:?} without a '/' (the reference raises here too)"
        )));
    }
    let text = row.text.ok_or_else(|| {
        fatal(format!(
            "{DATASET}: the row of {url} has no string `text` (the reference raises here too)"
        ))
    })?;
    let bytes = download(src, &url, opt)?;
    let (record, kept) = process_clip(&bytes, url, text, resamplers)?;
    records.push(record);
    Ok(kept)
}

/// `download_audio_torch`'s decoding, `preprocess_audio` and the skip rules, on a clip's bytes
/// (`url` names it): the row's record and its entry, or `None` when it is skipped.
fn process_clip(
    bytes: &[u8],
    url: String,
    text: String,
    resamplers: &mut HashMap<u32, Resampler>,
) -> Result<(RowRecord, Option<Kept>), FetchError> {
    let audio = wav::decode(bytes, &url).map_err(|e| {
        FetchError::Fatal(e.context(format!(
            "{TASK}: audio {url} cannot be decoded (the reference raises here too)"
        )))
    })?;
    let (mono, raised) = preprocess_audio(&audio);
    let frames = mono.len();
    let sr = audio.sample_rate;
    // Resample (a 24 kHz clip passes unchanged; an empty one raises in the resampler only).
    let (out_len, resampler) = if sr == TARGET_SR {
        (frames, None)
    } else {
        let r = match resamplers.entry(sr) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(
                Resampler::new(sr, TARGET_SR)
                    .map_err(|e| FetchError::Fatal(e.context(format!("{TASK}: audio {url}"))))?,
            ),
        };
        (r.output_len(frames), Some(&*r))
    };
    let duration = out_len as f64 / TARGET_SR as f64;
    let fate = if duration >= MAX_DURATION_S {
        RowFate::TooLong
    } else if text.chars().count() < MIN_TEXT_CHARS {
        RowFate::ShortText
    } else {
        RowFate::Kept
    };
    // A too-long clip is skipped whatever its samples are, so it is not resampled (this also
    // bounds the work a hostile clip can cause); every other clip is, so an empty clip fails
    // here as in the reference.
    let wave = match resampler {
        Some(r) if fate != RowFate::TooLong => r
            .apply(&mono)
            .map_err(|e| FetchError::Fatal(e.context(format!("{TASK}: audio {url}"))))?,
        _ => mono,
    };
    let record = RowRecord {
        url,
        sample_rate: sr,
        channels: audio.channels.len(),
        frames,
        raised,
        resampled_len: out_len,
        fate,
    };
    Ok((
        record,
        (fate == RowFate::Kept).then_some(Kept { text, audio: wave }),
    ))
}

/// `add_queries_to_buffer`: for each entry, `choice` over the other entries (buffer order).
fn add_queries(rng: &mut PyRandom, n: usize) -> Result<Vec<usize>, FetchError> {
    if n < 2 {
        return Err(fatal(format!(
            "{TASK}: {n} usable row(s); the reference needs two (ValueError: Buffer must have at least \
             two entries to add a query from a different dict.), so the task has no data for this step"
        )));
    }
    (0..n)
        .map(|i| {
            let k = rng.choice_index(n - 1).expect("n ≥ 2");
            Ok(if k < i { k } else { k + 1 })
        })
        .collect()
}

/// The validator's data for the TTS task (`SubsetPeopleSpeechLoader(random_seed=seed,
/// **dataset_kwargs)`, `list(loader)`, `Random(seed).shuffle`, `[:50]`). `num_pages` is the
/// task's `dataset_kwargs["num_pages"]` (1).
pub fn sample_speech(
    seed: &BigUint,
    num_pages: u64,
    src: &mut dyn RowSource,
    opt: &FetchOptions,
) -> Result<SpeechData, FetchError> {
    let mut rng = PyRandom::from_bigint(seed);
    let walk = PageWalk {
        task: TASK,
        dataset: DATASET,
        num_pages,
        rows_per_page: ROWS_PER_PAGE,
    };
    let mut buffer: Vec<Kept> = Vec::new();
    let mut records = Vec::new();
    let mut resamplers = HashMap::new();
    let mut pages = Vec::new();
    for _ in 0..FETCH_ATTEMPTS {
        pages = fineweb_attempt(&walk, &mut rng, src, opt, &mut |src, page, rows| {
            for row in rows {
                if let Some(k) = process_row(src, page, row, opt, &mut resamplers, &mut records)? {
                    buffer.push(k);
                }
            }
            if opt.verbose {
                eprintln!(
                    "{TASK}: page {} ({} entries so far)",
                    page.name(),
                    buffer.len()
                );
            }
            Ok(())
        })?;
        if !buffer.is_empty() {
            break;
        }
    }
    if buffer.is_empty() {
        return Err(fatal(format!(
            "{TASK}: no usable row after {FETCH_ATTEMPTS} attempts (the reference raises \
             `Maximum retry limit for fetching pages reached`)"
        )));
    }
    finish(seed, rng, buffer, records, pages, DATASET)
}

/// The loader's last steps on its kept rows: `add_queries_to_buffer` (with the loader's
/// generator where it stands), `preprocess_text`, `add_generation_duration`, then the
/// validator's `Random(seed).shuffle` and the 50-batch cut.
fn finish(
    seed: &BigUint,
    mut rng: PyRandom,
    buffer: Vec<Kept>,
    records: Vec<RowRecord>,
    pages: Vec<Page>,
    dataset: &str,
) -> Result<SpeechData, FetchError> {
    let queries = add_queries(&mut rng, buffer.len())?;
    let mut entries = Vec::with_capacity(buffer.len());
    for (i, &q) in queries.iter().enumerate() {
        let (r, query) = (&buffer[i], &buffer[q].text);
        let (ref_audio_len, gen_audio_len) =
            generation_duration(r.audio.len(), &r.text, query).map_err(FetchError::Fatal)?;
        entries.push(SpeechEntry {
            ref_text: r.text.clone(),
            query_text: query.clone(),
            tokenized_text: convert_char_to_pinyin(&format!("{} {query}", r.text)),
            ref_audio: Vec::new(),
            ref_audio_len,
            gen_audio_len,
            ref_audio_duration: r.audio.len() as f64 / TARGET_SR as f64,
            has_nan: false,
            offset: 0,
            samples: r.audio.len() as u64,
        });
    }
    for (e, k) in entries.iter_mut().zip(buffer) {
        e.has_nan = k.audio.iter().any(|x| x.is_nan());
        e.ref_audio = k.audio;
    }
    let before = entries.len();
    PyRandom::from_bigint(seed).shuffle(&mut entries);
    entries.truncate(crate::competition::constants::MAX_BATCHES_PER_DATASET as usize);
    let skipped = SkipCounts {
        too_long: records
            .iter()
            .filter(|r| r.fate == RowFate::TooLong)
            .count(),
        short_text: records
            .iter()
            .filter(|r| r.fate == RowFate::ShortText)
            .count(),
    };
    Ok(SpeechData {
        task: TASK.into(),
        dataset: dataset.into(),
        page_names: pages.iter().map(Page::name).collect(),
        pages,
        rows: records,
        skipped,
        batches_before_truncation: before,
        entries,
    })
}

/// Speech batches from local clips, as the validator's loader would make them from a page of
/// these rows (`sn9 data pack-speech`): each `(text, clip path)` decoded, mixed down, raised to
/// RMS 0.1, resampled to 24 kHz and skipped by the same rules; then queries drawn with
/// `Random(seed)`, tokens, lengths, the shuffle and the 50-batch cut.
pub fn pack_speech(
    seed: &BigUint,
    rows: &[(String, std::path::PathBuf)],
    dataset: &str,
) -> anyhow::Result<SpeechData> {
    let mut resamplers = HashMap::new();
    let (mut buffer, mut records) = (Vec::new(), Vec::new());
    for (text, path) in rows {
        let bytes = crate::output::read_bytes(path, crate::output::Limit::Audio)?;
        let (rec, kept) = process_clip(
            &bytes,
            path.display().to_string(),
            text.clone(),
            &mut resamplers,
        )
        .map_err(|e| crate::error::user(e.to_string()))?;
        records.push(rec);
        buffer.extend(kept);
    }
    finish(
        seed,
        PyRandom::from_bigint(seed),
        buffer,
        records,
        Vec::new(),
        dataset,
    )
    .map_err(|e| crate::error::user(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_skip_the_entry_itself() {
        let mut rng = PyRandom::from_u64(0);
        let q = add_queries(&mut rng, 5).unwrap();
        assert!(q.iter().enumerate().all(|(i, &j)| i != j && j < 5));
        assert!(add_queries(&mut rng, 1).is_err());
    }

    struct NoServer;
    impl RowSource for NoServer {
        fn size(&mut self, _: &str) -> Result<Vec<super::super::sample::SizeEntry>, FetchError> {
            Err(FetchError::Fatal(anyhow::anyhow!("offline")))
        }
        fn rows(
            &mut self,
            _: &str,
            _: &str,
            _: &str,
            _: u64,
            _: u64,
            _: bool,
        ) -> Result<Vec<Row>, FetchError> {
            unreachable!()
        }
    }

    /// Serves one WAV for every audio URL.
    struct OneClip(Vec<u8>);
    impl RowSource for OneClip {
        fn size(&mut self, _: &str) -> Result<Vec<super::super::sample::SizeEntry>, FetchError> {
            unreachable!()
        }
        fn rows(
            &mut self,
            _: &str,
            _: &str,
            _: &str,
            _: u64,
            _: u64,
            _: bool,
        ) -> Result<Vec<Row>, FetchError> {
            unreachable!()
        }
        fn audio(&mut self, _: &str) -> Result<Vec<u8>, FetchError> {
            Ok(self.0.clone())
        }
    }

    /// PCM16 mono WAV bytes; `declared` overrides the data chunk's size field.
    fn pcm16(rate: u32, samples: &[i16], declared: Option<u32>) -> Vec<u8> {
        let data = (samples.len() * 2) as u32;
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36 + data).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        for v in [
            16u32.to_le_bytes().to_vec(),
            1u16.to_le_bytes().to_vec(),
            1u16.to_le_bytes().to_vec(),
        ] {
            b.extend_from_slice(&v);
        }
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate.wrapping_mul(2)).to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&declared.unwrap_or(data).to_le_bytes());
        for s in samples {
            b.extend_from_slice(&s.to_le_bytes());
        }
        b
    }

    fn run_row(wav: Vec<u8>, text: &str) -> Result<(Option<Kept>, Vec<RowRecord>), FetchError> {
        let opt = FetchOptions {
            retry_delay: std::time::Duration::ZERO,
            deadline: None,
            verbose: false,
        };
        let row = Row {
            text: Some(text.into()),
            audio: Some(("https://x/clip.wav".into(), "audio/wav".into())),
            ..Default::default()
        };
        let mut rec = Vec::new();
        let k = process_row(
            &mut OneClip(wav),
            &Page::Offset(0),
            row,
            &opt,
            &mut HashMap::new(),
            &mut rec,
        )?;
        Ok((k, rec))
    }

    #[test]
    fn hostile_clips() {
        // A 0-sample 16 kHz clip fails in the resampler (as the reference), naming the URL.
        let e = run_row(pcm16(16000, &[], None), "hello there")
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("https://x/clip.wav") && e.to_string().contains("empty"),
            "{e}"
        );
        // A 0-sample 24 kHz clip is not resampled: the reference keeps it (0 s, 0 hops).
        let (k, _) = run_row(pcm16(24000, &[], None), "hello there").unwrap();
        assert_eq!(k.unwrap().audio.len(), 0);
        // A data chunk declaring 4 GB holds what is there.
        let (k, rec) = run_row(pcm16(16000, &[1000; 160], Some(u32::MAX)), "hello there").unwrap();
        assert_eq!((rec[0].frames, k.unwrap().audio.len()), (160, 240));
        // Implausible rates: 0 Hz and a prime near the reader's cap are errors; 1 Hz makes a
        // 24,000-fold clip, which is skipped as too long without being resampled.
        assert!(run_row(pcm16(0, &[1; 10], None), "hello there").is_err());
        let e = run_row(pcm16(767_999, &[1; 10], None), "hello there")
            .err()
            .unwrap();
        assert!(e.to_string().contains("implausible"), "{e}");
        let (k, rec) = run_row(pcm16(1, &[1000; 100], None), "hello there").unwrap();
        assert!(k.is_none());
        assert_eq!(
            (rec[0].fate, rec[0].resampled_len),
            (RowFate::TooLong, 2_400_000)
        );
        // Not a WAV.
        let e = run_row(b"ID3 mp3 bytes".to_vec(), "hello there")
            .err()
            .unwrap();
        assert!(e.to_string().contains("cannot be decoded"), "{e}");
        // Short texts count Unicode characters: "日本語" (9 bytes) is 3.
        let (k, rec) = run_row(pcm16(16000, &[1000; 160], None), "日本語").unwrap();
        assert!(k.is_none());
        assert_eq!(rec[0].fate, RowFate::ShortText);
    }

    #[test]
    fn hostile_rows_are_errors() {
        let page = Page::Offset(0);
        let opt = FetchOptions {
            retry_delay: std::time::Duration::ZERO,
            deadline: None,
            verbose: false,
        };
        let mut rs = HashMap::new();
        let mut rec = Vec::new();
        // No audio cell, a type without '/', no source for the download.
        let row = Row {
            text: Some("hello there".into()),
            ..Default::default()
        };
        assert!(process_row(&mut NoServer, &page, row, &opt, &mut rs, &mut rec).is_err());
        let row = Row {
            text: Some("hello there".into()),
            audio: Some(("u".into(), "wav".into())),
            ..Default::default()
        };
        assert!(process_row(&mut NoServer, &page, row, &opt, &mut rs, &mut rec).is_err());
        let row = Row {
            text: Some("hello there".into()),
            audio: Some(("u".into(), "audio/wav".into())),
            ..Default::default()
        };
        let e = process_row(&mut NoServer, &page, row, &opt, &mut rs, &mut rec).unwrap_err();
        assert!(e.to_string().contains("no audio source for u"), "{e}");
    }
}
