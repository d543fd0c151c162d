//! The synthesis half of the validator's `compute_wer` (`pretrain/eval/method.py`): sample the
//! mel with the reference clip as prompt, drop `N // 256` frames, vocode, then the RMS rule —
//! `wave · rms / target` only when `rms < target` (it attenuates quiet output; it does not
//! normalise).

use anyhow::Result;
use burn::prelude::*;

use super::e2tts::{E2tts, SampleRequest};
use super::text::{convert_char_to_pinyin, list_str_to_idx};
use super::vocos::Vocos;
use crate::error::user;

/// Samples per mel frame on the validator's side (24 kHz, hop 256).
pub const HOP: usize = 256;

/// The loader's lengths (`add_generation_duration`, Python float64 arithmetic):
/// `ref_audio_len = N // 256`, and
/// `gen_audio_len = ref_audio_len + int((ref_audio_len / ref_text_len) · query_text_len / speed)`
/// with `speed = 1` when the query has ≥ 10 UTF-8 bytes, else 0.3. Returns both.
pub fn generation_duration(
    ref_samples: usize,
    ref_text: &str,
    query_text: &str,
) -> Result<(usize, usize)> {
    let ref_audio_len = ref_samples / HOP;
    let ref_text_len = ref_text.len();
    if ref_text_len == 0 {
        return Err(user(
            "the reference text is empty (the reference divides by its length)",
        ));
    }
    let query_text_len = query_text.len();
    let speed = if query_text_len >= 10 { 1.0f64 } else { 0.3 };
    let extra = ((ref_audio_len as f64 / ref_text_len as f64) * query_text_len as f64) / speed;
    Ok((ref_audio_len, ref_audio_len + extra.trunc() as usize))
}

/// The RMS rule: returns whether the wave was scaled.
pub fn apply_rms_rule(wave: &mut [f32], target: f64) -> bool {
    if wave.is_empty() {
        return false;
    }
    // torch: sqrt(mean(wave²)) in float32 (mean accumulates in a wider type, then rounds).
    let ms =
        (wave.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() / wave.len() as f64) as f32;
    let rms = ms.sqrt();
    let target = target as f32;
    if rms < target {
        for x in wave.iter_mut() {
            *x = (*x * rms) / target;
        }
        true
    } else {
        false
    }
}

/// One synthesis as `compute_wer` runs it.
pub struct Synthesis {
    /// The 1-D float32 wave handed to the transcriber.
    pub wave: Vec<f32>,
    /// The sampled mel `[D*, M]` and `D*`.
    pub mel: Vec<f32>,
    pub frames: usize,
    /// `vocoder.decode` output before the RMS rule.
    pub decoded: Vec<f32>,
    pub scaled: bool,
    /// The RMS the rule compared with the target.
    pub rms: f32,
}

/// Synthesises `text` (already `ref_text + " " + query_text`) in the voice of `ref_audio`
/// (24 kHz mono), generating `gen_audio_len` frames in all (prompt included).
pub fn synthesize<B: Backend>(
    model: &E2tts<B>,
    vocoder: &Vocos<B>,
    ref_audio: &[f32],
    text: &str,
    gen_audio_len: usize,
    seed: u32,
    device: &B::Device,
) -> Result<Synthesis> {
    let tokens = convert_char_to_pinyin(text);
    synthesize_tokens(
        model,
        vocoder,
        ref_audio,
        &tokens,
        gen_audio_len,
        seed,
        device,
    )
}

/// [`synthesize`] from the text's pinyin/character tokens (a batch's `tokenized_text`).
pub fn synthesize_tokens<B: Backend>(
    model: &E2tts<B>,
    vocoder: &Vocos<B>,
    ref_audio: &[f32],
    tokens: &[String],
    gen_audio_len: usize,
    seed: u32,
    device: &B::Device,
) -> Result<Synthesis> {
    let ids = list_str_to_idx(&[tokens.to_vec()], &model.vocab);
    let refs = [ref_audio.to_vec()];
    let s = model.sample(
        SampleRequest {
            ref_audio: &refs,
            text: ids,
            duration: vec![gen_audio_len],
            seed,
            y0: None,
            t: None,
            cond_mel: None,
        },
        device,
    )?;
    let m = model.config.mel.n_mel_channels;
    if m != vocoder.config.input_channels {
        return Err(user(format!(
            "the model makes {m}-band mels but the vocoder takes {} bands",
            vocoder.config.input_channels
        )));
    }
    let ref_audio_len = ref_audio.len() / HOP;
    if s.frames < ref_audio_len + 2 {
        return Err(user(format!(
            "the sampled mel has {} frames, {} after dropping the {ref_audio_len} prompt frames: too short to vocode",
            s.frames,
            s.frames.saturating_sub(ref_audio_len)
        )));
    }
    let t = s.frames - ref_audio_len;
    // [D*, M] rows from ref_audio_len on → [M, T].
    let mut mel_ct = vec![0f32; m * t];
    for f in 0..t {
        for c in 0..m {
            mel_ct[c * t + f] = s.out[(ref_audio_len + f) * m + c];
        }
    }
    let decoded = vocoder.decode(&mel_ct, t, device)?;
    let mut wave = decoded.clone();
    let ms = (wave.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() / wave.len().max(1) as f64)
        as f32;
    let scaled = apply_rms_rule(&mut wave, model.config.sampling.target_rms);
    Ok(Synthesis {
        wave,
        mel: s.out,
        frames: s.frames,
        decoded,
        scaled,
        rms: ms.sqrt(),
    })
}

/// The loader's `preprocess_audio` before resampling: mono by the channel mean, then a clip
/// quieter than RMS 0.1 is raised to it (`audio · f32(f32(1/rms) · 0.1)`; an all-zero clip
/// becomes NaN, as in the reference). Returns the wave and whether it was raised.
pub fn preprocess_audio(audio: &super::wav::Audio) -> (Vec<f32>, bool) {
    let mut wave = audio.mono();
    if wave.is_empty() {
        return (wave, false);
    }
    let ms =
        (wave.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() / wave.len() as f64) as f32;
    let rms = ms.sqrt();
    if rms < 0.1f32 {
        let scale = (1.0f32 / rms) * 0.1f32;
        for x in &mut wave {
            *x *= scale;
        }
        (wave, true)
    } else {
        (wave, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_as_the_loader() {
        // ttsref e2e_compute_wer: 37393 samples, 57-byte ref, 9-byte query (speed 0.3).
        let r = "so we started as an organisation in two thousand and nine";
        assert_eq!(
            generation_duration(37393, r, "thank you").unwrap(),
            (146, 222)
        );
        assert_eq!(
            generation_duration(13295, "thank you", r).unwrap(),
            (51, 374)
        );
    }

    #[test]
    fn rms_rule_attenuates_quiet_waves_only() {
        let mut w = vec![0.05f32; 10];
        assert!(apply_rms_rule(&mut w, 0.1));
        assert!((w[0] - 0.025).abs() < 1e-7);
        let mut w = vec![0.5f32; 10];
        assert!(!apply_rms_rule(&mut w, 0.1));
        assert_eq!(w[0], 0.5);
    }
}
