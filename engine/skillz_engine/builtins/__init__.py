"""Built-in tools and resources every snapshot carries.

Tools: ``list_tools``, ``search_tools``, ``call_tool`` (for clients that ignore list_changed);
``activate_skill``, ``deactivate_skill``, ``suggest_skill`` (skills per client); ``memory`` (the
model's key-value memory); the writers ``register_script``, ``build_tool``, ``add_skill_repo``,
``import_mcp`` (imports an MCP server), ``import_tool`` (copies entries from a git repository or
gist, with provenance), ``pipeline``, ``delete_tool`` and ``version`` (history: list, diff,
rollback); ``services`` (Docker services: define, list, start, stop, status, logs, remove, prune);
``execute_code`` runs the client's Python, which calls the tools as functions (code mode).
Prompts: the six authoring prompts of :mod:`.authoring` (rendered live).
Resources: ``skillz://guide`` (rendered live), ``skillz://diagnostics``, ``skillz://tools/{name}``.
``builtins.enabled`` / ``builtins.disabled`` in ``skillz.yaml`` switch tools on and off;
``builtins.readOnly`` (``--read-only``) turns every writer off.

The build layer knows none of them: whoever opens a tree passes :func:`catalog` to it
(``Tree(roots, builtins=catalog())``) and every snapshot draws on that catalog.
"""

from __future__ import annotations

from functools import cache

from skillz_engine.build.snapshot import Builtins
from skillz_engine.builtins.authoring import AUTHORING_PROMPTS
from skillz_engine.builtins.build_tool import BUILD_TOOL
from skillz_engine.builtins.codemode import EXECUTE_CODE
from skillz_engine.builtins.delete import DELETE_TOOL
from skillz_engine.builtins.guide import builtin_resources, builtin_templates
from skillz_engine.builtins.import_mcp import IMPORT_MCP
from skillz_engine.builtins.imports import IMPORT_TOOL
from skillz_engine.builtins.memory import MEMORY
from skillz_engine.builtins.pipeline import PIPELINE
from skillz_engine.builtins.register import REGISTER_SCRIPT
from skillz_engine.builtins.repos import REPO_TOOLS
from skillz_engine.builtins.search import CORE_TOOLS
from skillz_engine.builtins.services import SERVICES
from skillz_engine.builtins.skills import SKILL_TOOLS
from skillz_engine.builtins.version import VERSION
from skillz_engine.builtins.writers import attributed
from skillz_engine.tree.config import Config
from skillz_engine.tree.model import ToolDef

STATE_TOOLS: tuple[ToolDef, ...] = (MEMORY,)
SERVICE_TOOLS: tuple[ToolDef, ...] = (SERVICES,)  # its writing actions refuse under read-only
CODE_TOOLS: tuple[ToolDef, ...] = (EXECUTE_CODE,)
# tools that write into the tree: off when read-only
WRITER_TOOLS: tuple[ToolDef, ...] = (REGISTER_SCRIPT, BUILD_TOOL, *REPO_TOOLS, IMPORT_MCP, IMPORT_TOOL)
WRITER_TOOLS += (PIPELINE, DELETE_TOOL, VERSION)
ALL_TOOLS: tuple[ToolDef, ...] = (
    *CORE_TOOLS,
    *SKILL_TOOLS,
    *STATE_TOOLS,
    *WRITER_TOOLS,
    *SERVICE_TOOLS,
    *CODE_TOOLS,
)
BUILTIN_NAMES = frozenset(t.name for t in ALL_TOOLS)
WRITERS = frozenset(t.name for t in WRITER_TOOLS)


@cache
def catalog() -> Builtins:
    """Every built-in tool, resource, resource template and prompt, for the trees an engine opens.
    Each writer is :func:`~skillz_engine.builtins.writers.attributed`: history records it as the author."""
    tools = tuple(attributed(t) if t.name in WRITERS else t for t in ALL_TOOLS)
    return Builtins(tools, tuple(builtin_resources()), tuple(builtin_templates()), WRITERS, AUTHORING_PROMPTS)


def builtin_tools(config: Config) -> list[ToolDef]:
    """The built-in tools ``config`` switches on."""
    return catalog().tools_for(config)


__all__ = ["BUILTIN_NAMES", "WRITERS", "builtin_resources", "builtin_templates", "builtin_tools", "catalog"]
