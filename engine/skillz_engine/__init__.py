"""skillz-engine: a directory tree of manifests compiled into a live MCP server."""

from __future__ import annotations

from skillz_engine.tree.diagnostics import Diagnostic, Severity

__version__ = "0.1.0"

__all__ = ["Diagnostic", "Severity", "__version__"]
