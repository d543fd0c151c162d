"""The fixtures/hfref parity cases through a built sn9 on one device, for bench/gpu.sh (the
Rust test `tests/wgpu.rs` does the same for wgpu in CI). Needs only the Python standard library.

    python3 bench/hfref_check.py SN9_BIN DEVICE [CASES_DIR]

Per case: `sn9 model forward` in f32 against transformers' expected.json (logits head, position
sums and maxima at 1e-4 relative, argmax exactly, the validator's loss per row at 1e-4), then in
bf16 against the bf16 numbers where the case has them (loss at 3e-2: 8 bits of mantissa), and
`sn9 model generate` (greedy, KV cache) exactly. Prints `<device> <case>: ok|FAILED ...` per
case and exits 1 when any failed.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

F32_TOL, BF16_TOL = 1e-4, 3e-2


def flat(v):
    if isinstance(v, list):
        for x in v:
            yield from flat(x)
    else:
        yield float(v)


def rel_err(got, want):
    got, want = list(flat(got)), list(flat(want))
    if len(got) != len(want):
        return float("inf")
    scale = max([abs(x) for x in want] + [1e-12])
    return max([abs(a - b) for a, b in zip(got, want)] + [0.0]) / scale


def read_npy(path):
    with open(path, "rb") as f:
        b = f.read()
    hlen = struct.unpack("<H", b[8:10])[0]
    header = b[10:10 + hlen].decode()
    shape = tuple(int(x) for x in header.split("'shape': (")[1].split(")")[0].split(",") if x.strip())
    n = 1
    for d in shape:
        n *= d
    return shape, struct.unpack(f"<{n}f", b[10 + hlen:10 + hlen + 4 * n])


def sn9(bin_, *args):
    r = subprocess.run([bin_, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"sn9 {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()[-600:]}")
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def check(bin_, device, case, tmp):
    exp = json.load(open(os.path.join(case, "expected.json")))
    if exp.get("validator_forward", {}).get("ok") is False:
        return "not run (the validator cannot score this class)"
    ids = os.path.join(case, "input_ids.json")
    npy = os.path.join(tmp, "logits.npy")
    fails, notes = [], []
    bf16_case = exp["compute_dtype"] == "bfloat16"
    rows = sn9(bin_, "model", "forward", "--json", "--device", device, "--ids", ids, "--logits", npy, case)
    (b, t, v), data = read_npy(npy)
    lref = exp["logits_f32_upcast" if bf16_case else "logits"]
    lossref = exp["loss_f32_upcast" if bf16_case else "loss"]
    head = [data[(r * t + p) * v + j] for r in range(b) for p in range(min(t, 4)) for j in range(v)]
    worst = 0.0
    checks = [
        ("pos_sum", [r["sum"] for r in rows], lref["pos_sum_f64"]),
        ("pos_max", [r["max"] for r in rows], lref["pos_max"]),
        ("loss", [r["loss"] for r in rows], lossref["per_row"]),
    ]
    if not bf16_case:  # the bf16 case's f32-upcast numbers have no logits head
        checks.append(("logits head", head, lref["head"]))
    for what, got, want in checks:
        e = rel_err(got, want)
        worst = max(worst, e)
        if e > F32_TOL:
            fails.append(f"f32 {what} rel err {e:.2e}")
    if [x for r in rows for x in r["argmax"]] != [int(x) for x in flat(lref["pos_argmax"])]:
        fails.append("f32 argmax differs")
    notes.append(f"f32 max rel err {worst:.1e}")
    # bf16 compute: against transformers' bf16 run where the case has one, else its f32 numbers.
    try:
        rows16 = sn9(bin_, "model", "forward", "--json", "--device", device, "--dtype", "bf16", "--ids", ids, case)
        e = rel_err([r["loss"] for r in rows16], exp["loss"]["per_row"])
        notes.append(f"bf16 loss rel err {e:.1e}")
        if e > BF16_TOL:
            fails.append(f"bf16 loss rel err {e:.2e} > {BF16_TOL}")
    except RuntimeError as err:
        # wgpu has no bfloat16 and sn9 refuses it there (exit 1); a CUDA GPU must compute it.
        if device.startswith("wgpu") and "cannot compute in bf16" in str(err):
            notes.append("bf16 refused (no bfloat16 on wgpu)")
        else:
            raise
    if not bf16_case:
        g = exp["generate"]
        out = sn9(bin_, "model", "generate", "--json", "--device", device,
                  "--prompt-ids", ",".join(str(int(x)) for x in g["prompt"]),
                  "--max-new-tokens", str(len(g["new_tokens"])), case)
        if out[0]["new_tokens"] != [int(x) for x in g["new_tokens"]]:
            fails.append(f"greedy {out[0]['new_tokens']} != {g['new_tokens']}")
        else:
            notes.append(f"{len(g['new_tokens'])} greedy tokens equal")
    if fails:
        raise AssertionError("; ".join(fails))
    return ", ".join(notes)


def main():
    bin_, device = sys.argv[1], sys.argv[2]
    root = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(__file__), "..", "fixtures", "hfref")
    cases = sorted(os.path.join(root, c) for c in os.listdir(root)
                   if os.path.exists(os.path.join(root, c, "expected.json")))
    failed = 0
    for case in cases:
        name = os.path.basename(case)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                print(f"{device} {name}: ok ({check(bin_, device, case, tmp)})", flush=True)
            except Exception as e:  # one case's failure must not hide the others
                failed += 1
                print(f"{device} {name}: FAILED: {e}", flush=True)
    print(f"{device} hfref: {len(cases) - failed} ok, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
