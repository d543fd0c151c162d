//! Past one machine: `sn9 train --engine torchtitan` writes a torchtitan 0.3.0 job directory
//! that trains on sn9's token shards in `sn9 train`'s sample order, and `sn9 train import-job`
//! brings a checkpoint back as a Hugging Face model directory.
//!
//! Job directory (`--out`):
//! * `job.json`: what wrote it and from what (schema `sn9.titan-job` v1, sn9, torchtitan and torch
//!   versions, the manifest's and config's sha256, parameters, topology);
//! * `sn9_titan/`: the Python package (`config_registry.train()` → `Trainer.Config`, the HF
//!   config → torchtitan Llama builder, the shard dataloader, `order.py` with the sample order in
//!   the standard library only, `export.py` for DCP steps) and its `settings.json`;
//! * `hf_assets/config.json`; `init_hf/` (the weights of `--model` when it is a model directory);
//! * `launch.sh` (one node, or each of N nodes), `launch.slurm`, `dryrun.sh` (fake backend, one
//!   GPU), `job.env`, `requirements.txt` (exact pins), `README.md`.
//!
//! Everything is checked before anything is written; the directory appears whole or not at all.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::{Value, json};

use super::command::{Settings, TrainArgs};
use crate::data::shards::Shards;
use crate::error::user;
use crate::model::ModelConfig;
use crate::model::command::ComputeDtype;
use crate::model::config::{Activation, Family, RopeScaling};
use crate::model::safetensors::{Dtype, SafeFile, TensorInfo, to_f32, write_weights_streaming};
use crate::output::{Format, Printer};
use crate::settings::ConfigFile;

pub const SCHEMA: &str = "sn9.titan-job";
pub const VERSION: u32 = 1;
/// The engine and its torch, pinned exactly (see the job's requirements.txt).
pub const TORCHTITAN: &str = "0.3.0";
pub const TORCH: &str = "2.14.1";

/// The job's fixed files: (path in the job, contents, executable).
const FILES: &[(&str, &str, bool)] = &[
    (
        "sn9_titan/__init__.py",
        include_str!("job/sn9_titan/__init__.py"),
        false,
    ),
    (
        "sn9_titan/config_registry.py",
        include_str!("job/sn9_titan/config_registry.py"),
        false,
    ),
    (
        "sn9_titan/data.py",
        include_str!("job/sn9_titan/data.py"),
        false,
    ),
    (
        "sn9_titan/export.py",
        include_str!("job/sn9_titan/export.py"),
        false,
    ),
    (
        "sn9_titan/model.py",
        include_str!("job/sn9_titan/model.py"),
        false,
    ),
    (
        "sn9_titan/order.py",
        include_str!("job/sn9_titan/order.py"),
        false,
    ),
    (
        "sn9_titan/schedule.py",
        include_str!("job/sn9_titan/schedule.py"),
        false,
    ),
    ("launch.sh", include_str!("job/launch.sh"), true),
    ("dryrun.sh", include_str!("job/dryrun.sh"), true),
    (
        "requirements.txt",
        include_str!("job/requirements.txt"),
        false,
    ),
];
const SLURM: &str = include_str!("job/launch.slurm");
const README: &str = include_str!("job/README.md");

/// Why torchtitan's Llama (and its HF adapter) cannot train `c`; `None` when it can. The job's
/// `model.py` refuses the same configs.
pub fn unmappable(c: &ModelConfig) -> Option<String> {
    if c.family != Family::Llama || c.architecture != "LlamaForCausalLM" {
        return Some(format!(
            "architecture {} (only LlamaForCausalLM maps onto torchtitan's Llama; sn9 train \
             trains the others on one machine)",
            c.architecture
        ));
    }
    if c.qkv_bias || c.o_bias || c.mlp_bias {
        return Some(
            "attention_bias/mlp_bias (torchtitan's Llama3 HF adapter maps no bias weights)".into(),
        );
    }
    if c.activation != Activation::Silu {
        return Some("a hidden_act other than silu (torchtitan's feed-forward is SwiGLU)".into());
    }
    if let Some(RopeScaling::Linear { .. }) = c.rope_scaling {
        return Some("linear rope_scaling (torchtitan's RoPE has only llama3 scaling)".into());
    }
    if c.raw
        .get("pretraining_tp")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        != 1
    {
        return Some("pretraining_tp other than 1".into());
    }
    None
}

