//! The E2TTS text front end, equal to the Python reference (taoverse 2.0.2, jieba 0.42.1,
//! pypinyin 0.53.0). Spec: `shared/notes/tts-synthesis.md` §1.3 and §2.2–2.3.
//!
//! * [`Vocab`]: `E2TTS.load_vocab` (universal newlines, `line[:-1]`, last index wins while the key
//!   keeps its first insertion position, BOM kept).
//! * [`convert_char_to_pinyin`]: `taoverse.model.tts.utils.e2tts.convert_char_to_pinyin` for one
//!   string, with ports of `jieba.cut` (accurate mode, HMM on, default dictionary) and of
//!   `pypinyin.lazy_pinyin(seg, style=Style.TONE3, tone_sandhi=True)`.
//! * [`list_str_to_idx`]: unknown tokens → 0, rows right-padded with -1.
//!
//! Dictionary data (`data/tts_text/`, see its `PROVENANCE.md`) is embedded gzip-compressed and
//! decompressed on first use only:
//! * `jieba_dict.txt.gz`: jieba 0.42.1 `dict.txt` as `gen_pfdict` parses it (`word freq`, file
//!   order, tags dropped);
//! * `jieba_hmm.txt.gz`: `jieba.finalseg` `prob_start`/`prob_trans`/`prob_emit` (Python `repr`
//!   floats, so they parse to the same doubles);
//! * `pypinyin.txt.gz`: the first reading of every `PINYIN_DICT` character and `PHRASES_DICT`
//!   phrase (only the first is ever used with `heteronym=False`), plus three string tables computed
//!   by pypinyin itself over the closure of all readings under tone sandhi: `tone_to_tone2`,
//!   `tone2_to_tone` and the `Style.TONE3` conversion.
//!
//! Text without any character in U+4E00..U+9FD5 never loads the jieba data: for such text jieba
//! looks up only ASCII strings, and the ASCII part of its prefix dictionary is inlined below
//! ([`JIEBA_ASCII_FREQ`]). pypinyin data loads only when a string reaches `lazy_pinyin` with a
//! character pypinyin treats as Han (`RE_HANS`).

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result};

use crate::error::user;

// ---------------------------------------------------------------------------------------------
// vocab.txt
// ---------------------------------------------------------------------------------------------

/// `vocab_char_map` as `E2TTS.load_vocab` builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocab {
    /// Keys in Python dict insertion order (first occurrence).
    keys: Vec<String>,
    /// The id of each key: the index of its *last* line.
    ids: Vec<i64>,
    index: HashMap<String, usize>,
    lines: usize,
}

impl Vocab {
    /// Parses vocab.txt bytes as `E2TTS.load_vocab` does: `open(path, "r", encoding="utf-8")`
    /// (strict UTF-8, universal newlines: `\r\n`, `\r` and `\n` end a line; a BOM is kept as part
    /// of the first entry), then `vocab_char_map[line[:-1]] = i` for every line: the last character
    /// is always dropped, newline or not. A repeated key keeps its first position and takes the
    /// last index. `vocab_size = len(vocab_char_map)`.
    pub fn parse(bytes: &[u8]) -> Result<Vocab> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let pos = e.valid_up_to();
            let byte = bytes[pos];
            let reason = if matches!(byte, 0x80..=0xC1 | 0xF5..=0xFF) {
                "invalid start byte"
            } else if e.error_len().is_none() {
                "unexpected end of data"
            } else {
                "invalid continuation byte"
            };
            user(format!(
                "vocab.txt is not valid UTF-8: byte 0x{byte:02x} at offset {pos} ({reason}). \
                 taoverse's E2TTS.load_vocab opens it with encoding=\"utf-8\" and would raise \
                 UnicodeDecodeError ('utf-8' codec can't decode byte 0x{byte:02x}: {reason}); \
                 re-save vocab.txt as UTF-8"
            ))
        })?;
        if text.is_empty() {
            return Err(user(
                "vocab.txt is empty. taoverse's E2TTS.load_vocab would raise UnboundLocalError \
                 (vocab_size is only assigned inside the loop over lines), so the model cannot \
                 load; vocab.txt needs one token per line, with \" \" (a single space) on line 0 \
                 in F5-TTS-style vocabs"
                    .to_string(),
            ));
        }
        let mut vocab = Vocab {
            keys: Vec::new(),
            ids: Vec::new(),
            index: HashMap::new(),
            lines: 0,
        };
        let b = text.as_bytes();
        let mut start = 0;
        while start < b.len() {
            let mut j = start;
            while j < b.len() && b[j] != b'\n' && b[j] != b'\r' {
                j += 1;
            }
            let (key, next) = if j == b.len() {
                // No line terminator: `line[:-1]` drops a real character.
                let content = &text[start..j];
                let cut = content.char_indices().next_back().map_or(0, |(i, _)| i);
                (&content[..cut], j)
            } else if b[j] == b'\r' && b.get(j + 1) == Some(&b'\n') {
                (&text[start..j], j + 2)
            } else {
                (&text[start..j], j + 1)
            };
            let id = vocab.lines as i64;
            match vocab.index.get(key) {
                Some(&slot) => vocab.ids[slot] = id,
                None => {
                    vocab.index.insert(key.to_string(), vocab.keys.len());
                    vocab.keys.push(key.to_string());
                    vocab.ids.push(id);
                }
            }
            vocab.lines += 1;
            start = next;
        }
        Ok(vocab)
    }

    /// Reads and parses `path` (a model directory's `vocab.txt`).
    pub fn from_file(path: &Path) -> Result<Vocab> {
        let bytes = crate::output::read_bytes(path, crate::output::Limit::ModelJson)?;
        Vocab::parse(&bytes).with_context(|| format!("parsing {}", path.display()))
    }

    /// `len(vocab_char_map)`: distinct keys (= `text_num_embeds`; the embedding has one more row).
    pub fn size(&self) -> usize {
        self.keys.len()
    }

    /// Lines in the file (ids range over `0..lines`; above `size()` only with duplicate lines).
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// `vocab_char_map.get(token)`.
    pub fn get(&self, token: &str) -> Option<i64> {
        self.index.get(token).map(|&slot| self.ids[slot])
    }

    /// `list(vocab_char_map.items())`: insertion order, current values.
    pub fn entries(&self) -> Vec<(String, i64)> {
        self.keys
            .iter()
            .cloned()
            .zip(self.ids.iter().copied())
            .collect()
    }
}

