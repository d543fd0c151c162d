//! `sn9 data mix MIX.toml`: a declarative mixture of local corpora (`.jsonl`, `.parquet`, `.txt`,
//! e.g. what `data fetch` wrote), drawn deterministically into one JSON Lines or parquet file of
//! `{text, source}` rows.
//!
//! ```toml
//! seed = 9
//! documents = 100000            # the mix's size in documents, shared by the weighted sources
//!
//! [[source]]
//! name = "fineweb"
//! files = ["fineweb/*.jsonl"]   # relative to the mix file; globs allowed
//! weight = 0.30                 # or: documents = N, or tokens = N (needs --tokenizer)
//! # text_field = "text"; txt_split = "paragraphs"; optional = false
//! ```
//!
//! Each source gives exactly one of `weight` (its share of `documents`, by largest remainder),
//! `documents` (exactly that many) or `tokens` (documents until their tokens, EOS included as
//! `data pack` counts them, reach the budget). The draw is CPython's `random.Random(seed)`: per
//! source in file order `shuffle(list(range(available)))` and the first documents taken, then one
//! `shuffle` of all taken rows: the same mix can be redrawn in Python. Empty, non-UTF-8 and
//! text-less documents are never drawn; they are counted and reported. A source short of its
//! quota is an error (never a silently smaller mix); an `optional` source with no files is
//! skipped with a warning and the weights renormalised over the others, as the validator skips
//! Stack v2 without credentials. polars holds the table: per-source frames, the draws as takes,
//! the concatenation and the parquet output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::docs::{Doc, TxtSplit, read_docs};
use super::pyrandom::PyRandom;
use super::tokenizer::Encode;
use crate::error::user;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixSpec {
    pub seed: u64,
    /// The mix's size in documents, shared by the weighted sources.
    pub documents: Option<u64>,
    #[serde(rename = "source")]
    pub sources: Vec<SourceSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    pub name: String,
    /// Files or globs, relative to the mix file.
    pub files: Vec<String>,
    #[serde(default = "default_text_field")]
    pub text_field: String,
    #[serde(default)]
    pub txt_split: Option<String>,
    pub weight: Option<f64>,
    pub documents: Option<u64>,
    pub tokens: Option<u64>,
    /// Skip (with a warning) when no file matches, renormalising the weights.
    #[serde(default)]
    pub optional: bool,
}

fn default_text_field() -> String {
    "text".into()
}

/// What a source contributed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceReport {
    pub name: String,
    pub files: usize,
    /// Usable documents in its files.
    pub available: u64,
    pub selected: u64,
    /// Tokens of the selected documents (with EOS), when a tokenizer was given.
    pub tokens: Option<u64>,
    pub empty_documents: u64,
    pub non_utf8_documents: u64,
    pub missing_text: u64,
    /// Why it was skipped (an optional source without files).
    pub skipped: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MixReport {
    pub seed: u64,
    pub documents: u64,
    pub sources: Vec<SourceReport>,
}

impl MixSpec {
    pub fn load(path: &Path) -> Result<MixSpec> {
        let text = crate::output::read_text(path, crate::output::Limit::State)?;
        let spec: MixSpec = toml::from_str(&text)
            .map_err(|e| user(format!("{}: not a mix file: {e}", path.display())))?;
        if spec.sources.is_empty() {
            return Err(user(format!("{}: no [[source]]", path.display())));
        }
        let mut names = std::collections::BTreeSet::new();
        for s in &spec.sources {
            if !names.insert(&s.name) {
                return Err(user(format!(
                    "{}: source `{}` twice",
                    path.display(),
                    s.name
                )));
            }
            let given = [
                s.weight.is_some(),
                s.documents.is_some(),
                s.tokens.is_some(),
            ];
            if given.iter().filter(|&&g| g).count() != 1 {
                return Err(user(format!(
                    "{}: source `{}` needs exactly one of weight, documents, tokens",
                    path.display(),
                    s.name
                )));
            }
            if let Some(w) = s.weight
                && !(w.is_finite() && w >= 0.0)
            {
                return Err(user(format!(
                    "{}: source `{}` has weight {w}; weights are finite and >= 0",
                    path.display(),
                    s.name
                )));
            }
        }
        if spec.sources.iter().any(|s| s.weight.is_some()) && spec.documents.is_none() {
            return Err(user(format!(
                "{}: weighted sources share `documents = N` (the mix's size); set it",
                path.display()
            )));
        }
        Ok(spec)
    }
}