/// The topology and batch of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub nodes: usize,
    pub gpus_per_node: usize,
    pub local_batch: usize,
    pub grad_accum: usize,
}

impl Layout {
    /// From the flags: `global` (sequences per step), when given, must be a multiple of
    /// `world × local_batch` and fixes the accumulation.
    pub fn new(
        nodes: usize,
        gpus_per_node: usize,
        local_batch: usize,
        grad_accum: Option<usize>,
        global: Option<usize>,
    ) -> Result<Layout> {
        if nodes == 0 || gpus_per_node == 0 || local_batch == 0 {
            return Err(user(
                "--nodes, --gpus-per-node and --batch-size must be at least 1",
            ));
        }
        let per_round = nodes * gpus_per_node * local_batch;
        let grad_accum = match (global, grad_accum) {
            (Some(g), _) if g == 0 || !g.is_multiple_of(per_round) => {
                return Err(user(format!(
                    "--global-batch-size {g} is not a multiple of {nodes} nodes × \
                     {gpus_per_node} GPUs × --batch-size {local_batch} = {per_round}; choose a \
                     multiple, or other counts"
                )));
            }
            (Some(g), Some(a)) if g / per_round != a => {
                return Err(user(format!(
                    "--global-batch-size {g} means {} accumulation steps on {nodes}×{gpus_per_node} \
                     GPUs with --batch-size {local_batch}, but --grad-accum is {a}; give one of them",
                    g / per_round
                )));
            }
            (Some(g), _) => g / per_round,
            (None, a) => a.unwrap_or(1).max(1),
        };
        Ok(Layout {
            nodes,
            gpus_per_node,
            local_batch,
            grad_accum,
        })
    }

    pub fn world(&self) -> usize {
        self.nodes * self.gpus_per_node
    }

    pub fn global_batch(&self) -> usize {
        self.world() * self.local_batch * self.grad_accum
    }

    /// torchtitan's parallel layout in words.
    pub fn describe(&self) -> String {
        match (self.nodes, self.gpus_per_node) {
            (1, 1) => "one GPU".into(),
            (1, g) => format!("FSDP over {g} GPUs"),
            (n, 1) => format!("DDP over {n} nodes"),
            (n, g) => format!("HSDP: {n} replicas (nodes) × {g}-way sharding (GPUs per node)"),
        }
    }
}

