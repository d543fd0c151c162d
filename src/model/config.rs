//! Model configuration from Hugging Face `config.json`: the nine classes the text competitions
//! accept. Llama, Mistral, Qwen2, Gemma, Gemma2 and Phi are one decoder with options; Falcon,
//! GPT-NeoX and Bart are parsed, counted and checked (the reference validator cannot score them:
//! [`ModelConfig::validator_forward_error`]). Absent keys take transformers 4.44.1's class
//! defaults.

use std::path::Path;

use anyhow::Result;
use serde_json::{Map, Value, json};

use crate::error::user;

/// The architectures sn9 reads (transformers class names): the competitions' nine.
pub const SUPPORTED: [&str; 9] = [
    "LlamaForCausalLM",
    "MistralForCausalLM",
    "Qwen2ForCausalLM",
    "GemmaForCausalLM",
    "Gemma2ForCausalLM",
    "PhiForCausalLM",
    "FalconForCausalLM",
    "GPTNeoXForCausalLM",
    "BartForCausalLM",
];

/// Model family: decides the defaults transformers applies to absent keys, the layout and the
/// parameter names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Llama,
    Mistral,
    Qwen2,
    Gemma,
    Gemma2,
    Phi,
    Falcon,
    GptNeox,
    Bart,
}

/// The error transformers 4.44.1 raises on the validator's call
/// `model(inputs, past_key_values=DynamicCache())` for Falcon, GPT-NeoX and Bart: their forward
/// indexes the cache as a legacy tuple, and an empty `DynamicCache` has no layer 0.
pub const DYNAMIC_CACHE_ERROR: &str =
    "KeyError: 'Cache only has 0 layers, attempted to access layer with index 0'";

/// A parameter's HF name and shape.
pub type Shape = (String, Vec<usize>);

/// Why the reference validator cannot score `architecture` (Falcon, GPT-NeoX, Bart), if so.
pub fn unscorable_reason(architecture: &str) -> Option<String> {
    matches!(
        architecture,
        "FalconForCausalLM" | "GPTNeoXForCausalLM" | "BartForCausalLM"
    )
    .then(|| {
        format!(
            "the reference validator cannot score {architecture}: transformers 4.44.1 raises on \
             its model(inputs, past_key_values=DynamicCache()) ({DYNAMIC_CACHE_ERROR}), so every \
             batch scores inf"
        )
    })
}

/// The normalisation layers of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormKind {
    /// Llama's RMSNorm: normalised in float32, cast, then times `w`.
    Rms,
    /// Gemma's RMSNorm: `x̂ · (1 + w)` computed in float32 and cast once (`w` starts at 0).
    RmsOnePlus,
    /// `nn.LayerNorm` with a bias (Phi).
    LayerNorm,
}

/// The MLP activation (`ACT2FN[name]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `silu` / `swish`.
    Silu,
    /// `gelu`: the exact erf form.
    GeluErf,
    /// `gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`: the tanh approximation.
    GeluTanh,
    /// `relu`.
    Relu,
}

impl Activation {
    fn parse(name: &str) -> Result<Activation> {
        Ok(match name {
            "silu" | "swish" => Activation::Silu,
            "gelu" => Activation::GeluErf,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => {
                return Err(user(format!(
                    "config.json: activation `{other}` is not implemented in sn9 (silu, gelu, \
                     gelu_new, gelu_pytorch_tanh, gelu_fast, relu)"
                )));
            }
        })
    }
}

/// How a decoder layer combines attention and MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Residual {
    /// `h = x + A(n₁(x)); h + M(n₂(h))` (Llama, Gemma).
    Sequential,
    /// Gemma2: `h = x + n₂(A(n₁(x))); h + n₄(M(n₃(h)))`.
    Sandwich,
    /// Phi: one norm feeds both, `(A(n(x)) + M(n(x))) + x`.
    Parallel,
}

/// transformers' class defaults for keys a config.json may leave out.
struct Defaults {
    vocab: usize,
    hidden: usize,
    inter: usize,
    layers: usize,
    heads: usize,
    kv: Option<usize>,
    head_dim: Option<usize>,
    max_pos: usize,
    tie: bool,
    eps: f64,
    pad: Option<i64>,
    act: &'static str,
}

