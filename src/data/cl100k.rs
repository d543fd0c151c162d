//! A dedicated encoder for tokenizers built on cl100k's pre-tokenizer (GPT-4's `cl100k_base`,
//! the B3/B14 competitions' `Xenova/gpt-4`), with the same ids as Hugging Face `tokenizers`.
//!
//! `tokenizers` runs cl100k's split regex through `fancy-regex`'s backtracking VM (the
//! `\s+(?!\S)` lookahead rules out a DFA); that regex is most of its encoding time. The regex is
//! fixed, so [`pieces`] matches it by hand, alternative by alternative, with the regex's own
//! Unicode classes (`\p{L}`, `\p{N}`, `\s` from `regex-syntax`, the tables `fancy-regex` uses).
//! The pieces then go through byte-level BPE with `tokenizers`' exact merge order (lowest merge
//! rank first, leftmost on ties, stale queue entries checked by the merged id as `tokenizers`
//! checks them), cached per thread by piece.
//!
//! [`Cl100k::recognise`] takes a `tokenizer.json` only when every stage that shapes the ids is
//! one this encoder reproduces (no normalizer, exactly this pre-tokenizer, a plain byte-level
//! BPE model, no truncation); anything else keeps the generic path. Documents that contain an
//! added token's text also take the generic path (`tokenizers` splits those out first).
//! `tokenizer.json` stays the source of truth: vocabulary and merges come from it, so another
//! vocabulary with this pre-tokenizer works too.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use rustc_hash::FxHashMap;
use serde::Deserialize;

/// The split regex of cl100k's pre-tokenizer, as `tokenizer.json` spells it.
pub const CL100K_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Pieces longer than this are encoded without the cache (a hostile run of one character class
/// must not fill memory).
const CACHE_PIECE_BYTES: usize = 64;
/// Cache entries per thread before the cache is emptied.
const CACHE_ENTRIES: usize = 1 << 17;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// `\p{L}`.
    Letter,
    /// `\p{N}`.
    Number,
    /// `\r` or `\n`.
    Newline,
    /// U+0020, the optional space of ` ?[^\s\p{L}\p{N}]+`.
    Space,
    /// Any other `\s`.
    White,
    /// Everything else: `[^\s\p{L}\p{N}]`.
    Other,
}

impl Class {
    fn is_white(self) -> bool {
        matches!(self, Class::Newline | Class::Space | Class::White)
    }
}

/// Non-ASCII code point ranges of `\p{L}`, `\p{N}` and `\s` as the regex crate defines them,
/// sorted by start (the three classes are disjoint).
fn unicode_ranges() -> &'static [(u32, u32, Class)] {
    static RANGES: OnceLock<Vec<(u32, u32, Class)>> = OnceLock::new();
    RANGES.get_or_init(|| {
        let mut all = Vec::new();
        for (pattern, class) in [
            (r"\p{L}", Class::Letter),
            (r"\p{N}", Class::Number),
            (r"\s", Class::White),
        ] {
            let hir = regex_syntax::Parser::new()
                .parse(pattern)
                .expect("a Unicode class regex-syntax knows");
            let regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(set)) =
                hir.kind()
            else {
                unreachable!("{pattern} parses to a Unicode class")
            };
            for r in set.ranges() {
                let (s, e) = (r.start() as u32, r.end() as u32);
                if e >= 0x80 {
                    all.push((s.max(0x80), e, class));
                }
            }
        }
        all.sort_unstable_by_key(|r| r.0);
        all
    })
}

fn class_of(c: char) -> Class {
    let u = c as u32;
    if u < 0x80 {
        return match c {
            'a'..='z' | 'A'..='Z' => Class::Letter,
            '0'..='9' => Class::Number,
            '\r' | '\n' => Class::Newline,
            ' ' => Class::Space,
            '\t' | '\x0b' | '\x0c' => Class::White,
            _ => Class::Other,
        };
    }
    let ranges = unicode_ranges();
    let i = ranges.partition_point(|r| r.0 <= u);
    match i.checked_sub(1).map(|i| ranges[i]) {
        Some((_, end, class)) if u <= end => class,
        _ => Class::Other,
    }
}

