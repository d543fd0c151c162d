//! Forward-pass + validator-loss throughput of sn9's model core (the `sn9 eval` computation),
//! for `bench/model.sh` (CPU, vs transformers) and `bench/eval_gpu.sh` (GPU, 3.3B shape).
//!
//! `cargo run --release [--features cuda] --example forward_bench -- MODEL_DIR SEQ_LEN ITERS
//!  [LOGITS_OUT|-] [DEVICE] [DTYPE] [PEAK_TFLOPS]` prints one JSON line: tokens/s (median of
//! ITERS timed runs after one warm-up), the loss on deterministic tokens, and with PEAK_TFLOPS
//! the model FLOPs utilisation, MFU = (2·N·T + 2·L·T²·d) / time / peak (forward only: N
//! parameters without the embedding, L layers, T tokens, d hidden size).

use anyhow::Result;
use burn::prelude::*;
use sn9::device::{BackendTask, DeviceSpec, dispatch};
use sn9::model::{FloatDType, LoadedModel};

struct Bench {
    dir: std::path::PathBuf,
    t: usize,
    iters: usize,
    logits_out: Option<String>,
    dtype: FloatDType,
}

impl BackendTask for Bench {
    type Output = (f64, f32, sn9::model::ModelConfig);
    fn run<B: Backend>(self, dev: B::Device) -> Result<Self::Output> {
        let model = LoadedModel::<B>::load_as(&self.dir, self.dtype, &dev)?;
        let v = model.config.vocab_size;
        let (times, loss) = model.time_eval(1, self.t, self.iters, &dev)?;
        if let Some(out) = &self.logits_out {
            let n = self.t.min(8);
            let ids: Vec<i32> = (0..n).map(|i| ((i * 7919 + 13) % v) as i32).collect();
            let logits = model.logits(Tensor::<B, 2, Int>::from_data(
                TensorData::new(ids, [1, n]),
                &dev,
            ));
            let data = logits
                .into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
            std::fs::write(out, bytes)?;
        }
        Ok((times[times.len() / 2], loss, model.config))
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        anyhow::bail!(
            "usage: forward_bench MODEL_DIR SEQ_LEN ITERS [LOGITS_OUT|-] [DEVICE] [f32|bf16] [PEAK_TFLOPS]"
        );
    }
    let t: usize = args[2].parse()?;
    let device: DeviceSpec = args
        .get(5)
        .map(|s| s.parse())
        .transpose()
        .map_err(|e: String| anyhow::anyhow!(e))?
        .unwrap_or(DeviceSpec::Cpu);
    let dtype = if args.get(6).map(String::as_str) == Some("bf16") {
        FloatDType::BF16
    } else {
        FloatDType::F32
    };
    let bench = Bench {
        dir: args[1].clone().into(),
        t,
        iters: args[3].parse()?,
        logits_out: args.get(4).filter(|s| s.as_str() != "-").cloned(),
        dtype,
    };
    let (median, loss, cfg) = dispatch(device, bench)?;
    let flops = sn9::model::command::forward_flops(&cfg, t, t);
    let mfu = args
        .get(7)
        .and_then(|p| p.parse::<f64>().ok())
        .map(|peak| flops / median / (peak * 1e12));
    println!(
        "{}",
        serde_json::json!({"impl": format!("sn9-{device}"), "dtype": format!("{dtype:?}"), "seq_len": t, "median_s": median,
            "tokens_per_s": t as f64 / median, "loss": loss, "mfu": mfu})
    );
    Ok(())
}
