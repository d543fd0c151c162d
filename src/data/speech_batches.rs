//! Speech batches: what `sn9 data sample` writes for the TTS competition and `sn9 eval` reads. A
//! directory with `manifest.json` and, per task, `<name>.jsonl` (one entry per line: the texts,
//! the pinyin/character tokens and the lengths in hops) and `<name>.f32` (the reference clips,
//! 24 kHz mono little-endian float32, back to back; each entry gives its `offset` and `samples`).
//! Written to a temporary directory and renamed into place, like the token shards.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::shards::{begin_output, finish_output};
use crate::error::user;

pub const SCHEMA: &str = "sn9.speech";
pub const VERSION: u32 = 1;

/// One evaluation sample (a batch of the reference's TTS loader, `batch_size` 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeechEntry {
    pub ref_text: String,
    pub query_text: String,
    /// `convert_char_to_pinyin(ref_text + " " + query_text)`.
    pub tokenized_text: Vec<String>,
    /// `ref_audio.len() // 256`.
    pub ref_audio_len: usize,
    /// Frames to generate, prompt included.
    pub gen_audio_len: usize,
    /// `samples / 24000`.
    pub ref_audio_duration: f64,
    /// The clip holds NaN (an all-zero source clip after the loader's RMS rule).
    #[serde(default)]
    pub has_nan: bool,
    /// Position of the clip in `<task>.f32`, in samples.
    #[serde(default)]
    pub offset: u64,
    pub samples: u64,
    /// The 24 kHz mono clip (in `<task>.f32`, not in the JSON line).
    #[serde(skip)]
    pub ref_audio: Vec<f32>,
}

/// One task of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeechTaskInfo {
    pub name: String,
    pub entries: u64,
    pub texts: String,
    pub audio: String,
    /// Samples in the audio file.
    pub samples: u64,
    /// Where the entries came from (task, dataset, pages, skips...).
    #[serde(default)]
    pub source: Value,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeechManifest {
    pub schema: String,
    pub version: u32,
    pub sample_rate: u32,
    pub tasks: Vec<SpeechTaskInfo>,
    /// What produced the batches (block, seed, pages...).
    #[serde(default)]
    pub origin: Value,
}

/// Whether `dir` holds speech batches (rather than token shards).
pub fn is_speech_dir(dir: &Path) -> bool {
    crate::output::read_text(&dir.join("manifest.json"), crate::output::Limit::State)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .is_some_and(|v| v.get("schema").and_then(|s| s.as_str()) == Some(SCHEMA))
}

/// The task names of a batch directory of either kind (token shards or speech batches).
pub fn task_names(dir: &Path) -> Result<Vec<String>> {
    if is_speech_dir(dir) {
        Ok(SpeechBatches::open(dir)?
            .manifest
            .tasks
            .iter()
            .map(|t| t.name.clone())
            .collect())
    } else {
        Ok(super::shards::Shards::open(dir)?
            .manifest
            .shards
            .iter()
            .map(|s| s.name.clone())
            .collect())
    }
}

