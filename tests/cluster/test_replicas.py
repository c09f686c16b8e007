"""Two real replicas on one Redis behind a real HAProxy running the shipped deploy/haproxy.cfg.

2026-07-28 requests spread over both replicas; a 2025-11-25 session stays on one (its back channel
and notifications work through the balancer); a call parked on one replica is continued through the
other. The replica-killed case is in test_replica_death.py (it needs its own cluster).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp import Client, ClientSession
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError

from tests.cluster.balanced import Replicas, replicas
from tests.conftest import require
from tests.mcp_helpers import write
from tests.redis_helpers import RedisServer, free_port

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]

# asks for two names, one question per round, logging each answer; says which process ran it
ASK = """import json, os, sys
def send(m): print(json.dumps(m), flush=True)
sys.stdin.readline()
names = []
for i, q in enumerate(("First name?", "Last name?")):
    send({"jsonrpc": "2.0", "id": 10 + i, "method": "elicitation/create", "params": {"message": q,
          "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}}})
    names.append(json.loads(sys.stdin.readline())["result"]["content"]["name"])
    send({"jsonrpc": "2.0", "method": "log", "params": {"level": "info", "message": "got " + names[-1]}})
send({"jsonrpc": "2.0", "id": 1, "result": {"names": names, "ppid": os.getppid()}})
"""


def cluster_tree(root: Path) -> Path:
    write(root / "skillz.yaml", "sandbox: none\n")  # the tests follow the scripts' parent pids
    write(
        root / "tools" / "echo" / "manifest.yaml", "kind: command\ndescription: Says hi\nargv: [echo, hi]\n"
    )
    write(root / "tools" / "ask" / "manifest.yaml", "kind: script\ndescription: Asks twice\nentry: main.py\n")
    write(root / "tools" / "ask" / "main.py", ASK)
    return root


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    """One cluster for this module's tests (none kills a replica): two replicas, Redis, HAProxy."""
    require("haproxy", "cluster tests")
    work = tmp_path_factory.mktemp("cluster")
    (work / "redis").mkdir()
    redis = RedisServer(require("redis-server", "cluster tests"), free_port(), work / "redis")
    redis.start()
    try:
        with replicas(cluster_tree(work / "tree"), work, redis) as running:
            yield running
    finally:
        redis.stop()


async def name_of(
    context: ClientRequestContext, params: types.ElicitRequestParams
) -> types.ElicitResult | types.ErrorData:
    assert isinstance(params, types.ElicitRequestFormParams)
    return types.ElicitResult(
        action="accept", content={"name": "Ada" if params.message == "First name?" else "L"}
    )


def payload(result: types.CallToolResult) -> Any:
    assert not result.is_error, result.content
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return json.loads(block.text)


async def test_a_2026_client_is_served_by_both_replicas_in_turn(cluster: Replicas) -> None:
    before = [cluster.calls_on(i, "echo") for i in range(2)]
    async with Client(cluster.url) as client:
        for _ in range(6):
            result = await client.call_tool("echo", {})
            assert not result.is_error and "hi" in str(result.content[0])
    served = [cluster.calls_on(i, "echo") - before[i] for i in range(2)]
    assert sum(served) == 6 and min(served) >= 2, served  # round-robin: both replicas, about evenly


async def test_a_2025_session_stays_on_one_replica_with_its_back_channel(cluster: Replicas) -> None:
    logs: list[str] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(str(params.data))

    before = [cluster.calls_on(i, n) for i in range(2) for n in ("echo", "ask")]
    async with Client(
        cluster.url, mode="legacy", elicitation_callback=name_of, logging_callback=on_log, log_level="info"
    ) as client:
        asked = await client.call_tool("ask", {})  # two server-to-client requests over the session
        assert payload(asked)["names"] == ["Ada", "L"]
        for _ in range(4):
            assert not (await client.call_tool("echo", {})).is_error
    after = [cluster.calls_on(i, n) for i in range(2) for n in ("echo", "ask")]
    per_replica = [(after[0] - before[0], after[1] - before[1]), (after[2] - before[2], after[3] - before[3])]
    assert sorted(per_replica) == [(0, 0), (4, 1)], per_replica  # every request on the same replica
    assert any("got Ada" in line for line in logs) and any("got L" in line for line in logs), logs


async def round_on(
    session: ClientSession, res: types.CallToolResult | types.InputRequiredResult
) -> tuple[str, dict[str, Any]]:
    """The state and the answers to the questions of one input-required round."""
    assert isinstance(res, types.InputRequiredResult) and res.request_state, res
    answers: dict[str, Any] = {}
    for key, request in (res.input_requests or {}).items():
        answer = await session.dispatch_input_request(
            ClientRequestContext(session=session, request_id=key), request
        )
        assert not isinstance(answer, types.ErrorData), answer
        answers[key] = answer
    return res.request_state, answers


async def test_a_parked_elicitation_is_answered_through_the_other_replica(cluster: Replicas) -> None:
    """Round 1 parks on replica 1; its answer goes to replica 2, which relays it and hands back
    replica 1's next question under a fresh state; that one is answered on replica 1 itself."""
    first, second = cluster.servers
    async with (
        Client(first.url, elicitation_callback=name_of) as a,
        Client(second.url, elicitation_callback=name_of) as b,
    ):
        res = await a.session.call_tool("ask", {}, allow_input_required=True)
        state, answers = await round_on(a.session, res)
        with pytest.raises(MCPError, match="unknown or expired request_state"):  # no forging on B
            await b.session.call_tool(
                "ask", {}, input_responses=answers, request_state=state + "x", allow_input_required=True
            )
        with pytest.raises(MCPError, match="unknown or expired request_state"):  # state bound to its tool
            await b.session.call_tool(
                "echo", {}, input_responses=answers, request_state=state, allow_input_required=True
            )
        res = await b.session.call_tool(
            "ask", {}, input_responses=answers, request_state=state, allow_input_required=True
        )
        next_state, answers = await round_on(b.session, res)
        assert next_state != state
        with pytest.raises(MCPError, match="unknown or expired request_state"):  # the old state is void
            await b.session.call_tool(
                "ask", {}, input_responses=answers, request_state=state, allow_input_required=True
            )
        done = await a.session.call_tool(
            "ask", {}, input_responses=answers, request_state=next_state, allow_input_required=True
        )
    assert isinstance(done, types.CallToolResult)
    assert payload(done) == {"names": ["Ada", "L"], "ppid": first.proc.pid}  # it ran on replica 1
