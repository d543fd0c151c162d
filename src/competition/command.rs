//! `sn9 competitions`: the schedule, or the competitions in force at a block.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use super::{Competition, Schedule};
use crate::output::{Format, Printer, Table, stdout};
use crate::settings::ConfigFile;

#[derive(Debug, clap::Args)]
pub struct CompetitionsArgs {
    /// Show the competitions in force at this block [default: the whole schedule].
    #[arg(long, env = "SN9_BLOCK")]
    pub block: Option<u64>,
    /// Competition schedule (JSON) [default: built-in Subnet 9 schedule].
    #[arg(long, env = "SN9_SCHEDULE", value_name = "FILE")]
    pub schedule: Option<PathBuf>,
    /// With --json, print the whole schedule (every entry) even when --block is given.
    #[arg(long)]
    pub all: bool,
}

fn gib(bytes: u64) -> String {
    let g = bytes as f64 / (1u64 << 30) as f64;
    if g.fract() == 0.0 {
        format!("{g} GiB")
    } else {
        format!("{g:.2} GiB")
    }
}

fn params(c: &Competition) -> String {
    let f = |n: u64| {
        if n >= 1_000_000_000 {
            format!("{}B", n as f64 / 1e9)
        } else {
            format!("{}M", n as f64 / 1e6)
        }
    };
    format!(
        "{}..{}",
        f(c.constraints.min_model_parameter_size),
        f(c.constraints.max_model_parameter_size)
    )
}

pub fn run(a: CompetitionsArgs, cfg: &ConfigFile, p: &Printer) -> Result<()> {
    let block = cfg.resolve_opt(a.block, "competitions", "block")?;
    let path = cfg.resolve_path(a.schedule, "competitions", "schedule")?;
    let schedule = Schedule::load(path.as_deref())?;
    let entries: Vec<(u64, &[Competition])> = match block {
        Some(b) if !a.all => {
            let from = schedule
                .entries
                .iter()
                .rev()
                .find(|e| b >= e.from_block)
                .map_or(0, |e| e.from_block);
            vec![(from, schedule.at_block(b))]
        }
        _ => schedule
            .entries
            .iter()
            .map(|e| (e.from_block, e.competitions.as_slice()))
            .collect(),
    };
    let mut w = stdout();
    if p.format == Format::Json {
        if block.is_some() && !a.all {
            serde_json::to_writer(&mut w, &entries[0].1)?;
        } else {
            serde_json::to_writer(&mut w, &schedule)?;
        }
        writeln!(w)?;
    } else {
        let mut t = Table::new([
            "from_block",
            "id",
            "name",
            "reward",
            "params",
            "seq_len",
            "tokenizer",
            "max_bytes",
            "epsilon",
            "tasks",
        ]);
        for (from, comps) in &entries {
            for c in comps.iter() {
                let tasks: Vec<String> = c
                    .eval_tasks
                    .iter()
                    .map(|t| format!("{}:{}", t.name, t.weight))
                    .collect();
                t.row([
                    from.to_string(),
                    c.id.to_string(),
                    c.name.clone(),
                    format!("{}", c.reward_percentage),
                    params(c),
                    c.constraints
                        .sequence_length
                        .map_or("-".into(), |s| s.to_string()),
                    c.constraints
                        .tokenizer
                        .clone()
                        .unwrap_or_else(|| "any".into()),
                    gib(c.constraints.max_bytes),
                    c.constraints.epsilon_func.to_string(),
                    tasks.join(" "),
                ]);
            }
        }
        t.write(&mut w)?;
    }
    w.flush()?;
    Ok(())
}