/// `list_str_to_idx(text, vocab_char_map, padding_value=-1)`: `vocab_char_map.get(c, 0)` per
/// token, rows right-padded with -1 to the longest row.
pub fn list_str_to_idx(rows: &[Vec<String>], vocab: &Vocab) -> Vec<Vec<i64>> {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    rows.iter()
        .map(|row| {
            let mut ids: Vec<i64> = row.iter().map(|t| vocab.get(t).unwrap_or(0)).collect();
            ids.resize(width, -1);
            ids
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// convert_char_to_pinyin
// ---------------------------------------------------------------------------------------------

/// `convert_char_to_pinyin([text], polyphone=True)[0]`.
pub fn convert_char_to_pinyin(text: &str) -> Vec<String> {
    let text: String = text
        .chars()
        .map(|c| match c {
            ';' => ',',
            '\u{201C}' | '\u{201D}' => '"',
            '\u{2018}' | '\u{2019}' => '\'',
            c => c,
        })
        .collect();
    let mut out: Vec<String> = Vec::new();
    for seg in jieba_cut(&text) {
        let n = seg.chars().count();
        let bytes = seg.len();
        if bytes == n {
            // Pure ASCII. `char_list[-1] not in " :'\""` is a substring test.
            if let Some(last) = out.last()
                && bytes > 1
                && !" :'\"".contains(last.as_str())
            {
                out.push(" ".to_string());
            }
            out.extend(seg.chars().map(String::from));
        } else if bytes == 3 * n {
            // Every character in U+0800..U+FFFF.
            let p = lazy_pinyin(&seg);
            for (i, c) in seg.chars().enumerate() {
                if is_chinese(c) {
                    out.push(" ".to_string());
                }
                // `seg_[i]`: pypinyin yields one item per character for every segment jieba can
                // produce here (single characters, or runs inside U+4E00..U+9FD5).
                out.push(p.get(i).cloned().unwrap_or_else(|| c.to_string()));
            }
        } else {
            for c in seg.chars() {
                if (c as u32) < 256 {
                    out.push(c.to_string());
                } else if is_chinese(c) {
                    out.push(" ".to_string());
                    out.extend(lazy_pinyin(&c.to_string()));
                } else {
                    out.push(c.to_string());
                }
            }
        }
    }
    out
}

/// taoverse's `is_chinese`: `"\u3100" <= c <= "\u9fff"`.
fn is_chinese(c: char) -> bool {
    ('\u{3100}'..='\u{9FFF}').contains(&c)
}

// ---------------------------------------------------------------------------------------------
// jieba 0.42.1: Tokenizer.cut(sentence, cut_all=False, HMM=True)
// ---------------------------------------------------------------------------------------------

/// jieba's `re_han_default` character class `[\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]`.
fn is_jieba_block_char(c: char) -> bool {
    is_jieba_han(c)
        || c.is_ascii_alphanumeric()
        || matches!(c, '+' | '#' | '&' | '.' | '_' | '%' | '-')
}

/// `finalseg.re_han`'s class `[\u4E00-\u9FD5]`.
fn is_jieba_han(c: char) -> bool {
    ('\u{4E00}'..='\u{9FD5}').contains(&c)
}

/// jieba's prefix dictionary `FREQ` (every word with its frequency, every proper prefix of a word
/// with 0 unless it is a word itself) and `log(total)`.
struct JiebaDict {
    freq: HashMap<Box<str>, u64>,
    log_total: f64,
}

impl JiebaDict {
    /// `FREQ.get(word)`, with `or`-style truthiness left to the caller.
    fn get(&self, word: &str) -> Option<u64> {
        self.freq.get(word).copied()
    }
}

/// Every pure-ASCII key of jieba 0.42.1's `FREQ` (words and prefixes), and `total`. For a block
/// without characters in U+4E00..U+9FD5, jieba only ever looks up ASCII strings, so this subset
/// gives exactly the full dictionary's answers. (Regenerated with `data/tts_text/gen.py`, which
/// prints it.)
const JIEBA_ASCII_FREQ: &[(&str, u64)] = &[
    ("1", 0),
    ("4", 0),
    ("4S", 0),
    ("4s", 0),
    ("A", 0),
    ("AA", 0),
    ("AB", 0),
    ("AT", 0),
    ("AT&", 0),
    ("AT&T", 3),
    ("B", 0),
    ("BB", 0),
    ("BP", 0),
    ("C", 0),
    ("C#", 3),
    ("C+", 0),
    ("C++", 3),
    ("CA", 0),
    ("CAL", 0),
    ("CALL", 0),
    ("CD", 0),
    ("D", 0),
    ("E", 0),
    ("F", 0),
    ("G", 0),
    ("H", 0),
    ("I", 0),
    ("IC", 0),
    ("IP", 0),
    ("K", 0),
    ("N", 0),
    ("O", 0),
    ("P", 0),
    ("PC", 0),
    ("PH", 0),
    ("Q", 0),
    ("QQ", 0),
    ("R", 0),
    ("RS", 0),
    ("RSS", 0),
    ("S", 0),
    ("SI", 0),
    ("SIM", 0),
    ("T", 0),
    ("U", 0),
    ("V", 0),
    ("VI", 0),
    ("VIS", 0),
    ("VISA", 0),
    ("X", 0),
    ("Z", 0),
    ("c", 0),
    ("c#", 3),
    ("c+", 0),
    ("c++", 3),
];
/// jieba 0.42.1's `dt.total` (sum of every `dict.txt` line's frequency, duplicates included).
const JIEBA_TOTAL: u64 = 60_101_967;

static JIEBA_DICT_GZ: &[u8] = include_bytes!("../../data/tts_text/jieba_dict.txt.gz");
static JIEBA_HMM_GZ: &[u8] = include_bytes!("../../data/tts_text/jieba_hmm.txt.gz");
static PYPINYIN_GZ: &[u8] = include_bytes!("../../data/tts_text/pypinyin.txt.gz");

fn gunzip(bytes: &[u8], what: &str) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut s)
        .unwrap_or_else(|e| panic!("embedded {what} is corrupt: {e}"));
    s
}

fn jieba_ascii_dict() -> &'static JiebaDict {
    static D: OnceLock<JiebaDict> = OnceLock::new();
    D.get_or_init(|| JiebaDict {
        freq: JIEBA_ASCII_FREQ
            .iter()
            .map(|&(w, f)| (Box::from(w), f))
            .collect(),
        log_total: (JIEBA_TOTAL as f64).ln(),
    })
}

