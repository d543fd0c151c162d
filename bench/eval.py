"""Python side of bench/eval.sh: the reference validator's `compute_text_loss` on one task's
batches (pretrain/eval/method.py as sn9's spec describes it): the generation sanity gate on the
first 100 tokens of batches 0 and 1 (20 greedy tokens each, pad = EOS), then per batch the mean
cross entropy of `model(inputs, past_key_values=DynamicCache())` over the shifted labels.

    python eval.py MODEL_DIR SHARD_BIN SEQ_LEN EOS ATTN THREADS
prints one JSON line: the losses, seconds inside compute_text_loss, load seconds, peak RSS.
"""
import json, math, resource, sys, time

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, DynamicCache

model_dir, shard, seq, eos, attn, threads = sys.argv[1:7]
seq, eos = int(seq), int(eos)
torch.set_num_threads(int(threads))


def reasonable(model, a, b, pad):
    n = 20
    out_a = model.generate(a, min_new_tokens=n, max_new_tokens=n, pad_token_id=pad)[:, -n:]
    out_b = model.generate(b, min_new_tokens=n, max_new_tokens=n, pad_token_id=pad)[:, -n:]
    if torch.sum(torch.eq(out_a, out_b)).item() >= n / 2:
        return False
    counts = [torch.unique(t, return_counts=True)[1].max().item() for t in (out_a, out_b)]
    return not all(c > n / 2 for c in counts)


def compute_text_loss(model, batches, pad):
    if not reasonable(model, batches[0][:, :100], batches[1][:, :100], pad):
        return [math.inf] * len(batches)
    losses = []
    with torch.no_grad():
        for batch in batches:
            logits = model(batch, past_key_values=DynamicCache()).logits
            shift_logits = logits[..., :-1, :].contiguous()
            shift_labels = batch[..., 1:].contiguous()
            loss = torch.nn.CrossEntropyLoss()(
                shift_logits.view(-1, shift_logits.size(-1)), shift_labels.view(-1)
            )
            losses.append(loss.item())
    return losses


start = time.perf_counter()
model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32, attn_implementation=attn)
model.eval()
loaded = time.perf_counter()
ids = np.fromfile(shard, dtype="<u4").astype(np.int64).reshape(-1, seq)
batches = [torch.from_numpy(r).unsqueeze(0) for r in ids]
losses = compute_text_loss(model, batches, eos)
done = time.perf_counter()
print(json.dumps({
    "impl": f"transformers {transformers.__version__} {attn}, torch {torch.__version__}",
    "losses": losses, "load_s": loaded - start, "compute_text_loss_s": done - loaded,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
