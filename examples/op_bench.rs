//! The ops of the evaluation forward, one at a time, on burn's CPU backend (flex, sn9's), at
//! `bench/eval.sh`'s shape: the minimal reproduction behind bench/results/ops.md, run against
//! the same ops in torch by `bench/ops.sh` (bench/ops.py).
//!
//! `cargo run --release --example op_bench -- [T=1024] [D=512] [FF=1344] [V=100277] [HEADS=8]`
//! prints one JSON line per op: median seconds of 5 runs after a warm-up. With
//! `--features ndarray-bench` it also runs burn's ndarray backend on OpenBLAS, the other CPU
//! backend burn 0.21 offers.

use burn::prelude::*;
use burn::tensor::activation::silu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Distribution, TensorData};

fn time<T>(mut f: impl FnMut() -> T, sync: impl Fn(T)) -> f64 {
    let mut times = Vec::new();
    for i in 0..6 {
        let start = std::time::Instant::now();
        sync(f());
        if i > 0 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn read<B: Backend, const D: usize>(t: Tensor<B, D>) {
    // Both backends are eager; reading one value back makes sure the op ran.
    let _: TensorData = t.flatten::<1>(0, D - 1).narrow(0, 0, 1).into_data();
}

fn main() {
    let arg = |i: usize, d: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(d)
    };
    let shape = (
        arg(1, 1024),
        arg(2, 512),
        arg(3, 1344),
        arg(4, 100277),
        arg(5, 8),
    );
    run::<burn::backend::Flex>("burn 0.21 flex", shape);
    #[cfg(feature = "ndarray-bench")]
    run::<burn::backend::NdArray>("burn 0.21 ndarray+openblas", shape);
}

fn run<B: Backend>(name: &str, (t, d, ff, v, heads): (usize, usize, usize, usize, usize)) {
    let dev = Default::default();
    let rand =
        |shape: [usize; 2]| Tensor::<B, 2>::random(shape, Distribution::Normal(0.0, 1.0), &dev);
    let x = rand([t, d]);
    let w_head = rand([d, v]);
    let w_up = rand([d, ff]);
    let w_down = rand([ff, d]);
    let h_ff = rand([t, ff]);
    let logits = x.clone().matmul(w_head.clone());
    let hd = d / heads;
    let q = Tensor::<B, 4>::random([1, heads, t, hd], Distribution::Normal(0.0, 1.0), &dev);
    let ops: Vec<(&str, f64)> = vec![
        (
            "matmul lm head [T,D]x[D,V]",
            time(|| x.clone().matmul(w_head.clone()), read::<B, 2>),
        ),
        (
            "matmul mlp up [T,D]x[D,FF]",
            time(|| x.clone().matmul(w_up.clone()), read),
        ),
        (
            "matmul mlp down [T,FF]x[FF,D]",
            time(|| h_ff.clone().matmul(w_down.clone()), read),
        ),
        (
            "logsumexp [T,V]",
            time(
                || {
                    let max = logits.clone().max_dim(1);
                    (logits.clone() - max.clone()).exp().sum_dim(1).log() + max
                },
                read,
            ),
        ),
        ("exp [T,V]", time(|| logits.clone().exp(), read)),
        ("silu [T,FF]", time(|| silu(h_ff.clone()), read)),
        (
            "causal attention [1,H,T,D/H]",
            time(
                || {
                    attention(
                        q.clone(),
                        q.clone(),
                        q.clone(),
                        None,
                        None,
                        AttentionModuleOptions {
                            scale: Some(1.0 / (hd as f64).sqrt()),
                            softcap: None,
                            is_causal: true,
                        },
                    )
                },
                read,
            ),
        ),
        (
            "transpose+contiguous [1,T,H,D/H]->[1,H,T,D/H]",
            time(|| q.clone().swap_dims(1, 2).add_scalar(0.0), read),
        ),
    ];
    for (op, s) in ops {
        println!(
            "{}",
            serde_json::json!({"impl": name, "op": op, "seconds": s,
                "shape": {"T": t, "D": d, "FF": ff, "V": v, "H": heads}})
        );
    }
}