fn jieba_full_dict() -> &'static JiebaDict {
    static D: OnceLock<JiebaDict> = OnceLock::new();
    D.get_or_init(|| {
        // Tokenizer.gen_pfdict.
        let text = gunzip(JIEBA_DICT_GZ, "jieba dictionary");
        let mut freq: HashMap<Box<str>, u64> = HashMap::with_capacity(600_000);
        let mut total: u64 = 0;
        for line in text.lines() {
            let (word, f) = line
                .split_once(' ')
                .expect("embedded jieba dictionary line");
            let f: u64 = f.parse().expect("embedded jieba dictionary frequency");
            freq.insert(Box::from(word), f);
            total += f;
            for (i, c) in word.char_indices() {
                let frag = &word[..i + c.len_utf8()];
                if !freq.contains_key(frag) {
                    freq.insert(Box::from(frag), 0);
                }
            }
        }
        debug_assert_eq!(total, JIEBA_TOTAL);
        JiebaDict {
            freq,
            log_total: (total as f64).ln(),
        }
    })
}

/// `finalseg.MIN_FLOAT`.
const MIN_FLOAT: f64 = -3.14e100;
// States indexed in character order, so that comparing indices compares Python's state strings.
const B: usize = 0;
const E: usize = 1;
const M: usize = 2;
const S: usize = 3;
/// `finalseg.PrevStatus`.
const PREV_STATUS: [[usize; 2]; 4] = [[E, S], [B, M], [M, B], [S, E]];

struct Hmm {
    start: [f64; 4],
    /// `trans_p[y0].get(y, MIN_FLOAT)`.
    trans: [[f64; 4]; 4],
    emit: [HashMap<char, f64>; 4],
}

