//! Evaluation results as `sn9 score` reads them: JSON Lines, one row per model and task, as
//! `sn9 eval` writes them.
//!
//! ```json
//! {"uid": 7, "hotkey": "5F...", "competition": 2, "block": 5160528, "task": "FINEWEB", "loss": 2.31}
//! ```
//! * `block`: the model's upload (commit) block; `null` or absent when the model has no valid
//!   metadata (the reference's `block = inf`).
//! * `loss`: the task's raw score; `"inf"` or `null` for a failed evaluation. NaN is refused.
//! * Instead of `task` + `loss`, a row may carry the model's combined `score` (no `task`).
//! * Optional: `eval_block` (the block the data was drawn for), `error` (why it failed).
//!   Unknown fields are ignored, so the rows can carry more detail.

use std::collections::BTreeMap;
use std::io::BufRead;

use anyhow::Result;
use serde_json::Value;

use crate::error::user;

/// One parsed row.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub line: usize,
    pub uid: u16,
    pub hotkey: Option<String>,
    pub competition: u16,
    /// Upload block, `None` when unknown (scored as `inf`).
    pub block: Option<u64>,
    /// `None`: the row gives the model's combined score.
    pub task: Option<String>,
    pub loss: f64,
    pub eval_block: Option<u64>,
    pub error: Option<String>,
}

fn uint(
    obj: &serde_json::Map<String, Value>,
    key: &str,
    line: usize,
    max: u64,
) -> Result<Option<u64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s == "inf" => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(v) = n.as_u64() {
                if v > max {
                    return Err(user(format!(
                        "line {line}: `{key}` {v} is out of range (max {max})"
                    )));
                }
                return Ok(Some(v));
            }
            if n.as_i64().is_some_and(|v| v < 0) || n.as_f64().is_some_and(|v| v < 0.0) {
                return Err(user(format!(
                    "line {line}: `{key}` is negative ({n}); blocks and uids are ≥ 0"
                )));
            }
            Err(user(format!(
                "line {line}: `{key}` must be a whole number, got {n}"
            )))
        }
        Some(v) => Err(user(format!(
            "line {line}: `{key}` must be a whole number, got {v}"
        ))),
    }
}

fn parse_line(line_no: usize, text: &str) -> Result<ResultRow> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        user(format!(
            "line {line_no}: not valid JSON ({e}); each line must be one JSON object"
        ))
    })?;
    let Value::Object(obj) = v else {
        return Err(user(format!(
            "line {line_no}: expected a JSON object, got {v}"
        )));
    };
    let uid = uint(&obj, "uid", line_no, u16::MAX as u64)?
        .ok_or_else(|| user(format!("line {line_no}: missing field `uid`")))? as u16;
    let comp_key = if obj.contains_key("competition") {
        "competition"
    } else {
        "competition_id"
    };
    let competition = uint(&obj, comp_key, line_no, u16::MAX as u64)?
        .ok_or_else(|| user(format!("line {line_no}: missing field `competition`")))?
        as u16;
    let block = uint(&obj, "block", line_no, u32::MAX as u64)?;
    let eval_block = uint(&obj, "eval_block", line_no, u32::MAX as u64)?;
    let hotkey = match obj.get("hotkey") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => {
            return Err(user(format!(
                "line {line_no}: `hotkey` must be a string, got {v}"
            )));
        }
    };
    let task = match obj.get("task") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => {
            return Err(user(format!(
                "line {line_no}: `task` must be a string, got {v}"
            )));
        }
    };
    let key = if task.is_some() { "loss" } else { "score" };
    let loss = match obj.get(key) {
        None => {
            return Err(user(format!(
                "line {line_no}: missing field `{key}` (a row has `task` + `loss`, or a combined `score`)"
            )));
        }
        Some(Value::Null) => f64::INFINITY,
        Some(v) => crate::jsonf64::from_value(v).ok_or_else(|| {
            user(format!(
                "line {line_no}: `{key}` must be a number or \"inf\", got {v}"
            ))
        })?,
    };
    if loss.is_nan() {
        return Err(user(format!(
            "line {line_no}: `{key}` is NaN for uid {uid}; write \"inf\" for a failed evaluation"
        )));
    }
    if loss < 0.0 {
        return Err(user(format!(
            "line {line_no}: `{key}` is negative ({loss}) for uid {uid}"
        )));
    }
    let error = obj
        .get("error")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    Ok(ResultRow {
        line: line_no,
        uid,
        hotkey,
        competition,
        block,
        task,
        loss,
        eval_block,
        error,
    })
}

