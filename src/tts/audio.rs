//! TTS spectral signal processing on plain `f32` slices (CPU).
//!
//! * [`MelSpec`]: taoverse's `MelSpec` front end (`TV: model/tts/modules/e2tts.py`), both the
//!   `"vocos"` type (torchaudio `MelSpectrogram`, HTK filterbank, `center=True`) and the `"bigvgan"`
//!   type (librosa Slaney filterbank, reflect pad `(n_fft-hop)/2`, `center=False`), plus Vocos's own
//!   feature extractor (the vocos type with a 1e-7 log floor, [`MelSpec::with_log_floor`]).
//! * [`istft_center`]: the Vocos `ISTFTHead`'s inverse STFT with `padding="center"`
//!   (`torch.istft(S, n_fft, hop, n_fft, hann_periodic, center=True)`), and [`head_magnitude`] for the
//!   head's `min(exp(logmag), 100)` step.
//!
//! The filterbanks and the Hann window reproduce the reference's own arithmetic (torch's float32
//! `linspace`/`pow`/`cos` order for torchaudio, librosa 0.10.2's float64 computation with its float32
//! stores for the Slaney bank), so they match the Python reference to the last bit or the last ulp.
//! The FFTs are `realfft`/`rustfft` in float32; results agree with torch's CPU FFT within the
//! fixture tolerances (log-mel atol 1e-4, decoded wave atol 1e-6), not bit for bit.
//! See shared/notes/tts-synthesis.md §3 and §7.2.

use std::sync::Arc;

use rayon::prelude::*;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Which mel extractor taoverse's `MelSpec` uses (`mel_spec_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MelType {
    /// `get_vocos_mel_spectrogram`: torchaudio `MelSpectrogram`, HTK mel, no norm, |X|, center=True.
    #[default]
    Vocos,
    /// `get_bigvgan_mel_spectrogram`: librosa Slaney mel + Slaney norm, sqrt(|X|²+1e-9), center=False.
    Bigvgan,
}

impl MelType {
    /// Parses the config string (`"vocos"` / `"bigvgan"`, as taoverse compares them: exact).
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        match s {
            "vocos" => Ok(MelType::Vocos),
            "bigvgan" => Ok(MelType::Bigvgan),
            other => Err(crate::error::user(format!(
                "unknown mel_spec_type {other:?}: expected \"vocos\" or \"bigvgan\""
            ))),
        }
    }
}

/// `config.json` `mel_spectrogram` (taoverse `MelSpec(**kwargs)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MelConfig {
    pub n_fft: usize,
    pub hop_length: usize,
    pub win_length: usize,
    pub n_mel_channels: usize,
    pub target_sample_rate: u32,
    pub mel_type: MelType,
}

impl Default for MelConfig {
    fn default() -> Self {
        MelConfig {
            n_fft: 1024,
            hop_length: 256,
            win_length: 1024,
            n_mel_channels: 100,
            target_sample_rate: 24000,
            mel_type: MelType::Vocos,
        }
    }
}

/// taoverse's `MelSpec` with everything precomputed: window, filterbank, FFT plan.
pub struct MelSpec {
    cfg: MelConfig,
    /// Analysis window of length `n_fft` (the `win_length` Hann window zero-padded centred, as
    /// `torch.stft` does).
    analysis_window: Vec<f32>,
    /// The periodic Hann window of length `win_length`, as `torch.hann_window(win_length)`.
    hann_window: Vec<f32>,
    /// Filterbank `[n_mels, n_freqs]` row-major (mel = fb · S).
    fb: Vec<f32>,
    /// Per mel row: the half-open range of bins with non-zero weight.
    fb_ranges: Vec<(usize, usize)>,
    n_freqs: usize,
    /// Reflect padding on each side.
    pad: usize,
    log_floor: f32,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl std::fmt::Debug for MelSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelSpec")
            .field("cfg", &self.cfg)
            .field("log_floor", &self.log_floor)
            .finish_non_exhaustive()
    }
}