fn state_index(s: &str) -> usize {
    match s {
        "B" => B,
        "E" => E,
        "M" => M,
        "S" => S,
        _ => panic!("embedded jieba HMM: bad state {s:?}"),
    }
}

fn jieba_hmm() -> &'static Hmm {
    static H: OnceLock<Hmm> = OnceLock::new();
    H.get_or_init(|| {
        let text = gunzip(JIEBA_HMM_GZ, "jieba HMM");
        let mut hmm = Hmm {
            start: [MIN_FLOAT; 4],
            trans: [[MIN_FLOAT; 4]; 4],
            emit: Default::default(),
        };
        let num = |s: &str| -> f64 { s.parse().expect("embedded jieba HMM number") };
        for line in text.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            match f[0] {
                "start" => hmm.start[state_index(f[1])] = num(f[2]),
                "trans" => hmm.trans[state_index(f[1])][state_index(f[2])] = num(f[3]),
                "emit" => {
                    let c = u32::from_str_radix(f[2], 16).ok().and_then(char::from_u32);
                    let c = c.expect("embedded jieba HMM character");
                    hmm.emit[state_index(f[1])].insert(c, num(f[3]));
                }
                other => panic!("embedded jieba HMM: bad record {other:?}"),
            }
        }
        hmm
    })
}

/// `jieba.cut(sentence)`: accurate mode with HMM.
fn jieba_cut(sentence: &str) -> Vec<String> {
    let chars: Vec<char> = sentence.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let block = is_jieba_block_char(chars[i]);
        let mut j = i;
        while j < chars.len() && is_jieba_block_char(chars[j]) == block {
            j += 1;
        }
        let run = &chars[i..j];
        if block {
            let dict = if run.iter().any(|&c| is_jieba_han(c)) {
                jieba_full_dict()
            } else {
                jieba_ascii_dict()
            };
            cut_dag(run, dict, &mut out);
        } else {
            // `re_skip_default.split(blk)` on `(\r\n|\s)`: separators are yielded whole, the text
            // between them one character at a time; so only `\r\n` stays together.
            let mut k = 0;
            while k < run.len() {
                if run[k] == '\r' && run.get(k + 1) == Some(&'\n') {
                    out.push("\r\n".to_string());
                    k += 2;
                } else {
                    out.push(run[k].to_string());
                    k += 1;
                }
            }
        }
        i = j;
    }
    out
}

/// `Tokenizer.__cut_DAG` (with `get_DAG` and `calc`).
fn cut_dag(s: &[char], dict: &JiebaDict, out: &mut Vec<String>) {
    let n = s.len();
    // get_DAG
    let mut dag: Vec<Vec<usize>> = Vec::with_capacity(n);
    for k in 0..n {
        let mut ends = Vec::new();
        let mut i = k;
        let mut frag = String::new();
        frag.push(s[k]);
        while i < n {
            match dict.get(&frag) {
                None => break,
                Some(f) => {
                    if f != 0 {
                        ends.push(i);
                    }
                }
            }
            i += 1;
            if i < n {
                frag.push(s[i]);
            }
        }
        if ends.is_empty() {
            ends.push(k);
        }
        dag.push(ends);
    }
    // calc: route[idx] = max((log(FREQ.get(s[idx:x+1]) or 1) - logtotal + route[x+1][0], x))
    let mut route: Vec<(f64, usize)> = vec![(0.0, 0); n + 1];
    for idx in (0..n).rev() {
        let mut best: Option<(f64, usize)> = None;
        for &x in &dag[idx] {
            let word: String = s[idx..=x].iter().collect();
            let f = dict.get(&word).filter(|&f| f != 0).unwrap_or(1);
            let v = (f as f64).ln() - dict.log_total + route[x + 1].0;
            let better = match best {
                None => true,
                Some((bv, bx)) => v > bv || (v == bv && x > bx),
            };
            if better {
                best = Some((v, x));
            }
        }
        route[idx] = best.expect("DAG entries are never empty");
    }
    // the segmentation walk
    let flush = |buf: &mut Vec<char>, out: &mut Vec<String>| {
        if buf.is_empty() {
            return;
        }
        if buf.len() == 1 {
            out.push(buf[0].to_string());
        } else {
            let word: String = buf.iter().collect();
            if dict.get(&word).unwrap_or(0) == 0 {
                finalseg_cut(buf, out);
            } else {
                out.extend(buf.iter().map(|c| c.to_string()));
            }
        }
        buf.clear();
    };
    let mut buf: Vec<char> = Vec::new();
    let mut x = 0;
    while x < n {
        let y = route[x].1 + 1;
        if y - x == 1 {
            buf.push(s[x]);
        } else {
            flush(&mut buf, out);
            out.push(s[x..y].iter().collect());
        }
        x = y;
    }
    flush(&mut buf, out);
}

