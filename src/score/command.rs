//! `sn9 score`: evaluation results + previous state → new state + weights.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::input::{group, read_rows};
use super::round::{RoundOutput, run_round};
use super::state::State;
use crate::competition::{Schedule, constants};
use crate::error::user;
use crate::output::{Format, Printer, Table, stdout};
use crate::settings::ConfigFile;

/// Command-line arguments of `sn9 score`.
#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    /// Evaluation results (JSON Lines, one row per model and task, as `sn9 eval` writes them);
    /// `-` reads stdin.
    #[arg(value_name = "RESULTS")]
    pub results: PathBuf,
    /// Current block: epsilon decay and the competition schedule are taken at this block
    /// [default: the rows' `eval_block`].
    #[arg(long, env = "SN9_BLOCK")]
    pub block: Option<u64>,
    /// Scoring state carried between rounds (EMA weights, history); read if it exists, then
    /// replaced atomically [default: none, a fresh state that is not saved].
    #[arg(long, env = "SN9_STATE", value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Do not write the state back.
    #[arg(long)]
    pub no_save: bool,
    /// Number of neurons in the metagraph (length of the weight vector, at most 65536: uids are
    /// u16) [default: the state's, or the largest uid + 1].
    #[arg(long, env = "SN9_NEURONS")]
    pub neurons: Option<usize>,
    /// Competition schedule (JSON, as `sn9 competitions --all --json` prints) [default: built-in
    /// Subnet 9 schedule].
    #[arg(long, env = "SN9_SCHEDULE", value_name = "FILE")]
    pub schedule: Option<PathBuf>,
    /// Subnet the weights are for (recorded in the weights document) [default: 9].
    #[arg(long, env = "SN9_NETUID")]
    pub netuid: Option<u16>,
    /// Also write the weights document (JSON) to this file (the input of
    /// `sn9 chain weights set`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Explain each uid's weight: competitive or beaten by whom, epsilon, wins, win rate.
    #[arg(long)]
    pub explain: bool,
    /// Write the weights as CSV (uid, weight, u16) instead of a table.
    #[arg(long, conflicts_with = "explain")]
    pub csv: bool,
}

/// Resolved settings of `sn9 score`.
#[derive(Debug)]
pub struct ScoreSettings {
    pub results: PathBuf,
    pub block: Option<u64>,
    pub state: Option<PathBuf>,
    pub save: bool,
    pub neurons: Option<usize>,
    pub schedule: Option<PathBuf>,
    pub netuid: u16,
    pub out: Option<PathBuf>,
    pub explain: bool,
    pub csv: bool,
}

impl ScoreSettings {
    pub fn resolve(a: ScoreArgs, cfg: &ConfigFile) -> Result<Self> {
        Ok(ScoreSettings {
            block: cfg.resolve_opt(a.block, "score", "block")?,
            state: cfg.resolve_path(a.state, "score", "state")?,
            save: !a.no_save,
            neurons: match cfg.resolve_opt(a.neurons, "score", "neurons")? {
                Some(n) if n == 0 || n > 65536 => {
                    return Err(crate::error::user(format!(
                        "--neurons {n}: a metagraph holds 1 to 65536 neurons (uids are u16)"
                    )));
                }
                n => n,
            },
            schedule: cfg.resolve_path(a.schedule, "score", "schedule")?,
            netuid: cfg.resolve(a.netuid, "score", "netuid", constants::SUBNET_UID)?,
            out: a.out,
            explain: a.explain,
            csv: a.csv,
            results: a.results,
        })
    }
}

/// The weights document (`--json` on stdout, `--out FILE`).
pub fn weights_document(netuid: u16, out: &RoundOutput, explain: bool) -> serde_json::Value {
    let mut doc = json!({
        "schema": "sn9.weights",
        "version": 1,
        "netuid": netuid,
        "block": out.block,
        "version_key": constants::SPEC_VERSION,
        "num_neurons": out.num_neurons,
        "uids": (0..out.num_neurons).collect::<Vec<_>>(),
        "weights": out.weights.iter().map(|&w| w as f64).collect::<Vec<_>>(),
        "u16_uids": out.u16_uids,
        "u16_weights": out.u16_weights,
        "competitions": out.competitions,
    });
    if explain {
        doc["explain"] = serde_json::to_value(&out.explain).unwrap_or_default();
    }
    doc
}

fn fmt_block(b: Option<u64>) -> String {
    b.map_or("inf".into(), |b| b.to_string())
}

/// A float32 weight for people: fixed point when readable, scientific when tiny.
fn fmt_weight(w: f32) -> String {
    if w == 0.0 {
        "0".into()
    } else if w.abs() >= 1e-4 {
        format!("{w:.6}")
    } else {
        format!("{w:.3e}")
    }
}

fn fmt_score(s: f64) -> String {
    if s.is_finite() {
        format!("{s:.6}")
    } else {
        "inf".into()
    }
}