impl MelSpec {
    pub fn new(cfg: &MelConfig) -> anyhow::Result<Self> {
        let (n_fft, hop, win, n_mels) = (
            cfg.n_fft,
            cfg.hop_length,
            cfg.win_length,
            cfg.n_mel_channels,
        );
        if n_fft == 0 || hop == 0 || n_mels == 0 || cfg.target_sample_rate == 0 {
            return Err(crate::error::user(format!(
                "mel_spectrogram: n_fft, hop_length, n_mel_channels and target_sample_rate must be \
                 positive (got n_fft={n_fft}, hop_length={hop}, n_mel_channels={n_mels}, \
                 target_sample_rate={})",
                cfg.target_sample_rate
            )));
        }
        if win == 0 || win > n_fft {
            return Err(crate::error::user(format!(
                "mel_spectrogram: expected 0 < win_length <= n_fft, got win_length={win}, n_fft={n_fft}"
            )));
        }
        let n_freqs = n_fft / 2 + 1;
        let hann = hann_window_periodic(win);
        let mut window = vec![0.0f32; n_fft];
        let left = (n_fft - win) / 2;
        window[left..left + win].copy_from_slice(&hann);

        let (fb, pad) = match cfg.mel_type {
            MelType::Vocos => {
                // torchaudio: f_max = float(sample_rate // 2), all_freqs = linspace(0, sr // 2, n).
                let half = (cfg.target_sample_rate / 2) as f64;
                let fb_fm = torchaudio_melscale_fbanks_htk(n_freqs, 0.0, half, n_mels, half);
                (transpose(&fb_fm, n_freqs, n_mels), n_fft / 2)
            }
            MelType::Bigvgan => {
                if hop > n_fft {
                    return Err(crate::error::user(format!(
                        "mel_spectrogram (bigvgan): hop_length {hop} > n_fft {n_fft}"
                    )));
                }
                (
                    librosa_mel_slaney(cfg.target_sample_rate as f64, n_fft, n_mels, 0.0, None),
                    (n_fft - hop) / 2,
                )
            }
        };
        let fb_ranges = (0..n_mels)
            .map(|m| {
                let row = &fb[m * n_freqs..(m + 1) * n_freqs];
                match row.iter().position(|&v| v != 0.0) {
                    None => (0, 0),
                    Some(s) => (
                        s,
                        n_freqs - row.iter().rev().position(|&v| v != 0.0).unwrap(),
                    ),
                }
            })
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
        Ok(MelSpec {
            cfg: cfg.clone(),
            analysis_window: window,
            hann_window: hann,
            fb,
            fb_ranges,
            n_freqs,
            pad,
            log_floor: 1e-5,
            fft,
        })
    }

    /// Replaces the log floor (`log(clamp(mel, floor))`). taoverse uses 1e-5 (the default); Vocos's
    /// own `MelSpectrogramFeatures` uses 1e-7.
    pub fn with_log_floor(mut self, floor: f32) -> Self {
        self.log_floor = floor;
        self
    }

    /// Vocos's own feature extractor (`vocos: feature_extractors.py MelSpectrogramFeatures`,
    /// padding="center"): the vocos type with a 1e-7 log floor.
    pub fn vocos_features(cfg: &MelConfig) -> anyhow::Result<Self> {
        let cfg = MelConfig {
            mel_type: MelType::Vocos,
            ..cfg.clone()
        };
        Ok(Self::new(&cfg)?.with_log_floor(1e-7))
    }

    pub fn config(&self) -> &MelConfig {
        &self.cfg
    }

    pub fn log_floor(&self) -> f32 {
        self.log_floor
    }

    pub fn n_mels(&self) -> usize {
        self.cfg.n_mel_channels
    }

    pub fn n_freqs(&self) -> usize {
        self.n_freqs
    }

    /// The filterbank, `[n_mels, n_freqs]` row-major (mel = fb · S). For the vocos type this is the
    /// transpose of torchaudio's `melscale_fbanks` (`[n_freqs, n_mels]`); for bigvgan it is librosa's
    /// `filters.mel` layout as is.
    pub fn filterbank(&self) -> &[f32] {
        &self.fb
    }

    /// The periodic Hann window of length `win_length` (`torch.hann_window(win_length)`).
    pub fn window(&self) -> &[f32] {
        &self.hann_window
    }

    /// The analysis window actually applied, length `n_fft` (Hann zero-padded centred).
    pub fn padded_window(&self) -> &[f32] {
        &self.analysis_window
    }

    /// Number of frames produced for `n_samples` input samples (0 when the input is too short to
    /// produce any; [`MelSpec::compute`] then errors).
    pub fn frames(&self, n_samples: usize) -> usize {
        let padded = n_samples + 2 * self.pad;
        if padded < self.cfg.n_fft {
            0
        } else {
            1 + (padded - self.cfg.n_fft) / self.cfg.hop_length
        }
    }