/// Writes the job directory for `st` (the resolved `sn9 train` settings) at `out`.
pub fn export(
    a: &TrainArgs,
    cfg: &ConfigFile,
    st: &Settings,
    out: &Path,
    p: &Printer,
) -> Result<()> {
    let t = &st.trajectory;
    if a.resume {
        return Err(user(
            "--resume does not apply to --engine torchtitan: run the job's launch.sh again and \
             torchtitan resumes from its latest checkpoint",
        ));
    }
    for (given, flag) in [
        (a.device.is_some(), "--device"),
        (a.csv, "--csv"),
        (a.peak_tflops.is_some(), "--peak-tflops"),
        (a.save_dtype.is_some(), "--save-dtype (the job saves bf16)"),
    ] {
        if given {
            p.warn(format!(
                "{flag} does not apply to --engine torchtitan; ignored"
            ));
        }
    }
    let s = "train";
    let nodes: usize = cfg.resolve(a.nodes, s, "nodes", 1)?;
    let gpus: usize = cfg.resolve(a.gpus_per_node, s, "gpus-per-node", 8)?;
    let global: Option<usize> = cfg.resolve_opt(a.global_batch_size, s, "global-batch-size")?;
    let accum: Option<usize> = cfg.resolve_opt(a.grad_accum, s, "grad-accum")?;
    let layout = Layout::new(nodes, gpus, t.batch_size, accum, global)?;
    // bf16 compute with float32 master weights unless f32 is asked for.
    let dtype: Option<ComputeDtype> = cfg.resolve_opt(a.dtype, s, "dtype")?;
    let mixed = match dtype {
        Some(ComputeDtype::F32) => "float32",
        _ => "bfloat16",
    };
    if st.keep < 2 {
        return Err(user(format!(
            "--keep {}: torchtitan keeps at least 2 checkpoints (the newest may still be in \
             writing); use --keep 2 or more",
            st.keep
        )));
    }
    if st.save_every == 0 || t.schedule.total_steps == 0 {
        return Err(user("--steps and --save-every must be at least 1"));
    }

    let shards = Shards::open(&t.data)?;
    let config_path = super::command::config_path(&t.model);
    let config = ModelConfig::from_file(&config_path)?;
    if let Some(why) = unmappable(&config) {
        return Err(user(format!(
            "{}: torchtitan cannot train {why}; change the config",
            config_path.display()
        )));
    }
    super::command::check_data(&shards, &config)?;
    if shards.manifest.eos_id as usize >= config.vocab_size {
        return Err(user(format!(
            "{}: eos id {} is outside the model's vocabulary of {} — these shards come from \
             another tokenizer",
            t.data.display(),
            shards.manifest.eos_id,
            config.vocab_size
        )));
    }
    if let Some(id) = st.competition {
        super::command::check_competition(&config, id, Dtype::BF16, a.schedule.as_deref(), p)?;
    }
    let init = if t.model.is_dir() {
        let (c, files) = crate::model::check_weights(&t.model)?;
        if c != config {
            return Err(user(format!(
                "{}: config.json does not describe its weights",
                t.model.display()
            )));
        }
        Some(
            files
                .files
                .iter()
                .map(|f| f.path.clone())
                .collect::<Vec<_>>(),
        )
    } else {
        None
    };
    let total = shards.len();
    let split = super::data::Split::new(total, t.val_sequences, t.seed)?;
    let val_steps = t.val_sequences as usize / (layout.world() * layout.local_batch);
    if t.val_sequences > 0 && val_steps == 0 {
        p.warn(format!(
            "{} validation sequences are fewer than one round of {}×{} GPUs × --batch-size {}: \
             the job will not validate (raise --val-sequences to validate)",
            t.val_sequences, layout.nodes, layout.gpus_per_node, layout.local_batch
        ));
    }
    let train_seqs = split.train.len() as u64;
    let per_step = layout.global_batch() as u64;
    let seq = shards.manifest.seq_len;

    let data_abs = std::path::absolute(&t.data)?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sn9".into());
    let settings = json!({
        "name": name,
        "data": data_abs,
        "manifest_sha256": t.manifest_sha256,
        "seq_len": seq,
        "eos_id": shards.manifest.eos_id,
        "vocab_size": config.vocab_size,
        "total_sequences": total,
        "val_sequences": t.val_sequences,
        "seed": t.seed,
        "steps": t.schedule.total_steps,
        "nodes": layout.nodes,
        "gpus_per_node": layout.gpus_per_node,
        "dp_degree": layout.world(),
        "local_batch_size": layout.local_batch,
        "grad_accum": layout.grad_accum,
        "global_batch_size": layout.global_batch(),
        "lr": t.schedule.lr,
        "min_lr_factor": t.schedule.min_lr / t.schedule.lr,
        "warmup_steps": t.schedule.warmup_steps,
        "decay": t.schedule.decay,
        "beta1": t.adamw.beta1,
        "beta2": t.adamw.beta2,
        "eps": t.adamw.eps,
        "weight_decay": t.adamw.weight_decay,
        "decay_all": t.adamw.decay_all,
        "clip": t.clip,
        "mixed_precision_param": mixed,
        "save_every": st.save_every,
        "keep": st.keep,
        "eval_every": st.eval_every,
        "log_every": st.log_every,
    });
    let params = config.parameter_count();
    let job = json!({
        "schema": SCHEMA,
        "version": VERSION,
        "sn9": env!("CARGO_PKG_VERSION"),
        "torchtitan": TORCHTITAN,
        "torch": TORCH,
        "data": data_abs,
        "manifest_sha256": t.manifest_sha256,
        "model": std::path::absolute(&t.model)?,
        "config_sha256": super::command::sha256_file(&config_path)?,
        "init_from_weights": init.is_some(),
        "competition": st.competition,
        "parameters": params,
        "bf16_bytes": params * 2,
        "topology": {
            "nodes": layout.nodes,
            "gpus_per_node": layout.gpus_per_node,
            "world_size": layout.world(),
            "layout": layout.describe(),
        },
        "sequences_per_step": per_step,
        "tokens_per_step": per_step * seq as u64,
        "epochs": (t.schedule.total_steps * per_step) as f64 / train_seqs as f64,
    });

    let tmp = crate::data::shards::begin_output(out, false)?;
    let written = (|| -> Result<()> {
        for (path, text, exec) in FILES {
            write_file(&tmp.join(path), text.as_bytes(), *exec)?;
        }
        let vars = [
            ("{{NAME}}", name.clone()),
            ("{{NODES}}", layout.nodes.to_string()),
            ("{{GPUS_PER_NODE}}", layout.gpus_per_node.to_string()),
            ("{{WORLD}}", layout.world().to_string()),
            ("{{LAYOUT}}", layout.describe()),
            ("{{STEPS}}", t.schedule.total_steps.to_string()),
            ("{{GLOBAL_BATCH}}", layout.global_batch().to_string()),
            ("{{SEQ_LEN}}", seq.to_string()),
            ("{{PARAMS}}", params.to_string()),
            ("{{TORCHTITAN}}", TORCHTITAN.into()),
            ("{{TORCH}}", TORCH.into()),
        ];
        let fill = |mut s: String| {
            for (k, v) in &vars {
                s = s.replace(k, v);
            }
            s
        };
        write_file(
            &tmp.join("launch.slurm"),
            fill(SLURM.into()).as_bytes(),
            true,
        )?;
        write_file(
            &tmp.join("README.md"),
            fill(README.into()).as_bytes(),
            false,
        )?;
        write_file(
            &tmp.join("job.env"),
            format!(
                "# The job's topology (read by launch.sh and dryrun.sh); regenerate the job to change it.\nNNODES={}\nGPUS_PER_NODE={}\n",
                layout.nodes, layout.gpus_per_node
            )
            .as_bytes(),
            false,
        )?;
        write_file(
            &tmp.join("sn9_titan/settings.json"),
            (serde_json::to_string_pretty(&settings)? + "\n").as_bytes(),
            false,
        )?;
        write_file(
            &tmp.join("job.json"),
            (serde_json::to_string_pretty(&job)? + "\n").as_bytes(),
            false,
        )?;
        std::fs::create_dir_all(tmp.join("hf_assets"))?;
        std::fs::copy(&config_path, tmp.join("hf_assets/config.json"))?;
        if let Some(files) = &init {
            let dir = tmp.join("init_hf");
            std::fs::create_dir_all(&dir)?;
            for f in files {
                let name = f.file_name().expect("a weight file");
                // A hard link where the filesystem allows: no copy of a 27 GB model.
                if std::fs::hard_link(f, dir.join(name)).is_err() {
                    std::fs::copy(f, dir.join(name))?;
                }
            }
            std::fs::copy(&config_path, dir.join("config.json"))?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    crate::data::shards::finish_output(&tmp, out)?;
    p.info(format!(
        "wrote the torchtitan {TORCHTITAN} job {}: {params} parameters, {}, {} steps of {} \
         sequences × {seq} tokens ({:.2} epochs); next: `bash {}/launch.sh` on the cluster (see \
         its README.md), then `sn9 train import-job {} --out MODEL`",
        out.display(),
        layout.describe(),
        t.schedule.total_steps,
        per_step,
        job["epochs"].as_f64().unwrap_or(0.0),
        out.display(),
        out.display()
    ));
    if p.format == Format::Json {
        use std::io::Write;
        let mut o = crate::output::stdout();
        writeln!(
            o,
            "{}",
            serde_json::to_string(&json!({"job": out, "job_json": job}))?
        )?;
        o.flush()?;
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8], exec: bool) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, bytes)?;
    #[cfg(unix)]
    if exec {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    let _ = exec;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The job directory `sn9 train --engine torchtitan` wrote.
    pub job: PathBuf,
    /// Output model directory (Hugging Face format, bf16).
    #[arg(long, value_name = "MODEL_DIR")]
    pub out: PathBuf,
    /// Checkpoint step [default: the latest one in Hugging Face format].
    #[arg(long)]
    pub step: Option<u64>,
    /// Largest safetensors shard (e.g. 5GB).
    #[arg(long, default_value = "5GB", value_parser = crate::model::command::parse_size)]
    pub max_shard_size: u64,
    /// Replace --out if it exists.
    #[arg(long)]
    pub force: bool,
}

/// The steps of `dir` (`step-N` subdirectories) that `has` accepts.
fn steps_in(dir: &Path, has: impl Fn(&Path) -> bool) -> Vec<(u64, PathBuf)> {
    let mut v: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let step = n.strip_prefix("step-")?.parse::<u64>().ok()?;
            has(&e.path()).then_some((step, e.path()))
        })
        .collect();
    v.sort();
    v
}

