//! The steps of a validator round (see [`super`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::{ChildFailed, Round, lines_of, path, read_json, run_child, sn9};
use crate::competition::Schedule;
use crate::error::user;
use crate::output::write_atomic;
use crate::score::history::should_retry;
use crate::score::state::State;

/// A model chosen for this round.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub uid: u16,
    pub hotkey: String,
    pub competition: u16,
    pub repo: Option<String>,
    pub commit: Option<String>,
    pub secure_hash: Option<String>,
    /// The commitment's block (the model's upload block).
    pub model_block: Option<u64>,
    /// Why it cannot be evaluated (scored as inf), if so.
    pub error: Option<String>,
}

/// sync: the metagraph and every commitment, at the round's block.
pub fn sync(r: &Round) -> Result<()> {
    if !path(r, "metagraph.json").exists() {
        let mut c = sn9(r.a)?;
        c.args(["--json", "chain", "metagraph"]);
        let out = run_child("chain metagraph", c)?;
        write_atomic(&path(r, "metagraph.json"), &out)?;
    }
    if !path(r, "commitments.jsonl").exists() {
        let mut c = sn9(r.a)?;
        c.args(["--json", "chain", "commitments"]);
        let out = run_child("chain commitments", c)?;
        write_atomic(&path(r, "commitments.jsonl"), &out)?;
    }
    let n = read_json(&path(r, "metagraph.json"))?["neurons"]
        .as_array()
        .map_or(0, |a| a.len());
    r.event(
        "synced",
        json!({"neurons": n, "commitments": lines_of(&path(r, "commitments.jsonl")).len()}),
    );
    Ok(())
}

fn load_state(r: &Round) -> Result<Option<State>> {
    State::load(&r.a.state_dir.join("state.json"))
}

/// plan: per competition in force, the retained uids plus every uid with a new or updated
/// commitment (or one the retry rule re-evaluates), past the competition's evaluation delay.
pub fn plan(r: &Round) -> Result<Vec<Entry>> {
    let p = path(r, "plan.json");
    if p.exists() {
        return Ok(serde_json::from_value(read_json(&p)?["entries"].clone())?);
    }
    let mg = read_json(&path(r, "metagraph.json"))?;
    let commitments = lines_of(&path(r, "commitments.jsonl"));
    let by_hotkey: BTreeMap<String, &Value> = commitments
        .iter()
        .filter_map(|c| Some((c["hotkey"].as_str()?.to_string(), c)))
        .collect();
    let schedule = Schedule::load(r.a.schedule.as_deref())?;
    let active = schedule.at_block(r.block);
    let state = load_state(r)?;
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for comp in active {
        let mut set: BTreeMap<u16, Entry> = BTreeMap::new();
        for n in mg["neurons"].as_array().into_iter().flatten() {
            let uid = n["uid"].as_u64().unwrap_or(0) as u16;
            let hotkey = n["hotkey"].as_str().unwrap_or("").to_string();
            let Some(c) = by_hotkey.get(&hotkey) else {
                continue;
            };
            let Some(id) = c.get("model_id") else {
                skipped.push(json!({"uid": uid, "reason": c["invalid"]}));
                continue;
            };
            if id["competition_id"].as_i64() != Some(comp.id as i64) {
                continue;
            }
            let block = c["block"].as_u64().unwrap_or(0);
            if block + comp.constraints.eval_block_delay > r.block {
                skipped.push(json!({"uid": uid, "reason": format!(
                    "committed at block {block}: evaluated from block {}", block + comp.constraints.eval_block_delay)}));
                continue;
            }
            let rec = state.as_ref().and_then(|s| s.models.get(&hotkey));
            let fresh = match rec {
                None => true,
                Some(m) => {
                    m.block != Some(block)
                        || m.competition != comp.id
                        || should_retry(&comp.constraints.epsilon_func, r.block, &m.history)
                }
            };
            let retained = state
                .as_ref()
                .and_then(|s| s.next_eval.get(&comp.id))
                .is_some_and(|v| v.contains(&uid));
            if fresh || retained {
                set.insert(
                    uid,
                    Entry {
                        uid,
                        hotkey: hotkey.clone(),
                        competition: comp.id,
                        repo: Some(format!(
                            "{}/{}",
                            id["namespace"].as_str().unwrap_or(""),
                            id["name"].as_str().unwrap_or("")
                        )),
                        commit: id["commit"].as_str().map(String::from),
                        secure_hash: id["secure_hash"].as_str().map(String::from),
                        model_block: Some(block),
                        error: None,
                    },
                );
            }
        }
        // Retained uids whose metadata went away are scored as failures, as the reference does.
        if let Some(s) = &state {
            for &uid in s.next_eval.get(&comp.id).into_iter().flatten() {
                if set.contains_key(&uid) {
                    continue;
                }
                let hotkey = mg["neurons"]
                    .as_array()
                    .and_then(|a| a.iter().find(|n| n["uid"].as_u64() == Some(uid as u64)))
                    .and_then(|n| n["hotkey"].as_str())
                    .unwrap_or("")
                    .to_string();
                set.insert(
                    uid,
                    Entry {
                        uid,
                        hotkey,
                        competition: comp.id,
                        repo: None,
                        commit: None,
                        secure_hash: None,
                        model_block: None,
                        error: Some("no valid model metadata for this competition".into()),
                    },
                );
            }
        }
        entries.extend(set.into_values());
    }
    write_atomic(
        &p,
        serde_json::to_string_pretty(
            &json!({"block": r.block, "entries": entries, "skipped": skipped}),
        )?
        .as_bytes(),
    )?;
    r.event("planned", json!({"evaluate": entries.iter().map(|e| e.uid).collect::<Vec<_>>(), "skipped": skipped.len()}));
    Ok(entries)
}

