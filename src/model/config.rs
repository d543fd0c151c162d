//! Model configuration from Hugging Face `config.json` (Llama, Mistral, Qwen2: one decoder with
//! options).

use std::path::Path;

use anyhow::Result;
use serde_json::{Map, Value, json};

use crate::error::user;

/// The architectures sn9's model core implements (transformers class names).
pub const SUPPORTED: [&str; 3] = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"];

/// Model family: decides the defaults transformers applies to absent keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Llama,
    Mistral,
    Qwen2,
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
    pub rms_norm_eps: f64,
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
            other => {
                return Err(user(format!(
                    "architecture {other} is not supported by sn9's model core; supported: {}",
                    SUPPORTED.join(", ")
                )));
            }
        };
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
        let req = |k: &str| -> Result<usize> {
            usize_of(k)?.ok_or_else(|| user(format!("config.json: missing `{k}`")))
        };
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
        if let Some(act) = get(&m, "hidden_act").and_then(|a| a.as_str())
            && act != "silu"
        {
            return Err(user(format!(
                "config.json: hidden_act `{act}` is not supported (only silu)"
            )));
        }
        let hidden_size = req("hidden_size")?;
        let heads = req("num_attention_heads")?;
        let kv = usize_of("num_key_value_heads")?.unwrap_or(heads);
        if heads % kv != 0 {
            return Err(user(format!(
                "config.json: {heads} attention heads are not a multiple of {kv} key/value heads"
            )));
        }
        let head_dim = match usize_of("head_dim")? {
            Some(h) => h,
            None => {
                if hidden_size % heads != 0 {
                    return Err(user(format!(
                        "config.json: hidden_size {hidden_size} is not divisible by {heads} heads"
                    )));
                }
                hidden_size / heads
            }
        };
        let rope_scaling = match get(&m, "rope_scaling") {
            None => None,
            Some(Value::Object(rs)) => {
                let ty = rs
                    .get("rope_type")
                    .or_else(|| rs.get("type"))
                    .and_then(|t| t.as_str())
                    .unwrap_or("");
                let num = |k: &str| -> Result<f64> {
                    rs.get(k)
                        .and_then(|v| v.as_f64())
                        .ok_or_else(|| user(format!("config.json: rope_scaling needs `{k}`")))
                };
                match ty {
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
                }
            }
            Some(v) => {
                return Err(user(format!(
                    "config.json: rope_scaling must be an object or null, got {v}"
                )));
            }
        };
        let (qkv_bias, o_bias) = match family {
            Family::Qwen2 => (true, false),
            _ => {
                let b = bool_of("attention_bias", false)?;
                (b, b)
            }
        };
        let sliding_window = match family {
            Family::Mistral => usize_of("sliding_window")?,
            Family::Qwen2 if bool_of("use_sliding_window", false)? => usize_of("sliding_window")?,
            _ => None,
        };
        Ok(ModelConfig {
            architecture: arch,
            family,
            vocab_size: req("vocab_size")?,
            hidden_size,
            intermediate_size: req("intermediate_size")?,
            num_hidden_layers: req("num_hidden_layers")?,
            num_attention_heads: heads,
            num_key_value_heads: kv,
            head_dim,
            rms_norm_eps: f64_of("rms_norm_eps", 1e-6)?,
            rope_theta: f64_of("rope_theta", 10000.0)?,
            rope_scaling,
            max_position_embeddings: usize_of("max_position_embeddings")?.unwrap_or(2048),
            tie_word_embeddings: bool_of("tie_word_embeddings", false)?,
            qkv_bias,
            o_bias,
            mlp_bias: if family == Family::Llama {
                bool_of("mlp_bias", false)?
            } else {
                false
            },
            sliding_window,
            initializer_range: f64_of("initializer_range", 0.02)?,
            torch_dtype: get(&m, "torch_dtype")
                .and_then(|d| d.as_str())
                .map(str::to_string),
            raw: m,
        })
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

    /// HF parameter names and shapes, in `named_parameters()` order (tied head not listed).
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let (d, hd, v, i) = (
            self.hidden_size,
            self.head_dim,
            self.vocab_size,
            self.intermediate_size,
        );
        let (h, kv) = (self.num_attention_heads, self.num_key_value_heads);
        let mut out = vec![("model.embed_tokens.weight".to_string(), vec![v, d])];
        for l in 0..self.num_hidden_layers {
            let p = format!("model.layers.{l}.");
            out.push((format!("{p}self_attn.q_proj.weight"), vec![h * hd, d]));
            if self.qkv_bias {
                out.push((format!("{p}self_attn.q_proj.bias"), vec![h * hd]));
            }
            out.push((format!("{p}self_attn.k_proj.weight"), vec![kv * hd, d]));
            if self.qkv_bias {
                out.push((format!("{p}self_attn.k_proj.bias"), vec![kv * hd]));
            }
            out.push((format!("{p}self_attn.v_proj.weight"), vec![kv * hd, d]));
            if self.qkv_bias {
                out.push((format!("{p}self_attn.v_proj.bias"), vec![kv * hd]));
            }
            out.push((format!("{p}self_attn.o_proj.weight"), vec![d, h * hd]));
            if self.o_bias {
                out.push((format!("{p}self_attn.o_proj.bias"), vec![d]));
            }
            for (n, shape) in [
                ("gate_proj", vec![i, d]),
                ("up_proj", vec![i, d]),
                ("down_proj", vec![d, i]),
            ] {
                let out_dim = shape[0];
                out.push((format!("{p}mlp.{n}.weight"), shape));
                if self.mlp_bias {
                    out.push((format!("{p}mlp.{n}.bias"), vec![out_dim]));
                }
            }
            out.push((format!("{p}input_layernorm.weight"), vec![d]));
            out.push((format!("{p}post_attention_layernorm.weight"), vec![d]));
        }
        out.push(("model.norm.weight".to_string(), vec![d]));
        if !self.tie_word_embeddings {
            out.push(("lm_head.weight".to_string(), vec![v, d]));
        }
        out
    }

    /// Parameter count as the subnet counts it: `sum(p.numel() for p in model.parameters())`,
    /// the tied embedding once.
    ///
    /// Computed in closed form with 128-bit arithmetic, saturating at `u64::MAX`: a hostile
    /// config (a `vocab_size` of 2⁵⁷, 2⁴⁰ layers) never wraps into a count that fits a
    /// competition, and nothing is allocated to count it.
    pub fn parameter_count(&self) -> u64 {
        // Saturating products and sums: a huge dimension can only push the count up.
        let m = |xs: &[usize]| {
            xs.iter()
                .fold(1u128, |acc, &x| acc.saturating_mul(x as u128))
        };
        let (d, hd, v, i) = (
            self.hidden_size,
            self.head_dim,
            self.vocab_size,
            self.intermediate_size,
        );
        let (h, kv) = (self.num_attention_heads, self.num_key_value_heads);
        let parts = |on: bool, xs: &[u128]| -> u128 {
            if on {
                xs.iter().fold(0u128, |a, &x| a.saturating_add(x))
            } else {
                0
            }
        };
        let per_layer = parts(
            true,
            &[
                m(&[h, hd, d]),
                m(&[2, kv, hd, d]),
                m(&[d, h, hd]),
                m(&[3, i, d]),
                parts(self.qkv_bias, &[m(&[h, hd]), m(&[2, kv, hd])]),
                parts(self.o_bias, &[m(&[d])]),
                parts(self.mlp_bias, &[m(&[2, i]), m(&[d])]),
                m(&[2, d]),
            ],
        );
        let embed = m(&[v, d, if self.tie_word_embeddings { 1 } else { 2 }]);
        let total = parts(
            true,
            &[
                embed,
                per_layer.saturating_mul(self.num_hidden_layers as u128),
                m(&[d]),
            ],
        );
        u64::try_from(total).unwrap_or(u64::MAX)
    }

    /// RoPE inverse frequencies after scaling (float32, as transformers computes them), and the
    /// attention scaling (1 for the supported types).
    pub fn rope_inv_freq(&self) -> Vec<f32> {
        let hd = self.head_dim;
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
