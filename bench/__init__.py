"""skillz-engine benchmark suite: ``python -m bench [--quick] [--only NAME ...] [--out DIR]``.

Every scenario runs the engine and its baselines in the same run, interleaved, several times, with
the warm-up discarded; see ``bench/README.md``.
"""

from __future__ import annotations
