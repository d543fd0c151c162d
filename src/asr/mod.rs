//! The validator's speech recognition (TTS competition): Whisper as transformers 4.44.1's
//! `automatic-speech-recognition` pipeline runs it — log-mel features, the network, greedy
//! generation with the generation config's rules, and decoding to text.

pub mod whisper;

pub use whisper::{Whisper, WhisperConfig};
