//! From generated ids to the pipeline's `text`: `AutomaticSpeechRecognitionPipeline.postprocess`
//! → `WhisperTokenizerFast._decode_asr` (`transformers/models/whisper/tokenization_whisper.py`,
//! 4.44.1) with `return_timestamps=None`, `return_language=None` and no stride, and
//! `tokenizer.decode(ids)` with `skip_special_tokens=False` and `clean_up_tokenization_spaces=True`.
//! See `notes/tts-evaluation.md` §2.6.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, Result, anyhow, ensure};
use regex::Regex;
use tokenizers::Tokenizer;

/// The keys of transformers' `whisper.tokenization_whisper.LANGUAGES` (Whisper's language order):
/// a special token `<|xx|>` is a language token when `xx` is one of these.
pub const LANGUAGE_CODES: [&str; 100] = [
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it",
    "id", "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur",
    "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk", "te", "fa", "lv", "bn", "sr", "az", "sl", "kn",
    "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw", "gl", "mr", "pa", "si",
    "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi", "lo", "uz", "fo",
    "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln",
    "ha", "ba", "jw", "su", "yue",
];

/// `PreTrainedTokenizerBase.clean_up_tokenization`: the ten English clean-up replacements, in
/// order.
pub fn clean_up_tokenization(s: &str) -> String {
    s.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}

/// `WhisperTokenizerFast` as the pipeline uses it.
pub struct WhisperTokenizer {
    tok: Tokenizer,
    /// `all_special_ids`: the added tokens marked special (107 for large-v2).
    special: HashSet<u32>,
    /// Special ids that are language tokens, with their code (`50259 → "en"`).
    languages: HashMap<u32, String>,
    /// `<|notimestamps|>` + 1: ids from here on are timestamps.
    timestamp_begin: u32,
    /// `<|startofprev|>` and `<|startoftranscript|>` (`_strip_prompt`).
    prev: Option<u32>,
    sot: Option<u32>,
    /// `timestamp_pat`: `<\|(\d+\.\d+)\|>` (`\d` = Unicode decimal digits, as in Python).
    timestamp_pat: Regex,
}

impl WhisperTokenizer {
    /// Loads `tokenizer.json` from a Whisper checkpoint directory.
    pub fn from_dir(dir: &Path) -> Result<WhisperTokenizer> {
        let path = dir.join("tokenizer.json");
        ensure!(
            path.is_file(),
            "{} has no tokenizer.json; download the checkpoint's fast tokenizer file \
             (openai/whisper-large-v2 ships one) next to config.json",
            dir.display()
        );
        WhisperTokenizer::from_file(&path)
    }

    /// Loads a `tokenizer.json` file.
    pub fn from_file(path: &Path) -> Result<WhisperTokenizer> {
        let tok = Tokenizer::from_file(path).map_err(|e| {
            anyhow!(
                "cannot load {} as a Hugging Face tokenizer ({e}); re-download it",
                path.display()
            )
        })?;
        WhisperTokenizer::new(tok).with_context(|| format!("{}", path.display()))
    }

    /// Wraps a loaded tokenizer; needs Whisper's `<|notimestamps|>` token.
    pub fn new(tok: Tokenizer) -> Result<WhisperTokenizer> {
        let added = tok.get_added_tokens_decoder();
        let special: HashSet<u32> = added
            .iter()
            .filter(|(_, t)| t.special)
            .map(|(&id, _)| id)
            .collect();
        let nt = tok.token_to_id("<|notimestamps|>").context(
            "the tokenizer has no <|notimestamps|> token; it is not a Whisper tokenizer",
        )?;
        let mut t = WhisperTokenizer {
            prev: tok.token_to_id("<|startofprev|>"),
            sot: tok.token_to_id("<|startoftranscript|>"),
            tok,
            special,
            languages: HashMap::new(),
            timestamp_begin: nt + 1,
            timestamp_pat: Regex::new(r"<\|(\d+\.\d+)\|>").context("timestamp pattern")?,
        };
        // `_decode_asr`: `LANGUAGES.get(tokenizer.decode([token])[2:-2])` for special tokens.
        let mut languages = HashMap::new();
        for &id in &t.special {
            let chars: Vec<char> = t.decode(&[id])?.chars().collect();
            if chars.len() >= 4 {
                let code: String = chars[2..chars.len() - 2].iter().collect();
                if LANGUAGE_CODES.contains(&code.as_str()) {
                    languages.insert(id, code);
                }
            }
        }
        t.languages = languages;
        Ok(t)
    }