/// The files of `patterns` (relative to `base`), sorted, each pattern matching at least one.
fn resolve(base: &Path, patterns: &[String]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in patterns {
        let full = base.join(p);
        let s = full.to_string_lossy();
        let mut hits: Vec<PathBuf> = glob::glob(&s)
            .map_err(|e| user(format!("`{p}`: not a file pattern ({e})")))?
            .filter_map(|r| r.ok())
            .filter(|p| p.is_file())
            .collect();
        hits.sort();
        if hits.is_empty() {
            return Err(user(format!(
                "`{p}` matches no file (looked in {})",
                base.display()
            )));
        }
        out.extend(hits);
    }
    Ok(out)
}

/// Per-source document counts from weights: `total` shared in proportion, largest remainder
/// (ties to the earlier source).
pub fn shares(weights: &[f64], total: u64) -> Result<Vec<u64>> {
    let sum: f64 = weights.iter().sum();
    if sum.is_nan() || sum <= 0.0 {
        return Err(user("the weights sum to 0: nothing to mix"));
    }
    let exact: Vec<f64> = weights.iter().map(|w| w / sum * total as f64).collect();
    let mut n: Vec<u64> = exact.iter().map(|x| x.floor() as u64).collect();
    let mut left = total - n.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .partial_cmp(&(exact[a] - exact[a].floor()))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    for i in order {
        if left == 0 {
            break;
        }
        if weights[i] > 0.0 {
            n[i] += 1;
            left -= 1;
        }
    }
    Ok(n)
}

fn split_of(s: &SourceSpec) -> Result<TxtSplit> {
    Ok(match s.txt_split.as_deref() {
        None | Some("paragraphs") => TxtSplit::Paragraphs,
        Some("lines") => TxtSplit::Lines,
        Some("file") => TxtSplit::File,
        Some(o) => {
            return Err(user(format!(
                "source `{}`: txt_split `{o}`: expected file, paragraphs or lines",
                s.name
            )));
        }
    })
}

