"""A Hugging Face Llama `config.json` as torchtitan 0.3.0's Llama3 model.

Every dimension comes from the file: hidden size, layers, heads and key/value heads, head_dim,
intermediate size, vocabulary, tied embeddings, rope theta, llama3 rope scaling, max positions,
RMSNorm eps. Initialisation is transformers' (normal(0, initializer_range) weights, unit norms).
What torchtitan's Llama and its HF adapter cannot represent is refused with the reason; `sn9
train --engine torchtitan` refuses the same configs before it writes a job.
"""

import json
from functools import partial

import torch.nn as nn
from torchtitan.distributed.pipeline_parallel import pipeline_llm
from torchtitan.models.common import ComplexRoPE, Embedding, Linear, RMSNorm
from torchtitan.models.common.config_utils import (
    get_attention_config,
    make_ffn_config,
    make_gqa_config,
)
from torchtitan.models.common.param_init import skip_param_init
from torchtitan.models.llama3 import parallelize_llama
from torchtitan.models.llama3.model import Llama3Model, Llama3TransformerBlock
from torchtitan.models.llama3.state_dict_adapter import Llama3StateDictAdapter
from torchtitan.protocols.model_spec import ModelSpec


def unmappable(c):
    """Why torchtitan's Llama cannot train this config (None when it can)."""
    arch = (c.get("architectures") or [None])[0]
    if arch != "LlamaForCausalLM":
        return f"architecture {arch} (only LlamaForCausalLM maps onto torchtitan's Llama)"
    if c.get("attention_bias") or c.get("mlp_bias"):
        return "attention_bias/mlp_bias (the Llama3 HF adapter maps no bias weights)"
    if c.get("hidden_act", "silu") != "silu":
        return f"hidden_act {c.get('hidden_act')} (torchtitan's feed-forward is SwiGLU with SiLU)"
    rs = c.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind not in ("default", "llama3"):
        return f"rope_scaling type {kind} (torchtitan's RoPE has only llama3 scaling)"
    if c.get("pretraining_tp", 1) != 1:
        return "pretraining_tp != 1"
    return None


def spec_from_hf(config_json, flavor="sn9", attn_backend="flex"):
    with open(config_json) as f:
        c = json.load(f)
    why = unmappable(c)
    if why:
        raise ValueError(f"{config_json}: torchtitan cannot train {why}")
    d, L, H = c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"]
    kv, V = c.get("num_key_value_heads") or H, c["vocab_size"]
    hd = c.get("head_dim") or d // H
    tied = c.get("tie_word_embeddings", False)
    eps = c.get("rms_norm_eps", 1e-6)
    rs = c.get("rope_scaling") or {}
    if rs.get("rope_type", rs.get("type")) == "llama3":
        scaling = dict(scaling="llama", scaling_factor=float(rs["factor"]),
                       low_freq_factor=float(rs["low_freq_factor"]),
                       high_freq_factor=float(rs["high_freq_factor"]),
                       original_max_position_embeddings=int(rs["original_max_position_embeddings"]))
    else:
        scaling = dict(scaling="none")
    rope = ComplexRoPE.Config(dim=hd, max_seq_len=c["max_position_embeddings"],
                              theta=float(c.get("rope_theta", 10000.0)), **scaling)
    init = {"weight": partial(nn.init.normal_, std=c.get("initializer_range", 0.02))}
    ones = {"weight": nn.init.ones_}

    def norm():
        return RMSNorm.Config(normalized_shape=d, eps=eps, param_init=ones)

    layers = [
        Llama3TransformerBlock.Config(
            attention_norm=norm(),
            ffn_norm=norm(),
            attention=make_gqa_config(
                dim=d, n_heads=H, n_kv_heads=kv, head_dim=hd, rope=rope,
                wqkv_param_init=init, wo_param_init=init, fuse_qkv=True,
                inner_attention=get_attention_config(attn_backend)),
            feed_forward=make_ffn_config(dim=d, hidden_dim=c["intermediate_size"],
                                         w1_param_init=init, w2w3_param_init=init),
        )
        for _ in range(L)
    ]
    model = Llama3Model.Config(
        dim=d, vocab_size=V, enable_weight_tying=tied, layers=layers, norm=norm(),
        tok_embeddings=Embedding.Config(num_embeddings=V, embedding_dim=d,
                                        param_init={"weight": skip_param_init} if tied else init),
        lm_head=Linear.Config(in_features=d, out_features=V, param_init=init))
    return ModelSpec(name="sn9-llama", flavor=flavor, model=model,
                     parallelize_fn=parallelize_llama, pipelining_fn=pipeline_llm,
                     post_optimizer_build_fn=None, state_dict_adapter=Llama3StateDictAdapter)