/// `jieba.finalseg.cut(sentence)`.
fn finalseg_cut(s: &[char], out: &mut Vec<String>) {
    let mut i = 0;
    while i < s.len() {
        let han = is_jieba_han(s[i]);
        let mut j = i;
        while j < s.len() && is_jieba_han(s[j]) == han {
            j += 1;
        }
        let blk = &s[i..j];
        if han {
            hmm_cut(blk, out);
        } else {
            // re_skip.split on `([a-zA-Z0-9]+(?:\.\d+)?%?)`, non-empty pieces only. Here the
            // text holds only jieba block characters, so `\d` is `[0-9]`.
            let mut k = 0;
            let mut piece_start = 0;
            while k < blk.len() {
                if blk[k].is_ascii_alphanumeric() {
                    let m0 = k;
                    while k < blk.len() && blk[k].is_ascii_alphanumeric() {
                        k += 1;
                    }
                    if k + 1 < blk.len() && blk[k] == '.' && blk[k + 1].is_ascii_digit() {
                        k += 1;
                        while k < blk.len() && blk[k].is_ascii_digit() {
                            k += 1;
                        }
                    }
                    if k < blk.len() && blk[k] == '%' {
                        k += 1;
                    }
                    if piece_start < m0 {
                        out.push(blk[piece_start..m0].iter().collect());
                    }
                    out.push(blk[m0..k].iter().collect());
                    piece_start = k;
                } else {
                    k += 1;
                }
            }
            if piece_start < blk.len() {
                out.push(blk[piece_start..].iter().collect());
            }
        }
        i = j;
    }
}

/// `finalseg.__cut`: Viterbi over B/M/E/S, then the word walk.
fn hmm_cut(s: &[char], out: &mut Vec<String>) {
    let hmm = jieba_hmm();
    let emit = |y: usize, c: char| hmm.emit[y].get(&c).copied().unwrap_or(MIN_FLOAT);
    let n = s.len();
    let mut v: [f64; 4] = std::array::from_fn(|y| hmm.start[y] + emit(y, s[0]));
    let mut back: Vec<[usize; 4]> = Vec::with_capacity(n);
    for &c in &s[1..] {
        let mut nv = [0.0f64; 4];
        let mut bp = [0usize; 4];
        for y in 0..4 {
            let em = emit(y, c);
            let mut best: Option<(f64, usize)> = None;
            for &y0 in &PREV_STATUS[y] {
                let p = v[y0] + hmm.trans[y0][y] + em;
                let better = match best {
                    None => true,
                    Some((bp_, by)) => p > bp_ || (p == bp_ && y0 > by),
                };
                if better {
                    best = Some((p, y0));
                }
            }
            let (p, y0) = best.expect("two previous states");
            nv[y] = p;
            bp[y] = y0;
        }
        v = nv;
        back.push(bp);
    }
    // max((V[-1][y], y) for y in 'ES'): a tie goes to 'S'.
    let mut state = if v[S] >= v[E] { S } else { E };
    let mut pos = vec![0usize; n];
    pos[n - 1] = state;
    for t in (1..n).rev() {
        state = back[t - 1][state];
        pos[t - 1] = state;
    }
    let mut begin = 0;
    let mut nexti = 0;
    for (i, &p) in pos.iter().enumerate() {
        if p == B {
            begin = i;
        } else if p == E {
            out.push(s[begin..=i].iter().collect());
            nexti = i + 1;
        } else if p == S {
            out.push(s[i].to_string());
            nexti = i + 1;
        }
    }
    if nexti < n {
        out.push(s[nexti..].iter().collect());
    }
}

// ---------------------------------------------------------------------------------------------
// pypinyin 0.53.0: lazy_pinyin(hans, style=Style.TONE3, tone_sandhi=True)
// ---------------------------------------------------------------------------------------------

/// pypinyin's `RE_HANS` character class (the UCS-4 build).
fn is_pypinyin_han(c: char) -> bool {
    matches!(c as u32,
        0x3007 | 0xE815..=0xE864 | 0xFA18 | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF
        | 0x20000..=0x2A6DF | 0x2A703..=0x2B73F | 0x2B740..=0x2B81D | 0x2B825..=0x2BF6E
        | 0x2C029..=0x2CE93 | 0x2D016 | 0x2D11B..=0x2EBD9 | 0x2F80A..=0x2FA1F
        | 0x300F7..=0x31288) // RE_HANS also lists U+30EDD and U+30EDE, inside the last range
}

struct Pypinyin {
    /// `PINYIN_DICT[ord(c)].split(',')[0]`.
    single: HashMap<char, Box<str>>,
    /// `[item[0] for item in PHRASES_DICT[phrase]]`.
    phrases: HashMap<Box<str>, Vec<Box<str>>>,
    /// `mmseg.p_set`: every prefix of every phrase.
    prefixes: HashSet<Box<str>>,
    /// `tone_to_tone2`, `tone2_to_tone` and `Style.TONE3` over every reading reachable by tone
    /// sandhi. Strings outside them are characters without a reading, which all three leave as is.
    to_tone2: HashMap<Box<str>, Box<str>>,
    to_tone: HashMap<Box<str>, Box<str>>,
    to_style3: HashMap<Box<str>, Box<str>>,
}

