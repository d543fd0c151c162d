//! The TTS score: the validator's word error rate (`compute_wer`'s scoring half, jiwer 3.1.0).
//! Per sample `1.0` when the cleaned transcript is empty, else `jiwer.wer(ref, hyp)` on the
//! cleaned query text and transcript (an empty cleaned reference raises, which fails the model);
//! the task score is the float64 left-to-right mean, `inf` for no samples.

use anyhow::Result;

use crate::error::user;
use crate::eval::{clean_sentence, py_space as is_py_space};

/// jiwer's `wer_default` words of a string: `\s\s+` → `" "`, strip, split on `" "`.
fn words(s: &str) -> Vec<&str> {
    s.split(' ').filter(|w| !w.is_empty()).collect()
}

/// Word-level Levenshtein distance (unit costs), what jiwer's `S + D + I` sums to.
pub fn word_distance(reference: &[&str], hypothesis: &[&str]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    let mut cur = vec![0usize; hypothesis.len() + 1];
    for (i, r) in reference.iter().enumerate() {
        cur[0] = i + 1;
        for (j, h) in hypothesis.iter().enumerate() {
            let sub = prev[j] + usize::from(r != h);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[hypothesis.len()]
}

/// `jiwer.wer(reference, hypothesis)` for one pair of already-clean strings: distance over the
/// number of reference words (not capped at 1). An empty reference is jiwer's `ValueError`.
pub fn jiwer_wer(reference: &str, hypothesis: &str) -> Result<f64> {
    if reference.is_empty() {
        return Err(user(
            "the reference text is empty after cleaning (jiwer: \"one or more references are empty strings\"); the validator scores such a model inf",
        ));
    }
    let collapse = |s: &str| -> String {
        // RemoveMultipleSpaces + Strip: runs of Unicode whitespace become one space, ends trimmed.
        let mut out = String::with_capacity(s.len());
        let mut run = 0usize;
        let mut pending = String::new();
        for c in s.chars() {
            if is_py_space(c) {
                run += 1;
                pending.push(c);
            } else {
                if run >= 2 {
                    out.push(' ');
                } else {
                    out.push_str(&pending);
                }
                run = 0;
                pending.clear();
                out.push(c);
            }
        }
        if run == 1 {
            out.push_str(&pending);
        }
        out.trim_matches(is_py_space).to_string()
    };
    let (r, h) = (collapse(reference), collapse(hypothesis));
    let (rw, hw) = (words(&r), words(&h));
    if rw.is_empty() {
        return Err(user("the reference has no words (jiwer divides by zero)"));
    }
    Ok(word_distance(&rw, &hw) as f64 / rw.len() as f64)
}

/// One sample as `compute_wer` scores it: the query text the model was asked to speak against
/// Whisper's transcript.
pub fn sample_wer(query_text: &str, transcript: &str) -> Result<f64> {
    let gen_text = clean_sentence(transcript);
    let reference = clean_sentence(query_text);
    if gen_text.is_empty() {
        return Ok(1.0);
    }
    jiwer_wer(&reference, &gen_text)
}

/// The task score: `sum(scores) / len(scores)` (left to right, float64), `inf` for none.
pub fn task_score(scores: &[f64]) -> f64 {
    if scores.is_empty() {
        f64::INFINITY
    } else {
        scores.iter().fold(0.0, |a, b| a + b) / scores.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_cases() {
        assert_eq!(sample_wer("hello world", " Hello, world!").unwrap(), 0.0);
        assert_eq!(sample_wer("hello world", "!!!").unwrap(), 1.0);
        assert_eq!(sample_wer("one", "one two three four five").unwrap(), 4.0);
        assert!(sample_wer("...", "hello").is_err());
        assert_eq!(task_score(&[]), f64::INFINITY);
        assert_eq!(word_distance(&["a", "b", "c"], &["a", "x", "c", "d"]), 2);
    }
}
