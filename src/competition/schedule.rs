//! The Subnet 9 schedule of pretraining 6.0.4 (`constants/__init__.py` at HEAD).

use serde_json::{Map, Value, json};

use super::{Competition, EpsilonFunc, EvalTask, ModelConstraints, Schedule, ScheduleEntry};

/// Block from which the TTS competition runs and the text epsilon decays over 2 days.
pub const BLOCK_TTS: u64 = 5_177_981;

const GIB: u64 = 1024 * 1024 * 1024;

/// `ALLOWED_MODEL_TYPES_2`, sorted.
const TEXT_ARCHITECTURES: [&str; 9] = [
    "BartForCausalLM",
    "FalconForCausalLM",
    "GPTNeoXForCausalLM",
    "Gemma2ForCausalLM",
    "GemmaForCausalLM",
    "LlamaForCausalLM",
    "MistralForCausalLM",
    "PhiForCausalLM",
    "Qwen2ForCausalLM",
];

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn linear(start: f64, end: f64, blocks: u64) -> EpsilonFunc {
    EpsilonFunc::LinearDecay {
        start_epsilon: start,
        end_epsilon: end,
        decay_blocks: blocks,
    }
}

fn text_constraints(min: u64, max: u64, max_bytes: u64, epsilon: EpsilonFunc) -> ModelConstraints {
    ModelConstraints {
        max_model_parameter_size: max,
        min_model_parameter_size: min,
        sequence_length: Some(4096),
        allowed_architectures: TEXT_ARCHITECTURES.iter().map(|s| s.to_string()).collect(),
        tokenizer: Some("Xenova/gpt-4".into()),
        kwargs: obj(
            json!({"torch_dtype": "torch.bfloat16", "attn_implementation": "flash_attention_2"}),
        ),
        eval_block_delay: super::constants::EVAL_BLOCK_DELAY,
        epsilon_func: epsilon,
        max_bytes,
        norm_validation_constraints: None,
    }
}

fn b3(epsilon: EpsilonFunc) -> ModelConstraints {
    text_constraints(3_200_000_000, 3_400_000_000, 15 * GIB, epsilon)
}

fn b14(epsilon: EpsilonFunc) -> ModelConstraints {
    text_constraints(13_700_000_000, 13_900_000_000, 29 * GIB, epsilon)
}

fn tts() -> ModelConstraints {
    ModelConstraints {
        max_model_parameter_size: 400_000_000,
        min_model_parameter_size: 350_000_000,
        sequence_length: None,
        allowed_architectures: vec!["E2TTS".into()],
        tokenizer: Some("e2tts".into()),
        kwargs: Map::new(),
        eval_block_delay: super::constants::EVAL_BLOCK_DELAY,
        epsilon_func: linear(0.005, 0.0005, 72_000),
        max_bytes: 2 * GIB,
        norm_validation_constraints: None,
    }
}

fn text_task(name: &str, dataset_id: u8, dataset: &str, num_pages: u64, weight: f64) -> EvalTask {
    EvalTask {
        name: name.into(),
        method_id: 1,
        method: "TEXT_LOSS".into(),
        dataset_id,
        dataset: dataset.into(),
        normalization_id: 0,
        normalization_kwargs: Map::new(),
        dataset_kwargs: obj(json!({"batch_size": 1, "num_pages": num_pages})),
        weight,
    }
}

/// The six-dataset text mix of B3 and B14.
fn text_tasks() -> Vec<EvalTask> {
    vec![
        text_task("FINEWEB", 2, "FINEWEB", 15, 0.3),
        text_task("FINEWEB_EDU2", 3, "FINEWEB2", 15, 0.25),
        text_task("STACKV2_DEDUP", 5, "STACK2", 30, 0.35),
        text_task("PES2OX", 6, "PES2OX", 2, 0.05),
        text_task("FINEMATH_3P", 7, "FINEMATH3P", 6, 0.03),
        text_task("INFIWEBMATH_3P", 8, "WEBMATH3P", 6, 0.02),
    ]
}

fn tts_tasks() -> Vec<EvalTask> {
    vec![EvalTask {
        name: "PPL_SPEECH".into(),
        method_id: 2,
        method: "WER".into(),
        dataset_id: 9,
        dataset: "PPLSPEECH".into(),
        normalization_id: 0,
        normalization_kwargs: Map::new(),
        dataset_kwargs: obj(json!({
            "batch_size": 1, "num_pages": 1, "target_sr": 24000, "target_rms": 0.1,
            "ref_audio_max_duration": 15, "hop_length": 256
        })),
        weight: 1.0,
    }]
}

fn competition(
    id: u16,
    reward: f64,
    constraints: ModelConstraints,
    eval_tasks: Vec<EvalTask>,
) -> Competition {
    Competition {
        id,
        name: super::competition_name(id).unwrap_or("UNKNOWN").into(),
        reward_percentage: reward,
        constraints,
        eval_tasks,
    }
}

/// The schedule at pretraining 6.0.4 HEAD: B3 0.30 / B14 0.70 from block 0 (epsilon decaying over
/// 7 and 10 days), then TTS 0.55 / B3 0.15 / B14 0.30 from [`BLOCK_TTS`] (text epsilon over 2 days).
pub fn sn9_schedule() -> Schedule {
    Schedule {
        entries: vec![
            ScheduleEntry {
                from_block: 0,
                competitions: vec![
                    competition(2, 0.3, b3(linear(0.005, 0.0005, 50_400)), text_tasks()),
                    competition(4, 0.7, b14(linear(0.005, 0.0005, 72_000)), text_tasks()),
                ],
            },
            ScheduleEntry {
                from_block: BLOCK_TTS,
                competitions: vec![
                    competition(6, 0.55, tts(), tts_tasks()),
                    competition(2, 0.15, b3(linear(0.005, 0.0001, 14_400)), text_tasks()),
                    competition(4, 0.3, b14(linear(0.005, 0.0001, 14_400)), text_tasks()),
                ],
            },
        ],
    }
}

/// `MODEL_CONSTRAINTS_BY_COMPETITION_ID`: what the miner's upload path checks (the current,
/// non-`_TMP` constraints).
pub fn miner_constraints(id: u16) -> Option<ModelConstraints> {
    match id {
        2 => Some(b3(linear(0.005, 0.0001, 14_400))),
        4 => Some(b14(linear(0.005, 0.0001, 14_400))),
        6 => Some(tts()),
        _ => None,
    }
}
