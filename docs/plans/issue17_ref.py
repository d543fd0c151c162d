"""Float64 numpy re-implementation of the 8 non-Llama hfref cases, written from the
transformers 4.44.1 sources, to verify the forward math described in docs/plans/issue17-architectures.md.
Usage: python docs/plans/issue17_ref.py [../shared/hfref/cases]"""
import json, struct, sys, math
import numpy as np

ROOT = sys.argv[1] if len(sys.argv) > 1 else "../shared/hfref/cases"


def load_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for k, v in hdr.items():
            if k == "__metadata__":
                continue
            assert v["dtype"] == "F32"
            s, e = v["data_offsets"]
            f.seek(base + s)
            out[k] = np.frombuffer(f.read(e - s), dtype="<f4").astype(np.float64).reshape(v["shape"])
        return out


def gelu_exact(x):
    from math import erf
    return 0.5 * x * (1.0 + np.vectorize(erf)(x / math.sqrt(2.0)))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def rms(x, w, eps, plus_one):
    y = x / np.sqrt((x * x).mean(-1, keepdims=True) + eps)
    return y * ((1.0 + w) if plus_one else w)


def ln(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def lin(x, W, b=None):
    y = x @ W.T
    return y if b is None else y + b


def inv_freq(dim, base):
    # float32, as torch computes it
    e = (np.arange(0, dim, 2, dtype=np.int64).astype(np.float32) / np.float32(dim))
    return (np.float32(1.0) / (np.float32(base) ** e)).astype(np.float32)


def rope(x, rot, base, pos):
    """x [b, h, t, hd]; rotate the first `rot` dims (rotate-half inside them)."""
    if rot == 0:
        return x
    f = inv_freq(rot, base).astype(np.float64)
    ang = np.outer(pos, f)  # [t, rot/2]
    emb = np.concatenate([ang, ang], -1)
    c, s = np.cos(emb), np.sin(emb)
    xr, xp = x[..., :rot], x[..., rot:]
    h = rot // 2
    rh = np.concatenate([-xr[..., h:], xr[..., :h]], -1)
    return np.concatenate([xr * c + rh * s, xp], -1)


def attend(q, k, v, scale, softcap=None, window=None):
    """q [b,h,t,hd], k/v [b,kv,t,hd]; causal; window: key j visible from i iff i-w < j <= i."""
    b, h, t, hd = q.shape
    kv = k.shape[1]
    k = np.repeat(k, h // kv, axis=1)
    v = np.repeat(v, h // kv, axis=1)
    s = q @ k.transpose(0, 1, 3, 2) * scale
    if softcap is not None:
        s = softcap * np.tanh(s / softcap)
    i = np.arange(t)[:, None]
    j = np.arange(t)[None, :]
    masked = j > i
    if window is not None:
        masked = masked | (j <= i - window)
    s = np.where(masked, -np.inf, s)
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    return p @ v


def heads(x, n, hd):
    b, t, _ = x.shape
    return x.reshape(b, t, n, hd).transpose(0, 2, 1, 3)


def merge(x):
    b, h, t, hd = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, t, h * hd)


def fwd_gemma(W, c, ids, v2):
    d, H, KV, hd = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    eps = c["rms_norm_eps"]
    t = ids.shape[1]
    pos = np.arange(t)
    x = W["model.embed_tokens.weight"][ids] * np.float64(np.float32(math.sqrt(d)))
    act = c.get("hidden_activation") or "gelu_pytorch_tanh"
    assert act in ("gelu_pytorch_tanh", "gelu_new")
    scale = c["query_pre_attn_scalar"] ** -0.5 if v2 else hd ** -0.5
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms(x, W[p + "input_layernorm.weight"], eps, True)
        q = rope(heads(lin(h, W[p + "self_attn.q_proj.weight"]), H, hd), hd, c["rope_theta"], pos)
        k = rope(heads(lin(h, W[p + "self_attn.k_proj.weight"]), KV, hd), hd, c["rope_theta"], pos)
        vv = heads(lin(h, W[p + "self_attn.v_proj.weight"]), KV, hd)
        win = c["sliding_window"] if (v2 and l % 2 == 0) else None
        a = lin(merge(attend(q, k, vv, scale, c.get("attn_logit_softcapping") if v2 else None, win)),
                W[p + "self_attn.o_proj.weight"])
        if v2:
            a = rms(a, W[p + "post_attention_layernorm.weight"], eps, True)
            x = x + a
            h = rms(x, W[p + "pre_feedforward_layernorm.weight"], eps, True)
        else:
            x = x + a
            h = rms(x, W[p + "post_attention_layernorm.weight"], eps, True)
        m = lin(gelu_tanh(lin(h, W[p + "mlp.gate_proj.weight"])) * lin(h, W[p + "mlp.up_proj.weight"]),
                W[p + "mlp.down_proj.weight"])
        if v2:
            m = rms(m, W[p + "post_feedforward_layernorm.weight"], eps, True)
        x = x + m
    x = rms(x, W["model.norm.weight"], eps, True)
    logits = lin(x, W["model.embed_tokens.weight"])
    if v2 and c.get("final_logit_softcapping") is not None:
        cap = c["final_logit_softcapping"]
        logits = cap * np.tanh(logits / cap)
    return logits


def fwd_phi(W, c, ids):
    d, H = c["hidden_size"], c["num_attention_heads"]
    KV = c.get("num_key_value_heads") or H
    hd = d // H
    rot = int(c["partial_rotary_factor"] * hd)
    eps = c["layer_norm_eps"]
    t = ids.shape[1]
    pos = np.arange(t)
    x = W["model.embed_tokens.weight"][ids]
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = ln(x, W[p + "input_layernorm.weight"], W[p + "input_layernorm.bias"], eps)
        q = rope(heads(lin(h, W[p + "self_attn.q_proj.weight"], W[p + "self_attn.q_proj.bias"]), H, hd), rot, c["rope_theta"], pos)
        k = rope(heads(lin(h, W[p + "self_attn.k_proj.weight"], W[p + "self_attn.k_proj.bias"]), KV, hd), rot, c["rope_theta"], pos)
        vv = heads(lin(h, W[p + "self_attn.v_proj.weight"], W[p + "self_attn.v_proj.bias"]), KV, hd)
        a = lin(merge(attend(q, k, vv, hd ** -0.5)), W[p + "self_attn.dense.weight"], W[p + "self_attn.dense.bias"])
        m = lin(gelu_tanh(lin(h, W[p + "mlp.fc1.weight"], W[p + "mlp.fc1.bias"])), W[p + "mlp.fc2.weight"], W[p + "mlp.fc2.bias"])
        x = (a + m) + x
    x = ln(x, W["model.final_layernorm.weight"], W["model.final_layernorm.bias"], eps)
    return lin(x, W["lm_head.weight"], W["lm_head.bias"])


def fwd_falcon(W, c, ids):
    d, H = c["hidden_size"], c["num_attention_heads"]
    hd = d // H
    new = c.get("new_decoder_architecture", False)
    mq = c.get("multi_query", True)
    KV = c["num_kv_heads"] if (new or not mq) else 1
    if c.get("num_kv_heads") is None:
        KV = H if (new or not mq) else 1
    eps = c["layer_norm_epsilon"]
    bias = c.get("bias", False)
    nln = c.get("num_ln_in_parallel_attn") or (2 if new else None)
    t = ids.shape[1]
    pos = np.arange(t)
    act = gelu_exact if c.get("activation", "gelu") == "gelu" else None
    x = W["transformer.word_embeddings.weight"][ids]
    B = lambda n: W.get(n) if bias else None
    for l in range(c["num_hidden_layers"]):
        p = f"transformer.h.{l}."
        if new and nln == 2:
            ha = ln(x, W[p + "ln_attn.weight"], W[p + "ln_attn.bias"], eps)
            hm = ln(x, W[p + "ln_mlp.weight"], W[p + "ln_mlp.bias"], eps)
        else:
            ha = ln(x, W[p + "input_layernorm.weight"], W[p + "input_layernorm.bias"], eps)
            hm = ha
        qkv = lin(ha, W[p + "self_attention.query_key_value.weight"], B(p + "self_attention.query_key_value.bias"))
        b_, t_, _ = qkv.shape
        if new:
            g = H // KV
            qkv = qkv.reshape(b_, t_, KV, g + 2, hd)
            q = qkv[:, :, :, :g].reshape(b_, t_, H, hd)
            k = qkv[:, :, :, g]
            vv = qkv[:, :, :, g + 1]
        elif not mq:
            qkv = qkv.reshape(b_, t_, H, 3, hd)
            q, k, vv = qkv[..., 0, :], qkv[..., 1, :], qkv[..., 2, :]
        else:
            qkv = qkv.reshape(b_, t_, H + 2, hd)
            q, k, vv = qkv[:, :, :H], qkv[:, :, H:H + 1], qkv[:, :, H + 1:H + 2]
        q = rope(q.transpose(0, 2, 1, 3), hd, c["rope_theta"], pos)
        k = rope(k.transpose(0, 2, 1, 3), hd, c["rope_theta"], pos)
        vv = vv.transpose(0, 2, 1, 3)
        a = lin(merge(attend(q, k, vv, hd ** -0.5)), W[p + "self_attention.dense.weight"], B(p + "self_attention.dense.bias"))
        if not new and not c.get("parallel_attn", True):
            x2 = x + a
            hm = ln(x2, W[p + "post_attention_layernorm.weight"], W[p + "post_attention_layernorm.bias"], eps)
            m = lin(act(lin(hm, W[p + "mlp.dense_h_to_4h.weight"], B(p + "mlp.dense_h_to_4h.bias"))), W[p + "mlp.dense_4h_to_h.weight"], B(p + "mlp.dense_4h_to_h.bias"))
            x = m + x2
        else:
            m = lin(act(lin(hm, W[p + "mlp.dense_h_to_4h.weight"], B(p + "mlp.dense_h_to_4h.bias"))), W[p + "mlp.dense_4h_to_h.weight"], B(p + "mlp.dense_4h_to_h.bias"))
            x = (m + a) + x
    x = ln(x, W["transformer.ln_f.weight"], W["transformer.ln_f.bias"], eps)
    return lin(x, W["transformer.word_embeddings.weight"])


def fwd_neox(W, c, ids):
    d, H = c["hidden_size"], c["num_attention_heads"]
    hd = d // H
    rot = int(hd * c["rotary_pct"])
    eps = c["layer_norm_eps"]
    t = ids.shape[1]
    pos = np.arange(t)
    x = W["gpt_neox.embed_in.weight"][ids]
    for l in range(c["num_hidden_layers"]):
        p = f"gpt_neox.layers.{l}."
        h = ln(x, W[p + "input_layernorm.weight"], W[p + "input_layernorm.bias"], eps)
        qkv = lin(h, W[p + "attention.query_key_value.weight"], W[p + "attention.query_key_value.bias"])
        b_, t_, _ = qkv.shape
        qkv = qkv.reshape(b_, t_, H, 3 * hd).transpose(0, 2, 1, 3)
        q, k, vv = qkv[..., :hd], qkv[..., hd:2 * hd], qkv[..., 2 * hd:]
        q = rope(q, rot, c["rotary_emb_base"], pos)
        k = rope(k, rot, c["rotary_emb_base"], pos)
        a = lin(merge(attend(q, k, vv, hd ** -0.5)), W[p + "attention.dense.weight"], W[p + "attention.dense.bias"])
        mlp = lambda z: lin(gelu_exact(lin(z, W[p + "mlp.dense_h_to_4h.weight"], W[p + "mlp.dense_h_to_4h.bias"])), W[p + "mlp.dense_4h_to_h.weight"], W[p + "mlp.dense_4h_to_h.bias"])
        if c["use_parallel_residual"]:
            m = mlp(ln(x, W[p + "post_attention_layernorm.weight"], W[p + "post_attention_layernorm.bias"], eps))
            x = m + a + x
        else:
            a = a + x
            x = mlp(ln(a, W[p + "post_attention_layernorm.weight"], W[p + "post_attention_layernorm.bias"], eps)) + a
    x = ln(x, W["gpt_neox.final_layer_norm.weight"], W["gpt_neox.final_layer_norm.bias"], eps)
    return lin(x, W["embed_out.weight"])


def fwd_bart(W, c, ids):
    d, H = c["d_model"], c["decoder_attention_heads"]
    hd = d // H
    eps = 1e-5
    t = ids.shape[1]
    scale = math.sqrt(d) if c.get("scale_embedding") else 1.0
    P = "model.decoder."
    x = W[P + "embed_tokens.weight"][ids] * scale + W[P + "embed_positions.weight"][np.arange(t) + 2][None]
    x = ln(x, W[P + "layernorm_embedding.weight"], W[P + "layernorm_embedding.bias"], eps)
    for l in range(c["decoder_layers"]):
        p = f"{P}layers.{l}."
        q = heads(lin(x, W[p + "self_attn.q_proj.weight"], W[p + "self_attn.q_proj.bias"]) * hd ** -0.5, H, hd)
        k = heads(lin(x, W[p + "self_attn.k_proj.weight"], W[p + "self_attn.k_proj.bias"]), H, hd)
        vv = heads(lin(x, W[p + "self_attn.v_proj.weight"], W[p + "self_attn.v_proj.bias"]), H, hd)
        a = lin(merge(attend(q, k, vv, 1.0)), W[p + "self_attn.out_proj.weight"], W[p + "self_attn.out_proj.bias"])
        x = ln(x + a, W[p + "self_attn_layer_norm.weight"], W[p + "self_attn_layer_norm.bias"], eps)
        m = lin(gelu_exact(lin(x, W[p + "fc1.weight"], W[p + "fc1.bias"])), W[p + "fc2.weight"], W[p + "fc2.bias"])
        x = ln(x + m, W[p + "final_layer_norm.weight"], W[p + "final_layer_norm.bias"], eps)
    return lin(x, W[P + "embed_tokens.weight"])


def forward(case, W, c, ids):
    a = c["architectures"][0]
    return {
        "GemmaForCausalLM": lambda: fwd_gemma(W, c, ids, False),
        "Gemma2ForCausalLM": lambda: fwd_gemma(W, c, ids, True),
        "PhiForCausalLM": lambda: fwd_phi(W, c, ids),
        "FalconForCausalLM": lambda: fwd_falcon(W, c, ids),
        "GPTNeoXForCausalLM": lambda: fwd_neox(W, c, ids),
        "BartForCausalLM": lambda: fwd_bart(W, c, ids),
    }[a]()


def rel(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)


def main():
    for case in ["gemma", "gemma2", "phi", "falcon_7b", "falcon_new_decoder", "gptneox_parallel", "gptneox_sequential", "bart_causal"]:
        d = f"{ROOT}/{case}"
        c = json.load(open(f"{d}/config.json"))
        e = json.load(open(f"{d}/expected.json"))
        ids = np.array(json.load(open(f"{d}/input_ids.json"))["input_ids"])
        W = load_st(f"{d}/model.safetensors")
        lg = forward(case, W, c, ids)
        L = e["logits"]
        head = lg[:, :4]
        lse = np.log(np.exp(lg - lg.max(-1, keepdims=True)).sum(-1)) + lg.max(-1)
        tgt = ids[:, 1:]
        ce = lse[:, :-1] - np.take_along_axis(lg[:, :-1], tgt[..., None], -1)[..., 0]
        per_row = ce.mean(1)
        # greedy, full recompute each step
        g = e["generate"]
        seq = list(g["prompt"])
        for _ in range(len(g["new_tokens"])):
            seq.append(int(forward(case, W, c, np.array([seq]))[0, -1].argmax()))
        new = seq[len(g["prompt"]):]
        # param count from the file (+ nothing: tied heads are not in the files)
        count = sum(v.size for v in W.values())
        print(f"{case:20s} head {rel(head, L['head']):.1e} sum {rel(lg.sum(-1), L['pos_sum_f64']):.1e} "
              f"max {rel(lg.max(-1), L['pos_max']):.1e} argmax_ok {(lg.argmax(-1) == np.array(L['pos_argmax'])).all()} "
              f"loss {rel(per_row, e['loss']['per_row']):.1e} greedy_ok {new == g['new_tokens']} "
              f"count {count} == {e['param_count']}: {count == e['param_count']}")


if __name__ == "__main__":
    main()