/// Writes the tasks' entries into `out` atomically (`out` must not exist unless `replace`).
pub fn write(
    out: &Path,
    origin: Value,
    tasks: &[(String, Vec<SpeechEntry>, Value)],
    replace: bool,
) -> Result<SpeechManifest> {
    let tmp = begin_output(out, replace)?;
    let mut manifest = SpeechManifest {
        schema: SCHEMA.into(),
        version: VERSION,
        sample_rate: crate::tts::command::SAMPLE_RATE,
        tasks: Vec::new(),
        origin,
    };
    for (name, entries, source) in tasks {
        let stem = super::shards::sanitize(name);
        let (texts, audio) = (format!("{stem}.jsonl"), format!("{stem}.f32"));
        let mut lines = String::new();
        let mut bytes: Vec<u8> = Vec::new();
        let mut offset = 0u64;
        for e in entries {
            let mut e = e.clone();
            e.offset = offset;
            e.samples = e.ref_audio.len() as u64;
            e.has_nan = e.ref_audio.iter().any(|x| x.is_nan());
            offset += e.samples;
            bytes.extend(e.ref_audio.iter().flat_map(|x| x.to_le_bytes()));
            lines.push_str(&serde_json::to_string(&e)?);
            lines.push('\n');
        }
        std::fs::write(tmp.join(&texts), lines).with_context(|| format!("writing {texts}"))?;
        std::fs::write(tmp.join(&audio), bytes).with_context(|| format!("writing {audio}"))?;
        manifest.tasks.push(SpeechTaskInfo {
            name: name.clone(),
            entries: entries.len() as u64,
            texts,
            audio,
            samples: offset,
            source: source.clone(),
        });
    }
    std::fs::write(
        tmp.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    finish_output(&tmp, out)?;
    Ok(manifest)
}

/// Opened speech batches.
pub struct SpeechBatches {
    pub dir: PathBuf,
    pub manifest: SpeechManifest,
}

impl SpeechBatches {
    pub fn open(dir: &Path) -> Result<SpeechBatches> {
        let mpath = dir.join("manifest.json");
        let manifest: SpeechManifest =
            super::shards::read_manifest(dir, SCHEMA, VERSION, "batch (`sn9 data sample`)")?;
        if manifest.sample_rate != crate::tts::command::SAMPLE_RATE {
            return Err(user(format!(
                "{}: sample rate {} Hz; the TTS competition's clips are 24 kHz",
                mpath.display(),
                manifest.sample_rate
            )));
        }
        for t in &manifest.tasks {
            for f in [&t.texts, &t.audio] {
                if f.contains('/') || f.contains("..") {
                    return Err(user(format!(
                        "{}: file `{f}` must be a plain file name",
                        mpath.display()
                    )));
                }
            }
        }
        Ok(SpeechBatches {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// The entries of task `i`, clips included, checked against the manifest.
    pub fn entries(&self, i: usize) -> Result<Vec<SpeechEntry>> {
        let t = &self.manifest.tasks[i];
        let tpath = self.dir.join(&t.texts);
        let apath = self.dir.join(&t.audio);
        let text = crate::output::read_text(&tpath, crate::output::Limit::Table)?;
        let size = std::fs::metadata(&apath)
            .map_err(|e| user(format!("cannot read {}: {e}", apath.display())))?
            .len();
        if size != t.samples.saturating_mul(4) {
            return Err(user(format!(
                "{}: {size} bytes, the manifest says {} samples; pack the batches again",
                apath.display(),
                t.samples
            )));
        }
        let bytes = std::fs::read(&apath)
            .map_err(|e| user(format!("cannot read {}: {e}", apath.display())))?;
        if bytes.len() as u64 != t.samples * 4 {
            return Err(user(format!(
                "{}: {} bytes, the manifest says {} samples (truncated or edited?)",
                apath.display(),
                bytes.len(),
                t.samples
            )));
        }
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let mut e: SpeechEntry = serde_json::from_str(line)
                .map_err(|err| user(format!("{}:{}: {err}", tpath.display(), n + 1)))?;
            let end = e.offset.checked_add(e.samples).filter(|&x| x <= t.samples);
            let Some(end) = end else {
                return Err(user(format!(
                    "{}:{}: samples {}..+{} lie outside {}",
                    tpath.display(),
                    n + 1,
                    e.offset,
                    e.samples,
                    apath.display()
                )));
            };
            e.ref_audio = bytes[e.offset as usize * 4..end as usize * 4]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            out.push(e);
        }
        if out.len() as u64 != t.entries {
            return Err(user(format!(
                "{}: {} entries, the manifest says {}",
                tpath.display(),
                out.len(),
                t.entries
            )));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(audio: Vec<f32>) -> SpeechEntry {
        SpeechEntry {
            ref_text: "hello there".into(),
            query_text: "general kenobi".into(),
            tokenized_text: vec!["h".into()],
            ref_audio_len: audio.len() / 256,
            gen_audio_len: 3,
            ref_audio_duration: audio.len() as f64 / 24000.0,
            has_nan: false,
            offset: 0,
            samples: 0,
            ref_audio: audio,
        }
    }

    #[test]
    fn roundtrip_nan_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        let entries = vec![entry(vec![0.5; 300]), entry(vec![f32::NAN; 10])];
        write(
            &out,
            Value::Null,
            &[("PPL_SPEECH".into(), entries.clone(), Value::Null)],
            false,
        )
        .unwrap();
        assert!(is_speech_dir(&out));
        let b = SpeechBatches::open(&out).unwrap();
        let got = b.entries(0).unwrap();
        assert_eq!(got[0].ref_audio, entries[0].ref_audio);
        assert_eq!(
            (got[1].offset, got[1].samples, got[1].has_nan),
            (300, 10, true)
        );
        let f = out.join("PPL_SPEECH.f32");
        let bytes = std::fs::read(&f).unwrap();
        std::fs::write(&f, &bytes[..100]).unwrap();
        assert!(b.entries(0).is_err());
    }
}
