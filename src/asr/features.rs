//! Whisper's log-mel front end as the validator's ASR pipeline runs it: transformers 4.44.1
//! `AutomaticSpeechRecognitionPipeline.preprocess` (padding rules) and
//! `WhisperFeatureExtractor._torch_extract_fbank_features` (the torch path, taken whenever torch is
//! installed). See `notes/tts-evaluation.md` §2.2–2.3.
//!
//! The input is the 1-D f32 wave exactly as the validator hands it over: 24 kHz vocoder output that
//! the pipeline reads as 16 kHz (no resampling). The output is `[80, frames]` row-major (mel bin
//! major), the layout of `input_features[0]`.

use std::sync::Arc;

use anyhow::{Result, ensure};
use realfft::{RealFftPlanner, RealToComplex, num_complex::Complex};

/// `n_fft` of the feature extractor.
pub const N_FFT: usize = 400;
/// `hop_length`.
pub const HOP_LENGTH: usize = 160;
/// `feature_size` (mel bins).
pub const N_MELS: usize = 80;
/// `n_fft / 2 + 1` frequency bins of the one-sided STFT.
pub const N_FREQ: usize = N_FFT / 2 + 1;
/// `n_samples = chunk_length (30) · sampling_rate (16000)`: the pipeline's padding target.
pub const N_SAMPLES: usize = 480_000;
/// Frames of one encoder segment (`nb_max_frames`, `2 · max_source_positions`).
pub const SEGMENT_FRAMES: usize = 3000;
/// The rate the extractor assumes (and the pipeline takes a bare array to be at).
pub const SAMPLING_RATE: f64 = 16_000.0;

/// Slaney mel scale (`transformers.audio_utils.hertz_to_mel(mel_scale="slaney")`).
fn hertz_to_mel(freq: f64) -> f64 {
    let (min_log_hertz, min_log_mel) = (1000.0, 15.0);
    let logstep = 27.0 / 6.4f64.ln();
    if freq >= min_log_hertz {
        min_log_mel + (freq / min_log_hertz).ln() * logstep
    } else {
        3.0 * freq / 200.0
    }
}

/// Inverse of [`hertz_to_mel`] (`mel_to_hertz(mel_scale="slaney")`).
fn mel_to_hertz(mel: f64) -> f64 {
    let (min_log_hertz, min_log_mel) = (1000.0, 15.0);
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        min_log_hertz * (logstep * (mel - min_log_mel)).exp()
    } else {
        200.0 * mel / 3.0
    }
}

/// `numpy.linspace(start, stop, num)` (endpoint included, `y[i] = i·step + start`, last = `stop`).
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = (stop - start) / (num - 1) as f64;
    let mut y: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    y[num - 1] = stop;
    y
}

/// `transformers.audio_utils.mel_filter_bank(num_frequency_bins=201, num_mel_filters=80,
/// min_frequency=0, max_frequency=8000, sampling_rate=16000, norm="slaney", mel_scale="slaney")`
/// in float64: `[201, 80]` row-major (frequency bin major), as the extractor stores `mel_filters`.
pub fn mel_filter_bank_f64() -> Vec<f64> {
    let mel_freqs = linspace(hertz_to_mel(0.0), hertz_to_mel(8000.0), N_MELS + 2);
    let filter_freqs: Vec<f64> = mel_freqs.iter().map(|&m| mel_to_hertz(m)).collect();
    let fft_freqs = linspace(0.0, (SAMPLING_RATE as usize / 2) as f64, N_FREQ);
    let mut out = vec![0f64; N_FREQ * N_MELS];
    for (f, &ff) in fft_freqs.iter().enumerate() {
        for m in 0..N_MELS {
            // _create_triangular_filter_bank: slopes = filter_freqs - fft_freq
            let down = -(filter_freqs[m] - ff) / (filter_freqs[m + 1] - filter_freqs[m]);
            let up = (filter_freqs[m + 2] - ff) / (filter_freqs[m + 2] - filter_freqs[m + 1]);
            let tri = 0f64.max(down.min(up));
            let enorm = 2.0 / (filter_freqs[m + 2] - filter_freqs[m]);
            out[f * N_MELS + m] = tri * enorm;
        }
    }
    out
}

/// The number of samples the pipeline hands to the STFT for an `n`-sample wave: `n ≤ 480000` is
/// zero-padded to 480000 (`padding="max_length"`), longer waves are used as they are
/// (`padding="longest"`, no truncation).
pub fn padded_len(n: usize) -> usize {
    n.max(N_SAMPLES)
}

/// Frames of the features for an `n`-sample wave: `padded_len(n) / 160` (3000 for `n ≤ 480159`).
pub fn num_frames(n: usize) -> usize {
    padded_len(n) / HOP_LENGTH
}

