"""The sn9 job package for torchtitan 0.3.0 (written by `sn9 train --engine torchtitan`).

`torchrun ... -m torchtitan.train --module sn9_titan --config train` with this job directory on
PYTHONPATH. The job's settings are in `settings.json` next to this file; `order.py` needs only
the standard library, so the sample order can be checked without torch.
"""
