//! Greedy Whisper generation as transformers 4.44.1 runs it for the validator's ASR pipeline
//! (`WhisperGenerationMixin.generate` in `models/whisper/generation_whisper.py`, no generate
//! kwargs), over a model behind [`WhisperStep`]. See `notes/tts-evaluation.md` §2.4–2.5.
//!
//! * `frames ≤ 3000`: short-form. One segment; the returned tokens are the prompt plus the
//!   generated ids, the final EOS removed.
//! * `frames > 3000`: long-form. Timestamps are forced on (`WhisperTimeStampLogitsProcessor`),
//!   the features are cut into 3000-frame segments at `seek` (the last one right-padded with 0.0
//!   in the log-mel domain), and the returned tokens are all segments' tokens (no prompts).
//!
//! In both forms every segment goes through `_retrieve_segment`, which keeps the tokens up to the
//! last pair of consecutive timestamps (when there is one) and drops the rest.
//!
//! The logits processors are pure functions over `scores: [vocab]` (one sequence, batch 1) so
//! they can be unit-tested alone.

use anyhow::{Context, Result, bail, ensure};

use super::features::{N_MELS, SEGMENT_FRAMES};
use super::genconfig::GenConfig;

/// `input_stride = conv1.stride · conv2.stride`: feature frames per encoder position (and per
/// timestamp step of 0.02 s).
pub const INPUT_STRIDE: usize = 2;

/// One Whisper network, driven step by step.
pub trait WhisperStep {
    /// Encodes one segment of exactly 3000 frames, `[80, 3000]` row-major; later `logits` calls
    /// use it.
    fn encode(&mut self, segment: &[f32]) -> anyhow::Result<()>;
    /// Raw logits `[vocab]` of the last position after feeding `tokens` (the whole decoder input
    /// so far, prompt included) to the decoder against the last encoded segment.
    /// Implementations may cache the keys/values of the prefix they saw on the previous call.
    fn logits(&mut self, tokens: &[u32]) -> anyhow::Result<Vec<f32>>;
}

/// What [`transcribe`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcription {
    /// The ids `generate` hands to the pipeline's `_decode_asr` (see the module doc).
    pub tokens: Vec<u32>,
    /// The language id detected from the first 3000 frames (`None` when the configuration fixes
    /// the prompt, e.g. the `config.json` fallback's forced English).
    pub language: Option<u32>,
    /// The decoder prompt of every segment (`[50258, lang, 50359, 50363]` short-form,
    /// `[50258, lang, 50359]` long-form).
    pub prompt: Vec<u32>,
    /// Whether long-form generation (timestamps, segments) ran.
    pub long_form: bool,
}

/// `torch.argmax` over one row: the first index of the largest value, NaN counting as largest.
/// 0 for an empty row.
pub fn argmax(scores: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in scores.iter().enumerate().skip(1) {
        let b = scores[best];
        if b.is_nan() {
            break;
        }
        if x.is_nan() || x > b {
            best = i;
        }
    }
    best
}

/// `SuppressTokensAtBeginLogitsProcessor`: at the first generated position (`seq_len ==
/// begin_index`) the ids in `ids` get −inf. Ids outside the vocabulary are ignored (`isin`).
pub fn suppress_tokens_at_begin(
    scores: &mut [f32],
    seq_len: usize,
    begin_index: usize,
    ids: &[u32],
) {
    if seq_len == begin_index {
        suppress_tokens(scores, ids);
    }
}

/// `SuppressTokensLogitsProcessor`: the ids in `ids` get −inf at every step.
pub fn suppress_tokens(scores: &mut [f32], ids: &[u32]) {
    for &id in ids {
        if let Some(s) = scores.get_mut(id as usize) {
            *s = f32::NEG_INFINITY;
        }
    }
}