/// pull: each planned model at its commit, its secure hash checked against the commitment.
pub fn pull(r: &Round, plan: &[Entry]) -> Result<()> {
    let pulls = path(r, "pulls.jsonl");
    let done: BTreeSet<u64> = lines_of(&pulls)
        .iter()
        .filter_map(|v| v["uid"].as_u64())
        .collect();
    for e in plan
        .iter()
        .filter(|e| e.error.is_none() && !done.contains(&(e.uid as u64)))
    {
        let (repo, commit, hash) = (
            e.repo.as_deref().unwrap_or(""),
            e.commit.as_deref().unwrap_or(""),
            e.secure_hash.as_deref().unwrap_or(""),
        );
        let mut c = sn9(r.a)?;
        c.args([
            "--json",
            "-q",
            "hub",
            "pull",
            repo,
            "--revision",
            commit,
            "--hotkey",
            &e.hotkey,
            "--expect-hash",
            hash,
            "--competition",
            &e.competition.to_string(),
        ])
        .arg("--cache-dir")
        .arg(r.a.state_dir.join("hf"));
        let row = match run_child("hub pull", c) {
            Ok(out) => {
                let v: Value = serde_json::from_slice(&out).context("hub pull: bad output")?;
                r.event(
                    "pulled",
                    json!({"uid": e.uid, "repo": repo, "commit": commit}),
                );
                json!({"uid": e.uid, "dir": v["dir"]})
            }
            Err(err) => {
                let msg = err
                    .downcast_ref::<ChildFailed>()
                    .map_or(format!("{err:#}"), |c| c.message.clone());
                // A user error (exit 1: repo gone, hash mismatch, too large) is the model's
                // fault. Anything else (the hub down) stops the round, to be resumed, unless
                // this model has failed that way in 3 attempts: then it is scored as failed
                // rather than stalling every round.
                let transient = path(r, "pull-failures.jsonl");
                let earlier = lines_of(&transient)
                    .iter()
                    .filter(|v| v["uid"].as_u64() == Some(e.uid as u64))
                    .count();
                if err
                    .downcast_ref::<ChildFailed>()
                    .is_some_and(|c| c.code == Some(1))
                    || earlier >= 2
                {
                    r.event(
                        "pull_failed",
                        json!({"uid": e.uid, "repo": repo, "reason": msg}),
                    );
                    json!({"uid": e.uid, "error": msg})
                } else {
                    let mut f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&transient)?;
                    writeln!(f, "{}", json!({"uid": e.uid, "reason": msg}))?;
                    r.event(
                        "pull_interrupted",
                        json!({"uid": e.uid, "repo": repo, "reason": msg, "attempt": earlier + 1}),
                    );
                    return Err(err);
                }
            }
        };
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&pulls)?;
        writeln!(f, "{row}")?;
        f.sync_data()?;
    }
    Ok(())
}

