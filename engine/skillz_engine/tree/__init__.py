"""Files -> checked specs: scan, parse, validate, kinds, model, config, paths. Imports nothing above it."""

from __future__ import annotations
