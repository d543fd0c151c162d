//! The TTS competition's evaluation (`compute_wer`, `pretrain/eval/method.py`): per batch,
//! synthesise the query text in the reference clip's voice with the validator's seed, vocode,
//! apply the RMS rule, transcribe with Whisper (each wave on its own, read as 16 kHz), and take
//! the word error rate against the query text; the task's score is the mean (`inf` with no
//! batches). Any failure fails the task, as an exception fails the reference's `score_model`.

use std::path::Path;

use anyhow::Result;
use burn::prelude::*;

use super::command::TaskOutcome;
use crate::asr::Transcriber;
use crate::data::speech_batches::SpeechEntry;
use crate::error::user;
use crate::tts::e2tts::{E2tts, seed_mod_2_32};
use crate::tts::synth::synthesize_tokens;
use crate::tts::vocos::Vocos;
use crate::tts::wer::{sample_wer, task_score};

/// The vocoder and ASR directories, checked before any model is evaluated (they are the
/// validator's choice; a problem with them is the operator's to fix, not a model's failure).
pub fn check_tools(vocoder: &Path, asr: &Path) -> Result<()> {
    crate::tts::vocos::VocosConfig::from_file(&vocoder.join("config.yaml")).map_err(|e| {
        user(format!(
            "--vocoder {}: {e:#} (fetch one with `sn9 hub pull charactr/vocos-mel-24khz`)",
            vocoder.display()
        ))
    })?;
    crate::asr::check_dir(asr)
}

/// One model's WER per task.
pub fn evaluate<B: Backend>(
    dir: &Path,
    vocoder: Option<&Path>,
    asr: Option<&Path>,
    tasks: &[(String, Vec<SpeechEntry>)],
    seed: &str,
    device: &B::Device,
) -> Result<TaskOutcome> {
    let (Some(vocoder), Some(asr)) = (vocoder, asr) else {
        return Err(user("TTS evaluation needs --vocoder and --asr"));
    };
    let seed = seed_mod_2_32(seed)?;
    let vocoder = Vocos::<B>::load(vocoder, device)?;
    let asr = Transcriber::<B>::load(asr, device)?;
    let model = E2tts::<B>::load(dir, device)?;
    let total: usize = tasks.iter().map(|(_, e)| e.len()).sum();
    let progress = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} {bar:30} {pos}/{len} samples {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.set_message(dir.display().to_string());
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut out = Vec::new();
    for (name, entries) in tasks {
        let mut scores = Vec::with_capacity(entries.len());
        let mut failure = None;
        for (i, e) in entries.iter().enumerate() {
            let r = synthesize_tokens(
                &model,
                &vocoder,
                &e.ref_audio,
                &e.tokenized_text,
                e.gen_audio_len,
                seed,
                device,
            )
            .and_then(|s| asr.transcribe(&s.wave))
            .and_then(|text| sample_wer(&e.query_text, &text));
            progress.inc(1);
            match r {
                Ok(w) => scores.push(w),
                Err(err) => {
                    failure = Some(format!("sample {i}: {err:#}"));
                    break;
                }
            }
        }
        out.push((
            name.clone(),
            match failure {
                Some(f) => Err(f),
                None => Ok(task_score(&scores)),
            },
        ));
    }
    progress.finish_and_clear();
    Ok(out)
}