/// The character at byte offset `i`, its class and the offset after it.
#[inline]
fn at(s: &str, i: usize) -> Option<(char, Class, usize)> {
    let b = *s.as_bytes().get(i)?;
    if b < 0x80 {
        let c = b as char;
        return Some((c, class_of(c), i + 1));
    }
    let c = s[i..].chars().next()?;
    Some((c, class_of(c), i + c.len_utf8()))
}

/// The end of the run of `class` characters starting at `i` (at most `max` characters).
fn run_end(s: &str, mut i: usize, class: Class, max: usize) -> usize {
    let mut n = 0;
    while n < max {
        match at(s, i) {
            Some((_, c, next)) if c == class => i = next,
            _ => break,
        }
        n += 1;
    }
    i
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` after the apostrophe (`i` is the offset after it): the end of
/// the match. Case-insensitive as the regex crate is (simple case folding: `s` also matches
/// U+017F LATIN SMALL LETTER LONG S; the other letters only fold to their ASCII pair).
fn contraction_end(s: &str, i: usize) -> Option<usize> {
    let first = |j: usize| s[j..].chars().next();
    let lower = |c: char| match c {
        'A'..='Z' => c.to_ascii_lowercase(),
        '\u{17f}' => 's',
        c => c,
    };
    let c = lower(first(i)?);
    let i1 = i + s[i..].chars().next()?.len_utf8();
    match c {
        's' | 't' | 'm' | 'd' => Some(i1),
        'r' | 'v' | 'l' => {
            let want = match c {
                'r' | 'v' => 'e',
                _ => 'l',
            };
            let c2 = first(i1)?;
            (lower(c2) == want).then(|| i1 + c2.len_utf8())
        }
        _ => None,
    }
}

/// The end of the cl100k piece that starts at byte offset `i` (`i < s.len()`): the alternatives
/// of [`CL100K_PATTERN`] tried in order, with the backtracking outcome of each worked out.
fn piece_end(s: &str, i: usize) -> usize {
    let (c, class, n1) = at(s, i).expect("i is inside s");
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if c == '\''
        && let Some(e) = contraction_end(s, n1)
    {
        return e;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if class == Class::Letter {
        return run_end(s, n1, Class::Letter, usize::MAX);
    }
    if class != Class::Newline
        && class != Class::Number
        && let Some((_, Class::Letter, n2)) = at(s, n1)
    {
        return run_end(s, n2, Class::Letter, usize::MAX);
    }
    // \p{N}{1,3}
    if class == Class::Number {
        return run_end(s, n1, Class::Number, 2);
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    let others_from = match (class, at(s, n1)) {
        (Class::Other, _) => Some(n1),
        (Class::Space, Some((_, Class::Other, n2))) => Some(n2),
        _ => None,
    };
    if let Some(j) = others_from {
        let j = run_end(s, j, Class::Other, usize::MAX);
        return run_end(s, j, Class::Newline, usize::MAX);
    }
    // What is left starts a run of whitespace. `\s*[\r\n]+` ends after the run's last newline;
    // `\s+(?!\S)` takes the run but its last character unless the text ends there; `\s+` takes
    // one character.
    debug_assert!(class.is_white());
    let mut j = i;
    let mut last_start = i;
    let mut after_newline = None;
    while let Some((_, cl, next)) = at(s, j) {
        if !cl.is_white() {
            break;
        }
        if cl == Class::Newline {
            after_newline = Some(next);
        }
        last_start = j;
        j = next;
    }
    if let Some(e) = after_newline {
        e
    } else if j == s.len() || last_start == i {
        j
    } else {
        last_start
    }
}

/// The pre-tokenizer's pieces of `s`, in order (they cover `s`).
pub fn pieces(s: &str) -> impl Iterator<Item = &str> {
    let mut i = 0;
    std::iter::from_fn(move || {
        (i < s.len()).then(|| {
            let e = piece_end(s, i);
            let p = &s[i..e];
            i = e;
            p
        })
    })
}

/// GPT-2's byte-to-character map of byte-level BPE, inverted: the byte each vocabulary
/// character stands for.
fn char_to_byte() -> FxHashMap<char, u8> {
    let mut printable: Vec<u32> = (b'!' as u32..=b'~' as u32)
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut chars: Vec<u32> = printable.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !printable.contains(&b) {
            printable.push(b);
            chars.push(256 + n);
            n += 1;
        }
    }
    printable
        .into_iter()
        .zip(chars)
        .map(|(b, c)| (char::from_u32(c).unwrap(), b as u8))
        .collect()
}

#[derive(Deserialize)]
struct FileJson {
    #[serde(default)]
    added_tokens: Vec<AddedJson>,
    normalizer: serde_json::Value,
    pre_tokenizer: serde_json::Value,
    #[serde(default)]
    post_processor: serde_json::Value,
    #[serde(default)]
    truncation: serde_json::Value,
    model: ModelJson,
}

#[derive(Deserialize)]
struct AddedJson {
    id: u32,
    content: String,
}

#[derive(Deserialize)]
struct ModelJson {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    dropout: Option<f64>,
    #[serde(default)]
    continuing_subword_prefix: Option<String>,
    #[serde(default)]
    end_of_word_suffix: Option<String>,
    #[serde(default)]
    byte_fallback: bool,
    #[serde(default)]
    ignore_merges: bool,
    vocab: FxHashMap<String, u32>,
    merges: Vec<MergeJson>,
}

/// A merge as `tokenizers` writes it: `"a b"` (older files) or `["a", "b"]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum MergeJson {
    Joined(String),
    Pair(String, String),
}

/// The cl100k-pre-tokenized byte-level BPE of one `tokenizer.json`.
pub struct Cl100k {
    /// (left id, right id) → (merge rank, merged id), keyed `left << 32 | right`.
    merges: FxHashMap<u64, (u32, u32)>,
    /// The id of each single byte.
    byte_ids: [u32; 256],
    /// Byte strings of the vocabulary (`ignore_merges` only: a piece that is a token is it).
    whole: Option<FxHashMap<Box<[u8]>, u32>>,
    /// Texts of the added tokens; a document containing one takes the generic path.
    added: Vec<memchr::memmem::Finder<'static>>,
    /// Vocabulary and added tokens by their text, for EOS lookups.
    by_text: FxHashMap<String, u32>,
    /// Identifies this encoder in the per-thread caches.
    id: u64,
}

/// Ids by piece, for one encoder (its id alongside).
type PieceCache = FxHashMap<Box<[u8]>, Box<[u32]>>;

thread_local! {
    static CACHE: RefCell<(u64, PieceCache)> = RefCell::new((0, FxHashMap::default()));
}

impl Cl100k {
    /// This encoder for `tokenizer.json` bytes when every stage that shapes its ids is one it
    /// reproduces; `Ok(None)` when the file is valid JSON of another shape (the generic path
    /// takes it).
    pub fn recognise(bytes: &[u8]) -> Result<Option<Cl100k>> {
        let Ok(f) = serde_json::from_slice::<FileJson>(bytes) else {
            return Ok(None);
        };
        let expected_pre = serde_json::json!({
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": CL100K_PATTERN}, "behavior": "Removed", "invert": true},
                {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false},
            ]
        });
        let pre_matches = {
            let mut p = f.pre_tokenizer.clone();
            // trim_offsets only shapes offsets.
            if let Some(b) = p
                .pointer_mut("/pretokenizers/1")
                .and_then(|b| b.as_object_mut())
            {
                b.remove("trim_offsets");
            }
            p == expected_pre
        };
        let post_ok = match f.post_processor.get("type").and_then(|t| t.as_str()) {
            // With `add_special_tokens=false` these add nothing and change no id.
            None => f.post_processor.is_null(),
            Some(t) => matches!(t, "ByteLevel" | "TemplateProcessing"),
        };
        let m = &f.model;
        let model_ok = m.kind.as_deref().is_none_or(|k| k == "BPE")
            && m.dropout.is_none()
            && m.continuing_subword_prefix
                .as_deref()
                .unwrap_or("")
                .is_empty()
            && m.end_of_word_suffix.as_deref().unwrap_or("").is_empty()
            && !m.byte_fallback;
        if !(f.normalizer.is_null() && pre_matches && post_ok && f.truncation.is_null() && model_ok)
        {
            return Ok(None);
        }
        let to_byte = char_to_byte();
        let bytes_of = |token: &str| -> Option<Vec<u8>> {
            token.chars().map(|c| to_byte.get(&c).copied()).collect()
        };
        let mut byte_ids = [u32::MAX; 256];
        let mut whole = FxHashMap::default();
        for (token, &id) in &m.vocab {
            let Some(b) = bytes_of(token) else {
                // A token no byte string spells is never produced by this pre-tokenizer.
                continue;
            };
            if b.len() == 1 {
                byte_ids[b[0] as usize] = id;
            }
            if m.ignore_merges {
                whole.insert(b.into_boxed_slice(), id);
            }
        }
        if byte_ids.contains(&u32::MAX) {
            // Some byte has no token: `tokenizers` would emit the unknown token; keep its path.
            return Ok(None);
        }
        let mut merges = FxHashMap::with_capacity_and_hasher(m.merges.len(), Default::default());
        for (rank, merge) in m.merges.iter().enumerate() {
            let (a, b) = match merge {
                MergeJson::Pair(a, b) => (a.as_str(), b.as_str()),
                MergeJson::Joined(s) => s
                    .split_once(' ')
                    .with_context(|| format!("merge {rank} `{s}` is not two tokens"))?,
            };
            let id = |t: &str| {
                m.vocab
                    .get(t)
                    .copied()
                    .with_context(|| format!("merge {rank}: `{t}` is not in the vocabulary"))
            };
            let merged = id(&format!("{a}{b}"))?;
            let key = (id(a)? as u64) << 32 | id(b)? as u64;
            // The first occurrence wins, as in `tokenizers`' map built from the list in order.
            merges.entry(key).or_insert((rank as u32, merged));
        }
        let ignore_merges = m.ignore_merges;
        let mut by_text = f.model.vocab;
        let mut added = Vec::new();
        for a in &f.added_tokens {
            by_text.insert(a.content.clone(), a.id);
            if a.content.is_empty() {
                // What `tokenizers` makes of it is its own business: keep its path.
                return Ok(None);
            }
            added.push(memchr::memmem::Finder::new(a.content.as_bytes()).into_owned());
        }
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Ok(Some(Cl100k {
            merges,
            byte_ids,
            whole: ignore_merges.then_some(whole),
            added,
            by_text,
            id: NEXT.fetch_add(1, Ordering::Relaxed),
        }))
    }

    /// The id of a token or added token by its text.
    pub fn token_to_id(&self, text: &str) -> Option<u32> {
        self.by_text.get(text).copied()
    }

    /// The ids of `text`, or `None` when it contains an added token's text (the generic path
    /// splits those out).
    pub fn encode(&self, text: &str) -> Option<Vec<u32>> {
        if self.added.iter().any(|f| f.find(text.as_bytes()).is_some()) {
            return None;
        }
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.0 != self.id {
                *cache = (self.id, FxHashMap::default());
            }
            for p in pieces(text) {
                let p = p.as_bytes();
                if p.len() > CACHE_PIECE_BYTES {
                    self.bpe(p, &mut out);
                    continue;
                }
                if let Some(ids) = cache.1.get(p) {
                    out.extend_from_slice(ids);
                    continue;
                }
                let start = out.len();
                self.bpe(p, &mut out);
                if cache.1.len() >= CACHE_ENTRIES {
                    cache.1.clear();
                }
                cache.1.insert(p.into(), out[start..].into());
            }
        });
        Some(out)
    }

    fn merge_of(&self, a: u32, b: u32) -> Option<(u32, u32)> {
        self.merges.get(&((a as u64) << 32 | b as u64)).copied()
    }

    /// Byte-level BPE of one piece, `tokenizers`' `Word::merge_all`: a queue of (rank, position)
    /// for adjacent pairs with a merge; an entry is applied when the pair now at its position
    /// still merges to the id it recorded.
    fn bpe(&self, piece: &[u8], out: &mut Vec<u32>) {
        if let Some(whole) = &self.whole
            && let Some(&id) = whole.get(piece)
        {
            out.push(id);
            return;
        }
        if piece.len() == 1 {
            out.push(self.byte_ids[piece[0] as usize]);
            return;
        }
        const NONE: u32 = u32::MAX;
        // Symbols as a linked list over the piece's byte positions.
        let n = piece.len();
        let mut id: Vec<u32> = piece.iter().map(|&b| self.byte_ids[b as usize]).collect();
        let mut prev: Vec<u32> = (0..n as u32).map(|i| i.wrapping_sub(1)).collect();
        let mut next: Vec<u32> = (1..=n as u32)
            .map(|i| if i as usize == n { NONE } else { i })
            .collect();
        let mut alive = vec![true; n];
        let mut queue = BinaryHeap::with_capacity(n);
        for i in 0..n - 1 {
            if let Some((rank, merged)) = self.merge_of(id[i], id[i + 1]) {
                queue.push(Reverse((rank, i as u32, merged)));
            }
        }
        while let Some(Reverse((_, pos, merged))) = queue.pop() {
            let pos = pos as usize;
            if !alive[pos] || next[pos] == NONE {
                continue;
            }
            let right = next[pos] as usize;
            if self.merge_of(id[pos], id[right]).map(|m| m.1) != Some(merged) {
                continue;
            }
            id[pos] = merged;
            alive[right] = false;
            next[pos] = next[right];
            if next[pos] != NONE {
                prev[next[pos] as usize] = pos as u32;
            }
            if prev[pos] != NONE {
                let p = prev[pos] as usize;
                if let Some((rank, m)) = self.merge_of(id[p], id[pos]) {
                    queue.push(Reverse((rank, p as u32, m)));
                }
            }
            if next[pos] != NONE {
                let r = next[pos] as usize;
                if let Some((rank, m)) = self.merge_of(id[pos], id[r]) {
                    queue.push(Reverse((rank, pos as u32, m)));
                }
            }
        }
        // Position 0 only ever takes in its right neighbour, so the chain starts there.
        let mut i = 0;
        while i != NONE {
            out.push(id[i as usize]);
            i = next[i as usize];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/tokenizer/cl100k/tokenizer.json"),
        )
        .unwrap()
    }

    fn both() -> (Cl100k, tokenizers::Tokenizer) {
        let bytes = file();
        let fast = Cl100k::recognise(&bytes)
            .unwrap()
            .expect("cl100k is recognised");
        (fast, tokenizers::Tokenizer::from_bytes(&bytes).unwrap())
    }

    fn generic(t: &tokenizers::Tokenizer, s: &str) -> Vec<u32> {
        t.encode_fast(s, false).unwrap().get_ids().to_vec()
    }

    #[test]
    fn pieces_follow_the_regex() {
        let cases: &[(&str, &[&str])] = &[
            ("Hello world", &["Hello", " world"]),
            (
                "I'm here's THEY'LL",
                &["I", "'m", " here", "'s", " THEY", "'LL"],
            ),
            ("'sa 'x", &["'s", "a", " '", "x"]),
            ("12345 67", &["123", "45", " ", "67"]),
            ("a   b", &["a", "  ", " b"]),
            ("a  \n\n b", &["a", "  \n\n", " b"]),
            ("x \t!", &["x", " ", "\t", "!"]),
            ("x  !!\r\n\r\ny", &["x", " ", " !!\r\n\r\n", "y"]),
            ("tail  ", &["tail", "  "]),
            ("\tword", &["\tword"]),
            ("über ſ 'ſ", &["über", " ſ", " '", "ſ"]),
            ("don'ſ", &["don", "'ſ"]),
            ("٣٤٥٦x", &["٣٤٥", "٦", "x"]),
            (
                "a\u{a0}b\u{3000}\u{3000}c",
                &["a", "\u{a0}b", "\u{3000}", "\u{3000}c"],
            ),
            ("é\u{301}!", &["é", "\u{301}!"]),
        ];
        for (s, want) in cases {
            assert_eq!(pieces(s).collect::<Vec<_>>(), *want, "{s:?}");
        }
    }

    #[test]
    fn same_ids_as_tokenizers_on_the_reference_cases() {
        let (fast, slow) = both();
        let cases: serde_json::Value = serde_json::from_slice(
            &std::fs::read(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("fixtures/tokenizer/cl100k_cases.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let mut n = 0;
        for c in cases["cases"].as_array().unwrap() {
            let text = c["text"].as_str().unwrap();
            let want: Vec<u32> = serde_json::from_value(c["ids"].clone()).unwrap();
            match fast.encode(text) {
                Some(ids) => {
                    assert_eq!(ids, want, "case {}", c["name"]);
                    n += 1;
                }
                None => assert!(text.contains("<|"), "case {} fell back", c["name"]),
            }
            assert_eq!(generic(&slow, text), want);
        }
        assert!(n >= 30, "{n} cases on the fast path");
    }

    /// Random texts over an alphabet that crosses every branch of the regex (contractions with
    /// long s, every whitespace kind, numbers of other scripts, marks, emoji), plus long runs.
    fn random_texts() -> Vec<String> {
        let alphabet: Vec<char> = "aZs'tTrReEvVmMlLdD \t\r\n\u{b}\u{c}\u{85}\u{a0}\u{2028}\u{3000}\
             09٣Ⅻ²!.,-=<|>\"_/\\ſKéü中文ǅʰ\u{301}\u{200d}\u{feff}😀🎉\u{0}"
            .chars()
            .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut texts = Vec::new();
        for _ in 0..3000 {
            let len = (next() % 40) as usize;
            let mut s = String::new();
            while s.chars().count() < len {
                let c = alphabet[(next() % alphabet.len() as u64) as usize];
                let repeat = if next() % 5 == 0 { 1 + next() % 4 } else { 1 };
                for _ in 0..repeat {
                    s.push(c);
                }
            }
            texts.push(s);
        }
        texts
    }

    #[test]
    fn pieces_equal_fancy_regex_matches() {
        let re = fancy_regex::Regex::new(CL100K_PATTERN).unwrap();
        for s in random_texts() {
            let want: Vec<&str> = re.find_iter(&s).map(|m| m.unwrap().as_str()).collect();
            assert_eq!(pieces(&s).collect::<Vec<_>>(), want, "{s:?}");
        }
    }

    #[test]
    fn same_ids_as_tokenizers_on_random_text() {
        let (fast, slow) = both();
        for s in random_texts() {
            assert_eq!(
                fast.encode(&s).expect("no added token text"),
                generic(&slow, &s),
                "{s:?}"
            );
        }
        for s in [
            "a".repeat(3000),
            " ".repeat(2000) + "x",
            "=".repeat(1500) + "\n\n",
            "1234567".repeat(300),
            "ab ".repeat(800),
            "😀".repeat(500),
            "\u{301}".repeat(700),
        ] {
            assert_eq!(
                fast.encode(&s).unwrap(),
                generic(&slow, &s),
                "{:?}",
                &s[..20]
            );
        }
    }

    #[test]
    fn added_token_text_takes_the_generic_path() {
        let (fast, _) = both();
        assert_eq!(fast.encode("a <|endoftext|> b"), None);
        assert_eq!(fast.token_to_id("<|endoftext|>"), Some(100257));
        assert_eq!(fast.token_to_id("Hello"), Some(9906));
    }

    #[test]
    fn other_pipelines_are_not_taken() {
        let base: serde_json::Value = serde_json::from_slice(&file()).unwrap();
        let edits: &[(&str, serde_json::Value)] = &[
            ("/normalizer", serde_json::json!({"type": "NFC"})),
            (
                "/pre_tokenizer/pretokenizers/0/pattern/Regex",
                serde_json::json!("\\s+"),
            ),
            (
                "/pre_tokenizer/pretokenizers/1/add_prefix_space",
                serde_json::json!(true),
            ),
            ("/model/dropout", serde_json::json!(0.1)),
            ("/model/byte_fallback", serde_json::json!(true)),
            ("/truncation", serde_json::json!({"max_length": 8})),
            (
                "/post_processor",
                serde_json::json!({"type": "BertProcessing"}),
            ),
            ("/added_tokens/0/content", serde_json::json!("")),
        ];
        for (pointer, value) in edits {
            let mut v = base.clone();
            *v.pointer_mut(pointer).unwrap() = value.clone();
            let bytes = serde_json::to_vec(&v).unwrap();
            assert!(
                Cl100k::recognise(&bytes).unwrap().is_none(),
                "{pointer} = {value} was taken"
            );
        }
        assert!(Cl100k::recognise(b"not json").unwrap().is_none());
    }
}