/// The evaluation batches of competition `comp` in the round: sampled at the sync block, or a
/// link to the `--eval-data` given for it.
fn batches(r: &Round, comp: u16) -> PathBuf {
    path(r, &format!("batches-{comp}"))
}

/// The `--eval-data` directory for `comp`: its `COMP=DIR`, else the bare `DIR`.
fn given_data(r: &Round, comp: u16) -> Result<Option<PathBuf>> {
    let mut default = None;
    for spec in &r.a.eval_data {
        match spec.split_once('=') {
            Some((c, dir)) => {
                let c: u16 = c.trim().parse().map_err(|_| {
                    user(format!(
                        "--eval-data {spec}: `{c}` is not a competition id (give COMP=DIR or DIR)"
                    ))
                })?;
                if c == comp {
                    return Ok(Some(PathBuf::from(dir)));
                }
            }
            None => default = Some(PathBuf::from(spec)),
        }
    }
    Ok(default)
}

/// data: the evaluation batches of each planned competition: the `--eval-data` given for it
/// (linked into the round), or its sample at the sync block, as the reference draws it for the
/// competition's tasks (text competitions need `--tokenizer`).
pub fn data(r: &Round, plan: &[Entry]) -> Result<()> {
    let comps: BTreeSet<u16> = plan
        .iter()
        .map(|e| e.competition)
        .filter(|&c| !batches(r, c).join("manifest.json").exists())
        .collect();
    let mut to_sample = Vec::new();
    for comp in comps {
        let Some(src) = given_data(r, comp)? else {
            to_sample.push(comp);
            continue;
        };
        let src = std::fs::canonicalize(&src)
            .map_err(|e| user(format!("--eval-data {}: {e}", src.display())))?;
        let out = batches(r, comp);
        let _ = std::fs::remove_file(&out);
        #[cfg(unix)]
        std::os::unix::fs::symlink(&src, &out)?;
        #[cfg(not(unix))]
        return Err(user(
            "--eval-data needs a Unix system (it is linked into the round)",
        ));
        r.event("data", json!({"competition": comp, "source": src}));
    }
    if to_sample.is_empty() {
        return Ok(());
    }
    let sync = crate::data::seed::sync_block(r.block);
    let mut c = sn9(r.a)?;
    c.args(["--json", "chain", "block", "--at", &sync.to_string()]);
    let v: Value = serde_json::from_slice(&run_child("chain block", c)?)?;
    let hash = v["hash"]
        .as_str()
        .context("chain block: no hash")?
        .to_string();
    for comp in to_sample {
        let mut c = sn9(r.a)?;
        c.args([
            "-q",
            "data",
            "sample",
            "--block",
            &r.block.to_string(),
            "--block-hash",
            &hash,
            "--competition",
            &comp.to_string(),
            "--force",
            "--allow-empty",
            "--out",
        ])
        .arg(batches(r, comp));
        if let Some(tok) = &r.a.tokenizer {
            c.arg("--tokenizer").arg(tok);
        }
        c.stdout(std::process::Stdio::null());
        run_child("data sample", c)?;
        r.event(
            "data",
            json!({"competition": comp, "sync_block": sync, "block_hash": hash}),
        );
    }
    Ok(())
}