    /// Log-mel of one wave: `[n_mels, frames]` row-major, and `frames`.
    pub fn compute(&self, wave: &[f32]) -> anyhow::Result<(Vec<f32>, usize)> {
        let n = wave.len();
        let pad = self.pad;
        // torch's reflect pad: "Padding size should be less than the corresponding input dimension".
        if pad >= n {
            return Err(crate::error::user(format!(
                "mel spectrogram: wave of {n} samples is too short for reflect padding of {pad} \
                 (need more than {pad} samples)"
            )));
        }
        let n_fft = self.cfg.n_fft;
        let hop = self.cfg.hop_length;
        let frames = self.frames(n);
        if frames == 0 {
            return Err(crate::error::user(format!(
                "mel spectrogram: wave of {n} samples is shorter than one STFT frame \
                 (padded length {} < n_fft {n_fft})",
                n + 2 * pad
            )));
        }
        let padded = reflect_pad(wave, pad);
        let n_mels = self.cfg.n_mel_channels;
        let n_freqs = self.n_freqs;
        let bigvgan = self.cfg.mel_type == MelType::Bigvgan;
        let floor = self.log_floor;

        let mut by_frame = vec![0.0f32; frames * n_mels];
        by_frame.par_chunks_mut(n_mels).enumerate().for_each_init(
            || {
                (
                    self.fft.make_input_vec(),
                    self.fft.make_output_vec(),
                    self.fft.make_scratch_vec(),
                    vec![0.0f32; n_freqs],
                )
            },
            |(inp, out, scratch, mag), (t, dst)| {
                let seg = &padded[t * hop..t * hop + n_fft];
                for ((d, &x), &w) in inp.iter_mut().zip(seg).zip(&self.analysis_window) {
                    *d = x * w;
                }
                self.fft
                    .process_with_scratch(inp, out, scratch)
                    .expect("realfft forward: buffer sizes are fixed at plan time");
                if bigvgan {
                    // torch.sqrt(view_as_real(spec).pow(2).sum(-1) + 1e-9)
                    for (m, c) in mag.iter_mut().zip(out.iter()) {
                        *m = (c.re * c.re + c.im * c.im + 1e-9f32).sqrt();
                    }
                } else {
                    // spec_f.abs() (power = 1): a hypot; through f64 it is correctly rounded and
                    // much faster than libm's hypotf.
                    for (m, c) in mag.iter_mut().zip(out.iter()) {
                        let (re, im) = (c.re as f64, c.im as f64);
                        *m = (re * re + im * im).sqrt() as f32;
                    }
                }
                for (j, d) in dst.iter_mut().enumerate() {
                    let (s, e) = self.fb_ranges[j];
                    let row = &self.fb[j * n_freqs..(j + 1) * n_freqs];
                    let mut acc = 0.0f32;
                    for k in s..e {
                        acc += row[k] * mag[k];
                    }
                    *d = acc.max(floor).ln();
                }
            },
        );
        Ok((transpose(&by_frame, frames, n_mels), frames))
    }
}

/// The Vocos head's magnitude step: `clip(exp(logmag), max=100)` (NaN stays NaN, as torch.clip).
pub fn head_magnitude(logmag: &[f32]) -> Vec<f32> {
    logmag
        .iter()
        .map(|&x| {
            let e = x.exp();
            if e > 100.0 { 100.0 } else { e }
        })
        .collect()
}