/// The settings of `WhisperTimeStampLogitsProcessor`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimestampRule {
    /// `<|notimestamps|>` (50363), always masked.
    pub no_timestamps: u32,
    /// First timestamp id (`no_timestamps + 1`).
    pub timestamp_begin: u32,
    /// `eos_token_id or bos_token_id`: ids below it are "text" for the pairing rule.
    pub eos: u32,
    /// `max_initial_timestamp_index` (50): the first generated token is `≤ <|1.00|>`.
    pub max_initial_timestamp_index: Option<u32>,
    /// Length of the prompt: generated tokens start here.
    pub begin_index: usize,
}

/// `log(sum(exp(x)))` as `torch.logsumexp` (max-shifted; `-inf` for an all `-inf` row), with an
/// f64 sum.
fn logsumexp(x: &[f32]) -> f32 {
    let m = x.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let shift = if m.is_infinite() { 0.0 } else { m };
    let s: f64 = x.iter().map(|&v| ((v - shift) as f64).exp()).sum();
    (s.ln() as f32) + shift
}

/// `WhisperTimeStampLogitsProcessor.__call__` for one sequence (`input_ids` = prompt + generated
/// so far): `<|notimestamps|>` masked; timestamps come in pairs (after a timestamp pair or a
/// lone first timestamp only text, after a lone timestamp following text only timestamps or
/// EOS/specials); timestamps never decrease; the first generated token is a timestamp
/// `≤ max_initial_timestamp_index`; and if the timestamps' total probability beats every text
/// token, all text is masked.
pub fn timestamp_rules(scores: &mut [f32], input_ids: &[u32], r: &TimestampRule) {
    let v = scores.len();
    let tb = (r.timestamp_begin as usize).min(v);
    let neg = f32::NEG_INFINITY;
    if let Some(s) = scores.get_mut(r.no_timestamps as usize) {
        *s = neg;
    }
    let seq = input_ids.get(r.begin_index..).unwrap_or(&[]);
    let is_ts = |t: u32| t >= r.timestamp_begin;
    let last_was_timestamp = seq.last().is_some_and(|&t| is_ts(t));
    let penultimate_was_timestamp = seq.len() < 2 || is_ts(seq[seq.len() - 2]);
    if last_was_timestamp {
        if penultimate_was_timestamp {
            scores[tb..].fill(neg);
        } else {
            scores[..(r.eos as usize).min(v)].fill(neg);
        }
    }
    if let Some(&last_ts) = seq.iter().rev().find(|&&t| is_ts(t)) {
        let timestamp_last = if last_was_timestamp && !penultimate_was_timestamp {
            last_ts as usize
        } else {
            last_ts as usize + 1
        };
        if timestamp_last > tb {
            scores[tb..timestamp_last.min(v)].fill(neg);
        }
    }
    if input_ids.len() == r.begin_index {
        scores[..tb].fill(neg);
        if let Some(m) = r.max_initial_timestamp_index {
            let last_allowed = r.timestamp_begin as usize + m as usize;
            if last_allowed + 1 < v {
                scores[last_allowed + 1..].fill(neg);
            }
        }
    }
    // log_softmax, then logsumexp over the timestamps vs the best text token.
    let lse = logsumexp(scores);
    let logprobs: Vec<f32> = scores.iter().map(|&x| x - lse).collect();
    let timestamp_logprob = logsumexp(&logprobs[tb..]);
    let max_text = logprobs[..tb].iter().fold(f32::NEG_INFINITY, |a, &b| {
        if b.is_nan() || a.is_nan() {
            f32::NAN
        } else {
            a.max(b)
        }
    });
    if timestamp_logprob > max_text {
        scores[..tb].fill(neg);
    }
}

/// The processors `_retrieve_logit_processors` builds, in their order:
/// `SuppressTokensAtBegin`, `SuppressTokens`, then (long-form) the timestamp rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Processors {
    pub begin_index: usize,
    pub begin_suppress_tokens: Vec<u32>,
    pub suppress_tokens: Vec<u32>,
    pub timestamps: Option<TimestampRule>,
}

