//! The Whisper generation configuration as transformers 4.44.1 builds it for `generate`
//! (`GenerationConfig.from_pretrained`, or `GenerationConfig.from_model_config(config)` when the
//! checkpoint has no `generation_config.json`). See `notes/tts-evaluation.md` §2.4 and §2.7.
//!
//! Both files are downloaded from a hub, so they are validated: a missing required key or a value
//! of the wrong type is an error naming the file and key; a setting that would make transformers
//! generate differently from the greedy path implemented in [`super::generate`] (beam search,
//! penalties, a preset language or task, thresholds …) is refused rather than silently ignored.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};

/// `forced_decoder_ids`: `(position, id)` pairs; a `None` id asks for language detection.
pub type ForcedIds = Vec<(u32, Option<u32>)>;

/// Where the configuration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenConfigSource {
    /// `generation_config.json` (openai/whisper-large-v2 has one).
    GenerationConfigJson,
    /// Built from `config.json` (no `generation_config.json`): no `lang_to_id`, `task_to_id`,
    /// `is_multilingual` or `no_timestamps_token_id`, so the prompt is `config.json`'s forced
    /// ids (forced English for large-v2) and long-form generation is an error.
    ModelConfigJson,
}

/// The generation settings Whisper's greedy `generate` reads.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    pub source: GenConfigSource,
    /// `decoder_start_token_id` (`<|startoftranscript|>`, 50258).
    pub decoder_start: u32,
    /// `eos_token_id` (50257).
    pub eos: u32,
    /// `pad_token_id` (50257 = EOS, which is why the pipeline drops the final EOS).
    pub pad: u32,
    /// `bos_token_id` (only used by the timestamp processor when `eos` is 0).
    pub bos: Option<u32>,
    /// `no_timestamps_token_id` (50363); timestamps are the ids above it. `None` makes long-form
    /// generation an error.
    pub no_timestamps: Option<u32>,
    /// `lang_to_id` (`"<|en|>" → 50259`, …), in the file's order. `None`: no language detection.
    pub lang_to_id: Option<Vec<(String, u32)>>,
    /// `task_to_id` (`transcribe → 50359`, `translate → 50358`).
    pub task_to_id: Option<BTreeMap<String, u32>>,
    /// `suppress_tokens` (88 ids for large-v2), masked at every step.
    pub suppress_tokens: Vec<u32>,
    /// `begin_suppress_tokens` (`[220, 50257]`), masked at the first generated position.
    pub begin_suppress_tokens: Vec<u32>,
    /// `max_length` (448): the longest decoder sequence, prompt included.
    pub max_length: usize,
    /// `max_initial_timestamp_index` (50; long-form only).
    pub max_initial_timestamp_index: Option<u32>,
    /// The forced decoder ids in effect: the generation config's, or `config.json`'s when those
    /// are absent (`_retrieve_init_tokens`). `(position, id)`; `None` ids ask for detection.
    pub forced_decoder_ids: Option<ForcedIds>,
    /// `is_multilingual` (recorded; transformers does not gate detection on it).
    pub is_multilingual: Option<bool>,
    /// `config.json`'s `max_target_positions` (448), when that file was read.
    pub max_target_positions: Option<usize>,
}

fn read_json(path: &Path) -> Result<Map<String, Value>> {
    let text = crate::output::read_text(path, crate::output::Limit::ModelJson)?;
    let v: Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not valid JSON; re-download the checkpoint",
            path.display()
        )
    })?;
    match v {
        Value::Object(m) => Ok(m),
        _ => bail!("{} is not a JSON object", path.display()),
    }
}

/// Typed access to one configuration file, errors naming the file and key.
struct Keys<'a> {
    file: &'a str,
    m: &'a Map<String, Value>,
}