pub fn run(s: ScoreSettings, p: &Printer) -> Result<()> {
    let source = if s.results.as_os_str() == "-" {
        "stdin".to_string()
    } else {
        s.results.display().to_string()
    };
    let rows = read_rows(
        crate::output::read_bytes(&s.results, crate::output::Limit::Table)?.as_slice(),
        &source,
    )?;
    if rows.is_empty() {
        return Err(user(format!(
            "{source} holds no evaluation results; nothing to score"
        )));
    }
    let block = match s.block {
        Some(b) => b,
        None => {
            let blocks: std::collections::BTreeSet<u64> =
                rows.iter().filter_map(|r| r.eval_block).collect();
            match (blocks.len(), blocks.first()) {
                (1, Some(&b)) if rows.iter().all(|r| r.eval_block.is_some()) => b,
                (0, _) => {
                    return Err(user(
                        "no current block: pass --block N (or SN9_BLOCK), or give rows an `eval_block`",
                    ));
                }
                _ => {
                    return Err(user(
                        "the rows carry different `eval_block`s; pass --block N",
                    ));
                }
            }
        }
    };
    let schedule = Schedule::load(s.schedule.as_deref())?;
    let models = group(&rows)?;
    let max_uid = models.iter().map(|m| m.uid as usize).max().unwrap_or(0);

    let loaded = match &s.state {
        Some(path) => State::load(path)?,
        None => None,
    };
    let fresh = loaded.is_none();
    let mut state = loaded.unwrap_or_else(|| State::new(s.neurons.unwrap_or(max_uid + 1)));
    if let Some(prev) = state.block
        && block < prev
    {
        return Err(user(format!(
            "block {block} is before the state's last round (block {prev}); rounds must move forward"
        )));
    }
    let neurons = s
        .neurons
        .unwrap_or(state.tracker.num_neurons.max(max_uid + 1));
    if max_uid >= neurons {
        return Err(user(format!(
            "uid {max_uid} is outside a metagraph of {neurons} neurons (raise --neurons)"
        )));
    }
    let out = run_round(&mut state, &schedule, &models, block, neurons)?;

    if let Some(path) = &s.state {
        if s.save {
            state.save(path)?;
            p.debug(format!(
                "state {} {}",
                if fresh { "created" } else { "updated" },
                path.display()
            ));
        }
    } else {
        p.debug("no --state: the EMA starts fresh and is not saved");
    }
    let doc = weights_document(s.netuid, &out, s.explain);
    if let Some(path) = &s.out {
        let mut text = serde_json::to_string_pretty(&doc)?;
        text.push('\n');
        crate::output::write_atomic(path, text.as_bytes())?;
    }

    let mut w = stdout();
    match (p.format, s.csv) {
        (Format::Json, _) => {
            serde_json::to_writer(&mut w, &doc)?;
            writeln!(w)?;
        }
        (_, true) => weights_table(&out).write_csv(&mut w)?,
        _ => {
            weights_table(&out).write(&mut w)?;
            if s.explain {
                writeln!(w)?;
                explain_table(&out).write(&mut w)?;
            }
        }
    }
    w.flush()?;
    for c in &out.competitions {
        p.info(format!(
            "competition {} ({}): {} evaluated, {} competitive, top uid {}",
            c.id,
            c.name,
            c.evaluated.len(),
            c.competitive.len(),
            c.top_uid.map_or("-".into(), |u| u.to_string())
        ));
    }
    Ok(())
}

fn weights_table(out: &RoundOutput) -> Table {
    let mut t = Table::new(["uid", "weight", "u16"]);
    for (uid, &w) in out.weights.iter().enumerate() {
        if w == 0.0 {
            continue;
        }
        let u = out
            .u16_uids
            .iter()
            .position(|&u| u as usize == uid)
            .map_or(0, |i| out.u16_weights[i]);
        t.row([uid.to_string(), fmt_weight(w), u.to_string()]);
    }
    t
}

fn explain_table(out: &RoundOutput) -> Table {
    let mut t = Table::new([
        "uid",
        "comp",
        "block",
        "score",
        "epsilon",
        "competitive",
        "wins",
        "win_rate",
        "step_w",
        "comp_w",
        "why",
    ]);
    for e in &out.explain {
        let why = match (&e.beaten_by, e.lost_to.is_empty()) {
            (Some(b), _) => format!(
                "not competitive: uid {} (block {}) has decayed score {} <= {}",
                b.uid,
                fmt_block(b.block),
                fmt_score(b.decayed_score),
                fmt_score(e.score)
            ),
            (None, true) => "beat every competitive model".to_string(),
            (None, false) => format!(
                "lost to {}",
                e.lost_to
                    .iter()
                    .map(|u| u.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        t.row([
            e.uid.to_string(),
            e.competition.to_string(),
            fmt_block(e.block),
            fmt_score(e.score),
            format!("{:.6}", e.epsilon),
            e.competitive.to_string(),
            format!("{}/{}", e.wins, e.matches),
            format!("{:.4}", e.win_rate),
            fmt_weight(e.step_weight),
            fmt_weight(e.competition_weight),
            why,
        ]);
    }
    t
}