/// Draws the mix: the rows (`text`, `source`) in their final order, and the report.
pub fn draw(
    spec: &MixSpec,
    base: &Path,
    tok: Option<&dyn Encode>,
    mut progress: impl FnMut(&str),
) -> Result<(DataFrame, MixReport)> {
    // Read every source (the optional ones may be absent).
    let mut frames: Vec<Option<DataFrame>> = Vec::new();
    let mut reports = Vec::new();
    for s in &spec.sources {
        let mut r = SourceReport {
            name: s.name.clone(),
            ..Default::default()
        };
        let files = match resolve(base, &s.files) {
            Ok(f) => f,
            Err(e) if s.optional => {
                r.skipped = Some(format!("{e:#}"));
                reports.push(r);
                frames.push(None);
                continue;
            }
            Err(e) => return Err(e.context(format!("source `{}`", s.name))),
        };
        progress(&s.name);
        let mut texts: Vec<String> = Vec::new();
        let split = split_of(s)?;
        for f in &files {
            read_docs(f, &s.text_field, split, |docs, _| {
                for d in docs {
                    match d {
                        Doc::Text(t) if t.trim().is_empty() => r.empty_documents += 1,
                        Doc::Text(t) => texts.push(t),
                        Doc::NonUtf8 => r.non_utf8_documents += 1,
                        Doc::MissingText => r.missing_text += 1,
                    }
                }
                Ok(())
            })?;
        }
        r.files = files.len();
        r.available = texts.len() as u64;
        let df = DataFrame::new_infer_height(vec![Column::new("text".into(), texts)])
            .map_err(|e| anyhow::anyhow!("source `{}`: {e}", s.name))?;
        frames.push(Some(df));
        reports.push(r);
    }
    // Quotas.
    let present = |i: usize| frames[i].is_some();
    let weighted: Vec<usize> = (0..spec.sources.len())
        .filter(|&i| present(i) && spec.sources[i].weight.is_some())
        .collect();
    let mut quota: BTreeMap<usize, u64> = BTreeMap::new();
    if spec.sources.iter().any(|s| s.weight.is_some()) {
        let w: Vec<f64> = weighted
            .iter()
            .map(|&i| spec.sources[i].weight.unwrap())
            .collect();
        let n = shares(&w, spec.documents.unwrap_or(0))?;
        quota.extend(weighted.iter().copied().zip(n));
    }
    for (i, s) in spec.sources.iter().enumerate() {
        if let (true, Some(n)) = (present(i), s.documents) {
            quota.insert(i, n);
        }
    }
    // The draw: per source a shuffled index list, then one shuffle of all taken rows.
    let mut rng = PyRandom::from_u64(spec.seed);
    let mut taken: Vec<DataFrame> = Vec::new();
    for (i, s) in spec.sources.iter().enumerate() {
        let Some(df) = &frames[i] else { continue };
        let n = df.height();
        let mut idx: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut idx);
        let k = match (quota.get(&i), s.tokens) {
            (Some(&q), _) => {
                if q as usize > n {
                    return Err(user(format!(
                        "source `{}` has {n} usable documents; the mix asks for {q} (lower its \
                         share, or add files)",
                        s.name
                    )));
                }
                q as usize
            }
            (None, Some(budget)) => {
                let tok = tok.ok_or_else(|| {
                    user(format!(
                        "source `{}` has a token budget: give --tokenizer",
                        s.name
                    ))
                })?;
                let texts = df.column("text")?.str()?;
                let (mut got, mut k) = (0u64, 0usize);
                while got < budget {
                    let Some(&j) = idx.get(k) else {
                        return Err(user(format!(
                            "source `{}` has {got} tokens in all; the mix asks for {budget}",
                            s.name
                        )));
                    };
                    got += tok.encode(texts.get(j).unwrap_or(""))?.len() as u64 + 1;
                    k += 1;
                }
                k
            }
            (None, None) => 0, // a weighted source whose share is 0
        };
        let take = IdxCa::from_vec(
            "idx".into(),
            idx[..k].iter().map(|&j| j as IdxSize).collect(),
        );
        let mut t = df.take(&take)?;
        let src = Column::new("source".into(), vec![s.name.as_str(); k]);
        t.with_column(src)?;
        reports[i].selected = k as u64;
        if let Some(tok) = tok {
            let texts = t.column("text")?.str()?;
            let mut sum = 0u64;
            for x in texts.iter() {
                sum += tok.encode(x.unwrap_or(""))?.len() as u64 + 1;
            }
            reports[i].tokens = Some(sum);
        }
        taken.push(t);
    }
    let mut all = match taken.split_first() {
        Some((first, rest)) => {
            let mut a = first.clone();
            for t in rest {
                a.vstack_mut(t)?;
            }
            a
        }
        None => DataFrame::new_infer_height(vec![
            Column::new("text".into(), Vec::<String>::new()),
            Column::new("source".into(), Vec::<String>::new()),
        ])?,
    };
    let mut order: Vec<IdxSize> = (0..all.height() as IdxSize).collect();
    rng.shuffle(&mut order);
    all = all.take(&IdxCa::from_vec("idx".into(), order))?;
    let report = MixReport {
        seed: spec.seed,
        documents: all.height() as u64,
        sources: reports,
    };
    Ok((all, report))
}

/// Writes the mix to `out` (`.parquet`, else JSON Lines), under a temporary name renamed when
/// complete.
pub fn write(df: &mut DataFrame, out: &Path) -> Result<()> {
    if super::docs::is_parquet(out) {
        return super::docs::write_parquet(df, out);
    }
    super::docs::write_atomically(out, |w| {
        use std::io::Write;
        let text = df.column("text")?.str()?;
        let source = df.column("source")?.str()?;
        for (t, s) in text.iter().zip(source.iter()) {
            serde_json::to_writer(
                &mut *w,
                &serde_json::json!({"text": t.unwrap_or(""), "source": s.unwrap_or("")}),
            )?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_by_largest_remainder() {
        assert_eq!(
            shares(&[0.30, 0.25, 0.35, 0.05, 0.03, 0.02], 100).unwrap(),
            vec![30, 25, 35, 5, 3, 2]
        );
        assert_eq!(shares(&[1.0, 1.0, 1.0], 10).unwrap(), vec![4, 3, 3]);
        assert_eq!(shares(&[1.0, 0.0], 5).unwrap(), vec![5, 0]);
        assert!(shares(&[0.0, 0.0], 5).is_err());
        assert!(shares(&[], 5).is_err());
    }
}