impl Keys<'_> {
    /// `None` when the key is absent or null.
    fn get(&self, k: &str) -> Option<&Value> {
        self.m.get(k).filter(|v| !v.is_null())
    }
    fn id_of(&self, k: &str, v: &Value) -> Result<u32> {
        v.as_u64()
            .and_then(|x| u32::try_from(x).ok())
            .with_context(|| {
                format!(
                    "{}: `{k}` must be a non-negative token id, found {v}",
                    self.file
                )
            })
    }
    fn opt_id(&self, k: &str) -> Result<Option<u32>> {
        self.get(k).map(|v| self.id_of(k, v)).transpose()
    }
    fn id(&self, k: &str) -> Result<u32> {
        self.opt_id(k)?.with_context(|| {
            format!(
                "{}: required key `{k}` is missing or null; this is not a usable Whisper checkpoint",
                self.file
            )
        })
    }
    fn ids(&self, k: &str) -> Result<Vec<u32>> {
        match self.get(k) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => a.iter().map(|v| self.id_of(k, v)).collect(),
            Some(v) => bail!(
                "{}: `{k}` must be a list of token ids, found {v}",
                self.file
            ),
        }
    }
    fn usize(&self, k: &str) -> Result<usize> {
        let v = self
            .get(k)
            .with_context(|| format!("{}: required key `{k}` is missing or null", self.file))?;
        v.as_u64()
            .and_then(|x| usize::try_from(x).ok())
            .with_context(|| {
                format!(
                    "{}: `{k}` must be a non-negative integer, found {v}",
                    self.file
                )
            })
    }
    fn forced(&self, k: &str) -> Result<Option<ForcedIds>> {
        let Some(v) = self.get(k) else {
            return Ok(None);
        };
        let bad = || {
            format!(
                "{}: `{k}` must be a list of [position, id or null] pairs, found {v}",
                self.file
            )
        };
        let a = v.as_array().with_context(bad)?;
        if a.is_empty() {
            // transformers indexes forced_decoder_ids[0]: an empty list is an IndexError there.
            bail!("{}: `{k}` is an empty list", self.file);
        }
        a.iter()
            .map(|p| {
                let p = p.as_array().filter(|p| p.len() == 2).with_context(bad)?;
                let pos = p[0]
                    .as_u64()
                    .and_then(|x| u32::try_from(x).ok())
                    .with_context(bad)?;
                let id = if p[1].is_null() {
                    None
                } else {
                    Some(self.id_of(k, &p[1])?)
                };
                Ok((pos, id))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }
}

/// Settings of a `generation_config.json` that would take transformers off the plain greedy path,
/// unless absent, null or transformers' default ([`is_default`]).
const MUST_BE_DEFAULT: &[&str] = &[
    "num_beams",
    "num_return_sequences",
    "repetition_penalty",
    "no_repeat_ngram_size",
    "encoder_no_repeat_ngram_size",
    "encoder_repetition_penalty",
    "bad_words_ids",
    "min_length",
    "min_new_tokens",
    "max_new_tokens",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "exponential_decay_length_penalty",
    "sequence_bias",
    "guidance_scale",
    "language",
    "task",
    "logprob_threshold",
    "no_speech_threshold",
    "compression_ratio_threshold",
    "condition_on_prev_tokens",
    "penalty_alpha",
    "stop_strings",
    "max_time",
];

/// The values of [`MUST_BE_DEFAULT`] keys that are harmless (transformers' defaults).
fn is_default(k: &str, v: &Value) -> bool {
    match k {
        "num_beams" | "num_return_sequences" => v.as_u64() == Some(1),
        "repetition_penalty" | "encoder_repetition_penalty" => v.as_f64() == Some(1.0),
        "no_repeat_ngram_size" | "encoder_no_repeat_ngram_size" | "min_length" => {
            v.as_u64() == Some(0)
        }
        "condition_on_prev_tokens" => v.as_bool() == Some(false),
        _ => v.is_null(),
    }
}

impl GenConfig {
    /// Loads the configuration of a Whisper checkpoint directory: `generation_config.json` when
    /// present (with `config.json`'s `forced_decoder_ids` as transformers' fallback), otherwise
    /// the one transformers builds from `config.json`.
    pub fn load(dir: &Path) -> Result<GenConfig> {
        let gen_path = dir.join("generation_config.json");
        let cfg_path = dir.join("config.json");
        let model = if cfg_path.exists() {
            Some(read_json(&cfg_path)?)
        } else {
            None
        };
        if gen_path.exists() {
            let generation = read_json(&gen_path)?;
            GenConfig::from_generation_config(&generation, model.as_ref())
        } else {
            let model = model.with_context(|| {
                format!(
                    "{} has neither generation_config.json nor config.json; point it at a \
                     Whisper checkpoint directory",
                    dir.display()
                )
            })?;
            GenConfig::from_model_config(&model)
        }
    }

    /// From the objects of `generation_config.json` and (optionally) `config.json`.
    pub fn from_generation_config(
        generation: &Map<String, Value>,
        model: Option<&Map<String, Value>>,
    ) -> Result<GenConfig> {
        let g = Keys {
            file: "generation_config.json",
            m: generation,
        };
        for k in MUST_BE_DEFAULT {
            if let Some(v) = g.get(k)
                && !is_default(k, v)
            {
                bail!(
                    "generation_config.json sets `{k}` to {v}; the validator's Whisper \
                     transcription is plain greedy decoding and does not support it (remove the key)"
                );
            }
        }
        let lang_to_id = match g.get("lang_to_id") {
            None => None,
            Some(Value::Object(o)) => Some(
                o.iter()
                    .map(|(k, v)| Ok((k.clone(), g.id_of("lang_to_id", v)?)))
                    .collect::<Result<Vec<_>>>()?,
            ),
            Some(v) => bail!("generation_config.json: `lang_to_id` must be an object, found {v}"),
        };
        let task_to_id = match g.get("task_to_id") {
            None => None,
            Some(Value::Object(o)) => Some(
                o.iter()
                    .map(|(k, v)| Ok((k.clone(), g.id_of("task_to_id", v)?)))
                    .collect::<Result<BTreeMap<_, _>>>()?,
            ),
            Some(v) => bail!("generation_config.json: `task_to_id` must be an object, found {v}"),
        };
        let is_multilingual = match g.get("is_multilingual") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(v) => {
                bail!("generation_config.json: `is_multilingual` must be true or false, found {v}")
            }
        };
        let m = model.map(|m| Keys {
            file: "config.json",
            m,
        });
        let mut forced = g.forced("forced_decoder_ids")?;
        if forced.is_none()
            && let Some(m) = &m
        {
            forced = m.forced("forced_decoder_ids")?;
        }
        let max_target_positions = m
            .as_ref()
            .map(|m| m.usize("max_target_positions"))
            .transpose()?;
        Ok(GenConfig {
            source: GenConfigSource::GenerationConfigJson,
            decoder_start: g.id("decoder_start_token_id")?,
            eos: g.id("eos_token_id")?,
            pad: g.id("pad_token_id")?,
            bos: g.opt_id("bos_token_id")?,
            no_timestamps: g.opt_id("no_timestamps_token_id")?,
            lang_to_id,
            task_to_id,
            suppress_tokens: g.ids("suppress_tokens")?,
            begin_suppress_tokens: g.ids("begin_suppress_tokens")?,
            max_length: g.usize("max_length")?,
            max_initial_timestamp_index: g.opt_id("max_initial_timestamp_index")?,
            forced_decoder_ids: forced,
            is_multilingual,
            max_target_positions,
        })
    }

    /// `GenerationConfig.from_model_config(config)` (no `generation_config.json`): only the
    /// standard generation keys of `config.json` are taken.
    pub fn from_model_config(model: &Map<String, Value>) -> Result<GenConfig> {
        let m = Keys {
            file: "config.json",
            m: model,
        };
        Ok(GenConfig {
            source: GenConfigSource::ModelConfigJson,
            decoder_start: m.id("decoder_start_token_id")?,
            eos: m.id("eos_token_id")?,
            pad: m.id("pad_token_id")?,
            bos: m.opt_id("bos_token_id")?,
            no_timestamps: None,
            lang_to_id: None,
            task_to_id: None,
            suppress_tokens: m.ids("suppress_tokens")?,
            begin_suppress_tokens: m.ids("begin_suppress_tokens")?,
            max_length: m.usize("max_length")?,
            max_initial_timestamp_index: None,
            forced_decoder_ids: m.forced("forced_decoder_ids")?,
            is_multilingual: None,
            max_target_positions: Some(m.usize("max_target_positions")?),
        })
    }

    /// The language token ids (`lang_to_id`'s values, file order).
    pub fn language_ids(&self) -> Vec<u32> {
        self.lang_to_id
            .iter()
            .flatten()
            .map(|(_, id)| *id)
            .collect()
    }

    /// The `lang_to_id` key (`"<|te|>"`) of a language id.
    pub fn language_token(&self, id: u32) -> Option<&str> {
        self.lang_to_id
            .iter()
            .flatten()
            .find(|(_, i)| *i == id)
            .map(|(k, _)| k.as_str())
    }

    /// First timestamp id (`no_timestamps_token_id + 1`), when the config has timestamps.
    pub fn timestamp_begin(&self) -> Option<u32> {
        self.no_timestamps.map(|t| t + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn minimal() -> Value {
        json!({
            "decoder_start_token_id": 50258, "eos_token_id": 50257, "pad_token_id": 50257,
            "max_length": 448, "forced_decoder_ids": [[1, null], [2, 50359]],
            "lang_to_id": {"<|en|>": 50259, "<|zh|>": 50260}, "no_timestamps_token_id": 50363,
            "suppress_tokens": [1, 2], "begin_suppress_tokens": [220, 50257]
        })
    }

    #[test]
    fn reads_generation_config() {
        let c = GenConfig::from_generation_config(&obj(minimal()), None).unwrap();
        assert_eq!(
            c.forced_decoder_ids,
            Some(vec![(1, None), (2, Some(50359))])
        );
        assert_eq!(c.language_ids(), vec![50259, 50260]);
        assert_eq!(c.language_token(50260), Some("<|zh|>"));
        assert_eq!(c.timestamp_begin(), Some(50364));
    }

    #[test]
    fn forced_ids_fall_back_to_config_json() {
        let mut g = minimal();
        g["forced_decoder_ids"] = Value::Null;
        let model = json!({"forced_decoder_ids": [[1, 50259]], "max_target_positions": 448});
        let c = GenConfig::from_generation_config(&obj(g), Some(&obj(model))).unwrap();
        assert_eq!(c.forced_decoder_ids, Some(vec![(1, Some(50259))]));
    }

    #[test]
    fn hostile_values_are_errors() {
        for (k, v) in [
            ("eos_token_id", json!("x")),
            ("eos_token_id", json!(-1)),
            ("eos_token_id", json!([50257])),
            ("max_length", json!(1.5)),
            ("suppress_tokens", json!({"a": 1})),
            ("forced_decoder_ids", json!([[1]])),
            ("forced_decoder_ids", json!([])),
            ("lang_to_id", json!({"<|en|>": "x"})),
            ("num_beams", json!(5)),
            ("language", json!("en")),
            ("is_multilingual", json!(1)),
        ] {
            let mut g = minimal();
            g[k] = v.clone();
            let e = GenConfig::from_generation_config(&obj(g), None);
            assert!(e.is_err(), "{k} = {v} accepted");
        }
        let mut g = minimal();
        g.as_object_mut().unwrap().remove("decoder_start_token_id");
        let e = GenConfig::from_generation_config(&obj(g), None).unwrap_err();
        assert!(format!("{e:#}").contains("decoder_start_token_id"));
    }

    #[test]
    fn defaults_are_accepted() {
        let mut g = minimal();
        g["num_beams"] = json!(1);
        g["repetition_penalty"] = json!(1.0);
        g["language"] = Value::Null;
        assert!(GenConfig::from_generation_config(&obj(g), None).is_ok());
    }
}