/// `torch.istft(mag·e^{i·phase}, n_fft, hop, n_fft, window, center=True)`, as the Vocos ISTFT
/// head with `padding="center"` calls it (its `window` buffer is loaded from the checkpoint: a
/// periodic Hann in every real one). `mag` and `phase` are `[n_bins, frames]` row-major with
/// `n_bins = n_fft/2 + 1`. Returns `hop·(frames−1)` samples.
pub fn istft_center(
    mag: &[f32],
    phase: &[f32],
    n_bins: usize,
    frames: usize,
    n_fft: usize,
    hop: usize,
    window: &[f32],
) -> anyhow::Result<Vec<f32>> {
    if window.len() != n_fft {
        return Err(crate::error::user(format!(
            "istft: the window has {} values, n_fft is {n_fft}",
            window.len()
        )));
    }
    if n_fft == 0 || hop == 0 || hop > n_fft {
        return Err(crate::error::user(format!(
            "istft: expected 0 < hop <= n_fft, got n_fft={n_fft}, hop={hop}"
        )));
    }
    if n_bins != n_fft / 2 + 1 {
        return Err(crate::error::user(format!(
            "istft: {n_bins} frequency bins do not match n_fft {n_fft} (expected {})",
            n_fft / 2 + 1
        )));
    }
    if mag.len() != n_bins * frames || phase.len() != n_bins * frames {
        return Err(crate::error::user(format!(
            "istft: magnitude ({}) and phase ({}) must both hold n_bins*frames = {}*{} values",
            mag.len(),
            phase.len(),
            n_bins,
            frames
        )));
    }
    let half = n_fft / 2;
    let full_len = n_fft + hop * frames.saturating_sub(1);
    // Kept range [half, full_len - half): hop·(frames−1) samples. torch takes `min()` of the
    // envelope over it, which fails on an empty range.
    if frames < 2 {
        return Err(crate::error::user(format!(
            "istft: {frames} frame(s) give an empty signal after trimming n_fft/2 on each side \
             (torch.istft fails on this)"
        )));
    }
    let out_len = full_len - 2 * half;

    // Window envelope Σ_t w²[n − hop·t], then the torch check on the kept range.
    let wsq: Vec<f32> = window.iter().map(|&w| w * w).collect();
    let mut env = vec![0.0f32; full_len];
    for t in 0..frames {
        for (e, &w) in env[t * hop..t * hop + n_fft].iter_mut().zip(&wsq) {
            *e += w;
        }
    }
    let env = &env[half..half + out_len];
    if let Some((i, &lo)) = env
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .filter(|(_, v)| v.abs() < 1e-11)
    {
        return Err(crate::error::user(format!(
            "istft: window overlap-add envelope {lo:e} < 1e-11 at output sample {i} \
             (torch.istft: window overlap add min)"
        )));
    }

    let plan: Arc<dyn ComplexToReal<f32>> = RealFftPlanner::<f32>::new().plan_fft_inverse(n_fft);
    let norm = 1.0f32 / n_fft as f32;
    let mut framed = vec![0.0f32; frames * n_fft];
    framed.par_chunks_mut(n_fft).enumerate().for_each_init(
        || (plan.make_input_vec(), plan.make_scratch_vec()),
        |(spec, scratch), (t, dst)| {
            for (k, c) in spec.iter_mut().enumerate() {
                let m = mag[k * frames + t];
                let (s, co) = phase[k * frames + t].sin_cos();
                *c = Complex::new(m * co, m * s);
            }
            // C2R ignores the imaginary parts of DC and (for even n) Nyquist.
            spec[0].im = 0.0;
            if n_fft.is_multiple_of(2) {
                spec[n_bins - 1].im = 0.0;
            }
            plan.process_with_scratch(spec, dst, scratch)
                .expect("realfft inverse: buffer sizes are fixed and edge bins are real");
            for (d, &w) in dst.iter_mut().zip(window) {
                *d = *d * norm * w;
            }
        },
    );
    let mut y = vec![0.0f32; full_len];
    for t in 0..frames {
        for (o, &v) in y[t * hop..t * hop + n_fft]
            .iter_mut()
            .zip(&framed[t * n_fft..(t + 1) * n_fft])
        {
            *o += v;
        }
    }
    Ok(y[half..half + out_len]
        .iter()
        .zip(env)
        .map(|(&v, &e)| v / e)
        .collect())
}

/// The Vocos ISTFT head after its linear layer: `z` is `[frames, 2·n_bins]` (the Linear output
/// before the transpose: log-magnitudes then phases). Applies `min(exp(logmag), 100)`, then
/// [`istft_center`] with `window`.
pub fn istft_head(
    z: &[f32],
    frames: usize,
    n_fft: usize,
    hop: usize,
    window: &[f32],
) -> anyhow::Result<Vec<f32>> {
    let n_bins = n_fft / 2 + 1;
    if z.len() != frames * 2 * n_bins {
        return Err(crate::error::user(format!(
            "istft head: expected {frames}x{} values, got {}",
            2 * n_bins,
            z.len()
        )));
    }
    let mut logmag = vec![0.0f32; n_bins * frames];
    let mut phase = vec![0.0f32; n_bins * frames];
    for t in 0..frames {
        let row = &z[t * 2 * n_bins..(t + 1) * 2 * n_bins];
        for k in 0..n_bins {
            logmag[k * frames + t] = row[k];
            phase[k * frames + t] = row[n_bins + k];
        }
    }
    let mag = head_magnitude(&logmag);
    istft_center(&mag, &phase, n_bins, frames, n_fft, hop, window)
}

/// `torch.hann_window(n)` (periodic) in float32, in torch's order:
/// `arange(n+1) * f32(2π/n)`, `cos`, `* -0.5`, `+ 0.5`, first n values. libm's `cosf` is used;
/// torch's vectorised (SLEEF) cos differs by 1 ulp on a few points (44 of 1024 for n = 1024,
/// max abs 6e-8), far below every tolerance.
pub fn hann_window_periodic(n: usize) -> Vec<f32> {
    if n == 1 {
        return vec![1.0];
    }
    let step = (std::f64::consts::PI * 2.0 / n as f64) as f32;
    (0..n)
        .map(|i| ((i as f32) * step).cos() * -0.5f32 + 0.5f32)
        .collect()
}

