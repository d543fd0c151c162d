//! `torchaudio.transforms.Resample(orig_freq, new_freq)` with its defaults (torchaudio 2.6:
//! `resampling_method="sinc_interp_hann"`, `lowpass_filter_width=6`, `rolloff=0.99`), as the
//! People's Speech loader's `preprocess_audio` uses it (`shared/notes/tts-evaluation.md` §1.5.1).
//!
//! * The kernel is `torchaudio.functional.functional._get_sinc_resample_kernel` with
//!   `dtype=None`, i.e. what the *transform* stores: float64 arithmetic in torch's order (with the
//!   quirk that `arange(0, -n, -1) / n` is an int64 tensor divided in float32 first), cast to f32.
//! * The application is `_apply_sinc_resample_kernel`: zero padding, a strided 1-D convolution,
//!   interleaving the `n` phases, truncation to `ceil(n·L/o)` (computed as torch does, through a
//!   float32 tensor). The convolution sums are accumulated in f64: torch's oneDNN order cannot
//!   be reproduced; against the 78 fixture cases f64 (and plain sequential f32) stay within
//!   1.8e-7 of the reference, fused f32 within 2.4e-7 (tolerance 1e-5).

use anyhow::{Result, bail};

/// `lowpass_filter_width` (zero crossings on each side).
const LOWPASS_FILTER_WIDTH: f64 = 6.0;
/// `rolloff` (fraction of the lower Nyquist frequency kept).
const ROLLOFF: f64 = 0.99;
/// Largest kernel accepted (`new_reduced × taps` f32 values, 64 MiB): any plausible audio rate
/// (even 44,056 Hz → 24 kHz needs 16.6 M) fits; a hostile rate such as 767,999 Hz would need
/// billions.
const MAX_KERNEL_ELEMENTS: usize = 1 << 24;
/// Largest output accepted (2^27 samples: 93 minutes at 24 kHz, 512 MiB).
const MAX_OUTPUT_LEN: usize = 1 << 27;

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A resampler for one rate pair: the transform's kernel, built once.
#[derive(Debug, Clone)]
pub struct Resampler {
    orig_freq: u32,
    new_freq: u32,
    /// `orig_freq / gcd` (the convolution stride).
    orig: usize,
    /// `new_freq / gcd` (the number of phases).
    new: usize,
    /// Zero padding on the left (`width`); the right gets `width + orig`.
    width: usize,
    /// Taps per phase: `2·width + orig`.
    taps: usize,
    /// `[new, taps]` row-major (torch's `[new, 1, taps]`), f32 as the transform stores it.
    kernel: Vec<f32>,
}

impl Resampler {
    /// `Resample(orig_freq, new_freq)`'s constructor. Equal rates give the identity (the
    /// transform's `forward` returns its input then).
    pub fn new(orig_freq: u32, new_freq: u32) -> Result<Resampler> {
        if orig_freq == 0 || new_freq == 0 {
            bail!(
                "cannot resample from {orig_freq} Hz to {new_freq} Hz: both rates must be positive"
            );
        }
        let g = gcd(orig_freq as u64, new_freq as u64);
        let (o, n) = (
            (orig_freq as u64 / g) as usize,
            (new_freq as u64 / g) as usize,
        );
        if orig_freq == new_freq {
            return Ok(Resampler {
                orig_freq,
                new_freq,
                orig: 1,
                new: 1,
                width: 0,
                taps: 0,
                kernel: Vec::new(),
            });
        }
        // base_freq = min(o, n) * rolloff; width = ceil(6 * o / base_freq) (Python floats).
        let base = o.min(n) as f64 * ROLLOFF;
        let width_f = (LOWPASS_FILTER_WIDTH * o as f64 / base).ceil();
        let width = width_f as usize;
        let taps = 2 * width + o;
        if n.checked_mul(taps).is_none_or(|e| e > MAX_KERNEL_ELEMENTS) {
            bail!(
                "resampling {orig_freq} Hz to {new_freq} Hz needs a {n}×{taps} filter bank (over {MAX_KERNEL_ELEMENTS} taps): \
                 the source rate is implausible; convert the clip to a common rate (8/16/22.05/44.1/48 kHz) first"
            );
        }
        // idx[j] = arange(-width, width + o, float64) / o
        let idx: Vec<f64> = (0..taps)
            .map(|j| (j as f64 - width as f64) / o as f64)
            .collect();
        let scale = base / o as f64;
        let mut kernel = Vec::with_capacity(n * taps);
        for p in 0..n {
            // arange(0, -n, -1) / n: int64 divided by an int → float32, then promoted to float64.
            let shift = (-(p as f32) / n as f32) as f64;
            for &ix in &idx {
                let mut t = shift + ix;
                t *= base;
                t = t.clamp(-LOWPASS_FILTER_WIDTH, LOWPASS_FILTER_WIDTH);
                let c = (t * std::f64::consts::PI / LOWPASS_FILTER_WIDTH / 2.0).cos();
                let window = c * c;
                t *= std::f64::consts::PI;
                let sinc = if t == 0.0 { 1.0 } else { t.sin() / t };
                kernel.push((sinc * (window * scale)) as f32);
            }
        }
        Ok(Resampler {
            orig_freq,
            new_freq,
            orig: o,
            new: n,
            width,
            taps,
            kernel,
        })
    }

    /// The source rate.
    pub fn orig_freq(&self) -> u32 {
        self.orig_freq
    }

    /// The target rate.
    pub fn new_freq(&self) -> u32 {
        self.new_freq
    }

    /// The filter bank `[new_reduced, taps]` (row-major, f32), empty for equal rates.
    pub fn kernel(&self) -> &[f32] {
        &self.kernel
    }