/// eval: the failed pulls as inf rows, then `sn9 eval` per competition (resumable, per-model
/// processes with the time limit).
pub fn eval(r: &Round, plan: &[Entry]) -> Result<()> {
    let results = path(r, "results.jsonl");
    let pulls: BTreeMap<u64, Value> = lines_of(&path(r, "pulls.jsonl"))
        .into_iter()
        .filter_map(|v| Some((v["uid"].as_u64()?, v)))
        .collect();
    let have: BTreeSet<u64> = lines_of(&results)
        .iter()
        .filter_map(|v| v["uid"].as_u64())
        .collect();
    let tasks = |comp: u16| crate::data::speech_batches::task_names(&batches(r, comp));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&results)?;
    for e in plan {
        let reason = e.error.clone().or_else(|| {
            pulls
                .get(&(e.uid as u64))
                .and_then(|p| p["error"].as_str().map(String::from))
        });
        if let Some(reason) = reason
            && !have.contains(&(e.uid as u64))
        {
            let names = tasks(e.competition)?;
            if names.is_empty() {
                // No task has data this round: a combined score, inf for this model.
                writeln!(
                    f,
                    "{}",
                    json!({"uid": e.uid, "hotkey": e.hotkey, "competition": e.competition,
                    "block": e.model_block, "score": "inf", "eval_block": r.block,
                    "model": format!("uid:{}", e.uid), "error": reason})
                )?;
            }
            for t in &names {
                writeln!(
                    f,
                    "{}",
                    json!({"uid": e.uid, "hotkey": e.hotkey, "competition": e.competition,
                    "block": e.model_block, "task": t, "loss": "inf", "eval_block": r.block,
                    "model": format!("uid:{}", e.uid), "error": reason})
                )?;
            }
            r.event("model_failed", json!({"uid": e.uid, "reason": reason}));
        }
    }
    f.sync_data()?;
    drop(f);
    let comps: BTreeSet<u16> = plan.iter().map(|e| e.competition).collect();
    for comp in comps {
        let ok: Vec<&Entry> = plan
            .iter()
            .filter(|e| {
                e.competition == comp
                    && pulls
                        .get(&(e.uid as u64))
                        .is_some_and(|p| p["dir"].is_string())
            })
            .collect();
        if ok.is_empty() {
            continue;
        }
        let mut c = sn9(r.a)?;
        c.args(["-q", "eval"]);
        for e in &ok {
            c.arg(pulls[&(e.uid as u64)]["dir"].as_str().unwrap_or(""));
        }
        let join =
            |f: &dyn Fn(&Entry) -> String| ok.iter().map(|e| f(e)).collect::<Vec<_>>().join(",");
        c.arg("--batches")
            .arg(batches(r, comp))
            .args(["--competition", &comp.to_string()])
            .args(["--uid", &join(&|e| e.uid.to_string())])
            .args(["--hotkey", &join(&|e| e.hotkey.clone())])
            .args([
                "--model-block",
                &join(&|e| e.model_block.unwrap_or(0).to_string()),
            ])
            .arg("--results")
            .arg(&results)
            .args([
                "--time-limit-s",
                &r.a.time_limit_s.to_string(),
                "--device",
                &r.a.device,
            ]);
        if let Some(m) = r.a.memory_limit_mb {
            c.args(["--memory-limit-mb", &m.to_string()]);
        }
        if crate::data::speech_batches::is_speech_dir(&batches(r, comp)) {
            if let Some(v) = &r.a.vocoder {
                c.arg("--vocoder").arg(v);
            }
            if let Some(v) = &r.a.asr {
                c.arg("--asr").arg(v);
            }
        }
        c.stdout(std::process::Stdio::null());
        run_child("eval", c)?;
        r.event(
            "evaluated",
            json!({"competition": comp, "models": ok.len()}),
        );
    }
    Ok(())
}

/// score: `sn9 score` on a copy of the state; the real state.json changes only at the end.
pub fn score(r: &Round, plan: &[Entry]) -> Result<bool> {
    if path(r, "weights.json").exists() && path(r, "score.txt").exists() {
        return Ok(true);
    }
    let results = path(r, "results.jsonl");
    if plan.is_empty() || lines_of(&results).is_empty() {
        r.event("nothing_to_score", json!({}));
        return Ok(false);
    }
    let work = path(r, "state.json");
    let main = r.a.state_dir.join("state.json");
    let _ = std::fs::remove_file(&work);
    if main.exists() {
        std::fs::copy(&main, &work)?;
    }
    let n = read_json(&path(r, "metagraph.json"))?["neurons"]
        .as_array()
        .map_or(0, |a| a.len());
    let mut c = sn9(r.a)?;
    c.arg("score")
        .arg(&results)
        .arg("--state")
        .arg(&work)
        .args([
            "--block",
            &r.block.to_string(),
            "--neurons",
            &n.to_string(),
            "--netuid",
            &r.a.net.netuid.to_string(),
            "--explain",
        ])
        .arg("--out")
        .arg(path(r, "weights.tmp.json"));
    let table = run_child("score", c)?;
    write_atomic(&path(r, "score.txt"), &table)?;
    std::fs::rename(path(r, "weights.tmp.json"), path(r, "weights.json"))?;
    r.event("scored", json!({}));
    Ok(true)
}

