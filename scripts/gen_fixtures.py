#!/usr/bin/env python3
"""Regenerates two small fixtures (standard library only, deterministic):

* fixtures/tokenizer/bytes/tokenizer.json: a byte-level BPE tokenizer with no merges: the 256
  byte tokens (GPT-2's byte-to-unicode alphabet, so ids = byte values) plus <|endoftext|> = 256.
  A 257-token vocabulary keeps test models tiny.
* fixtures/corpus/tiny.jsonl: ~70 KB of synthetic English from a small grammar (seed 9), one
  document per line as {"text": ...}: enough structure for a tiny model's loss to fall well below
  ln(257).
"""
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def tokenizer():
    m = bytes_to_unicode()
    vocab = {m[b]: b for b in range(256)}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": 256, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False, "vocab": vocab, "merges": []},
    }


def corpus(seed=9, docs=400):
    r = random.Random(seed)
    subj = ["the miner", "a validator", "the model", "our subnet", "the chain", "every node", "the hub", "a researcher"]
    verb = ["trains", "evaluates", "uploads", "scores", "commits", "downloads", "samples", "packs"]
    obj = ["a small model", "the weights", "fresh pages", "the token shards", "its loss", "the batches", "a new commit"]
    adv = ["quickly", "carefully", "every block", "before the deadline", "on two cores", "without a network"]
    out = []
    for _ in range(docs):
        sents = []
        for _ in range(r.randint(2, 6)):
            s = f"{r.choice(subj)} {r.choice(verb)} {r.choice(obj)}"
            if r.random() < 0.5:
                s += " " + r.choice(adv)
            sents.append(s[0].upper() + s[1:] + ".")
        out.append({"text": " ".join(sents)})
    return out


if __name__ == "__main__":
    (ROOT / "fixtures/tokenizer/bytes/tokenizer.json").write_text(json.dumps(tokenizer(), ensure_ascii=False, indent=1) + "\n")
    with open(ROOT / "fixtures/corpus/tiny.jsonl", "w") as f:
        for d in corpus():
            f.write(json.dumps(d) + "\n")
