//! The TTS competition (`TTS_V0`, id 6): the miners' E2TTS model, its text and mel front ends,
//! the flow-matching sampler with torch's CPU noise, the Vocos vocoder, and the synthesis half of
//! the validator's `compute_wer` — equal to the reference (taoverse 2.0.2, vocos 0.1.0) on CPU
//! within the tolerances of `fixtures/ttsref`.

pub mod audio;
pub mod command;
pub mod config;
pub mod e2tts;
pub mod randn;
pub mod resample;
pub mod synth;
pub mod text;
pub mod unett;
pub mod vocos;
pub mod wav;
pub mod wer;

pub use config::{E2ttsConfig, is_e2tts};
pub use e2tts::E2tts;
pub use vocos::Vocos;