fn pypinyin_data() -> &'static Pypinyin {
    static P: OnceLock<Pypinyin> = OnceLock::new();
    P.get_or_init(|| {
        let text = gunzip(PYPINYIN_GZ, "pypinyin data");
        let mut d = Pypinyin {
            single: HashMap::with_capacity(45_000),
            phrases: HashMap::with_capacity(450_000),
            prefixes: HashSet::with_capacity(600_000),
            to_tone2: HashMap::new(),
            to_tone: HashMap::new(),
            to_style3: HashMap::new(),
        };
        for line in text.lines() {
            let (kind, rest) = line.split_once(' ').expect("embedded pypinyin record");
            let (key, val) = rest.split_once(' ').expect("embedded pypinyin record");
            match kind {
                "c" => {
                    let c = u32::from_str_radix(key, 16).ok().and_then(char::from_u32);
                    d.single
                        .insert(c.expect("embedded pypinyin code point"), Box::from(val));
                }
                "p" => {
                    for (i, c) in key.char_indices() {
                        let prefix = &key[..i + c.len_utf8()];
                        if !d.prefixes.contains(prefix) {
                            d.prefixes.insert(Box::from(prefix));
                        }
                    }
                    d.phrases
                        .insert(Box::from(key), val.split(' ').map(Box::from).collect());
                }
                "t2" => _ = d.to_tone2.insert(Box::from(key), Box::from(val)),
                "tt" => _ = d.to_tone.insert(Box::from(key), Box::from(val)),
                "s3" => _ = d.to_style3.insert(Box::from(key), Box::from(val)),
                other => panic!("embedded pypinyin data: bad record {other:?}"),
            }
        }
        d
    })
}

impl Pypinyin {
    fn table(t: &HashMap<Box<str>, Box<str>>, s: &str) -> String {
        t.get(s).map_or_else(|| s.to_string(), |v| v.to_string())
    }

    /// `mmseg.seg.cut(text)` (forward maximum matching, `no_non_phrases=True`).
    fn mmseg_cut(&self, text: &[char]) -> Vec<String> {
        let mut out = Vec::new();
        let mut start = 0;
        'outer: while start < text.len() {
            let remain = &text[start..];
            let mut word = String::new();
            let mut matched_len = 0;
            for index in 0..remain.len() {
                word.push(remain[index]);
                if self.prefixes.contains(word.as_str()) {
                    matched_len = index + 1;
                } else {
                    let matched: String = remain[..matched_len].iter().collect();
                    if matched_len > 0 && self.phrases.contains_key(matched.as_str()) {
                        out.push(matched);
                        start += index;
                    } else {
                        out.push(remain[0].to_string());
                        start += 1;
                    }
                    continue 'outer;
                }
            }
            let whole: String = remain.iter().collect();
            if self.phrases.contains_key(whole.as_str()) {
                out.push(whole);
            } else {
                out.extend(remain.iter().map(|c| c.to_string()));
            }
            break;
        }
        out
    }

    /// `DefaultConverter.convert` for one all-Han word: phrase or per-character readings,
    /// `ToneSandhiMixin.post_pinyin`, then `Style.TONE3`.
    fn convert_word(&self, word: &str) -> Vec<String> {
        let han: Vec<char> = word.chars().collect();
        let mut pys: Vec<String> = match self.phrases.get(word) {
            Some(p) => p.iter().map(|s| s.to_string()).collect(),
            None => han
                .iter()
                .map(|c| {
                    self.single
                        .get(c)
                        .map_or_else(|| c.to_string(), |s| s.to_string())
                })
                .collect(),
        };
        pys = self.third_tone(pys);
        pys = self.bu_yi(&han, pys, '不', '4');
        pys = self.bu_yi(&han, pys, '一', '1');
        pys.iter()
            .map(|p| Self::table(&self.to_style3, p))
            .collect()
    }

    fn tone2_list(&self, pys: &[String]) -> Vec<String> {
        pys.iter().map(|p| Self::table(&self.to_tone2, p)).collect()
    }

    /// `ToneSandhiMixin._third_tone` (as written: `third_num` counts the *trailing* run).
    fn third_tone(&self, pys: Vec<String>) -> Vec<String> {
        let mut t2 = self.tone2_list(&pys);
        if !t2.iter().any(|s| s.contains('3')) {
            return pys;
        }
        let mut third_num = 0usize;
        for p in &t2 {
            if p.contains('3') {
                third_num += 1;
            } else {
                third_num = 0;
            }
        }
        let mut changed = false;
        if third_num == 2 {
            if let Some(v) = t2.iter_mut().find(|v| v.contains('3')) {
                *v = v.replace('3', "2");
                changed = true;
            }
        } else if third_num > 2 {
            let mut n = 1;
            for v in t2.iter_mut() {
                if v.contains('3') {
                    if n == third_num {
                        break;
                    }
                    *v = v.replace('3', "2");
                    changed = true;
                    n += 1;
                }
            }
        }
        if changed {
            t2.iter().map(|s| Self::table(&self.to_tone, s)).collect()
        } else {
            pys
        }
    }

    /// `ToneSandhiMixin._bu` (`ch = '不'`, `last = '4'`) and `._yi` (`ch = '一'`, `last = '1'`):
    /// before a 4th tone the tone becomes 2, before anything else 4; as the word's last
    /// character every digit becomes `last`.
    fn bu_yi(&self, han: &[char], pys: Vec<String>, ch: char, last: char) -> Vec<String> {
        if !han.contains(&ch) {
            return pys;
        }
        let mut t2 = self.tone2_list(&pys);
        let sub = |s: &str, d: char| -> String {
            s.chars()
                .map(|c| if c.is_ascii_digit() { d } else { c })
                .collect()
        };
        for (i, &h) in han.iter().enumerate() {
            if h != ch {
                continue;
            }
            if i < han.len() - 1 {
                t2[i] = if t2[i + 1].contains('4') {
                    t2[i].replace('4', "2")
                } else {
                    sub(&t2[i], '4')
                };
            } else {
                t2[i] = sub(&t2[i], last);
            }
        }
        t2.iter().map(|s| Self::table(&self.to_tone, s)).collect()
    }
}