/// `WhisperFeatureExtractor` (80 mels, n_fft 400, hop 160) on the pipeline's torch path.
pub struct WhisperFeatureExtractor {
    /// `mel_filters.T` cast to f32, `[80, 201]`, stored sparsely: per mel bin the first non-zero
    /// frequency bin and its non-zero weights (the zeros add nothing to the dot product).
    filters: Vec<(usize, Vec<f32>)>,
    /// `torch.hann_window(400)` (periodic).
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl Default for WhisperFeatureExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl WhisperFeatureExtractor {
    pub fn new() -> Self {
        let bank = mel_filter_bank_f64();
        let filters = (0..N_MELS)
            .map(|m| {
                let col: Vec<f32> = (0..N_FREQ).map(|f| bank[f * N_MELS + m] as f32).collect();
                let first = col.iter().position(|&w| w != 0.0).unwrap_or(0);
                let last = col.iter().rposition(|&w| w != 0.0).map_or(0, |l| l + 1);
                (first, col[first..last.max(first)].to_vec())
            })
            .collect();
        let window = (0..N_FFT)
            .map(|n| {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32
            })
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        WhisperFeatureExtractor {
            filters,
            window,
            fft,
        }
    }

    /// The mel filters as used (f32), `[80, 201]` row-major, for checks.
    pub fn mel_filters_f32(&self) -> Vec<f32> {
        let mut out = vec![0f32; N_MELS * N_FREQ];
        for (m, (first, w)) in self.filters.iter().enumerate() {
            out[m * N_FREQ + first..m * N_FREQ + first + w.len()].copy_from_slice(w);
        }
        out
    }

    /// The pipeline's features of one wave: pad as [`padded_len`], then
    /// `_torch_extract_fbank_features`: centred STFT (reflect padding by 200), periodic Hann,
    /// power spectrum, last frame dropped, mel, `log10(clamp(·, 1e-10))`, floor at max − 8,
    /// `(x + 4) / 4`. Returns `([80, frames] row-major, frames)` with `frames = padded_len / 160`.
    pub fn extract(&self, wave: &[f32]) -> Result<(Vec<f32>, usize)> {
        let n = padded_len(wave.len());
        let frames = n / HOP_LENGTH;
        // torch's reflect pad needs pad < input length; n ≥ 480000 always holds here.
        ensure!(n > N_FFT / 2, "wave too short for the STFT");
        let pad = N_FFT / 2;
        // Sample `i` of the zero-padded wave.
        let at = |i: usize| -> f32 { if i < wave.len() { wave[i] } else { 0.0 } };
        // Sample `j` of the reflect-padded signal (length n + 400).
        let padded = |j: usize| -> f32 {
            if j < pad {
                at(pad - j)
            } else if j < pad + n {
                at(j - pad)
            } else {
                at(2 * n - 2 + pad - j)
            }
        };
        let mut mel = vec![0f32; N_MELS * frames];
        let mut input = self.fft.make_input_vec();
        let mut spec: Vec<Complex<f32>> = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f32; N_FREQ];
        let mut max = f32::NEG_INFINITY;
        for t in 0..frames {
            let start = t * HOP_LENGTH;
            if start >= pad && start + N_FFT <= pad + wave.len() {
                let s = &wave[start - pad..start - pad + N_FFT];
                for ((x, &w), &v) in input.iter_mut().zip(&self.window).zip(s) {
                    *x = v * w;
                }
            } else {
                for (k, (x, &w)) in input.iter_mut().zip(&self.window).enumerate() {
                    *x = padded(start + k) * w;
                }
            }
            self.fft
                .process_with_scratch(&mut input, &mut spec, &mut scratch)
                .map_err(|e| anyhow::anyhow!("FFT failed: {e}"))?;
            for (p, c) in power.iter_mut().zip(&spec) {
                *p = c.re * c.re + c.im * c.im;
            }
            for (m, (first, w)) in self.filters.iter().enumerate() {
                let mut acc = 0f32;
                for (a, b) in w.iter().zip(&power[*first..]) {
                    acc += a * b;
                }
                let l = acc.max(1e-10).log10();
                max = max.max(l);
                mel[m * frames + t] = l;
            }
        }
        let floor = max - 8.0;
        for v in &mut mel {
            *v = (v.max(floor) + 4.0) / 4.0;
        }
        Ok((mel, frames))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_rules() {
        assert_eq!(num_frames(0), 3000);
        assert_eq!(num_frames(480_000), 3000);
        assert_eq!(num_frames(480_159), 3000);
        assert_eq!(num_frames(480_160), 3001);
        assert_eq!(num_frames(560_000), 3500);
    }

    #[test]
    fn silence_is_minus_one_and_a_half() {
        let (f, frames) = WhisperFeatureExtractor::new().extract(&[]).unwrap();
        assert_eq!(frames, 3000);
        assert!(f.iter().all(|&v| v == -1.5));
    }

    #[test]
    fn filters_are_slaney_normalised_triangles() {
        let bank = mel_filter_bank_f64();
        assert_eq!(bank.len(), 201 * 80);
        assert!(bank.iter().all(|&w| w >= 0.0));
        // Every mel filter has some weight.
        for m in 0..80 {
            assert!((0..201).any(|f| bank[f * 80 + m] > 0.0));
        }
    }
}
