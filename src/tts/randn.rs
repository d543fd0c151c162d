//! torch's CPU normal generator, bit for bit: `torch.manual_seed(seed); torch.randn(n)` for a
//! float32 tensor of 16 or more elements on the scalar path (`ATEN_CPU_CAPABILITY=default`).
//!
//! The algorithm (ATen `normal_fill` + `normal_fill_16`; `sn9-spec` §5.4 of the TTS notes):
//! MT19937 seeded with `seed & 0xffffffff`; one uniform `(u32 & 0xFFFFFF) · 2⁻²⁴` per element;
//! then Box–Muller on blocks of 16 (`u1 = 1 − d[j]`, `u2 = d[j+8]`, `r = sqrtf(−2·logf(u1))`,
//! `θ = (float)(2π·u2)`, `d[j] = r·cosf θ`, `d[j+8] = r·sinf θ`), and when `n % 16 ≠ 0` the last
//! 16 values are redrawn from 16 fresh uniforms and transformed as one more block.
//!
//! `logf`, `cosf` and `sinf` are the C library's (glibc on Linux, as torch's), called directly so
//! that no compiler rewrite can change a bit. torch's vectorised AVX2/AVX512 path (its default on
//! modern x86) differs by up to ~2e-6; the validator draws on CUDA (Philox), which no CPU can
//! reproduce: sn9 uses this CPU noise on every device (see docs/architecture.md).

use anyhow::Result;

use crate::error::user;

/// The 32-bit Mersenne Twister as torch's CPU generator runs it.
pub struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    /// `init_genrand(seed)`.
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed;
        for j in 1..624 {
            let prev = state[j - 1];
            state[j] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(j as u32);
        }
        Mt19937 { state, index: 624 }
    }

    fn twist(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX_A: u32 = 0x9908_b0df;
        for i in 0..624 {
            let y = (self.state[i] & UPPER) | (self.state[(i + 1) % 624] & LOWER);
            let mut v = self.state[(i + 397) % 624] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= MATRIX_A;
            }
            self.state[i] = v;
        }
        self.index = 0;
    }

    /// The next tempered 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// torch's `uniform_real_distribution<float>(0, 1)`: 24 random bits scaled by 2⁻²⁴.
    fn uniform_f32(&mut self) -> f32 {
        ((self.next_u32() & 0x00ff_ffff) as f64 * (1.0 / (1u64 << 24) as f64)) as f32
    }
}

mod libm {
    unsafe extern "C" {
        pub fn logf(x: f32) -> f32;
        pub fn cosf(x: f32) -> f32;
        pub fn sinf(x: f32) -> f32;
    }
}

fn logf(x: f32) -> f32 {
    // SAFETY: a pure C math function on a plain float.
    unsafe { libm::logf(x) }
}
fn cosf(x: f32) -> f32 {
    // SAFETY: as above.
    unsafe { libm::cosf(x) }
}
fn sinf(x: f32) -> f32 {
    // SAFETY: as above.
    unsafe { libm::sinf(x) }
}

fn box_muller_16(d: &mut [f32]) {
    for j in 0..8 {
        let u1 = 1.0f32 - d[j];
        let u2 = d[j + 8];
        let r = (-2.0f32 * logf(u1)).sqrt();
        let theta = (2.0f64 * std::f64::consts::PI * u2 as f64) as f32;
        d[j] = r * cosf(theta);
        d[j + 8] = r * sinf(theta);
    }
}

/// `torch.manual_seed(seed); torch.randn(n)` on the CPU scalar path (float32, `n ≥ 16`).
pub fn randn(seed: u64, n: usize) -> Result<Vec<f32>> {
    let mut g = Mt19937::new((seed & 0xffff_ffff) as u32);
    randn_from(&mut g, n)
}

/// [`randn`] continuing an existing generator (torch's global generator after earlier draws).
pub fn randn_from(g: &mut Mt19937, n: usize) -> Result<Vec<f32>> {
    if n < 16 {
        // torch takes a different (double-precision, cached) path below 16 elements; the
        // sampler's noise is `duration × n_mels` values, far above it.
        return Err(user(format!(
            "normal noise of {n} values: torch draws fewer than 16 values another way, which sn9 does not reproduce"
        )));
    }
    let mut d: Vec<f32> = (0..n).map(|_| g.uniform_f32()).collect();
    for block in d.chunks_exact_mut(16) {
        box_muller_16(block);
    }
    if !n.is_multiple_of(16) {
        let tail = &mut d[n - 16..];
        for v in tail.iter_mut() {
            *v = g.uniform_f32();
        }
        box_muller_16(tail);
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_reference_output() {
        // The reference MT19937 (init_genrand(5489)) first output is 3499211612.
        let mut g = Mt19937::new(5489);
        assert_eq!(g.next_u32(), 3_499_211_612);
    }

    #[test]
    fn refuses_short_tensors() {
        assert!(randn(0, 15).is_err());
        assert_eq!(randn(0, 16).unwrap().len(), 16);
    }
}
