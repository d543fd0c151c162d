//! float32 arithmetic as the reference's PyTorch (1.13, CPU) does it, so that weights are
//! bit-identical: the order of additions in reductions, Sleef's vectorised `expf`, and softmax
//! as `exp(x − max) · (1 / Σ)`. Details and sources: `docs/numerics.md`.

/// Lanes of a float32 vector register on the reference's CPU build (AVX2: 256 bits).
const LANES: usize = 8;

/// `vec::reduce_all(+)` (ATen `functional_base.h`): fewer than 8 values are added in order; more
/// are accumulated lane-wise (8 lanes, a partial last vector added to its first lanes) and the
/// lanes are then combined pairwise as the AVX2 shuffles do: (l0+l4)+(l2+l6) + (l1+l5)+(l3+l7).
pub fn reduce_all_sum(data: &[f32]) -> f32 {
    let n = data.len();
    if n == 0 {
        return 0.0;
    }
    if n < LANES {
        let mut acc = data[0];
        for &x in &data[1..] {
            acc += x;
        }
        return acc;
    }
    let mut acc = [0f32; LANES];
    acc.copy_from_slice(&data[..LANES]);
    let full = n - n % LANES;
    let mut d = LANES;
    while d < full {
        for l in 0..LANES {
            acc[l] += data[d + l];
        }
        d += LANES;
    }
    for (l, &x) in data[d..].iter().enumerate() {
        acc[l] += x;
    }
    let w: [f32; 4] = std::array::from_fn(|l| acc[l] + acc[l + 4]);
    let x0 = w[0] + w[2];
    let x1 = w[1] + w[3];
    x0 + x1
}

/// `vec::reduce_all(max)`.
pub fn reduce_all_max(data: &[f32]) -> f32 {
    data.iter().copied().fold(
        f32::NEG_INFINITY,
        |a, b| if b > a || b.is_nan() { b } else { a },
    )
}

/// Multi-level cascade partial sums of `rows` rows of `W` values each (ATen `multi_row_sum`):
/// row i contributes `get(i, k)` to accumulator k; levels of 16 rows limit rounding growth.
#[allow(clippy::needless_range_loop)] // mirrors ATen's loops index for index
fn multi_row_sum<const W: usize>(rows: usize, get: impl Fn(usize, usize) -> f32) -> [f32; W] {
    const NUM_LEVELS: usize = 4;
    let ceil_log2 = if rows <= 1 {
        0
    } else {
        (usize::BITS - (rows - 1).leading_zeros()) as usize
    };
    let level_power = 4usize.max(ceil_log2 / NUM_LEVELS);
    let level_step = 1usize << level_power;
    let level_mask = level_step - 1;
    let mut acc = [[0f32; W]; NUM_LEVELS];
    let mut i = 0usize;
    while i + level_step <= rows {
        for _ in 0..level_step {
            for k in 0..W {
                acc[0][k] += get(i, k);
            }
            i += 1;
        }
        for j in 1..NUM_LEVELS {
            for k in 0..W {
                acc[j][k] += acc[j - 1][k];
                acc[j - 1][k] = 0.0;
            }
            let mask = level_mask << (j * level_power);
            if i & mask != 0 {
                break;
            }
        }
    }
    while i < rows {
        for k in 0..W {
            acc[0][k] += get(i, k);
        }
        i += 1;
    }
    for j in 1..NUM_LEVELS {
        for k in 0..W {
            acc[0][k] += acc[j][k];
        }
    }
    acc[0]
}

