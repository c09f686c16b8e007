"""``tools/list`` goes out as the engine's own definitions (mcp/listing.py): the SDK's check, which
the fast path no longer runs per tool, would have changed none of them, in either protocol era."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from mcp_types import methods

from skillz_engine.build.compile import Tree
from skillz_engine.builtins import catalog
from skillz_engine.mcp import wire
from tests.mcp_helpers import served

REPO = Path(__file__).resolve().parents[2]
ERAS = ("2025-11-25", "2026-07-28")


@pytest.mark.parametrize("era", ERAS)
def test_the_sdk_check_leaves_every_listed_definition_unchanged(era: str) -> None:
    """Built-ins and every example tool, skill tools included, as the SDK would send them."""
    tree = Tree([REPO / "example-tools", REPO / "example-skills"], lenient=True, builtins=catalog())
    tree.full_scan()
    tools = wire.tool_listing(tree.snapshot(), None)
    assert len(tools) > 20
    checked = methods.serialize_server_result("tools/list", era, wire.listing_result(tools))
    assert checked["tools"] == tools


@pytest.mark.anyio
@pytest.mark.parametrize("era", ["legacy", "2026-07-28"])
async def test_clients_of_both_eras_read_the_listing(era: str) -> None:
    """A real client validates the answer (envelope and tools) and sees every tool, twice in a row
    (the tools put aside for one answer never leak into the next)."""
    async with served([REPO / "example-tools"]) as (engine, server), Client(server.server, mode=era) as c:
        expected = [t.definition() for t in engine.snapshot.tools.values()]
        for _ in range(2):
            listed = (await c.list_tools()).tools
            assert [t.name for t in listed] == [d["name"] for d in expected]
            assert [t.input_schema for t in listed] == [d["inputSchema"] for d in expected]