impl Defaults {
    fn of(f: Family) -> Defaults {
        let base = Defaults {
            vocab: 32000,
            hidden: 4096,
            inter: 11008,
            layers: 32,
            heads: 32,
            kv: None,
            head_dim: None,
            max_pos: 2048,
            tie: false,
            eps: 1e-6,
            pad: None,
            act: "silu",
        };
        match f {
            Family::Llama => base,
            Family::Mistral => Defaults {
                inter: 14336,
                kv: Some(8),
                max_pos: 4096 * 32,
                ..base
            },
            Family::Qwen2 => Defaults {
                vocab: 151936,
                inter: 22016,
                kv: Some(32),
                max_pos: 32768,
                ..base
            },
            Family::Gemma | Family::Gemma2 => Defaults {
                vocab: 256000,
                hidden: 3072,
                inter: 24576,
                layers: 28,
                heads: 16,
                kv: Some(16),
                head_dim: Some(256),
                max_pos: 8192,
                tie: true,
                pad: Some(0),
                act: "gelu_pytorch_tanh",
                ..base
            },
            Family::Phi => Defaults {
                vocab: 51200,
                hidden: 2048,
                inter: 8192,
                layers: 24,
                heads: 32,
                eps: 1e-5,
                act: "gelu_new",
                ..base
            },
            Family::Falcon => Defaults {
                vocab: 65024,
                hidden: 4544,
                inter: 0,
                heads: 71,
                tie: true,
                eps: 1e-5,
                act: "gelu",
                ..base
            },
            Family::GptNeox => Defaults {
                vocab: 50432,
                hidden: 6144,
                inter: 24576,
                layers: 44,
                heads: 64,
                eps: 1e-5,
                act: "gelu",
                ..base
            },
            Family::Bart => Defaults {
                vocab: 50265,
                hidden: 1024,
                inter: 4096,
                layers: 12,
                heads: 16,
                max_pos: 1024,
                tie: true,
                eps: 1e-5,
                pad: Some(1),
                act: "gelu",
                ..base
            },
        }
    }
}

/// What Falcon, GPT-NeoX and Bart need beyond the common fields (their shapes and counts).
#[derive(Debug, Clone, PartialEq)]
pub enum Unscored {
    /// `num_kv`: key/value heads after the multi-query rule; `new_decoder`; `parallel`;
    /// `two_norms`: `ln_attn` + `ln_mlp` (or a sequential layer's two norms); `bias`.
    Falcon {
        new_decoder: bool,
        multi_query: bool,
        parallel: bool,
        two_norms: bool,
        bias: bool,
    },
    /// `parallel`: `use_parallel_residual`; `bias`: `attention_bias`.
    GptNeox { parallel: bool, bias: bool },
    /// Bart's decoder (`decoder_*` keys); the unused cross-attention is counted too.
    Bart,
}

/// RoPE frequency scaling (`rope_scaling`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RopeScaling {
    /// Position interpolation: every inverse frequency divided by `factor`.
    Linear { factor: f64 },
    /// Llama 3.1: low frequencies divided by `factor`, high ones kept, a smooth band between.
    Llama3 {
        factor: f64,
        low_freq_factor: f64,
        high_freq_factor: f64,
        original_max_position_embeddings: f64,
    },
}

/// A decoder-only transformer configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub architecture: String,
    pub family: Family,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    /// The norms' epsilon (`rms_norm_eps`, `layer_norm_eps`, ...).
    pub rms_norm_eps: f64,
    pub norm: NormKind,
    pub activation: Activation,
    /// `gate`/`up`/`down` (true) or `fc1`/`fc2` (Phi).
    pub mlp_gated: bool,
    pub residual: Residual,
    /// Gemma: embeddings times `sqrt(hidden_size)` rounded to the compute dtype.
    pub embed_scale: bool,
    /// The attention's score scale (`head_dim^-½`; Gemma2 `query_pre_attn_scalar^-½`).
    pub attn_scale: f64,
    /// Gemma2: `cap · tanh(s / cap)` on the attention scores, before the mask.
    pub attn_softcap: Option<f64>,
    /// Gemma2: the same on the logits.
    pub final_softcap: Option<f64>,
    /// Gemma2: the sliding window applies to even layers only.
    pub window_even_layers: bool,
    /// Dimensions of each head that rotate (Phi: `partial_rotary_factor · head_dim`).
    pub rotary_dim: usize,
    /// Phi: `lm_head` has a bias.
    pub lm_head_bias: bool,
    /// `nn.Embedding(padding_idx=pad_token_id)`: that row gets no gradient and starts at 0.
    pub padding_idx: Option<usize>,
    /// Falcon, GPT-NeoX, Bart: their own layout (shapes and count; no forward).
    pub unscored: Option<Unscored>,
    pub rope_theta: f64,
    pub rope_scaling: Option<RopeScaling>,
    pub max_position_embeddings: usize,
    pub tie_word_embeddings: bool,
    /// Bias on q, k, v (Qwen2: always; Llama: `attention_bias`, also on o_proj).
    pub qkv_bias: bool,
    pub o_bias: bool,
    pub mlp_bias: bool,
    /// Attention window (Mistral `sliding_window`; Qwen2 when `use_sliding_window`).
    pub sliding_window: Option<usize>,
    pub initializer_range: f64,
    /// The `torch_dtype` the file declares.
    pub torch_dtype: Option<String>,
    /// Every key of the original config.json, written back unchanged on save.
    pub raw: Map<String, Value>,
}

fn get<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    m.get(k).filter(|v| !v.is_null())
}

