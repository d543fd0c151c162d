"""`sn9 train`'s learning-rate schedule as a factor of the peak rate (standard library only).

Step `s` (0-based) trains at `lr * factor(s)`:
* warmup (`s < warmup`): `(s + 1) / warmup`;
* then, with `p = (s - warmup) / max(total - warmup, 1)` clamped to [0, 1] and `m = min_lr / lr`:
  cosine `m + (1 - m) * (1 + cos(pi p)) / 2`, linear `1 - (1 - m) * p`, constant `1`.
(sn9's `train::schedule::Schedule::lr_at`; torchtitan's own schedule counts the decay from
`s + 1`, one step apart, so the job installs this one.)
"""

import math


def factor(step, warmup, total, decay, min_factor):
    if step < warmup:
        return (step + 1) / warmup
    p = min(max((step - warmup) / max(total - warmup, 1), 0.0), 1.0)
    if decay == "constant":
        return 1.0
    if decay == "linear":
        return 1.0 - (1.0 - min_factor) * p
    if decay == "cosine":
        return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * p))
    raise ValueError(f"unknown decay {decay!r} (cosine, linear, constant)")


def main(argv=None):
    """`python -m sn9_titan.schedule LR MIN_LR WARMUP TOTAL DECAY`: the rate of every step."""
    import sys

    a = sys.argv[1:] if argv is None else argv
    if len(a) != 5:
        raise SystemExit("usage: python -m sn9_titan.schedule LR MIN_LR WARMUP TOTAL DECAY")
    lr, min_lr, warmup, total, decay = float(a[0]), float(a[1]), int(a[2]), int(a[3]), a[4]
    for s in range(total):
        print(repr(lr * factor(s, warmup, total, decay, min_lr / lr)))


if __name__ == "__main__":
    main()