/// torchaudio 2.6 `melscale_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate, norm=None,
/// mel_scale="htk")`, float32, layout `[n_freqs, n_mels]`. `all_freqs_max` is the `sample_rate // 2`
/// of `linspace(0, sample_rate // 2, n_freqs)`.
pub fn torchaudio_melscale_fbanks_htk(
    n_freqs: usize,
    f_min: f64,
    f_max: f64,
    n_mels: usize,
    all_freqs_max: f64,
) -> Vec<f32> {
    let all_freqs = torch_linspace_f32(0.0, all_freqs_max, n_freqs);
    // _hz_to_mel in Python double.
    let hz_to_mel = |f: f64| 2595.0 * (1.0 + f / 700.0).log10();
    let m_pts = torch_linspace_f32(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2);
    // _mel_to_hz on a float32 tensor: 700 * (10 ** (m / 2595) - 1).
    let f_pts: Vec<f32> = m_pts
        .iter()
        .map(|&m| 700.0f32 * (10.0f32.powf(m / 2595.0f32) - 1.0f32))
        .collect();
    let f_diff: Vec<f32> = f_pts.windows(2).map(|w| w[1] - w[0]).collect();
    let mut fb = vec![0.0f32; n_freqs * n_mels];
    for (f, &af) in all_freqs.iter().enumerate() {
        for j in 0..n_mels {
            // slopes = f_pts[None] - all_freqs[:, None]
            let down = -(f_pts[j] - af) / f_diff[j]; // (-1.0 * slopes) / f_diff: same bits
            let up = (f_pts[j + 2] - af) / f_diff[j + 1];
            // torch.max(zero, torch.min(down, up)) with the vector kernels' tie rule (the second
            // operand on equality, so fb[0, 0] is -0.0 as in torchaudio); no NaN arises here.
            let lo = if down < up { down } else { up };
            fb[f * n_mels + j] = if 0.0f32 > lo { 0.0 } else { lo };
        }
    }
    fb
}

/// torch's CPU `linspace` for float32 (ATen `linspace_kernel`): `step = (end−start)/(steps−1)` in
/// float32; indices below `steps/2` are `start + step·i`, the rest `end − step·(steps−1−i)`.
/// (This per-index formula reproduces torchaudio's filterbank bit for bit; a model of the 8-wide
/// vector path with a per-vector base does not.)
pub fn torch_linspace_f32(start: f64, end: f64, steps: usize) -> Vec<f32> {
    let (start, end) = (start as f32, end as f32);
    match steps {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let step = (end - start) / ((steps - 1) as f32);
            let halfway = steps / 2;
            (0..steps)
                .map(|i| {
                    if i < halfway {
                        start + step * i as f32
                    } else {
                        end - step * (steps - i - 1) as f32
                    }
                })
                .collect()
        }
    }
}

/// librosa 0.10.2 `filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)` with the
/// defaults `htk=False, norm="slaney", dtype=float32`; layout `[n_mels, n_freqs]`. Computed as
/// librosa does: float64 ramps, each row stored into the float32 weights array, then
/// `weights *= enorm[:, None]` (float64 product, float32 store).
pub fn librosa_mel_slaney(
    sr: f64,
    n_fft: usize,
    n_mels: usize,
    fmin: f64,
    fmax: Option<f64>,
) -> Vec<f32> {
    let fmax = fmax.unwrap_or(sr / 2.0);
    let n_freqs = 1 + n_fft / 2;
    // np.fft.rfftfreq(n_fft, d=1/sr): arange(n) * (1/(n*d)).
    let d = 1.0 / sr;
    let val = 1.0 / (n_fft as f64 * d);
    let fftfreqs: Vec<f64> = (0..n_freqs).map(|k| k as f64 * val).collect();
    // mel_frequencies(n_mels + 2, fmin, fmax, htk=False)
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = (min_log_hz - 0.0) / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    let hz_to_mel = |f: f64| {
        if f >= min_log_hz {
            min_log_mel + (f / min_log_hz).ln() / logstep
        } else {
            (f - 0.0) / f_sp
        }
    };
    let mel_to_hz = |m: f64| {
        if m >= min_log_mel {
            min_log_hz * (logstep * (m - min_log_mel)).exp()
        } else {
            0.0 + f_sp * m
        }
    };
    let n_pts = n_mels + 2;
    let mels = numpy_linspace_f64(hz_to_mel(fmin), hz_to_mel(fmax), n_pts);
    let mel_f: Vec<f64> = mels.iter().map(|&m| mel_to_hz(m)).collect();
    let fdiff: Vec<f64> = mel_f.windows(2).map(|w| w[1] - w[0]).collect();
    let mut weights = vec![0.0f32; n_mels * n_freqs];
    for i in 0..n_mels {
        let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (k, &ff) in fftfreqs.iter().enumerate() {
            // ramps = subtract.outer(mel_f, fftfreqs)
            let lower = -(mel_f[i] - ff) / fdiff[i];
            let upper = (mel_f[i + 2] - ff) / fdiff[i + 1];
            let w32 = np_maximum(0.0, np_minimum(lower, upper)) as f32;
            weights[i * n_freqs + k] = (w32 as f64 * enorm) as f32;
        }
    }
    weights
}

