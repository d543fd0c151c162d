"""Python side of bench/pack.sh: the peers' way to pack a corpus. Every document encoded (HF
`tokenizers` `encode_batch`, or `tiktoken` `encode_ordinary_batch` on all cores with an Encoding
built from the same tokenizer.json), EOS appended, numpy concatenation and reshape into windows.
The windows go to OUT (raw little-endian u32) for the bench to compare with sn9's shards.
Timed from the first document read to the last window written; interpreter start and tokenizer
load are not counted (sn9's time counts both).

    python pack.py tokenizers|tiktoken TOKENIZER_JSON CORPUS SEQ_LEN OUT THREADS
"""
import json, os, sys, time

import numpy as np

impl, tok_path, corpus, seq, out, threads = sys.argv[1:7]
seq, threads = int(seq), int(threads)
spec = json.load(open(tok_path, encoding="utf-8"))
eos = next(t["id"] for t in spec["added_tokens"] if t["content"] == "<|endoftext|>")

if impl == "tokenizers":
    import tokenizers

    tok = tokenizers.Tokenizer.from_file(tok_path)
    version = tokenizers.__version__

    def encode(docs):
        return [e.ids for e in tok.encode_batch(docs, add_special_tokens=False)]

elif impl == "tiktoken":
    import tiktoken

    # GPT-2's byte <-> character map of byte-level BPE, to turn the vocabulary back into bytes.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    to_byte = {chr(c): b for b, c in zip(bs, cs)}
    ranks = {bytes(to_byte[ch] for ch in t): i for t, i in spec["model"]["vocab"].items()}
    pattern = spec["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"]
    enc = tiktoken.Encoding(
        name="cl100k_from_tokenizer_json",
        pat_str=pattern,
        mergeable_ranks=ranks,
        special_tokens={t["content"]: t["id"] for t in spec["added_tokens"]},
    )
    version = tiktoken.__version__

    def encode(docs):
        return enc.encode_ordinary_batch(docs, num_threads=threads)

else:
    sys.exit(f"unknown implementation {impl}")

start = time.perf_counter()
docs = [json.loads(l)["text"] for l in open(corpus, encoding="utf-8")]
encs = encode(docs)
stream = np.concatenate([np.append(np.asarray(e, dtype=np.uint32), np.uint32(eos)) for e in encs])
n = len(stream) // seq * seq
windows = stream[:n].reshape(-1, seq)
windows.astype("<u4").tofile(out)
elapsed = time.perf_counter() - start
print(json.dumps({"impl": f"{impl} {version}", "tokens": int(len(stream)), "seconds": elapsed,
                  "tokens_per_s": len(stream) / elapsed}))