/// `tensor.sum()` of a contiguous 1-D float32 tensor (ATen `SumKernel.cpp`, cascade sum with
/// float accumulators). Vectors of 8 lanes, 4 independent accumulators; the tail values are
/// added first, then the 8 lanes in order.
pub fn torch_sum(data: &[f32]) -> f32 {
    let n = data.len();
    if n >= LANES {
        let nvec = n / LANES;
        let ilp = 4usize;
        let rows = nvec / ilp;
        let partial: [[f32; LANES]; 4] = {
            let p = multi_row_sum::<{ 4 * LANES }>(rows, |i, k| {
                let v = i * ilp + k / LANES;
                data[v * LANES + k % LANES]
            });
            std::array::from_fn(|r| std::array::from_fn(|l| p[r * LANES + l]))
        };
        let mut p0 = partial[0];
        for v in rows * ilp..nvec {
            for l in 0..LANES {
                p0[l] += data[v * LANES + l];
            }
        }
        for p in &partial[1..] {
            for l in 0..LANES {
                p0[l] += p[l];
            }
        }
        let mut acc = 0f32;
        for &x in &data[nvec * LANES..] {
            acc += x;
        }
        for &x in &p0 {
            acc += x;
        }
        acc
    } else {
        let ilp = 4usize;
        let rows = n / ilp;
        let mut p = multi_row_sum::<4>(rows, |i, k| data[i * ilp + k]);
        for &x in &data[rows * ilp..] {
            p[0] += x;
        }
        p[0] + p[1] + p[2] + p[3]
    }
}

/// Sleef's `expf` (u10, the vector version ATen calls), with fused multiply-adds as on AVX2.
pub fn sleef_expf(d: f32) -> f32 {
    // Sleef's constants, as float32 bit patterns (R_LN2f = log2(e), L2Uf + L2Lf = ln 2, and
    // the polynomial coefficients c5..c1).
    const R_LN2F: u32 = 0x3FB8_AA3B;
    const L2UF: u32 = 0x3F31_7200;
    const L2LF: u32 = 0x35BF_BE8E;
    const C: [u32; 5] = [
        0x3950_2BDA,
        0x3AB6_96C9,
        0x3C08_88A6,
        0x3D2A_AA7A,
        0x3E2A_AAAB,
    ];
    let c = |b: u32| f32::from_bits(b);
    if d.is_nan() {
        return d;
    }
    let q = (d * c(R_LN2F)).round_ties_even();
    // Out-of-range products convert to i32::MIN as the x86 conversion does (the result is then
    // fixed by the thresholds below).
    let qi = if q.abs() < 2_147_483_648.0 {
        q as i32
    } else {
        i32::MIN
    };
    let mut s = q.mul_add(-c(L2UF), d);
    s = q.mul_add(-c(L2LF), s);
    let mut u = c(C[0]);
    for &k in &C[1..] {
        u = u.mul_add(s, c(k));
    }
    u = u.mul_add(s, 0.5);
    u = 1.0 + (s * s).mul_add(u, s);
    u = ldexp2(u, qi);
    if d < -104.0 {
        u = 0.0;
    }
    if d > 100.0 {
        u = f32::INFINITY;
    }
    u
}

fn pow2i(q: i32) -> f32 {
    f32::from_bits((q.wrapping_add(0x7f) as u32) << 23)
}

/// `vldexp2`: `d · 2^(q>>1) · 2^(q − (q>>1))`, two roundings (the second may denormalise).
fn ldexp2(d: f32, q: i32) -> f32 {
    d * pow2i(q >> 1) * pow2i(q.wrapping_sub(q >> 1))
}

/// `torch.softmax(x, 0)` of a 1-D float32 tensor.
pub fn softmax(x: &[f32]) -> Vec<f32> {
    if x.is_empty() {
        return Vec::new();
    }
    let max = reduce_all_max(x);
    let e: Vec<f32> = x.iter().map(|&v| sleef_expf(v - max)).collect();
    let inv = 1.0 / reduce_all_sum(&e);
    e.iter().map(|&v| v * inv).collect()
}

/// `torch.nan_to_num(x, 0.0)`: nan → 0, ±inf → the largest finite float32 of that sign.
pub fn nan_to_num(x: f32) -> f32 {
    if x.is_nan() {
        0.0
    } else if x == f32::INFINITY {
        f32::MAX
    } else if x == f32::NEG_INFINITY {
        f32::MIN
    } else {
        x
    }
}