/// `rope_scaling`: Llama-style (`rope_type`/`type` linear or llama3) for Llama, Mistral and
/// Qwen2; exactly `{type, factor}` (linear or dynamic, factor a float > 1) for Phi, Falcon and
/// GPT-NeoX, whose configs refuse anything else at load.
fn parse_rope_scaling(m: &Map<String, Value>, family: Family) -> Result<Option<RopeScaling>> {
    let rs = match get(m, "rope_scaling") {
        None => return Ok(None),
        Some(Value::Object(rs)) => rs,
        Some(v) => {
            return Err(user(format!(
                "config.json: rope_scaling must be an object or null, got {v}"
            )));
        }
    };
    let num = |k: &str| -> Result<f64> {
        rs.get(k)
            .and_then(|v| v.as_f64())
            .ok_or_else(|| user(format!("config.json: rope_scaling needs `{k}`")))
    };
    if matches!(family, Family::Phi | Family::Falcon | Family::GptNeox) {
        let ty = rs.get("type").and_then(|t| t.as_str());
        let factor = rs
            .get("factor")
            .filter(|f| f.is_f64())
            .and_then(|f| f.as_f64());
        return match (rs.len(), ty, factor) {
            (2, Some("linear"), Some(f)) if f > 1.0 => Ok(Some(RopeScaling::Linear { factor: f })),
            (2, Some("dynamic"), Some(f)) if f > 1.0 => {
                if family == Family::Phi {
                    Err(user(
                        "config.json: dynamic (NTK) rope_scaling is not implemented in sn9",
                    ))
                } else {
                    Ok(None) // counted and checked only; never run
                }
            }
            _ => Err(user(format!(
                "config.json: rope_scaling must be {{\"type\": \"linear\"|\"dynamic\", \
                 \"factor\": float > 1}} for this class (transformers refuses {} at load)",
                Value::Object(rs.clone())
            ))),
        };
    }
    let ty = rs
        .get("rope_type")
        .or_else(|| rs.get("type"))
        .and_then(|t| t.as_str())
        .unwrap_or("");
    Ok(match ty {
        "linear" => Some(RopeScaling::Linear {
            factor: num("factor")?,
        }),
        "llama3" => Some(RopeScaling::Llama3 {
            factor: num("factor")?,
            low_freq_factor: num("low_freq_factor")?,
            high_freq_factor: num("high_freq_factor")?,
            original_max_position_embeddings: num("original_max_position_embeddings")?,
        }),
        "default" | "" => None,
        other => {
            return Err(user(format!(
                "config.json: rope_scaling type `{other}` is not supported (linear, llama3)"
            )));
        }
    })
}