// numpy's SIMD minimum/maximum: NaN-propagating, the second operand on ties (so
// `maximum(0, -0.0)` is -0.0, which the fixture's fb[0, 0] shows).
fn np_minimum(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a < b {
        a
    } else {
        b
    }
}

fn np_maximum(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a > b {
        a
    } else {
        b
    }
}

/// `np.linspace(start, stop, num)` (endpoint=True) in float64: `arange(num) * step + start`, last = stop.
fn numpy_linspace_f64(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 0 {
        return Vec::new();
    }
    if num == 1 {
        return vec![start];
    }
    let step = (stop - start) / (num - 1) as f64;
    let mut y: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    y[num - 1] = stop;
    y
}

/// Reflect padding (no edge repeat), `pad < x.len()` required by the caller.
fn reflect_pad(x: &[f32], pad: usize) -> Vec<f32> {
    let n = x.len();
    let mut out = Vec::with_capacity(n + 2 * pad);
    out.extend((0..pad).map(|i| x[pad - i]));
    out.extend_from_slice(x);
    out.extend((0..pad).map(|i| x[n - 2 - i]));
    out
}

fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = a[r * cols + c];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/ttsref/");

    struct Tensor {
        shape: Vec<usize>,
        data: Vec<f32>,
    }

    /// The fixture's float tensors (F32; I64 converted), through the crate's safetensors reader.
    fn load(rel: &str) -> HashMap<String, Tensor> {
        let f = crate::model::safetensors::SafeFile::open(std::path::Path::new(&format!(
            "{ROOT}{rel}"
        )))
        .unwrap_or_else(|e| panic!("{rel}: {e:#}"));
        let mut out = HashMap::new();
        for (k, info) in &f.tensors {
            let data: Vec<f32> = match info.dtype {
                crate::model::safetensors::Dtype::F32 => f.read_f32(k).unwrap(),
                crate::model::safetensors::Dtype::I64 => f
                    .bytes(info)
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f32)
                    .collect(),
                _ => continue,
            };
            out.insert(
                k.clone(),
                Tensor {
                    shape: info.shape.clone(),
                    data,
                },
            );
        }
        out
    }

    fn max_abs(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// (max abs diff, max relative diff over non-zero reference, # not bit-equal)
    fn compare(a: &[f32], b: &[f32]) -> (f32, f64, usize) {
        assert_eq!(a.len(), b.len());
        let mut rel = 0.0f64;
        let mut neq = 0;
        for (&x, &y) in a.iter().zip(b) {
            if x.to_bits() != y.to_bits() {
                neq += 1;
            }
            if y != 0.0 {
                rel = rel.max(((x as f64 - y as f64) / y as f64).abs());
            } else if x != 0.0 {
                rel = f64::INFINITY;
            }
        }
        (max_abs(a, b), rel, neq)
    }

    fn cfg(t: MelType) -> MelConfig {
        MelConfig {
            mel_type: t,
            ..MelConfig::default()
        }
    }

    #[test]
    fn hann_window_matches_torch() {
        let arrs = load("mel_frontend/arrays.safetensors");
        let w = hann_window_periodic(1024);
        let (abs, rel, neq) = compare(&w, &arrs["hann_window_1024_periodic"].data);
        eprintln!("hann: max abs {abs:e}, max rel {rel:e}, not bit-equal {neq}/1024");
        assert!(abs <= 1e-7, "hann window off by {abs}");
        let m = MelSpec::new(&MelConfig::default()).unwrap();
        assert_eq!(m.window(), &w[..]);
    }

    #[test]
    fn filterbanks_match_reference() {
        let arrs = load("mel_frontend/arrays.safetensors");
        let htk = MelSpec::new(&cfg(MelType::Vocos)).unwrap();
        let want = &arrs["fb_torchaudio_htk"];
        assert_eq!(want.shape, vec![513, 100]);
        let got = transpose(htk.filterbank(), 100, 513);
        let (abs, rel, neq) = compare(&got, &want.data);
        eprintln!(
            "fb_torchaudio_htk: max abs {abs:e}, max rel {rel:e}, not bit-equal {neq}/{}",
            got.len()
        );
        assert!(rel <= 1e-6, "htk filterbank rel err {rel}");

        let sl = MelSpec::new(&cfg(MelType::Bigvgan)).unwrap();
        let want = &arrs["fb_librosa_slaney"];
        assert_eq!(want.shape, vec![100, 513]);
        let (abs, rel, neq) = compare(sl.filterbank(), &want.data);
        eprintln!(
            "fb_librosa_slaney: max abs {abs:e}, max rel {rel:e}, not bit-equal {neq}/{}",
            want.data.len()
        );
        assert!(rel <= 1e-6, "slaney filterbank rel err {rel}");
    }

    fn check_mel(m: &MelSpec, wave: &[f32], want: &Tensor, row: usize, label: &str) -> f32 {
        let n_mels = want.shape[1];
        let frames = want.shape[2];
        let (got, f) = m.compute(wave).unwrap();
        assert_eq!(f, frames, "{label}: frames");
        assert_eq!(m.frames(wave.len()), frames, "{label}: frames()");
        let w = &want.data[row * n_mels * frames..(row + 1) * n_mels * frames];
        let err = max_abs(&got, w);
        eprintln!("{label}: {n_mels}x{frames}, max abs err {err:e}");
        assert!(err <= 1e-4, "{label}: log-mel max abs err {err}");
        err
    }

    #[test]
    fn mel_frontend_fixtures() {
        let arrs = load("mel_frontend/arrays.safetensors");
        for t in [MelType::Vocos, MelType::Bigvgan] {
            let m = MelSpec::new(&cfg(t)).unwrap();
            let name = if t == MelType::Vocos {
                "vocos"
            } else {
                "bigvgan"
            };
            for i in 0..3 {
                let w = &arrs[&format!("wave{i}")];
                check_mel(
                    &m,
                    &w.data,
                    &arrs[&format!("wave{i}.{name}")],
                    0,
                    &format!("wave{i}.{name}"),
                );
            }
            let bw = &arrs["batch.wave"];
            let n = bw.shape[1];
            for r in 0..bw.shape[0] {
                check_mel(
                    &m,
                    &bw.data[r * n..(r + 1) * n],
                    &arrs[&format!("batch.{name}")],
                    r,
                    &format!("batch[{r}].{name}"),
                );
            }
        }
    }

    #[test]
    fn e2tts_model_mels() {
        for (dir, t) in [
            ("e2tts_tiny", MelType::Vocos),
            ("e2tts_tiny_conv", MelType::Bigvgan),
        ] {
            let arrs = load(&format!("{dir}/arrays.safetensors"));
            let m = MelSpec::new(&cfg(t)).unwrap();
            check_mel(
                &m,
                &arrs["mel.wave"].data,
                &arrs["mel.out"],
                0,
                &format!("{dir} mel.out"),
            );
        }
    }

    #[test]
    fn vocos_feature_extractor() {
        let arrs = load("vocos_tiny/arrays.safetensors");
        let m = MelSpec::vocos_features(&MelConfig::default()).unwrap();
        let want = &arrs["features.mel"];
        let err = check_mel(
            &m,
            &arrs["features.wave"].data,
            want,
            0,
            "vocos_tiny features.mel",
        );
        assert!(err <= 1e-4);
        // Entries below the taoverse floor exist (the 1e-7 floor is exercised).
        let below = want.data.iter().filter(|&&v| v < (1e-5f32).ln()).count();
        assert!(below > 0);
    }

    #[test]
    fn vocos_istft_head_decode() {
        let arrs = load("vocos_tiny/arrays.safetensors");
        let z = &arrs["decode.head_linear_out"];
        assert_eq!(z.shape[2], 1026);
        let frames = z.shape[1];
        let want = &arrs["decode.wave"];
        assert_eq!(want.shape, vec![1, 256 * (frames - 1)]);
        let got = istft_head(&z.data, frames, 1024, 256, &hann_window_periodic(1024)).unwrap();
        let err = max_abs(&got, &want.data);
        let peak = want.data.iter().fold(0.0f32, |a, &b| a.max(b.abs()));
        eprintln!(
            "vocos decode.wave: {} samples, peak {peak}, max abs err {err:e}",
            got.len()
        );
        assert!(err <= 1e-6, "decode wave max abs err {err}");
        // The clip at 100 is exercised.
        let clipped = z
            .data
            .chunks(1026)
            .flat_map(|r| &r[..513])
            .filter(|&&v| v.exp() > 100.0)
            .count();
        assert!(clipped > 0);
    }

    #[test]
    fn errors() {
        let m = MelSpec::new(&MelConfig::default()).unwrap();
        assert!(m.compute(&vec![0.1; 512]).is_err());
        assert!(m.compute(&vec![0.1; 513]).is_ok());
        assert_eq!(m.frames(513), 3);
        let b = MelSpec::new(&cfg(MelType::Bigvgan)).unwrap();
        assert!(b.compute(&vec![0.1; 384]).is_err());
        assert_eq!(b.frames(385), 1);
        assert_eq!(b.compute(&vec![0.1; 385]).unwrap().1, 1);
        assert_eq!(b.frames(513), 2);
        // istft: one frame → empty output, as torch fails.
        assert!(
            istft_center(
                &vec![1.0; 513],
                &vec![0.0; 513],
                513,
                1,
                1024,
                256,
                &hann_window_periodic(1024)
            )
            .is_err()
        );
        // hop == n_fft with a Hann window: envelope hits 0 at the frame edges.
        let r = istft_center(
            &vec![1.0; 513 * 3],
            &vec![0.0; 513 * 3],
            513,
            3,
            1024,
            1024,
            &hann_window_periodic(1024),
        );
        assert!(r.is_err());
        assert!(
            istft_center(
                &[1.0; 10],
                &[0.0; 10],
                5,
                2,
                1024,
                256,
                &hann_window_periodic(1024)
            )
            .is_err()
        );
        assert!(MelType::parse("vocos").is_ok() && MelType::parse("Vocos").is_err());
    }

    #[test]
    fn general_sizes_run() {
        // win_length < n_fft (centred zero-padded window), odd sizes.
        let c = MelConfig {
            n_fft: 512,
            hop_length: 128,
            win_length: 400,
            n_mel_channels: 80,
            target_sample_rate: 16000,
            mel_type: MelType::Vocos,
        };
        let m = MelSpec::new(&c).unwrap();
        let w: Vec<f32> = (0..3000).map(|i| (i as f32 * 0.05).sin()).collect();
        let (out, f) = m.compute(&w).unwrap();
        assert_eq!(f, 1 + 3000 / 128);
        assert_eq!(out.len(), 80 * f);
        assert!(out.iter().all(|v| v.is_finite()));
        let pw = m.padded_window();
        assert_eq!(pw.len(), 512);
        assert_eq!(pw[56], m.window()[0]);
        assert_eq!(pw[55], 0.0);
        let c = MelConfig {
            mel_type: MelType::Bigvgan,
            ..c
        };
        let m = MelSpec::new(&c).unwrap();
        let (_, f) = m.compute(&w).unwrap();
        assert_eq!(f, 1 + (3000 + 2 * 192 - 512) / 128);
    }

    /// Round trip: STFT of a signal → istft_center reconstructs it (perfect reconstruction).
    #[test]
    fn istft_round_trip() {
        let n_fft = 1024;
        let hop = 256;
        let sig: Vec<f32> = (0..256 * 20)
            .map(|i| ((i as f32) * 0.013).sin() * 0.3)
            .collect();
        let padded = reflect_pad(&sig, n_fft / 2);
        let frames = 1 + sig.len() / hop;
        let w = hann_window_periodic(n_fft);
        let plan = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
        let nb = n_fft / 2 + 1;
        let (mut mag, mut ph) = (vec![0.0; nb * frames], vec![0.0; nb * frames]);
        for t in 0..frames {
            let mut inp: Vec<f32> = (0..n_fft).map(|i| padded[t * hop + i] * w[i]).collect();
            let mut out = plan.make_output_vec();
            plan.process(&mut inp, &mut out).unwrap();
            for k in 0..nb {
                mag[k * frames + t] = out[k].norm();
                ph[k * frames + t] = out[k].arg();
            }
        }
        let y = istft_center(
            &mag,
            &ph,
            nb,
            frames,
            n_fft,
            hop,
            &hann_window_periodic(n_fft),
        )
        .unwrap();
        assert_eq!(y.len(), hop * (frames - 1));
        let err = max_abs(&y, &sig[..y.len()]);
        assert!(err < 1e-5, "round trip err {err}");
    }
}
