//! Evaluation: the validator's text loss (`compute_text_loss`) with its generation sanity gate,
//! generic over a small language-model trait so the golden bigram model and the burn model core
//! run the same code.

pub mod command;
pub mod tts;

use anyhow::Result;

/// What the evaluation needs from a model.
pub trait LanguageModel {
    /// Mean next-token cross-entropy of each sequence over its `len − 1` labels; `mask[i][j]`
    /// false drops label `j + 1` of sequence `i` (the unpacked mode).
    fn mean_losses(&self, seqs: &[Vec<u32>], mask: Option<&[Vec<bool>]>) -> Result<Vec<f64>>;
    /// Greedy continuation of `prompt` by `n` tokens (new tokens only).
    fn generate(&self, prompt: &[u32], n: usize) -> Result<Vec<u32>>;
}

/// Tokens of each prompt of the sanity gate.
pub const PROMPT_TOKENS: usize = 100;
/// New tokens generated per prompt.
pub const GEN_TOKENS: usize = 20;
/// Equal positions between the two generations at or above which the model fails.
pub const MAX_EQUAL_POSITIONS: usize = 10;
/// A generation whose most frequent token occurs more often than this is degenerate.
pub const MAX_REPEAT: usize = 10;

/// Outcome of the sanity gate.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    Pass,
    Fail(String),
}

fn most_frequent_count(v: &[u32]) -> usize {
    let mut counts = std::collections::HashMap::new();
    for t in v {
        *counts.entry(t).or_insert(0usize) += 1;
    }
    counts.values().copied().max().unwrap_or(0)
}

/// The generation sanity check: prompts are the first 100 tokens of batches 0 and 1; each is
/// continued by 20 greedy tokens; the model fails when the two continuations agree in 10 or more
/// positions, or both repeat one token more than 10 times.
pub fn sanity_gate(model: &dyn LanguageModel, seqs: &[Vec<u32>]) -> Result<Gate> {
    if seqs.len() < 2 {
        // The reference indexes batches[1] unguarded; the model then scores inf.
        return Ok(Gate::Fail(format!(
            "{} batch(es): the sanity check needs two prompts",
            seqs.len()
        )));
    }
    let p0 = &seqs[0][..seqs[0].len().min(PROMPT_TOKENS)];
    let p1 = &seqs[1][..seqs[1].len().min(PROMPT_TOKENS)];
    let g0 = model.generate(p0, GEN_TOKENS)?;
    let g1 = model.generate(p1, GEN_TOKENS)?;
    let equal = g0.iter().zip(&g1).filter(|(a, b)| a == b).count();
    if equal >= MAX_EQUAL_POSITIONS {
        return Ok(Gate::Fail(format!(
            "the two sanity generations agree in {equal} of {GEN_TOKENS} positions"
        )));
    }
    let (r0, r1) = (most_frequent_count(&g0), most_frequent_count(&g1));
    if r0 > MAX_REPEAT && r1 > MAX_REPEAT {
        return Ok(Gate::Fail(format!(
            "both sanity generations repeat one token ({r0} and {r1} times)"
        )));
    }
    Ok(Gate::Pass)
}

/// `compute_text_loss` for one task: the gate, then the mean loss of each batch (batch size 1).
/// `unpacked_eos` enables the unpacked mode's label masking (a label following an EOS label
/// is ignored). Returns per-batch losses, or the failure.
pub fn text_loss(
    model: &dyn LanguageModel,
    seqs: &[Vec<u32>],
    unpacked_eos: Option<u32>,
) -> Result<Result<Vec<f64>, String>> {
    if let Gate::Fail(why) = sanity_gate(model, seqs)? {
        return Ok(Err(why));
    }
    let mask: Option<Vec<Vec<bool>>> = unpacked_eos.map(|eos| {
        seqs.iter()
            .map(|s| {
                // label j+1 is dropped when the previous label (token j) is EOS
                (0..s.len().saturating_sub(1))
                    .map(|j| !(j >= 1 && s[j] == eos))
                    .collect()
            })
            .collect()
    });
    Ok(Ok(model.mean_losses(seqs, mask.as_deref())?))
}

/// The task's raw score: the arithmetic mean of the batch losses.
pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::INFINITY
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Python's `str.isspace()`: Unicode White_Space plus the separators U+001C..U+001F.
pub(crate) fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `clean_sentence`: drop ASCII punctuation, collapse whitespace, trim, lowercase.
pub fn clean_sentence(s: &str) -> String {
    let no_punct: String = s.chars().filter(|c| !c.is_ascii_punctuation()).collect();
    no_punct
        .split(py_space)
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}
