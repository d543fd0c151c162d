"""Python side of bench/pack.sh: the reference's way to pack a corpus (HF `tokenizers` encode of
every document + EOS, numpy concatenation and reshape into windows)."""
import json, sys, time

import numpy as np
from tokenizers import Tokenizer

tok_path, corpus, seq = sys.argv[1], sys.argv[2], int(sys.argv[3])
tok = Tokenizer.from_file(tok_path)
eos = tok.token_to_id("<|endoftext|>")
start = time.perf_counter()
docs = [json.loads(l)["text"] for l in open(corpus, encoding="utf-8")]
encs = tok.encode_batch(docs, add_special_tokens=False)
stream = np.concatenate([np.append(np.asarray(e.ids, dtype=np.uint32), np.uint32(eos)) for e in encs])
n = len(stream) // seq * seq
windows = stream[:n].reshape(-1, seq)
windows.tofile("/dev/null")
elapsed = time.perf_counter() - start
print(json.dumps({"impl": "python-tokenizers+numpy", "tokens": int(len(stream)), "seconds": elapsed, "tokens_per_s": len(stream) / elapsed}))