impl Processors {
    /// Applies all processors to the raw logits of the last position of `input_ids`.
    pub fn apply(&self, input_ids: &[u32], scores: &mut [f32]) {
        suppress_tokens_at_begin(
            scores,
            input_ids.len(),
            self.begin_index,
            &self.begin_suppress_tokens,
        );
        suppress_tokens(scores, &self.suppress_tokens);
        if let Some(r) = &self.timestamps {
            timestamp_rules(scores, input_ids, r);
        }
    }
}

/// `_retrieve_init_tokens` with `language` and `task` unset: `decoder_start`, the forced ids
/// (`forced_decoder_ids` must start at position 1 and be consecutive, else they are ignored /
/// an error as in transformers), the detected language when `lang_to_id` exists and position 1
/// is unset (`detect` is called only then), then `<|notimestamps|>` appended (short-form) or
/// removed (long-form). Returns the prompt and the detected language.
pub fn init_tokens(
    cfg: &GenConfig,
    return_timestamps: bool,
    detect: &mut dyn FnMut() -> Result<u32>,
) -> Result<(Vec<u32>, Option<u32>)> {
    let mut init: Vec<Option<u32>> = vec![Some(cfg.decoder_start)];
    if let Some(forced) = &cfg.forced_decoder_ids
        && forced.first().is_some_and(|f| f.0 == 1)
    {
        let mut rest = &forced[..];
        let mut i = 1;
        while let Some(&(pos, id)) = rest.first() {
            if pos != i {
                break;
            }
            init.push(id);
            rest = &rest[1..];
            i += 1;
        }
        if !rest.is_empty() {
            bail!(
                "forced_decoder_ids {forced:?} do not follow Whisper's prompt pattern (positions \
                 1, 2, … in order); fix the checkpoint's generation config"
            );
        }
    }
    let lang_undefined = init.len() <= 1 || init[1].is_none();
    let mut detected = None;
    if cfg.lang_to_id.is_some() && lang_undefined {
        let id = detect()?;
        detected = Some(id);
        if init.len() > 1 {
            init[1] = Some(id);
        } else {
            init.push(Some(id));
        }
    }
    if let Some(nt) = cfg.no_timestamps {
        let last = init.last().copied().flatten();
        if !return_timestamps && last != Some(nt) {
            init.push(Some(nt));
        } else if return_timestamps && last == Some(nt) {
            init.pop();
        }
    }
    Ok((init.into_iter().flatten().collect(), detected))
}

/// `detect_language` on the last encoded segment: one decoder step on `[decoder_start]`, every
/// id not in `lang_to_id` masked, argmax.
pub fn detect_language(step: &mut dyn WhisperStep, cfg: &GenConfig) -> Result<u32> {
    let logits = step.logits(&[cfg.decoder_start])?;
    let ids = cfg.language_ids();
    ensure!(!ids.is_empty(), "generation config: lang_to_id is empty");
    let mut masked = vec![f32::NEG_INFINITY; logits.len()];
    for &id in &ids {
        let x = logits.get(id as usize).with_context(|| {
            format!(
                "language id {id} of lang_to_id is outside the model's vocabulary ({})",
                logits.len()
            )
        })?;
        masked[id as usize] = *x;
    }
    Ok(argmax(&masked) as u32)
}

