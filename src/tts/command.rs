//! `sn9 tts synth`: a miner's E2TTS model speaking a text in the voice of a reference clip,
//! exactly as the validator synthesises it (`compute_wer`'s synthesis half), written as a WAV.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use burn::prelude::Backend;
use serde_json::json;

use super::e2tts::{E2tts, seed_mod_2_32};
use super::synth::{generation_duration, preprocess_audio, synthesize};
use super::text::convert_char_to_pinyin;
use super::vocos::Vocos;
use super::wav;
use crate::device::{BackendTask, DeviceSpec, dispatch};
use crate::error::user;
use crate::output::{Format, Printer, stdout};

/// The sample rate of everything the TTS competition hears.
pub const SAMPLE_RATE: u32 = 24_000;

#[derive(Debug, clap::Subcommand)]
pub enum TtsCommand {
    /// Synthesise a text with an E2TTS model in the voice of a reference clip, as the validator
    /// does: the reference clip's mel as prompt, the flow-matching sampler with the validator's
    /// noise for --seed (torch's CPU generator), the Vocos vocoder, the RMS rule. Writes a 24 kHz
    /// mono WAV (32-bit float).
    Synth(SynthArgs),
}

#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// E2TTS model directory (config.json, vocab.txt, model.safetensors).
    pub model: PathBuf,
    /// Reference clip (WAV, 24 kHz; mixed down to mono, raised to RMS 0.1 if quieter).
    #[arg(long, value_name = "WAV")]
    pub ref_audio: PathBuf,
    /// What the reference clip says.
    #[arg(long)]
    pub ref_text: String,
    /// The text to speak.
    #[arg(long)]
    pub text: String,
    /// Vocos directory (config.yaml + pytorch_model.bin or model.safetensors), e.g. from
    /// `sn9 hub pull charactr/vocos-mel-24khz`.
    #[arg(long, env = "SN9_VOCODER", value_name = "DIR")]
    pub vocoder: PathBuf,
    /// Output WAV (`-` for stdout).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Noise seed, a decimal integer of any size (the validator passes its 256-bit seed; taken
    /// modulo 2³²).
    #[arg(long, default_value = "0")]
    pub seed: String,
    /// Total frames to generate, prompt included [default: the validator's rule from the clip
    /// length and the two texts' UTF-8 lengths].
    #[arg(long)]
    pub frames: Option<usize>,
    /// Device: cpu, cuda:N or wgpu:N (the noise is always drawn on the CPU).
    #[arg(long, env = "SN9_DEVICE", default_value = "cpu")]
    pub device: DeviceSpec,
}

struct SynthTask {
    model: PathBuf,
    vocoder: PathBuf,
    wave: Vec<f32>,
    text: String,
    frames: usize,
    seed: u32,
}

struct SynthOut {
    wave: Vec<f32>,
    frames: usize,
    text_tokens: usize,
    scaled: bool,
    target_rms: f64,
    rms: f32,
    load_s: f64,
    synth_s: f64,
}

impl BackendTask for SynthTask {
    type Output = SynthOut;
    fn run<B: Backend>(self, device: B::Device) -> Result<SynthOut> {
        let started = std::time::Instant::now();
        let model = E2tts::<B>::load(&self.model, &device)?;
        let vocoder = Vocos::<B>::load(&self.vocoder, &device)?;
        let load_s = started.elapsed().as_secs_f64();
        let text_tokens = model.text_ids(&self.text).len();
        let started = std::time::Instant::now();
        let s = synthesize(
            &model,
            &vocoder,
            &self.wave,
            &self.text,
            self.frames,
            self.seed,
            &device,
        )?;
        let synth_s = started.elapsed().as_secs_f64();
        Ok(SynthOut {
            wave: s.wave,
            frames: s.frames,
            text_tokens,
            scaled: s.scaled,
            target_rms: model.config.sampling.target_rms,
            rms: s.rms,
            load_s,
            synth_s,
        })
    }
}

