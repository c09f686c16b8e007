"""The MCP server of an engine: the SDK's low-level ``Server`` with the engine's handlers, both eras.

Rules of the adapter (the ``mcp`` package is the only part of skillz-engine that imports the SDK):

* it receives an :class:`~skillz_engine.engine.Engine` and never builds one: the transports
  (:mod:`~skillz_engine.mcp.stdio`, :mod:`~skillz_engine.mcp.http`) serve the engine they are given;
* :func:`build_server` returns an :class:`McpServer` holding what the server is made of (its fan-out
  hub, parked calls, client sessions); nothing is attached to the SDK object afterwards;
* handlers live in :mod:`~skillz_engine.mcp.handlers`, engine-to-wire shapes in
  :mod:`~skillz_engine.mcp.wire`, server-initiated messages in :mod:`~skillz_engine.mcp.fanout`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import mcp.types as types
from mcp.server import Server
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from skillz_engine import __version__
from skillz_engine.engine import Engine
from skillz_engine.live.sessions import SessionStore
from skillz_engine.mcp import listing, skills_ext, tasks, tasks_legacy
from skillz_engine.mcp.fanout import Hub
from skillz_engine.mcp.handlers import Handlers
from skillz_engine.mcp.parked import ParkedCalls
from skillz_engine.mcp.polling import StreamPolling
from skillz_engine.mcp.tasks_listen import TaskListenHandler

DEFAULT_INSTRUCTIONS = (
    "This server's tools come from a directory tree of manifests and reload live: when the tree "
    "changes, the tool, prompt and resource lists change too (clients are notified). If your tool "
    "list may be stale, use search_tools to find a tool by what it does and call_tool to run any "
    "tool by name; read the skillz://guide resource for an overview of everything served right now."
)
INIT_NOTIFY = NotificationOptions(tools_changed=True, resources_changed=True, prompts_changed=True)


class SkillzServer(Server[Any]):
    """Low-level ``Server`` that declares ``listChanged`` in the handshake era even when the
    transport (the HTTP session manager) calls ``create_initialization_options()`` without arguments."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or INIT_NOTIFY, experimental_capabilities, extensions
        )

    def get_capabilities(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
        *,
        protocol_version: str | None = None,
    ) -> types.ServerCapabilities:
        """The SDK's derivation, plus the handshake era's ``tasks`` (2025-11-25, :mod:`.tasks_legacy`)."""
        caps = super().get_capabilities(
            notification_options, experimental_capabilities, extensions, protocol_version=protocol_version
        )
        if protocol_version not in MODERN_PROTOCOL_VERSIONS:
            caps.tasks = tasks_legacy.capability()
        return caps


@dataclass(frozen=True, slots=True)
class McpServer:
    """One MCP server over an engine: the SDK server a transport runs, and what it is made of."""

    server: SkillzServer
    hub: Hub  # fan-out to every client, listening to the engine's live registry
    parked: ParkedCalls  # 2026-07-28 calls waiting on the client's answers
    tasks: tasks.TaskStore  # calls running as tasks (both eras), kept until they expire
    sessions: SessionStore  # per-client skill activations
    detach: Callable[[], None]  # stops the hub listening to the live registry

    async def close(self) -> None:
        """Stop listening to the engine and cancel the calls still parked (shutdown)."""
        self.detach()
        with anyio.CancelScope(shield=True):
            await self.parked.close()


def build_server(engine: Engine, *, single_client: bool = False) -> McpServer:
    """The MCP server of ``engine``; its hub already listens to the engine's live registry.

    ``single_client``: the server serves one client (stdio), so 2026-07-28 requests, which carry
    no session, share one set of skill activations."""
    hub = Hub()
    h = Handlers(engine, hub, single_client)
    config = engine.snapshot.config
    with warnings.catch_warnings():  # logging/setLevel is deprecated in 2026-07-28; old clients use it
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        server = _new_server(h, config.server_name, config.instructions or DEFAULT_INSTRUCTIONS)
    server.add_notification_handler("notifications/initialized", types.NotificationParams, h.initialized)
    # by method: the listing is a wire dict, not a ListToolsResult model; its tools go in after
    # the SDK has shaped the envelope (mcp/listing.py)
    server.add_request_handler("tools/list", types.PaginatedRequestParams, h.list_tools)
    server.middleware.append(listing.fill_tools)
    skills_ext.install(server, engine.live)  # SEP-2640: skills/list, skills/get, directory reads
    # registered by method, not as on_call_tool: a call may answer a CreateTaskResult (Tasks extension)
    server.add_request_handler("tools/call", types.CallToolRequestParams, h.call_tool)
    tasks.declare(server)  # SEP-2663: any tool may run as a task on 2026-07-28
    unfollow = tasks_legacy.install(server, h)  # tasks/* of both eras; 2025-11-25 task calls
    server.add_request_handler(  # listen with task status notifications (SEP-2663 taskIds)
        "subscriptions/listen", types.SubscriptionsListenRequestParams, TaskListenHandler(hub.bus, h.tasks)
    )
    server.middleware.append(StreamPolling(engine))  # SEP-1699: http.streamPollAfter
    detaches = [engine.live.add_listener(hub.on_delta), unfollow]
    if engine.replica is not None:  # other replicas' changes reach this server's clients too
        detaches.append(engine.replica.add_relay(hub.relay))

    def detach() -> None:
        for stop in detaches:
            stop()

    return McpServer(server, hub, h.parked, h.tasks, h.sessions, detach)


def _new_server(h: Handlers, name: str, instructions: str) -> SkillzServer:
    return SkillzServer(
        name,
        version=__version__,
        instructions=instructions,
        get_tool_input_schema=h.input_schema,
        on_list_resources=h.list_resources,
        on_list_resource_templates=h.list_templates,
        on_read_resource=h.read_resource,
        on_subscribe_resource=h.subscribe,
        on_unsubscribe_resource=h.unsubscribe,
        on_list_prompts=h.list_prompts,
        on_get_prompt=h.get_prompt,
        on_completion=h.complete,
        on_set_logging_level=h.set_level,
    )