    /// `(new_reduced, taps, width)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.new, self.taps, self.width)
    }

    /// The output length for `len` input samples: `ceil(torch.as_tensor(n * len / o))`, where
    /// `n * len / o` is a Python float and `as_tensor` makes it a **float32** tensor before the
    /// ceil — so a quotient within half a float32 ulp above an integer rounds down to it (from
    /// about 2^17 output samples at 44.1 kHz on; never for the rates 16/48/8 kHz, whose quotients
    /// are multiples of 1/2). Equal rates: `len`.
    pub fn output_len(&self, len: usize) -> usize {
        if self.orig_freq == self.new_freq {
            return len;
        }
        let q = (self.new as f64 * len as f64) / self.orig as f64;
        (q as f32).ceil() as usize
    }

    /// `Resample(orig, new)(x)` for one channel. An empty input is an error, as in the reference
    /// (`RuntimeError: cannot reshape tensor of 0 elements into shape [-1, 0]`).
    pub fn apply(&self, x: &[f32]) -> Result<Vec<f32>> {
        if x.is_empty() {
            bail!(
                "cannot resample an empty clip (0 samples) from {} Hz to {} Hz; the reference fails here too \
                 (RuntimeError: cannot reshape tensor of 0 elements)",
                self.orig_freq,
                self.new_freq
            );
        }
        if self.orig_freq == self.new_freq {
            return Ok(x.to_vec());
        }
        let out_len = self.output_len(x.len());
        if out_len > MAX_OUTPUT_LEN {
            bail!(
                "resampling {} samples from {} Hz to {} Hz would give {out_len} samples (over {MAX_OUTPUT_LEN}); \
                 the clip is too long or its rate implausible",
                x.len(),
                self.orig_freq,
                self.new_freq
            );
        }
        let (o, n, k, w) = (self.orig, self.new, self.taps, self.width);
        // Zero padding: `width` on the left, `width + o` on the right.
        let mut xp = vec![0f32; w + x.len() + w + o];
        xp[w..w + x.len()].copy_from_slice(x);
        // conv1d(stride o): frame f, phase p reads xp[f·o .. f·o + taps] → y[f·n + p].
        let frames = out_len.div_ceil(n);
        let mut y = Vec::with_capacity(frames * n);
        for f in 0..frames {
            let xs = &xp[f * o..f * o + k];
            for row in self.kernel.chunks_exact(k) {
                y.push(dot(row, xs));
            }
        }
        y.truncate(out_len);
        Ok(y)
    }
}

/// Σ a[i]·b[i] accumulated in f64 (four independent partial sums, then added in order).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..4 {
            acc[i] += x[i] as f64 * y[i] as f64;
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ra.iter().zip(rb) {
        s += *x as f64 * *y as f64;
    }
    s as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_as_torchaudio() {
        // (orig, new) → (new_reduced, taps, width), from resample_cases.json `kernels`.
        for (orig, new, want) in [
            (16000, 24000, (3, 16, 7)),
            (48000, 24000, (1, 28, 13)),
            (44100, 24000, (80, 171, 12)),
            (8000, 24000, (3, 15, 7)),
            (22050, 24000, (160, 161, 7)),
        ] {
            assert_eq!(Resampler::new(orig, new).unwrap().shape(), want);
        }
    }

    #[test]
    fn output_lengths() {
        let r = Resampler::new(16000, 24000).unwrap();
        assert_eq!(r.output_len(1), 2);
        assert_eq!(r.output_len(3), 5);
        let r = Resampler::new(48000, 24000).unwrap();
        assert_eq!(r.output_len(7), 4);
        let r = Resampler::new(44100, 24000).unwrap();
        assert_eq!(r.output_len(147), 80);
        assert_eq!(r.output_len(148), 81);
        // The float32 quirk: near 360,000 a float32 step is 1/32, so 80·L/147 = k + 1/147
        // rounds to k and ceil gives k, one sample less than the exact ceiling; k + 13/147
        // (fraction 0.088) survives as k + 3/32 → k + 1.
        assert_eq!(r.output_len(661_502), 360_002);
        let l = (1..147usize)
            .map(|m| 147 * 4500 + m)
            .find(|&l| (80 * l) % 147 == 1)
            .unwrap();
        assert_eq!(r.output_len(l), (80 * l).div_ceil(147) - 1);
        assert_eq!(Resampler::new(24000, 24000).unwrap().output_len(5), 5);
    }

    #[test]
    fn refuses_what_torch_cannot_or_should_not_do() {
        let r = Resampler::new(16000, 24000).unwrap();
        assert!(format!("{:#}", r.apply(&[]).unwrap_err()).contains("empty"));
        assert!(Resampler::new(0, 24000).is_err());
        // A prime rate near the WAV reader's 768 kHz cap would need an 18 G-tap kernel.
        assert!(
            format!("{:#}", Resampler::new(767_999, 24000).unwrap_err()).contains("implausible")
        );
        // 1 Hz is accepted (a 15-tap kernel) but its outputs grow 24,000-fold.
        let r = Resampler::new(1, 24000).unwrap();
        assert!(r.apply(&vec![0.0; 6000]).is_err());
    }

    #[test]
    fn identity_and_dc() {
        let r = Resampler::new(24000, 24000).unwrap();
        assert_eq!(r.apply(&[0.5, -0.25]).unwrap(), vec![0.5, -0.25]);
        // A constant signal stays (nearly) constant away from the edges.
        let r = Resampler::new(16000, 24000).unwrap();
        let y = r.apply(&[0.5f32; 1000]).unwrap();
        assert_eq!(y.len(), 1500);
        assert!(
            y[100..1400].iter().all(|v| (v - 0.5).abs() < 0.01),
            "{:?}",
            &y[100..110]
        );
    }
}