/// `_retrieve_segment`: splits one segment's tokens at pairs of consecutive timestamps. Returns
/// the number of leading tokens kept (all of them without a pair; otherwise up to the last pair,
/// or everything when the sequence ends with a single timestamp) and how far `seek` advances
/// (`seek_num_frames`, or the last pair's first timestamp · 2 when the tail after it is cut).
pub fn retrieve_segment(
    seq: &[u32],
    timestamp_begin: u32,
    seek_num_frames: usize,
) -> (usize, usize) {
    let ts: Vec<bool> = seq.iter().map(|&t| t >= timestamp_begin).collect();
    let n = ts.len();
    let single_timestamp_ending = n >= 2 && !ts[n - 2] && ts[n - 1];
    let mut slices: Vec<usize> = (0..n.saturating_sub(1))
        .filter(|&i| ts[i] && ts[i + 1])
        .map(|i| i + 1)
        .collect();
    if slices.is_empty() {
        return (n, seek_num_frames);
    }
    if single_timestamp_ending {
        slices.push(n);
    }
    let last_slice = *slices.last().unwrap_or(&0);
    if single_timestamp_ending {
        (last_slice, seek_num_frames)
    } else {
        let pos = (seq[last_slice - 1] - timestamp_begin) as usize;
        (last_slice, pos * INPUT_STRIDE)
    }
}

/// The features of one segment: `features[:, seek : seek + n]` right-padded with 0.0 to 3000
/// frames (`_get_input_segment`), `[80, 3000]` row-major.
pub fn segment(features: &[f32], frames: usize, seek: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0f32; N_MELS * SEGMENT_FRAMES];
    for m in 0..N_MELS {
        let row = &features[m * frames + seek..m * frames + seek + n];
        out[m * SEGMENT_FRAMES..m * SEGMENT_FRAMES + n].copy_from_slice(row);
    }
    out
}

/// Greedy decoding of one segment from `prompt` until EOS or `max_length` tokens (prompt
/// included); returns prompt + generated ids.
fn greedy(
    step: &mut dyn WhisperStep,
    prompt: &[u32],
    procs: &Processors,
    cfg: &GenConfig,
) -> Result<Vec<u32>> {
    let mut seq = prompt.to_vec();
    loop {
        if let Some(mtp) = cfg.max_target_positions {
            ensure!(
                seq.len() <= mtp,
                "the decoder input reached {} tokens, more than max_target_positions {mtp}; \
                 max_length {} in the generation config is too large for this model",
                seq.len(),
                cfg.max_length
            );
        }
        let mut scores = step.logits(&seq)?;
        ensure!(!scores.is_empty(), "the model returned no logits");
        procs.apply(&seq, &mut scores);
        let next = argmax(&scores) as u32;
        seq.push(next);
        if next == cfg.eos || seq.len() >= cfg.max_length {
            return Ok(seq);
        }
    }
}