    /// `all_special_ids` (unordered).
    pub fn special_ids(&self) -> &HashSet<u32> {
        &self.special
    }

    /// First timestamp id (`<|0.00|>`).
    pub fn timestamp_begin(&self) -> u32 {
        self.timestamp_begin
    }

    /// The language code of a language token id (`50299 → "te"`).
    pub fn language_code(&self, id: u32) -> Option<&str> {
        self.languages.get(&id).map(|s| s.as_str())
    }

    /// `tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)`:
    /// byte-level BPE to UTF-8, invalid sequences as U+FFFD.
    pub fn decode_raw(&self, ids: &[u32]) -> Result<String> {
        self.tok
            .decode(ids, false)
            .map_err(|e| anyhow!("cannot decode token ids: {e}"))
    }

    /// `tokenizer.decode(ids)` as the pipeline calls it: clean-up on, then
    /// `_filter_timestamp_ids` (every `<|d.d|>` text removed).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let text = clean_up_tokenization(&self.decode_raw(ids)?);
        Ok(self.timestamp_pat.replace_all(&text, "").into_owned())
    }

    /// `tokenizer.decode(ids, skip_special_tokens=True)` (clean-up on), for checks.
    pub fn decode_skip_special(&self, ids: &[u32]) -> Result<String> {
        let ids = self.strip_prompt(ids);
        let text = self
            .tok
            .decode(ids, true)
            .map_err(|e| anyhow!("cannot decode token ids: {e}"))?;
        let text = clean_up_tokenization(&text);
        Ok(self.timestamp_pat.replace_all(&text, "").into_owned())
    }

    /// The groups of text tokens `_decode_asr` decodes separately, in order: a new group starts
    /// at a change of language and after every closing timestamp (a timestamp different from
    /// the open chunk's first one). Special and timestamp tokens belong to no group.
    pub fn text_groups(&self, tokens: &[u32]) -> Vec<Vec<u32>> {
        let tokens = self.strip_prompt(tokens);
        let mut groups = Vec::new();
        let mut current: Vec<u32> = Vec::new();
        let mut last_language: Option<&str> = None;
        let mut chunk_start: Option<u32> = None;
        for &t in tokens {
            if self.special.contains(&t) {
                if let Some(lang) = self.language_code(t) {
                    if last_language.is_some_and(|l| l != lang) {
                        groups.push(std::mem::take(&mut current));
                        chunk_start = None;
                    }
                    last_language = Some(lang);
                }
            } else if t >= self.timestamp_begin {
                match chunk_start {
                    None => chunk_start = Some(t),
                    // The same time again: still the chunk's start.
                    Some(s) if s == t => {}
                    Some(_) => {
                        groups.push(std::mem::take(&mut current));
                        chunk_start = None;
                    }
                }
            } else {
                current.push(t);
            }
        }
        if !current.is_empty() {
            groups.push(current);
        }
        groups
    }

    /// `_strip_prompt`: a sequence starting with `<|startofprev|>` keeps only what follows from
    /// its first `<|startoftranscript|>` (nothing when there is none).
    fn strip_prompt<'a>(&self, tokens: &'a [u32]) -> &'a [u32] {
        match (tokens.first(), self.prev) {
            (Some(&f), Some(p)) if f == p => match self.sot {
                Some(sot) => tokens
                    .iter()
                    .position(|&t| t == sot)
                    .map_or(&[][..], |i| &tokens[i..]),
                None => &[],
            },
            _ => tokens,
        }
    }

    /// The pipeline's `{"text": ...}` for the ids `generate` returned (prompt and timestamps
    /// included): each text group decoded on its own, joined, not stripped.
    pub fn decode_asr(&self, tokens: &[u32]) -> Result<String> {
        let mut text = String::new();
        for g in self.text_groups(tokens) {
            text.push_str(&self.decode(&g)?);
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_up_replacements() {
        assert_eq!(
            clean_up_tokenization("a . b ? c ! d , e ' f do n't I 'm it 's we 've you 're"),
            "a. b? c! d, e'f don't I'm it's we've you're"
        );
    }

    #[test]
    fn missing_tokenizer_is_a_clear_error() {
        let e = WhisperTokenizer::from_dir(Path::new("/nonexistent-dir"))
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("no tokenizer.json"));
    }
}
