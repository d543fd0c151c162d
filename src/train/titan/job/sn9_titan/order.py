"""The sample order of `sn9 train`, in the standard library only (no torch, no numpy).

`sn9 train` holds out `val_sequences` windows: `random.Random(seed).shuffle(list(range(total)))`,
the first `val_sequences` of the shuffled list (sorted) validate and the rest (sorted) train. It
visits the training windows epoch by epoch in the order
`random.Random(seed + 1 + epoch).shuffle(train)`. Its cursor counts the windows consumed, so
optimiser step `s` with `G` windows per step takes cursors `s*G .. s*G + G - 1`.

A data-parallel job takes the same cursors: each micro-batch round covers `dp * b` consecutive
cursors, and data-parallel rank `r` takes the `b` of them from `r * b` on. A step of
`A` accumulation rounds thus trains on exactly the windows `sn9 train` trains on in that step
(sn9's CPython-compatible `random` is `sn9::data::pyrandom`).
"""

import random

U64 = 1 << 64


def split(total, val, seed):
    """(train, val) window indices, both sorted, as `sn9 train` splits them."""
    if total <= 0:
        raise ValueError("the token shards hold no windows; pack a corpus first (sn9 data pack)")
    if not 0 <= val < total:
        raise ValueError(f"val_sequences {val} leaves nothing to train on ({total} windows)")
    idx = list(range(total))
    random.Random(seed % U64).shuffle(idx)
    return sorted(idx[val:]), sorted(idx[:val])


def epoch_order(train, seed, epoch):
    """The training windows in the order of `epoch`."""
    o = list(train)
    random.Random((seed + 1 + epoch) % U64).shuffle(o)
    return o


def cursor_of(k, dp_rank, dp_world_size, local_batch_size):
    """The stream cursor of the `k`-th window (0-based) that data-parallel rank `dp_rank` takes."""
    if not 0 <= dp_rank < dp_world_size or local_batch_size < 1:
        raise ValueError("bad data-parallel layout")
    rnd, i = divmod(k, local_batch_size)
    return rnd * dp_world_size * local_batch_size + dp_rank * local_batch_size + i


class Order:
    """Window index of each stream cursor: training epochs, or the validation windows in turn."""

    def __init__(self, total, val, seed, part="train"):
        self.train, self.val = split(total, val, seed)
        self.seed, self.part = seed, part
        if part == "val" and not self.val:
            raise ValueError("no validation windows (val_sequences is 0)")
        self._epoch, self._order = None, None

    def __len__(self):
        return len(self.train if self.part == "train" else self.val)

    def window(self, cursor):
        if self.part == "val":
            return self.val[cursor % len(self.val)]
        epoch, pos = divmod(cursor, len(self.train))
        if epoch != self._epoch:
            self._epoch, self._order = epoch, epoch_order(self.train, self.seed, epoch)
        return self._order[pos]


def main(argv=None):
    """`python -m sn9_titan.order TOTAL VAL SEED DP RANK BATCH N`: the first N window indices
    that rank RANK of DP reads, one per line (to compare with sn9's order)."""
    import sys

    a = [int(x) for x in (sys.argv[1:] if argv is None else argv)]
    if len(a) != 7:
        raise SystemExit("usage: python -m sn9_titan.order TOTAL VAL SEED DP RANK BATCH N")
    total, val, seed, dp, rank, batch, n = a
    o = Order(total, val, seed)
    for k in range(n):
        print(o.window(cursor_of(k, rank, dp, batch)))


if __name__ == "__main__":
    main()
