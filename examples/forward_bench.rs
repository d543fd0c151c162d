//! Forward-pass throughput of sn9's model core on the CPU (burn-flex), for `bench/model.sh`.
//!
//! `cargo run --release --example forward_bench -- MODEL_DIR SEQ_LEN ITERS [LOGITS_OUT]`
//! prints one JSON line: tokens/s (median of ITERS timed runs after one warm-up) and the
//! validator's loss on the same deterministic tokens; with LOGITS_OUT it also writes the logits
//! of the first 8 positions (f32 little-endian) for a cross-check with transformers.

use std::time::Instant;

use burn::prelude::*;
use sn9::model::{Cpu, LoadedModel};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        anyhow::bail!("usage: forward_bench MODEL_DIR SEQ_LEN ITERS [LOGITS_OUT]");
    }
    let dir = std::path::PathBuf::from(&args[1]);
    let t: usize = args[2].parse()?;
    let iters: usize = args[3].parse()?;
    let dev = Default::default();
    let model = LoadedModel::<Cpu>::load(&dir, &dev)?;
    let v = model.config.vocab_size;
    // The same tokens as bench/model.py: (i * 7919 + 13) % vocab.
    let ids: Vec<i32> = (0..t).map(|i| ((i * 7919 + 13) % v) as i32).collect();
    let input = Tensor::<Cpu, 2, Int>::from_data(TensorData::new(ids, [1, t]), &dev);
    let mut times = Vec::new();
    let mut loss = 0.0;
    for i in 0..=iters {
        let start = Instant::now();
        let h = model.lm.hidden(input.clone(), &model.rope, None);
        let l = model
            .lm
            .shifted_ce_sum(h, input.clone(), 512)
            .div_scalar((t - 1) as f64);
        loss = l
            .into_data()
            .to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?[0];
        if i > 0 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = times[times.len() / 2];
    if let Some(out) = args.get(4) {
        let n = t.min(8);
        let logits = model.logits(input.narrow(1, 0, n));
        let data = logits
            .into_data()
            .to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        std::fs::write(out, bytes)?;
    }
    println!(
        "{}",
        serde_json::json!({"impl": "sn9-flex", "seq_len": t, "median_s": median, "tokens_per_s": t as f64 / median, "loss": loss})
    );
    Ok(())
}
