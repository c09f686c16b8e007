"""Files -> checked specs: scan, parse, validate, kinds, model, config, paths."""

from __future__ import annotations
