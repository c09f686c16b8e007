"""Built-in tools and resources every snapshot carries.

Tools: ``list_tools``, ``search_tools``, ``call_tool`` (for clients that ignore list_changed), and
the writers (``build_tool``), which ``builtins.readOnly`` turns off.
Resources: ``skillz://guide`` (rendered live), ``skillz://diagnostics``, ``skillz://tools/{name}``.
``builtins.enabled`` / ``builtins.disabled`` in ``skillz.yaml`` switch tools on and off.
"""

from __future__ import annotations

from skillz_engine.builtins.build_tool import BUILD_TOOL
from skillz_engine.builtins.guide import builtin_resources, builtin_templates
from skillz_engine.builtins.search import CORE_TOOLS
from skillz_engine.config import Config
from skillz_engine.model import ToolDef

WRITERS: tuple[ToolDef, ...] = (BUILD_TOOL,)  # tools that write into the tree (off when read-only)
BUILTIN_NAMES = frozenset(t.name for t in (*CORE_TOOLS, *WRITERS))


def builtin_tools(config: Config) -> list[ToolDef]:
    enabled = config.get("builtins", "enabled")
    disabled = set(config.get("builtins", "disabled", default=()) or ())
    out = []
    for t in (*CORE_TOOLS, *(() if config.read_only else WRITERS)):
        if enabled is not None and t.name not in enabled:
            continue
        if t.name in disabled:
            continue
        out.append(t)
    return out


__all__ = ["BUILTIN_NAMES", "builtin_resources", "builtin_templates", "builtin_tools"]