/// Whisper's `generate` on the features of one wave (`[80, frames]` row-major, as
/// [`super::features::WhisperFeatureExtractor::extract`] returns them), greedy, batch 1.
pub fn transcribe(
    step: &mut dyn WhisperStep,
    features: &[f32],
    frames: usize,
    cfg: &GenConfig,
) -> Result<Transcription> {
    ensure!(
        features.len() == N_MELS * frames,
        "features hold {} values, expected 80 × {frames}",
        features.len()
    );
    ensure!(
        frames >= SEGMENT_FRAMES,
        "Whisper needs at least {SEGMENT_FRAMES} feature frames, got {frames} (the pipeline pads \
         every wave to 480000 samples)"
    );
    let long_form = frames > SEGMENT_FRAMES;
    if long_form && cfg.no_timestamps.is_none() {
        bail!(
            "the wave is longer than 30 s as Whisper reads it ({frames} frames), which needs \
             long-form generation with timestamps, but the generation config has no \
             no_timestamps_token_id (transformers raises ValueError here too); use a checkpoint \
             with a generation_config.json"
        );
    }
    // The segment last given to `encode` (seek, frames), to skip re-encoding the same input.
    let mut encoded: Option<(usize, usize)> = None;
    let (prompt, language) = init_tokens(cfg, long_form, &mut || {
        step.encode(&segment(features, frames, 0, SEGMENT_FRAMES))?;
        encoded = Some((0, SEGMENT_FRAMES));
        detect_language(step, cfg)
    })?;
    ensure!(
        prompt.len() < cfg.max_length,
        "the prompt has {} tokens but max_length is {}; transformers raises ValueError here",
        prompt.len(),
        cfg.max_length
    );
    if let Some(mtp) = cfg.max_target_positions {
        ensure!(
            prompt.len() <= mtp,
            "the prompt is longer than max_target_positions {mtp}"
        );
    }
    let timestamp_begin = cfg.timestamp_begin().unwrap_or(u32::MAX);
    let procs = Processors {
        begin_index: prompt.len(),
        begin_suppress_tokens: cfg.begin_suppress_tokens.clone(),
        suppress_tokens: cfg.suppress_tokens.clone(),
        timestamps: long_form.then(|| TimestampRule {
            no_timestamps: timestamp_begin - 1,
            timestamp_begin,
            eos: if cfg.eos != 0 {
                cfg.eos
            } else {
                cfg.bos.unwrap_or(0)
            },
            max_initial_timestamp_index: cfg.max_initial_timestamp_index,
            begin_index: prompt.len(),
        }),
    };
    let mut tokens = Vec::new();
    let mut seek = 0;
    while seek < frames {
        let n = (frames - seek).min(SEGMENT_FRAMES);
        if encoded != Some((seek, n)) {
            step.encode(&segment(features, frames, seek, n))?;
            encoded = Some((seek, n));
        }
        let out = greedy(step, &prompt, &procs, cfg)?;
        // _postprocess_outputs: long-form drops the prompt.
        let mut seq: Vec<u32> = if long_form {
            out[prompt.len()..].to_vec()
        } else {
            out
        };
        let is_not_final = seek + SEGMENT_FRAMES < frames;
        if is_not_final && seq.last() == Some(&cfg.eos) {
            seq.pop();
        }
        let Some(&last) = seq.last() else {
            bail!(
                "segment at frame {seek} decoded to no tokens (transformers fails with an \
                 IndexError here); the model or generation config is broken"
            );
        };
        if last == cfg.pad {
            // `seek_sequence[:-num_paddings]` with every pad id counted, wherever it is.
            let num_paddings = seq.iter().filter(|&&t| t == cfg.pad).count();
            seq.truncate(seq.len().saturating_sub(num_paddings));
        }
        let (keep, offset) = retrieve_segment(&seq, timestamp_begin, n);
        tokens.extend_from_slice(&seq[..keep]);
        if long_form {
            ensure!(
                offset > 0,
                "long-form generation made no progress at frame {seek} (the segment ended on \
                 the timestamp <|0.00|>)"
            );
            seek += offset;
        } else {
            seek += frames;
        }
    }
    Ok(Transcription {
        tokens,
        language,
        prompt,
        long_form,
    })
}