/// `simpleseg._seg`: runs of `RE_HANS` characters and runs of anything else.
fn simple_seg(hans: &str) -> Vec<(String, bool)> {
    let mut runs: Vec<(String, bool)> = Vec::new();
    for c in hans.chars() {
        let h = is_pypinyin_han(c);
        match runs.last_mut() {
            Some((s, flag)) if *flag == h => s.push(c),
            _ => runs.push((c.to_string(), h)),
        }
    }
    runs
}

/// `lazy_pinyin(hans, style=Style.TONE3, tone_sandhi=True)` (errors="default": a run without
/// readings is kept whole as one item).
fn lazy_pinyin(hans: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (run, han) in simple_seg(hans) {
        if !han {
            out.push(run);
            continue;
        }
        let d = pypinyin_data();
        let chars: Vec<char> = run.chars().collect();
        for word in d.mmseg_cut(&chars) {
            out.extend(d.convert_word(&word));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::Value;
    use std::path::PathBuf;

    /// The ttsref split (`SN9_TTSREF` overrides the public split copied into fixtures/ttsref).
    fn ttsref() -> PathBuf {
        std::env::var_os("SN9_TTSREF")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/ttsref"))
            })
    }

    fn load(rel: &str) -> Value {
        let p = ttsref().join(rel);
        let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        serde_json::from_str(&s).unwrap()
    }

    fn strs(v: &Value) -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    }

    fn entries(v: &Value) -> Vec<(String, i64)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| (e[0].as_str().unwrap().to_string(), e[1].as_i64().unwrap()))
            .collect()
    }

    fn ids(v: &Value) -> Vec<Vec<i64>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_i64().unwrap())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn pinyin_cases() {
        let d = load("text/pinyin_cases.json");
        let cases = d["cases"].as_array().unwrap();
        assert!(!cases.is_empty());
        let mut bad = Vec::new();
        for c in cases {
            let text = c["text"].as_str().unwrap();
            let jieba_input = c["jieba_input"].as_str().unwrap();
            assert_eq!(c["utf8_len"].as_u64().unwrap() as usize, text.len());
            let segs = jieba_cut(jieba_input);
            if segs != strs(&c["jieba_segments"]) {
                bad.push(format!(
                    "{}: jieba {:?} != {:?}",
                    c["name"], segs, c["jieba_segments"]
                ));
            }
            let got = convert_char_to_pinyin(text);
            if got != strs(&c["output"]) {
                bad.push(format!("{}: {:?} != {:?}", c["name"], got, c["output"]));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn identity_rule_alphabet() {
        // The fixture's identity check: text over [a-z0-9' ] maps to its characters.
        let d = load("text/pinyin_cases.json");
        let alphabet: Vec<char> = d["identity_check"]["alphabet"]
            .as_str()
            .unwrap()
            .chars()
            .collect();
        assert_eq!(d["identity_check"]["violation_count"].as_u64(), Some(0));
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..3000 {
            let mut s = String::new();
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (state >> 33) % 40;
            for _ in 0..len {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s.push(alphabet[((state >> 33) % alphabet.len() as u64) as usize]);
            }
            let want: Vec<String> = s.chars().map(String::from).collect();
            assert_eq!(convert_char_to_pinyin(&s), want, "{s:?}");
        }
    }

    #[test]
    fn vocab_cases() {
        let d = load("text/vocab_cases.json");
        let cases = d["cases"].as_array().unwrap();
        assert!(!cases.is_empty());
        for c in cases {
            let name = c["name"].as_str().unwrap();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(c["bytes_b64"].as_str().unwrap())
                .unwrap();
            let parsed = Vocab::parse(&bytes);
            if let Some(err) = c["error"].as_str() {
                let e = parsed.expect_err(name);
                assert!(format!("{e:#}").contains(err), "{name}: {e:#}");
                continue;
            }
            let v = parsed.unwrap_or_else(|e| panic!("{name}: {e:#}"));
            let want = entries(&c["entries"]);
            assert_eq!(v.entries(), want, "{name}");
            assert_eq!(v.size() as u64, c["vocab_size"].as_u64().unwrap(), "{name}");
            for (k, id) in &want {
                assert_eq!(v.get(k), Some(*id), "{name}");
            }
        }
    }

    #[test]
    fn vocab_errors() {
        let e = Vocab::parse(b" \na\n\xff\n").unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("UnicodeDecodeError") && msg.contains("0xff") && msg.contains("offset 4"),
            "{msg}"
        );
        let e = Vocab::parse(b" \n\xe4\xbd").unwrap_err();
        assert!(format!("{e:#}").contains("unexpected end of data"), "{e:#}");
        let e = Vocab::parse(b"").unwrap_err();
        assert!(format!("{e:#}").contains("UnboundLocalError"), "{e:#}");
        // A duplicate: 4 lines, 3 keys, ids up to 3.
        let v = Vocab::parse(b" \na\nb\na\n").unwrap();
        assert_eq!((v.lines(), v.size(), v.get("a")), (4, 3, Some(3)));
    }

    #[test]
    fn list_str_to_idx_cases() {
        let d = load("text/list_str_to_idx_cases.json");
        let text: String = entries(&d["vocab_char_map"])
            .iter()
            .map(|(k, _)| format!("{k}\n"))
            .collect();
        let vocab = Vocab::parse(text.as_bytes()).unwrap();
        assert_eq!(vocab.entries(), entries(&d["vocab_char_map"]));
        let rows: Vec<Vec<String>> = d["inputs"].as_array().unwrap().iter().map(strs).collect();
        assert_eq!(list_str_to_idx(&rows, &vocab), ids(&d["output"]));
        assert!(list_str_to_idx(&[], &vocab).is_empty());
    }

    #[test]
    fn e2tts_tiny_vocab_and_text() {
        for case in ["e2tts_tiny", "e2tts_tiny_conv"] {
            let d = load(&format!("{case}/expected.json"));
            let path = ttsref().join(case).join("model/vocab.txt");
            let vocab = Vocab::from_file(&path).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            let ev = &d["vocab"];
            assert_eq!(vocab.entries(), entries(&ev["entries"]), "{case}");
            assert_eq!(
                vocab.size() as u64,
                ev["vocab_size"].as_u64().unwrap(),
                "{case}"
            );
            assert_eq!(
                vocab.lines() as u64,
                ev["file_lines"].as_u64().unwrap(),
                "{case}"
            );
            assert_eq!(
                bytes.ends_with(b"\n"),
                ev["file_ends_with_newline"].as_bool().unwrap(),
                "{case}"
            );
            let t = &d["text"];
            let raw = t["raw"].as_str().unwrap();
            assert_eq!(jieba_cut(raw), strs(&t["jieba_segments"]), "{case}");
            let tokens = convert_char_to_pinyin(raw);
            assert_eq!(tokens, strs(&t["convert_char_to_pinyin"]), "{case}");
            let idx = list_str_to_idx(std::slice::from_ref(&tokens), &vocab);
            assert_eq!(
                idx,
                vec![ids(&Value::Array(vec![t["list_str_to_idx"].clone()]))[0].clone()],
                "{case}"
            );
            let mut unknown: Vec<String> = Vec::new();
            for tok in &tokens {
                if vocab.get(tok).is_none() && !unknown.contains(tok) {
                    unknown.push(tok.clone());
                }
            }
            let mut want = strs(&t["unknown_tokens_mapped_to_0"]);
            unknown.sort();
            want.sort();
            assert_eq!(unknown, want, "{case}");
        }
    }

    #[test]
    fn spec_examples() {
        let joined = |s: &str| convert_char_to_pinyin(s).concat();
        assert_eq!(joined("hello,world"), "hello, world");
        assert_eq!(joined("1,000,000"), "1, 000, 000");
        assert_eq!(joined("well..."), "well ...");
        assert_eq!(joined("well-known"), "well- known");
        assert_eq!(joined("naïve"), "naï ve");
        assert_eq!(joined("Ωmega"), "Ω mega");
        assert_eq!(convert_char_to_pinyin("T恤"), ["T", " ", "xu4"]);
        assert_eq!(joined("第①名"), " di4① ming2");
    }
}