/// weights: submitted once per round (skipped when the chain already has this validator's
/// weights from this round).
pub fn set_weights(r: &Round) -> Result<()> {
    let marker = path(r, "weights-set.json");
    if marker.exists() {
        return Ok(());
    }
    let me = crate::wallet::hotkey_address(&r.a.wallet.spec())?;
    let mut c = sn9(r.a)?;
    c.args(["--json", "chain", "metagraph"]);
    let mg: Value = serde_json::from_slice(&run_child("chain metagraph", c)?)?;
    let mine = mg["neurons"]
        .as_array()
        .and_then(|a| a.iter().find(|n| n["hotkey"] == me.as_str()))
        .cloned();
    let Some(mine) = mine else {
        return Err(user(format!(
            "the validator hotkey {me} is not registered on subnet {}",
            r.a.net.netuid
        )));
    };
    if mine["last_update"].as_u64().unwrap_or(0) > r.block {
        r.event(
            "weights_already_set",
            json!({"last_update": mine["last_update"]}),
        );
        write_atomic(
            &marker,
            json!({"block": mine["last_update"], "resumed": true})
                .to_string()
                .as_bytes(),
        )?;
        return Ok(());
    }
    let mut c = sn9(r.a)?;
    c.args(["--json", "chain", "weights", "set"])
        .arg(path(r, "weights.json"));
    wallet_args(&mut c, r);
    match run_child("chain weights set", c) {
        Ok(out) => {
            let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
            r.event("weights_set", json!({"at": v["block"]}));
            write_atomic(&marker, v.to_string().as_bytes())?;
            Ok(())
        }
        Err(e)
            if e.downcast_ref::<ChildFailed>()
                .is_some_and(|c| c.message.contains("SettingWeightsTooFast")) =>
        {
            let msg = e
                .downcast_ref::<ChildFailed>()
                .map(|c| c.message.clone())
                .unwrap_or_default();
            r.event("weights_rate_limited", json!({"reason": msg}));
            write_atomic(&marker, json!({"rate_limited": msg}).to_string().as_bytes())?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn wallet_args(c: &mut std::process::Command, r: &Round) {
    let w = &r.a.wallet;
    if let Some(p) = &w.wallet_path {
        c.arg("--wallet-path").arg(p);
    }
    c.args([
        "--wallet-name",
        &w.wallet_name,
        "--wallet-hotkey",
        &w.wallet_hotkey,
    ]);
    if let Some(p) = &w.password_file {
        c.arg("--password-file").arg(p);
    }
}

/// finish: the new state replaces state.json (not on --dry-run), the round is marked done, old
/// rounds and unneeded models are pruned.
pub fn finish(r: &Round, plan: &[Entry], scored: bool) -> Result<()> {
    if scored && !r.a.dry_run {
        let work = path(r, "state.json");
        let main = r.a.state_dir.join("state.json");
        let tmp = r.a.state_dir.join(".state.json.tmp");
        std::fs::copy(&work, &tmp)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &main)?;
    }
    let weights = read_json(&path(r, "weights.json")).ok();
    write_atomic(&path(r, "done.json"), json!({"block": r.block, "dry_run": r.a.dry_run, "evaluated": plan.iter().map(|e| e.uid).collect::<Vec<_>>(),
        "weights": weights, "weights_set": read_json(&path(r, "weights-set.json")).ok()}).to_string().as_bytes())?;
    // Keep the models this round planned (the next round retains from them); drop the rest.
    let keep: BTreeSet<String> = plan
        .iter()
        .filter_map(|e| e.repo.as_ref())
        .map(|r| format!("models--{}", r.replace('/', "--")))
        .collect();
    let cache = r.a.state_dir.join("hf");
    let mut pruned = 0;
    for e in std::fs::read_dir(&cache).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("models--") && !keep.contains(&name) {
            let _ = std::fs::remove_dir_all(e.path());
            pruned += 1;
        }
    }
    let mut rounds: Vec<u64> = std::fs::read_dir(r.a.state_dir.join("rounds"))?
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
        .collect();
    rounds.sort();
    if rounds.len() > r.a.keep_rounds.max(1) {
        for b in &rounds[..rounds.len() - r.a.keep_rounds.max(1)] {
            if *b != r.block {
                let _ = std::fs::remove_dir_all(r.a.state_dir.join("rounds").join(b.to_string()));
            }
        }
    }
    r.event("finished", json!({"pruned_models": pruned}));
    Ok(())
}