impl ModelConfig {
    pub fn from_file(path: &Path) -> Result<ModelConfig> {
        let text = crate::output::read_text(path, crate::output::Limit::ModelJson)?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| user(format!("{} is not valid JSON: {e}", path.display())))?;
        Self::from_json(&v).map_err(|e| e.context(format!("in {}", path.display())))
    }

    pub fn from_json(v: &Value) -> Result<ModelConfig> {
        let m = v
            .as_object()
            .ok_or_else(|| user("config.json must be a JSON object"))?
            .clone();
        let arch = get(&m, "architectures")
            .and_then(|a| a.as_array())
            .and_then(|a| a.first())
            .and_then(|a| a.as_str())
            .ok_or_else(|| user("config.json has no `architectures` list"))?
            .to_string();
        let family = match arch.as_str() {
            "LlamaForCausalLM" => Family::Llama,
            "MistralForCausalLM" => Family::Mistral,
            "Qwen2ForCausalLM" => Family::Qwen2,
            "GemmaForCausalLM" => Family::Gemma,
            "Gemma2ForCausalLM" => Family::Gemma2,
            "PhiForCausalLM" => Family::Phi,
            "FalconForCausalLM" => Family::Falcon,
            "GPTNeoXForCausalLM" => Family::GptNeox,
            "BartForCausalLM" => Family::Bart,
            other => {
                return Err(user(format!(
                    "architecture {other} is not one the competitions accept; they accept: {}",
                    SUPPORTED.join(", ")
                )));
            }
        };
        let def = Defaults::of(family);
        let usize_of = |k: &str| -> Result<Option<usize>> {
            match get(&m, k) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .filter(|&n| n > 0)
                    .map(|n| Some(n as usize))
                    .ok_or_else(|| {
                        user(format!(
                            "config.json: `{k}` must be a positive integer, got {v}"
                        ))
                    }),
            }
        };
        let dim = |k: &str, d: usize| -> Result<usize> { Ok(usize_of(k)?.unwrap_or(d)) };
        let f64_of = |k: &str, d: f64| -> Result<f64> {
            match get(&m, k) {
                None => Ok(d),
                Some(v) => v
                    .as_f64()
                    .ok_or_else(|| user(format!("config.json: `{k}` must be a number, got {v}"))),
            }
        };
        let bool_of = |k: &str, d: bool| -> Result<bool> {
            match get(&m, k) {
                None => Ok(d),
                Some(v) => v.as_bool().ok_or_else(|| {
                    user(format!("config.json: `{k}` must be true or false, got {v}"))
                }),
            }
        };
        // A key present with `null` (as opposed to absent): some classes fail on it at load.
        let is_null = |k: &str| m.get(k).is_some_and(|v| v.is_null());
        let act_of = |k: &str| -> Result<Activation> {
            match get(&m, k) {
                None => Activation::parse(def.act),
                Some(v) => Activation::parse(v.as_str().ok_or_else(|| {
                    user(format!("config.json: `{k}` must be a string, got {v}"))
                })?),
            }
        };
        // Bart names its decoder's sizes `d_model`, `decoder_*`; everyone else the Llama way.
        let (k_hidden, k_inter, k_layers, k_heads) = match family {
            Family::Bart => (
                "d_model",
                "decoder_ffn_dim",
                "decoder_layers",
                "decoder_attention_heads",
            ),
            Family::Falcon => (
                "hidden_size",
                "ffn_hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
            ),
            _ => (
                "hidden_size",
                "intermediate_size",
                "num_hidden_layers",
                "num_attention_heads",
            ),
        };
        let hidden_size = dim(k_hidden, def.hidden)?;
        let heads = dim(k_heads, def.heads)?;
        let vocab_size = dim("vocab_size", def.vocab)?;
        let intermediate_size = match family {
            // Falcon: `ffn_hidden_size` None means 4·hidden.
            Family::Falcon => usize_of(k_inter)?.unwrap_or(hidden_size.saturating_mul(4)),
            _ => dim(k_inter, def.inter)?,
        };
        let num_hidden_layers = dim(k_layers, def.layers)?;
        let divisible = || -> Result<()> {
            if hidden_size % heads != 0 {
                return Err(user(format!(
                    "config.json: hidden_size {hidden_size} is not divisible by {heads} heads \
                     (transformers refuses it at load)"
                )));
            }
            Ok(())
        };
        let mut unscored = None;
        let kv = match family {
            Family::Phi | Family::GptNeox | Family::Bart => {
                divisible()?;
                if family == Family::Phi {
                    usize_of("num_key_value_heads")?.unwrap_or(heads)
                } else {
                    heads
                }
            }
            Family::Falcon => {
                divisible()?;
                let new_decoder = bool_of("new_decoder_architecture", false)?;
                let multi_query = bool_of("multi_query", true)?;
                let parallel = bool_of("parallel_attn", true)?;
                let n_ln = match get(&m, "num_ln_in_parallel_attn").and_then(|v| v.as_u64()) {
                    Some(n) => n,
                    None if new_decoder => 2,
                    None => 1,
                };
                unscored = Some(Unscored::Falcon {
                    new_decoder,
                    multi_query,
                    parallel: parallel || new_decoder,
                    two_norms: !(parallel || new_decoder) || n_ln == 2,
                    bias: bool_of("bias", false)?,
                });
                if new_decoder || !multi_query {
                    usize_of("num_kv_heads")?.unwrap_or(heads)
                } else {
                    1
                }
            }
            _ => usize_of("num_key_value_heads")?.or(def.kv).unwrap_or(heads),
        };
        if family == Family::GptNeox {
            unscored = Some(Unscored::GptNeox {
                parallel: bool_of("use_parallel_residual", true)?,
                bias: bool_of("attention_bias", true)?,
            });
        }
        if family == Family::Bart {
            unscored = Some(Unscored::Bart);
        }
        if kv == 0 || heads % kv != 0 {
            return Err(user(format!(
                "config.json: {heads} attention heads are not a multiple of {kv} key/value heads"
            )));
        }
        let head_dim = match family {
            Family::Gemma | Family::Gemma2 => {
                divisible()?;
                dim("head_dim", def.head_dim.unwrap_or(256))?
            }
            Family::Phi | Family::Falcon | Family::GptNeox | Family::Bart => hidden_size / heads,
            _ => match usize_of("head_dim")? {
                Some(h) => h,
                None => {
                    divisible()?;
                    hidden_size / heads
                }
            },
        };
        let rope_scaling = match family {
            // Gemma's code never reads `rope_scaling`; Bart has no rotary positions.
            Family::Gemma | Family::Gemma2 | Family::Bart => None,
            _ => parse_rope_scaling(&m, family)?,
        };
        let rotary_dim = match family {
            Family::Phi | Family::GptNeox => {
                let (key, d) = if family == Family::Phi {
                    ("partial_rotary_factor", 0.5)
                } else {
                    ("rotary_pct", 0.25)
                };
                // Python `int(factor * head_dim)`: truncation.
                let r = (f64_of(key, d)? * head_dim as f64).trunc();
                if !(0.0..=head_dim as f64).contains(&r) {
                    return Err(user(format!(
                        "config.json: `{key}` gives {r} rotary dimensions of a {head_dim}-dim head"
                    )));
                }
                let r = r as usize;
                // (GPT-NeoX is never run: the validator fails it on every batch anyway.)
                if r % 2 == 1 && family == Family::Phi {
                    return Err(user(format!(
                        "config.json: `{key}` gives an odd rotary dimension ({r}); transformers \
                         fails on it at the first forward"
                    )));
                }
                r
            }
            Family::Bart => 0,
            _ => head_dim,
        };
        if family == Family::Phi && bool_of("qk_layernorm", false)? {
            return Err(user(
                "config.json: qk_layernorm is not implemented in sn9 (transformers 4.44.1 fails \
                 on it with more than one head)",
            ));
        }
        let (qkv_bias, o_bias) = match family {
            Family::Qwen2 => (true, false),
            Family::Phi => (true, true),
            _ => {
                let b = bool_of("attention_bias", false)?;
                (b, b)
            }
        };
        let window_key = || -> Result<Option<usize>> {
            Ok(match get(&m, "sliding_window") {
                None if m.contains_key("sliding_window") => None,
                None => Some(4096),
                Some(_) => usize_of("sliding_window")?,
            })
        };
        let sliding_window = match family {
            Family::Mistral => window_key()?,
            Family::Qwen2 if bool_of("use_sliding_window", false)? => window_key()?,
            Family::Gemma2 => {
                if is_null("sliding_window") {
                    return Err(user(
                        "config.json: Gemma2 with `sliding_window` null fails in transformers \
                         (its HybridCache needs a window)",
                    ));
                }
                Some(dim("sliding_window", 4096)?)
            }
            _ => None,
        };
        let activation = match family {
            Family::Gemma => match get(&m, "hidden_activation") {
                // `hidden_act` is ignored; None means gelu_pytorch_tanh.
                None => Activation::GeluTanh,
                Some(_) => act_of("hidden_activation")?,
            },
            Family::Gemma2 => {
                if is_null("hidden_activation") {
                    return Err(user(
                        "config.json: Gemma2 with `hidden_activation` null fails in transformers \
                         (ACT2FN[None])",
                    ));
                }
                act_of("hidden_activation")?
            }
            Family::Falcon => act_of("activation")?,
            Family::Bart => act_of("activation_function")?,
            _ => act_of("hidden_act")?,
        };
        let attn_scale = if family == Family::Gemma2 {
            if is_null("query_pre_attn_scalar") {
                return Err(user(
                    "config.json: Gemma2 with `query_pre_attn_scalar` null fails in transformers",
                ));
            }
            f64_of("query_pre_attn_scalar", 224.0)?.powf(-0.5)
        } else {
            1.0 / (head_dim as f64).sqrt()
        };
        let softcap = |k: &str, d: f64| -> Result<Option<f64>> {
            if family != Family::Gemma2 || is_null(k) {
                return Ok(None);
            }
            Ok(Some(f64_of(k, d)?))
        };
        let eps_key = match family {
            Family::Phi | Family::GptNeox => "layer_norm_eps",
            Family::Falcon => "layer_norm_epsilon",
            _ => "rms_norm_eps",
        };
        let padding_idx = match get(&m, "pad_token_id") {
            None if m.contains_key("pad_token_id") => None,
            None => def.pad,
            Some(v) => Some(v.as_i64().ok_or_else(|| {
                user(format!(
                    "config.json: `pad_token_id` must be an integer, got {v}"
                ))
            })?),
        };
        // nn.Embedding: -V ≤ padding_idx < V, negative counted from the end.
        let padding_idx = match padding_idx {
            None => None,
            Some(p) if p >= 0 && (p as u64) < vocab_size as u64 => Some(p as usize),
            Some(p) if p < 0 && p.unsigned_abs() <= vocab_size as u64 => {
                Some(vocab_size - p.unsigned_abs() as usize)
            }
            Some(p) => {
                return Err(user(format!(
                    "config.json: pad_token_id {p} is outside the vocabulary of {vocab_size} \
                     (transformers' embedding refuses it at load)"
                )));
            }
        };
        Ok(ModelConfig {
            architecture: arch,
            family,
            vocab_size,
            hidden_size,
            intermediate_size,
            num_hidden_layers,
            num_attention_heads: heads,
            num_key_value_heads: kv,
            head_dim,
            rms_norm_eps: f64_of(eps_key, def.eps)?,
            norm: match family {
                Family::Gemma | Family::Gemma2 => NormKind::RmsOnePlus,
                Family::Phi | Family::Falcon | Family::GptNeox | Family::Bart => {
                    NormKind::LayerNorm
                }
                _ => NormKind::Rms,
            },
            activation,
            mlp_gated: !matches!(
                family,
                Family::Phi | Family::Falcon | Family::GptNeox | Family::Bart
            ),
            residual: match family {
                Family::Gemma2 => Residual::Sandwich,
                Family::Phi => Residual::Parallel,
                _ => Residual::Sequential,
            },
            embed_scale: matches!(family, Family::Gemma | Family::Gemma2),
            attn_scale,
            attn_softcap: softcap("attn_logit_softcapping", 50.0)?,
            final_softcap: softcap("final_logit_softcapping", 30.0)?,
            window_even_layers: family == Family::Gemma2,
            rotary_dim,
            lm_head_bias: family == Family::Phi,
            padding_idx,
            unscored,
            rope_theta: f64_of(
                if family == Family::GptNeox {
                    "rotary_emb_base"
                } else {
                    "rope_theta"
                },
                10000.0,
            )?,
            rope_scaling,
            max_position_embeddings: dim("max_position_embeddings", def.max_pos)?,
            tie_word_embeddings: bool_of("tie_word_embeddings", def.tie)?,
            qkv_bias,
            o_bias,
            mlp_bias: match family {
                Family::Llama => bool_of("mlp_bias", false)?,
                Family::Phi => true,
                _ => false,
            },
            sliding_window,
            initializer_range: f64_of(
                if family == Family::Bart {
                    "init_std"
                } else {
                    "initializer_range"
                },
                0.02,
            )?,
            torch_dtype: get(&m, "torch_dtype")
                .and_then(|d| d.as_str())
                .map(str::to_string),
            raw: m,
        })
    }

    /// The error the reference validator's own call raises on this class (transformers 4.44.1),
    /// so every batch scores `inf`; `None` where it computes the loss.
    pub fn validator_forward_error(&self) -> Option<String> {
        self.unscored
            .as_ref()
            .and_then(|_| unscorable_reason(&self.architecture))
    }

    /// The sliding window of layer `l`, if any.
    pub fn window_of(&self, l: usize) -> Option<usize> {
        if self.window_even_layers && l % 2 == 1 {
            None
        } else {
            self.sliding_window
        }
    }

    /// The config.json to write next to saved weights: the original keys, with `torch_dtype`
    /// set to what the weights are stored in.
    pub fn to_json(&self, torch_dtype: &str) -> Value {
        let mut m = self.raw.clone();
        m.insert("torch_dtype".into(), json!(torch_dtype));
        m.entry("architectures")
            .or_insert(json!([self.architecture]));
        Value::Object(m)
    }

    /// HF parameter names and shapes, in `named_parameters()` order (a tied head not listed).
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let (head, tail) = self.outer_shapes();
        let mut out = head;
        for l in 0..self.num_hidden_layers {
            out.extend(self.layer_shapes(l));
        }
        out.extend(tail);
        out
    }

    /// The parameters before the layers and after them.
    fn outer_shapes(&self) -> (Vec<Shape>, Vec<Shape>) {
        let (d, v) = (self.hidden_size, self.vocab_size);
        let n = |s: &str| s.to_string();
        let untied = !self.tie_word_embeddings;
        match self.family {
            Family::Falcon => {
                let mut tail = vec![
                    (n("transformer.ln_f.weight"), vec![d]),
                    (n("transformer.ln_f.bias"), vec![d]),
                ];
                if untied {
                    tail.push((n("lm_head.weight"), vec![v, d]));
                }
                (
                    vec![(n("transformer.word_embeddings.weight"), vec![v, d])],
                    tail,
                )
            }
            Family::GptNeox => {
                let mut tail = vec![
                    (n("gpt_neox.final_layer_norm.weight"), vec![d]),
                    (n("gpt_neox.final_layer_norm.bias"), vec![d]),
                ];
                if untied {
                    tail.push((n("embed_out.weight"), vec![v, d]));
                }
                (vec![(n("gpt_neox.embed_in.weight"), vec![v, d])], tail)
            }
            Family::Bart => {
                let mut tail = vec![
                    (n("model.decoder.layernorm_embedding.weight"), vec![d]),
                    (n("model.decoder.layernorm_embedding.bias"), vec![d]),
                ];
                if untied {
                    tail.push((n("lm_head.weight"), vec![v, d]));
                }
                (
                    vec![
                        (n("model.decoder.embed_tokens.weight"), vec![v, d]),
                        (
                            n("model.decoder.embed_positions.weight"),
                            vec![self.max_position_embeddings.saturating_add(2), d],
                        ),
                    ],
                    tail,
                )
            }
            _ => {
                let mut tail = Vec::new();
                if self.norm == NormKind::LayerNorm {
                    tail.push((n("model.final_layernorm.weight"), vec![d]));
                    tail.push((n("model.final_layernorm.bias"), vec![d]));
                } else {
                    tail.push((n("model.norm.weight"), vec![d]));
                }
                if untied {
                    tail.push((n("lm_head.weight"), vec![v, d]));
                }
                if self.lm_head_bias {
                    tail.push((n("lm_head.bias"), vec![v]));
                }
                (vec![(n("model.embed_tokens.weight"), vec![v, d])], tail)
            }
        }
    }

    /// The parameters of layer `l`, in `named_parameters()` order. Products saturate: a hostile
    /// config yields shapes no file matches, never an overflow.
    pub fn layer_shapes(&self, l: usize) -> Vec<(String, Vec<usize>)> {
        let (d, hd, i) = (self.hidden_size, self.head_dim, self.intermediate_size);
        let (h, kv) = (self.num_attention_heads, self.num_key_value_heads);
        let (hq, hkv) = (h.saturating_mul(hd), kv.saturating_mul(hd));
        let mut out: Vec<(String, Vec<usize>)> = Vec::new();
        let mut lin = |name: String, o: usize, inp: usize, bias: bool| {
            out.push((format!("{name}.weight"), vec![o, inp]));
            if bias {
                out.push((format!("{name}.bias"), vec![o]));
            }
        };
        match &self.unscored {
            Some(Unscored::Falcon {
                new_decoder,
                multi_query,
                parallel,
                two_norms,
                bias,
            }) => {
                let p = format!("transformer.h.{l}.");
                let q = if *new_decoder {
                    kv.saturating_mul(2).saturating_add(h).saturating_mul(hd)
                } else if *multi_query {
                    d.saturating_add(hd.saturating_mul(2))
                } else {
                    d.saturating_mul(3)
                };
                lin(format!("{p}self_attention.query_key_value"), q, d, *bias);
                lin(format!("{p}self_attention.dense"), d, d, *bias);
                lin(format!("{p}mlp.dense_h_to_4h"), i, d, *bias);
                lin(format!("{p}mlp.dense_4h_to_h"), d, i, *bias);
                let norms: &[&str] = if !*parallel {
                    &["post_attention_layernorm", "input_layernorm"]
                } else if *two_norms {
                    &["ln_attn", "ln_mlp"]
                } else {
                    &["input_layernorm"]
                };
                for nm in norms {
                    out.push((format!("{p}{nm}.weight"), vec![d]));
                    out.push((format!("{p}{nm}.bias"), vec![d]));
                }
            }
            Some(Unscored::GptNeox { bias, .. }) => {
                let p = format!("gpt_neox.layers.{l}.");
                for nm in ["input_layernorm", "post_attention_layernorm"] {
                    out.push((format!("{p}{nm}.weight"), vec![d]));
                    out.push((format!("{p}{nm}.bias"), vec![d]));
                }
                let mut lin = |name: String, o: usize, inp: usize, bias: bool| {
                    out.push((format!("{name}.weight"), vec![o, inp]));
                    if bias {
                        out.push((format!("{name}.bias"), vec![o]));
                    }
                };
                lin(
                    format!("{p}attention.query_key_value"),
                    d.saturating_mul(3),
                    d,
                    *bias,
                );
                lin(format!("{p}attention.dense"), d, d, *bias);
                lin(format!("{p}mlp.dense_h_to_4h"), i, d, true);
                lin(format!("{p}mlp.dense_4h_to_h"), d, i, true);
            }
            Some(Unscored::Bart) => {
                let p = format!("model.decoder.layers.{l}.");
                for att in ["self_attn", "encoder_attn"] {
                    for pr in ["k_proj", "v_proj", "q_proj", "out_proj"] {
                        out.push((format!("{p}{att}.{pr}.weight"), vec![d, d]));
                        out.push((format!("{p}{att}.{pr}.bias"), vec![d]));
                    }
                    out.push((format!("{p}{att}_layer_norm.weight"), vec![d]));
                    out.push((format!("{p}{att}_layer_norm.bias"), vec![d]));
                }
                out.push((format!("{p}fc1.weight"), vec![i, d]));
                out.push((format!("{p}fc1.bias"), vec![i]));
                out.push((format!("{p}fc2.weight"), vec![d, i]));
                out.push((format!("{p}fc2.bias"), vec![d]));
                out.push((format!("{p}final_layer_norm.weight"), vec![d]));
                out.push((format!("{p}final_layer_norm.bias"), vec![d]));
            }
            None => {
                let p = format!("model.layers.{l}.");
                lin(format!("{p}self_attn.q_proj"), hq, d, self.qkv_bias);
                lin(format!("{p}self_attn.k_proj"), hkv, d, self.qkv_bias);
                lin(format!("{p}self_attn.v_proj"), hkv, d, self.qkv_bias);
                let o = if self.residual == Residual::Parallel {
                    "dense"
                } else {
                    "o_proj"
                };
                lin(format!("{p}self_attn.{o}"), d, hq, self.o_bias);
                if self.mlp_gated {
                    lin(format!("{p}mlp.gate_proj"), i, d, self.mlp_bias);
                    lin(format!("{p}mlp.up_proj"), i, d, self.mlp_bias);
                    lin(format!("{p}mlp.down_proj"), d, i, self.mlp_bias);
                } else {
                    lin(format!("{p}mlp.fc1"), i, d, self.mlp_bias);
                    lin(format!("{p}mlp.fc2"), d, i, self.mlp_bias);
                }
                for nm in self.layer_norm_names() {
                    out.push((format!("{p}{nm}.weight"), vec![d]));
                    if self.norm == NormKind::LayerNorm {
                        out.push((format!("{p}{nm}.bias"), vec![d]));
                    }
                }
            }
        }
        out
    }

    /// The norms of a decoder layer (sn9's decoder), in order.
    pub fn layer_norm_names(&self) -> &'static [&'static str] {
        match self.residual {
            Residual::Sequential => &["input_layernorm", "post_attention_layernorm"],
            Residual::Sandwich => &[
                "input_layernorm",
                "post_attention_layernorm",
                "pre_feedforward_layernorm",
                "post_feedforward_layernorm",
            ],
            Residual::Parallel => &["input_layernorm"],
        }
    }

    /// Parameter count as the subnet counts it: `sum(p.numel() for p in model.parameters())`,
    /// the tied embedding once (Bart's unused cross-attention included).
    ///
    /// Computed from one layer's shapes times the layer count, with 128-bit arithmetic saturating
    /// at `u64::MAX`: a hostile config (a `vocab_size` of 2⁵⁷, 2⁴⁰ layers) never wraps into a
    /// count that fits a competition, and nothing is enumerated or allocated to count it.
    pub fn parameter_count(&self) -> u64 {
        let sum = |xs: &[(String, Vec<usize>)]| -> u128 {
            xs.iter().fold(0u128, |acc, (_, s)| {
                let n = s.iter().fold(1u128, |a, &x| a.saturating_mul(x as u128));
                acc.saturating_add(n)
            })
        };
        let (head, tail) = self.outer_shapes();
        let layers = sum(&self.layer_shapes(0)).saturating_mul(self.num_hidden_layers as u128);
        let total = sum(&head).saturating_add(layers).saturating_add(sum(&tail));
        u64::try_from(total).unwrap_or(u64::MAX)
    }

    /// RoPE inverse frequencies after scaling (float32, as transformers computes them), and the
    /// attention scaling (1 for the supported types).
    pub fn rope_inv_freq(&self) -> Vec<f32> {
        let hd = self.rotary_dim;
        // transformers: 1 / base ** (arange(0, dim, 2).float() / dim), in float32.
        let base = self.rope_theta as f32;
        let mut inv: Vec<f32> = (0..hd / 2)
            .map(|i| 1.0 / base.powf((2 * i) as f32 / hd as f32))
            .collect();
        match self.rope_scaling {
            None => {}
            Some(RopeScaling::Linear { factor }) => {
                for f in &mut inv {
                    *f /= factor as f32;
                }
            }
            Some(RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings,
            }) => {
                let old = original_max_position_embeddings;
                let low_wavelen = old / low_freq_factor;
                let high_wavelen = old / high_freq_factor;
                for f in &mut inv {
                    let wavelen = 2.0 * std::f64::consts::PI / *f as f64;
                    if wavelen < high_wavelen {
                        // keep
                    } else if wavelen > low_wavelen {
                        *f = (*f as f64 / factor) as f32;
                    } else {
                        let smooth = (old / wavelen - low_freq_factor)
                            / (high_freq_factor - low_freq_factor);
                        *f = ((1.0 - smooth) * (*f as f64) / factor + smooth * (*f as f64)) as f32;
                    }
                }
            }
        }
        inv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: Value) -> ModelConfig {
        let mut v = serde_json::json!({
            "architectures": ["LlamaForCausalLM"], "vocab_size": 100, "hidden_size": 16,
            "intermediate_size": 24, "num_hidden_layers": 3, "num_attention_heads": 4,
            "num_key_value_heads": 2
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        ModelConfig::from_json(&v).unwrap()
    }

    #[test]
    fn closed_form_count_equals_the_shapes() {
        for extra in [
            serde_json::json!({}),
            serde_json::json!({"tie_word_embeddings": true}),
            serde_json::json!({"attention_bias": true, "mlp_bias": true}),
            serde_json::json!({"architectures": ["Qwen2ForCausalLM"]}),
            serde_json::json!({"architectures": ["GemmaForCausalLM"], "head_dim": 6}),
            serde_json::json!({"architectures": ["Gemma2ForCausalLM"], "attention_bias": true}),
            serde_json::json!({"architectures": ["PhiForCausalLM"], "tie_word_embeddings": true}),
            serde_json::json!({"architectures": ["FalconForCausalLM"]}),
            serde_json::json!({"architectures": ["FalconForCausalLM"],
                "new_decoder_architecture": true, "bias": true}),
            serde_json::json!({"architectures": ["FalconForCausalLM"], "parallel_attn": false,
                "multi_query": false}),
            serde_json::json!({"architectures": ["GPTNeoXForCausalLM"],
                "use_parallel_residual": false}),
            serde_json::json!({"architectures": ["BartForCausalLM"], "d_model": 16,
                "decoder_layers": 2, "decoder_attention_heads": 4, "decoder_ffn_dim": 24,
                "max_position_embeddings": 64}),
        ] {
            let c = cfg(extra);
            let shapes: u64 = c
                .parameter_shapes()
                .iter()
                .map(|(_, s)| s.iter().product::<usize>() as u64)
                .sum();
            assert_eq!(c.parameter_count(), shapes);
        }
    }

    #[test]
    fn hostile_sizes_saturate_instead_of_wrapping() {
        // 144115188101636412 · 4096 wraps u64 (to 1024 per embedding) when computed naively.
        let c = cfg(serde_json::json!({"vocab_size": 144115188101636412u64, "hidden_size": 4096}));
        assert_eq!(c.parameter_count(), u64::MAX);
        let c = cfg(serde_json::json!({"num_hidden_layers": 1u64 << 62}));
        assert_eq!(c.parameter_count(), u64::MAX);
    }
}