/// Reads every row; blank lines are skipped; errors name the line.
pub fn read_rows(r: impl BufRead, source: &str) -> Result<Vec<ResultRow>> {
    let mut rows = Vec::new();
    for (i, line) in r.lines().enumerate() {
        let line = line.map_err(|e| user(format!("{source}: cannot read line {}: {e}", i + 1)))?;
        if line.trim().is_empty() {
            continue;
        }
        rows.push(parse_line(i + 1, &line).map_err(|e| e.context(format!("in {source}")))?);
    }
    Ok(rows)
}

/// All rows of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRows {
    pub uid: u16,
    pub hotkey: Option<String>,
    pub competition: u16,
    pub block: Option<u64>,
    /// Task name → raw score; empty when `total` is given.
    pub tasks: BTreeMap<String, f64>,
    pub total: Option<f64>,
    pub errors: Vec<String>,
}

/// Groups rows per uid (in order of first appearance), refusing contradictions: a uid with two
/// hotkeys, blocks or competitions, the same task twice, or a combined score mixed with tasks.
pub fn group(rows: &[ResultRow]) -> Result<Vec<ModelRows>> {
    let mut out: Vec<ModelRows> = Vec::new();
    let mut index: BTreeMap<u16, usize> = BTreeMap::new();
    for r in rows {
        let i = match index.get(&r.uid) {
            Some(&i) => i,
            None => {
                index.insert(r.uid, out.len());
                out.push(ModelRows {
                    uid: r.uid,
                    hotkey: r.hotkey.clone(),
                    competition: r.competition,
                    block: r.block,
                    tasks: BTreeMap::new(),
                    total: None,
                    errors: Vec::new(),
                });
                out.len() - 1
            }
        };
        let m = &mut out[i];
        let dup = |what: &str| {
            user(format!(
                "line {}: duplicate uid {} with a different {what} than an earlier row",
                r.line, r.uid
            ))
        };
        if m.hotkey != r.hotkey {
            return Err(dup("hotkey"));
        }
        if m.block != r.block {
            return Err(dup("block"));
        }
        if m.competition != r.competition {
            return Err(dup("competition"));
        }
        match &r.task {
            Some(t) => {
                if m.total.is_some() {
                    return Err(user(format!(
                        "line {}: uid {} has both a combined score and task rows",
                        r.line, r.uid
                    )));
                }
                if m.tasks.insert(t.clone(), r.loss).is_some() {
                    return Err(user(format!(
                        "line {}: duplicate uid {} for task {t}",
                        r.line, r.uid
                    )));
                }
            }
            None => {
                if !m.tasks.is_empty() || m.total.is_some() {
                    return Err(user(format!(
                        "line {}: duplicate uid {} (a second score row)",
                        r.line, r.uid
                    )));
                }
                m.total = Some(r.loss);
            }
        }
        if let Some(e) = &r.error {
            m.errors.push(e.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reports_lines() {
        let text = "{\"uid\":1,\"competition\":2,\"block\":5,\"task\":\"FINEWEB\",\"loss\":\"inf\"}\n\n{\"uid\":2}\n";
        let err = read_rows(text.as_bytes(), "x").unwrap_err();
        assert!(format!("{err:#}").contains("line 3"), "{err:#}");
        let rows = read_rows(&text.as_bytes()[..text.find('\n').unwrap()], "x").unwrap();
        assert_eq!(rows[0].loss, f64::INFINITY);
    }

    #[test]
    fn refuses_bad_values() {
        for bad in [
            "{\"uid\":1,\"competition\":2,\"block\":-5,\"score\":1}",
            "{\"uid\":1,\"competition\":2,\"block\":5,\"score\":\"nan\"}",
            "{\"uid\":1,\"competition\":2,\"block\":5}",
            "[1]",
            "{\"uid\":1,",
        ] {
            assert!(read_rows(bad.as_bytes(), "x").is_err(), "{bad}");
        }
    }

    #[test]
    fn duplicates_are_errors() {
        let text = "{\"uid\":1,\"competition\":2,\"block\":5,\"score\":1}\n{\"uid\":1,\"competition\":2,\"block\":5,\"score\":2}\n";
        let rows = read_rows(text.as_bytes(), "x").unwrap();
        assert!(group(&rows).is_err());
    }
}