pub fn run(cmd: TtsCommand, p: &Printer) -> Result<()> {
    match cmd {
        TtsCommand::Synth(a) => synth(a, p),
    }
}

fn synth(a: SynthArgs, p: &Printer) -> Result<()> {
    if a.text.trim().is_empty() {
        return Err(user("--text is empty; give the text to speak"));
    }
    if a.ref_text.trim().is_empty() {
        return Err(user(
            "--ref-text is empty; give what the reference clip says",
        ));
    }
    let seed = seed_mod_2_32(&a.seed)?;
    let audio = wav::read(&a.ref_audio)?;
    if audio.sample_rate != SAMPLE_RATE {
        return Err(user(format!(
            "{}: {} Hz; the reference clip must be {SAMPLE_RATE} Hz until sn9 resamples as the validator does (issue 16). Convert it first, e.g. `sox in.wav -r 24000 out.wav`",
            a.ref_audio.display(),
            audio.sample_rate
        )));
    }
    let (wave, raised) = preprocess_audio(&audio);
    if wave.len() <= 512 {
        return Err(user(format!(
            "{}: {} samples; the reference clip must be longer than 512 samples (~21 ms) for its mel",
            a.ref_audio.display(),
            wave.len()
        )));
    }
    if raised {
        p.debug("the reference clip was quieter than RMS 0.1 and was raised to it (as the validator's loader does)");
    }
    // The validator joins the two texts with a space and computes lengths in hops.
    let text = format!("{} {}", a.ref_text, a.text);
    let (ref_len, rule_len) = generation_duration(wave.len(), &a.ref_text, &a.text)?;
    let requested = a.frames.unwrap_or(rule_len);
    let tokens = convert_char_to_pinyin(&text).len();
    p.debug(format!(
        "reference: {} samples ({ref_len} hops), {tokens} text tokens, seed {seed} (mod 2^32)",
        wave.len()
    ));
    let out = dispatch(
        a.device,
        SynthTask {
            model: a.model.clone(),
            vocoder: a.vocoder.clone(),
            wave,
            text,
            frames: requested,
            seed,
        },
    )?;
    if out.frames != requested {
        p.debug(format!(
            "duration: {requested} frames requested, {} used (the sampler's rule: at least max(text tokens {tokens}, reference frames) + 1, at most 4096)",
            out.frames
        ));
    }
    if out.scaled {
        p.debug(format!(
            "RMS rule: output RMS {:.4} < target_rms {} → scaled by rms/target (quieter, as the validator does)",
            out.rms, out.target_rms
        ));
    }
    let bytes = wav::encode_f32_mono(&out.wave, SAMPLE_RATE);
    let to_stdout = a.out.as_os_str() == "-";
    if to_stdout {
        let mut w = stdout();
        w.write_all(&bytes)?;
        w.flush()?;
    } else {
        crate::output::write_atomic(&a.out, &bytes)?;
        let mut w = stdout();
        if p.format == Format::Json {
            writeln!(
                w,
                "{}",
                json!({
                    "out": a.out,
                    "samples": out.wave.len(),
                    "sample_rate": SAMPLE_RATE,
                    "seconds": out.wave.len() as f64 / SAMPLE_RATE as f64,
                    "frames": out.frames,
                    "prompt_frames": ref_len,
                    "text_tokens": out.text_tokens,
                    "rms_scaled": out.scaled,
                    "load_s": out.load_s,
                    "synth_s": out.synth_s,
                })
            )?;
        } else {
            writeln!(w, "{}", a.out.display())?;
        }
        w.flush()?;
        p.info(format!(
            "{}: {:.2} s of audio ({} frames generated, {:.0} mel frames/s)",
            a.out.display(),
            out.wave.len() as f64 / SAMPLE_RATE as f64,
            out.frames - ref_len,
            out.frames as f64 / out.synth_s.max(1e-9)
        ));
    }
    Ok(())
}