/// Sleef's `logf` (u10, `xlogf_u1` with FMA), as ATen's vectorised log-softmax calls it.
#[allow(clippy::excessive_precision)]
pub fn sleef_logf(d: f32) -> f32 {
    let fma = |a: f32, b: f32, c: f32| a.mul_add(b, c);
    let orig = d;
    let o = d < f32::MIN_POSITIVE;
    let d = if o {
        d * 18_446_744_073_709_551_616.0
    } else {
        d
    };
    let mut e = (((d * (1.0 / 0.75f32)).to_bits() >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits(d.to_bits().wrapping_add(((-e) as u32) << 23));
    if o {
        e -= 64;
    }
    let ef = e as f32;
    let sx = 0.693_147_182_464_599_609_38_f32 * ef;
    let sy = fma(
        -1.904_654_323_148_236_017e-09_f32,
        ef,
        fma(0.693_147_182_464_599_609_38_f32, ef, -sx),
    );
    let ns = -1.0 + m;
    let nv = ns - (-1.0);
    let nl = (-1.0 - (ns - nv)) + (m - nv);
    let ds = 1.0 + m;
    let dv = ds - 1.0;
    let dl = (1.0 - (ds - dv)) + (m - dv);
    let t = 1.0 / ds;
    let qs = ns * t;
    let u = fma(t, ns, -qs);
    let v = fma(-dl, t, fma(-ds, t, 1.0));
    let xx = qs;
    let xy = fma(qs, v, fma(nl, t, u));
    let x2 = xx * xx;
    let p = fma(
        fma(0.302_729_487_4_f32, x2, 0.399_610_817_4),
        x2,
        0.666_669_488_0,
    );
    let s1 = sx + 2.0 * xx;
    let l1 = (((sx - s1) + 2.0 * xx) + sy) + 2.0 * xy;
    let w = (x2 * xx) * p;
    let s2 = s1 + w;
    let l2 = ((s1 - s2) + w) + l1;
    let mut r = s2 + l2;
    if orig == f32::INFINITY {
        r = f32::INFINITY;
    }
    if orig < 0.0 || orig.is_nan() {
        r = f32::NAN;
    }
    if orig == 0.0 {
        r = f32::NEG_INFINITY;
    }
    r
}

/// `torch.nn.CrossEntropyLoss()` (mean, `ignore_index`) of float32 logits `[n, v]` on CPU, as
/// torch 1.13 computes it: ATen's vectorised log-softmax (lane reductions, Sleef exp and log)
/// then `nll_loss`'s cascade sum. `None` targets are ignored.
pub fn torch_cross_entropy(logits: &[f32], v: usize, targets: &[Option<usize>]) -> f32 {
    const LEVEL_POWER: u32 = 4;
    const LEVEL_MASK: usize = (1 << LEVEL_POWER) - 1;
    let n = targets.len();
    let mut part = [0f32; 8];
    let mut ignored = 0usize;
    for (b, t) in targets.iter().enumerate() {
        let Some(t) = *t else {
            ignored += 1;
            continue;
        };
        let row = &logits[b * v..(b + 1) * v];
        let m = reduce_all_max(row);
        let e: Vec<f32> = row.iter().map(|&x| sleef_expf(x - m)).collect();
        let lse = sleef_logf(reduce_all_sum(&e));
        let out = (row[t] - m) - lse;
        part[0] -= out;
        for j in 0..7 {
            if b & (LEVEL_MASK << (j as u32 * LEVEL_POWER)) != 0 {
                break;
            }
            part[j + 1] += part[j];
            part[j] = 0.0;
        }
    }
    let mut sum = 0f32;
    for p in part {
        sum += p;
    }
    sum / (n - ignored) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_libm_closely() {
        for i in -1000..=800 {
            let x = i as f32 * 0.1;
            let a = sleef_expf(x);
            let b = (x as f64).exp() as f32;
            if b.is_normal() {
                let ulps = (a.to_bits() as i64 - b.to_bits() as i64).abs();
                assert!(ulps <= 1, "exp({x}): {a} vs {b}");
            }
        }
        assert_eq!(sleef_expf(0.0), 1.0);
        assert_eq!(sleef_expf(-100.0).to_bits(), 0x1b);
        assert_eq!(sleef_expf(-200.0), 0.0);
    }

    #[test]
    fn sums() {
        let v: Vec<f32> = (0..300).map(|i| i as f32).collect();
        assert_eq!(torch_sum(&v), 44850.0);
        assert_eq!(reduce_all_sum(&v), 44850.0);
        assert_eq!(torch_sum(&[1.0, 2.0, 3.0]), 6.0);
    }

    #[test]
    fn softmax_ties() {
        assert_eq!(softmax(&[50.0, 50.0]), vec![0.5, 0.5]);
    }
}