/// The token list transformers' `generate` hands to the pipeline's decode (see [`transcribe`]).
pub fn transcribe_tokens(
    step: &mut dyn WhisperStep,
    features: &[f32],
    frames: usize,
    cfg: &GenConfig,
) -> Result<Vec<u32>> {
    Ok(transcribe(step, features, frames, cfg)?.tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asr::genconfig::GenConfigSource;

    const NEG: f32 = f32::NEG_INFINITY;

    fn rule() -> TimestampRule {
        TimestampRule {
            no_timestamps: 8,
            timestamp_begin: 9,
            eos: 5,
            max_initial_timestamp_index: Some(2),
            begin_index: 3,
        }
    }

    #[test]
    fn argmax_takes_first_max_and_nan() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
        assert_eq!(argmax(&[NEG, NEG]), 0);
        assert_eq!(argmax(&[1.0, f32::NAN, 9.0]), 1);
        assert_eq!(argmax(&[]), 0);
    }

    #[test]
    fn begin_suppression_only_at_begin() {
        let mut s = vec![0.0; 6];
        suppress_tokens_at_begin(&mut s, 4, 4, &[1, 5, 99]);
        assert_eq!(s, vec![0.0, NEG, 0.0, 0.0, 0.0, NEG]);
        let mut s = vec![0.0; 6];
        suppress_tokens_at_begin(&mut s, 5, 4, &[1]);
        assert_eq!(s, vec![0.0; 6]);
    }

    #[test]
    fn first_timestamp_is_bounded() {
        // vocab 14: text 0..5, eos 5, specials 6..8, notimestamps 8, timestamps 9..14.
        let mut s = vec![0.0; 14];
        timestamp_rules(&mut s, &[0, 1, 2], &rule());
        // Only timestamps 9..=11 survive.
        let alive: Vec<usize> = (0..14).filter(|&i| s[i] > NEG).collect();
        assert_eq!(alive, vec![9, 10, 11]);
    }

    #[test]
    fn pairs_and_monotonic_timestamps() {
        let r = rule();
        // After a lone first timestamp (penultimate counts as timestamp): no timestamps.
        let mut s = vec![0.0; 14];
        s[0] = 10.0;
        timestamp_rules(&mut s, &[0, 1, 2, 10], &r);
        assert!(s[9..].iter().all(|&x| x == NEG));
        assert_eq!(s[0], 10.0);
        // text after a timestamp: ids < 10 masked among timestamps (must not decrease, +1).
        let mut s = vec![0.0; 14];
        s[0] = 10.0;
        timestamp_rules(&mut s, &[0, 1, 2, 10, 3], &r);
        assert_eq!(&s[9..11], &[NEG, NEG]);
        assert_eq!(s[11], 0.0);
        // After text then a timestamp: text (< eos) masked, that timestamp itself allowed.
        let mut s = vec![0.0; 14];
        s[5] = 5.0;
        timestamp_rules(&mut s, &[0, 1, 2, 10, 3, 11], &r);
        assert!(s[..5].iter().all(|&x| x == NEG));
        assert_eq!(s[5], 5.0); // EOS stays
        assert_eq!(&s[9..11], &[NEG, NEG]);
        assert_eq!(s[11], 0.0);
        assert_eq!(s[8], NEG); // notimestamps
    }

    #[test]
    fn timestamp_mass_wins_over_text() {
        let r = TimestampRule {
            max_initial_timestamp_index: None,
            ..rule()
        };
        // Each timestamp slightly below the best text token, but their sum wins.
        let mut s = vec![0.0; 14];
        s[0] = 1.0;
        for x in &mut s[9..] {
            *x = 0.5;
        }
        timestamp_rules(&mut s, &[0, 1, 2, 3], &r);
        assert!(s[..9].iter().all(|&x| x == NEG));
        let mut s = vec![0.0; 14];
        s[0] = 5.0;
        timestamp_rules(&mut s, &[0, 1, 2, 3], &r);
        assert_eq!(s[0], 5.0);
    }

    #[test]
    fn segments_are_cut_at_timestamp_pairs() {
        // No timestamps: everything, whole segment.
        assert_eq!(retrieve_segment(&[1, 2, 3], 9, 3000), (3, 3000));
        // Single timestamp only: everything.
        assert_eq!(retrieve_segment(&[1, 2, 12, 3], 9, 3000), (4, 3000));
        // Pair then a tail: the tail is dropped, seek to the pair's first timestamp · 2.
        assert_eq!(retrieve_segment(&[9, 1, 12, 13, 2, 3], 9, 3000), (3, 6));
        // Pair then text then a single timestamp ending: everything, whole segment.
        assert_eq!(retrieve_segment(&[9, 1, 12, 13, 2, 15], 9, 500), (6, 500));
        // Three timestamps at the end: the last one is the start of a dropped segment.
        assert_eq!(retrieve_segment(&[1, 10, 11, 11], 9, 3000), (3, 4));
    }

    fn cfg() -> GenConfig {
        GenConfig {
            source: GenConfigSource::GenerationConfigJson,
            decoder_start: 50258,
            eos: 50257,
            pad: 50257,
            bos: Some(50257),
            no_timestamps: Some(50363),
            lang_to_id: Some(vec![("<|en|>".into(), 50259)]),
            task_to_id: None,
            suppress_tokens: vec![],
            begin_suppress_tokens: vec![220, 50257],
            max_length: 448,
            max_initial_timestamp_index: Some(50),
            forced_decoder_ids: Some(vec![(1, None), (2, Some(50359))]),
            is_multilingual: Some(true),
            max_target_positions: Some(448),
        }
    }

    #[test]
    fn prompts() {
        let c = cfg();
        let (p, l) = init_tokens(&c, false, &mut || Ok(50299)).unwrap();
        assert_eq!((p, l), (vec![50258, 50299, 50359, 50363], Some(50299)));
        let (p, _) = init_tokens(&c, true, &mut || Ok(50299)).unwrap();
        assert_eq!(p, vec![50258, 50299, 50359]);
        // config.json fallback: forced English, no detection, no notimestamps id.
        let f = GenConfig {
            lang_to_id: None,
            no_timestamps: None,
            forced_decoder_ids: Some(vec![(1, Some(50259)), (2, Some(50359)), (3, Some(50363))]),
            ..cfg()
        };
        let (p, l) = init_tokens(&f, false, &mut || panic!("no detection")).unwrap();
        assert_eq!((p, l), (vec![50258, 50259, 50359, 50363], None));
        let bad = GenConfig {
            forced_decoder_ids: Some(vec![(1, None), (3, Some(50359))]),
            ..cfg()
        };
        assert!(init_tokens(&bad, false, &mut || Ok(1)).is_err());
    }

    /// A model that says EOS after `n` generated tokens, else the token `7`.
    struct Fake {
        n: usize,
        vocab: usize,
        encodes: usize,
    }
    impl WhisperStep for Fake {
        fn encode(&mut self, s: &[f32]) -> Result<()> {
            assert_eq!(s.len(), 80 * 3000);
            self.encodes += 1;
            Ok(())
        }
        fn logits(&mut self, t: &[u32]) -> Result<Vec<f32>> {
            let mut l = vec![0.0; self.vocab];
            let hot = if t.len() == 1 {
                50259
            } else if t.len() >= 4 + self.n {
                50257
            } else {
                7
            };
            if let Some(x) = l.get_mut(hot) {
                *x = 1.0;
            }
            Ok(l)
        }
    }

    #[test]
    fn short_form_keeps_prompt_and_drops_eos() {
        let mut m = Fake {
            n: 3,
            vocab: 51865,
            encodes: 0,
        };
        let f = vec![0.0; 80 * 3000];
        let t = transcribe(&mut m, &f, 3000, &cfg()).unwrap();
        assert_eq!(t.tokens, vec![50258, 50259, 50359, 50363, 7, 7, 7]);
        assert_eq!(t.language, Some(50259));
        assert_eq!(m.encodes, 1);
    }

    #[test]
    fn hostile_inputs_are_errors() {
        let mut m = Fake {
            n: 3,
            vocab: 51865,
            encodes: 0,
        };
        assert!(transcribe(&mut m, &[0.0; 80 * 10], 10, &cfg()).is_err());
        assert!(transcribe(&mut m, &[0.0; 5], 3000, &cfg()).is_err());
        let mut small = Fake {
            n: 3,
            vocab: 100,
            encodes: 0,
        };
        let f = vec![0.0; 80 * 3000];
        assert!(transcribe(&mut small, &f, 3000, &cfg()).is_err());
        let no_ts = GenConfig {
            no_timestamps: None,
            ..cfg()
        };
        let f = vec![0.0; 80 * 3500];
        assert!(transcribe(&mut m, &f, 3500, &no_ts).is_err());
    }
}
