"""What the engine keeps on disk: the state dir (token, audit), memory, git sources."""

from __future__ import annotations
