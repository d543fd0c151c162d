//! The validator's speech recognition (TTS competition): Whisper as transformers 4.44.1's
//! `automatic-speech-recognition` pipeline runs it on each synthesised wave — the log-mel
//! features of the bare 24 kHz array read as 16 kHz (`features`), the network in burn
//! (`whisper`), greedy generation with the generation config's rules (`genconfig`, `generate`)
//! and decoding to the pipeline's text (`decode`).

pub mod decode;
pub mod features;
pub mod genconfig;
pub mod generate;
pub mod whisper;

use std::path::Path;

use anyhow::Result;
use burn::prelude::Backend;

pub use whisper::{Whisper, WhisperConfig};

use crate::error::user;

/// What a Whisper directory must hold besides the weights.
pub fn check_dir(dir: &Path) -> Result<()> {
    let hint = "fetch the ASR model with `sn9 hub pull openai/whisper-large-v2`";
    WhisperConfig::from_file(&dir.join("config.json"))
        .map_err(|e| user(format!("--asr {}: {e:#} ({hint})", dir.display())))?;
    genconfig::GenConfig::load(dir)
        .map_err(|e| user(format!("--asr {}: {e:#} ({hint})", dir.display())))?;
    if !dir.join("tokenizer.json").is_file() {
        return Err(user(format!(
            "--asr {}: no tokenizer.json ({hint})",
            dir.display()
        )));
    }
    if !dir.join("model.safetensors").is_file() {
        return Err(user(format!(
            "--asr {}: no model.safetensors ({hint})",
            dir.display()
        )));
    }
    Ok(())
}

/// The pipeline: features, the network, generation and decoding, one wave at a time (the
/// validator's list call runs with batch size 1).
pub struct Transcriber<B: Backend> {
    pub model: Whisper<B>,
    pub features: features::WhisperFeatureExtractor,
    pub generation: genconfig::GenConfig,
    pub tokenizer: decode::WhisperTokenizer,
}

impl<B: Backend> generate::WhisperStep for whisper::Session<'_, B> {
    fn encode(&mut self, segment: &[f32]) -> Result<()> {
        whisper::Session::encode(self, segment)
    }
    fn logits(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        whisper::Session::logits(self, tokens)
    }
}

impl<B: Backend> Transcriber<B> {
    /// `pipeline(model=dir)`: config.json, generation_config.json, model.safetensors,
    /// tokenizer.json.
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self> {
        check_dir(dir)?;
        Ok(Transcriber {
            model: Whisper::load(dir, device)?,
            features: features::WhisperFeatureExtractor::new(),
            generation: genconfig::GenConfig::load(dir)?,
            tokenizer: decode::WhisperTokenizer::from_dir(dir)?,
        })
    }

    /// The generated tokens of one wave (what `generate` hands the pipeline's decoding).
    pub fn tokens(&self, wave: &[f32]) -> Result<generate::Transcription> {
        let (feat, frames) = self.features.extract(wave)?;
        let mut session = whisper::Session::new(&self.model);
        generate::transcribe(&mut session, &feat, frames, &self.generation)
    }

    /// `transcriber(wave)["text"]`.
    pub fn transcribe(&self, wave: &[f32]) -> Result<String> {
        let t = self.tokens(wave)?;
        self.tokenizer.decode_asr(&t.tokens)
    }
}