fn safetensors_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    v.sort();
    v
}

/// Reads and checks a job directory's `job.json`.
pub fn read_job(job: &Path) -> Result<Value> {
    let path = job.join("job.json");
    let text = crate::output::read_text(&path, crate::output::Limit::State).map_err(|e| {
        user(format!(
            "cannot read {} ({e}); is {} a job directory of `sn9 train --engine torchtitan`?",
            path.display(),
            job.display()
        ))
    })?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| user(format!("{}: not valid JSON ({e})", path.display())))?;
    let (schema, version) = (v["schema"].as_str(), v["version"].as_u64());
    if schema != Some(SCHEMA) || version != Some(VERSION as u64) {
        return Err(user(format!(
            "{}: a job of schema {} v{} (written by sn9 {}); this sn9 ({}) reads {SCHEMA} \
             v{VERSION}: import it with the sn9 that wrote it, or regenerate the job",
            path.display(),
            schema.unwrap_or("?"),
            version.map_or("?".into(), |n| n.to_string()),
            v["sn9"].as_str().unwrap_or("?"),
            env!("CARGO_PKG_VERSION")
        )));
    }
    Ok(v)
}

/// `sn9 train import-job JOB --out MODEL`.
pub fn import(a: ImportArgs, p: &Printer) -> Result<()> {
    read_job(&a.job)?;
    let config_path = a.job.join("hf_assets/config.json");
    let config = ModelConfig::from_file(&config_path)?;
    let outputs = a.job.join("outputs");
    let has_st = |d: &Path| !safetensors_in(d).is_empty();
    // torchtitan's own last save (Hugging Face format) and export.py's conversions.
    let mut hf: Vec<(u64, PathBuf)> = steps_in(&outputs.join("hf"), has_st);
    hf.extend(steps_in(&outputs.join("checkpoint"), has_st));
    hf.sort();
    let dcp: Vec<u64> = steps_in(&outputs.join("checkpoint"), |d| {
        d.join(".metadata").exists()
    })
    .into_iter()
    .map(|(s, _)| s)
    .collect();
    let convert = |s: u64| {
        format!(
            "step {s} is a torchtitan (DCP) checkpoint: convert it with `PYTHONPATH={} python -m \
             sn9_titan.export --step {s}` in the job's Python environment, then import again",
            a.job.display()
        )
    };
    let (step, dir) = match a.step {
        Some(s) => match hf.iter().rev().find(|(k, _)| *k == s) {
            Some(x) => x.clone(),
            None if dcp.contains(&s) => return Err(user(convert(s))),
            None => {
                return Err(user(format!(
                    "{} has no checkpoint of step {s} (Hugging Face: {:?}; DCP: {dcp:?})",
                    outputs.display(),
                    hf.iter().map(|x| x.0).collect::<Vec<_>>()
                )));
            }
        },
        None => match hf.last() {
            Some(x) => {
                if let Some(&d) = dcp.last()
                    && d > x.0
                {
                    p.warn(format!(
                        "importing step {}; step {d} is newer but in DCP format ({})",
                        x.0,
                        convert(d)
                    ));
                }
                x.clone()
            }
            None if !dcp.is_empty() => return Err(user(convert(*dcp.last().expect("one")))),
            None => {
                return Err(user(format!(
                    "{} holds no checkpoint yet; has the job run (launch.sh)?",
                    outputs.display()
                )));
            }
        },
    };
    // Every tensor of the step's files, by name.
    let files: Vec<SafeFile> = safetensors_in(&dir)
        .iter()
        .map(|f| SafeFile::open(f))
        .collect::<Result<_>>()?;
    let mut by_name: std::collections::BTreeMap<&str, (&SafeFile, &TensorInfo)> =
        Default::default();
    for f in &files {
        for (n, info) in &f.tensors {
            if by_name.insert(n, (f, info)).is_some() {
                return Err(user(format!(
                    "{}: tensor {n} is in two files",
                    dir.display()
                )));
            }
        }
    }
    let expected = config.parameter_shapes();
    for (n, shape) in &expected {
        match by_name.get(n.as_str()) {
            None => {
                return Err(user(format!(
                    "{}: tensor {n} is missing; is this checkpoint from this job's model?",
                    dir.display()
                )));
            }
            Some((_, info)) if &info.shape != shape => {
                return Err(user(format!(
                    "{}: tensor {n} has shape {:?}, the job's config.json says {shape:?}",
                    dir.display(),
                    info.shape
                )));
            }
            _ => {}
        }
    }
    let known: std::collections::BTreeSet<&str> = expected.iter().map(|x| x.0.as_str()).collect();
    // A tied model's head may be stored (transformers writes it when untied copies are saved).
    let allowed =
        |n: &str| known.contains(n) || (config.tie_word_embeddings && n == "lm_head.weight");
    if let Some(extra) = by_name.keys().find(|n| !allowed(n)) {
        return Err(user(format!(
            "{}: tensor {extra} is not a parameter of the job's model",
            dir.display()
        )));
    }
    let tmp = crate::data::shards::begin_output(&a.out, a.force)?;
    let written = (|| -> Result<Vec<String>> {
        let mut names =
            write_weights_streaming(&tmp, &expected, Dtype::BF16, a.max_shard_size, |n, _| {
                let (f, info) = by_name[n];
                to_f32(f.bytes(info), info.dtype)
                    .map_err(|e| user(format!("{}: {n}: {e}", f.path.display())))
            })?;
        crate::output::write_atomic(
            &tmp.join("config.json"),
            (serde_json::to_string_pretty(&config.to_json("bfloat16"))? + "\n").as_bytes(),
        )?;
        names.push("config.json".into());
        // The model must load as sn9 (and the validators) load it.
        crate::model::check_weights(&tmp)?;
        Ok(names)
    })();
    let names = match written {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    crate::data::shards::finish_output(&tmp, &a.out)?;
    let params = config.parameter_count();
    p.info(format!(
        "step {step} of {}: {params} parameters in bf16 at {}; next: `sn9 model info {} \
         --competition ID`, `sn9 eval`, `sn9 hub push`",
        a.job.display(),
        a.out.display(),
        a.out.display()
    ));
    use std::io::Write;
    let mut o = crate::output::stdout();
    let result =
        json!({"model": a.out, "step": step, "from": dir, "parameters": params, "files": names});
    if p.format == Format::Json {
        writeln!(o, "{}", serde_json::to_string(&result)?)?;
    } else {
        writeln!(o, "{}", a.out.display())?;
    }
    o.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_divides_the_global_batch() {
        let l = Layout::new(2, 8, 2, None, Some(1024)).unwrap();
        assert_eq!((l.grad_accum, l.world(), l.global_batch()), (32, 16, 1024));
        assert_eq!(
            Layout::new(1, 1, 4, Some(3), None).unwrap().global_batch(),
            12
        );
        assert!(Layout::new(3, 8, 2, None, Some(1024)).is_err());
        assert!(Layout::new(2, 8, 2, Some(4), Some(1024)).is_err());
        assert!(Layout::new(2, 8, 2, Some(32), Some(1024)).is_ok());
        assert!(Layout::new(0, 8, 2, None, None).is_err());
        assert_eq!(
            Layout::new(4, 8, 1, None, None).unwrap().describe(),
            "HSDP: 4 replicas (nodes) × 8-way sharding (GPUs per node)"
        );
    }
}
