"""The conformance fixture tree through the SDK's own client, in process, under both protocol eras.

The same fixtures the conformance suite checks over HTTP (``test_conformance.py``, which needs
node 22), asserted here in full detail for the 2025-11-25 handshake era (``initialize``) and for
2026-07-28 (``mcp.Client``), without node.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError

from skillz_engine.engine import EngineOptions
from skillz_engine.mcp.server import SkillzServer
from tests.mcp_helpers import Inbox, served

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]
TREE = Path(__file__).parent / "tree"
MODES = ["legacy", "auto"]  # initialize handshake (2025-11-25) / 2026-07-28
PNG = (TREE / "resources" / "static-binary" / "red.png").read_bytes()


@asynccontextmanager
async def serving(tmp_path: Path) -> AsyncIterator[SkillzServer]:
    options = EngineOptions(lenient=False, state_dir=tmp_path / "state")
    async with served([TREE], options) as (_, server):
        yield server.server


def only(result: types.CallToolResult) -> list[dict[str, object]]:
    assert not result.is_error, result
    return [b.model_dump(by_alias=True, exclude_none=True) for b in result.content]


@pytest.mark.parametrize("mode", MODES)
async def test_tools_return_every_content_type(tmp_path: Path, mode: str) -> None:
    async with serving(tmp_path) as server, Client(server, mode=mode) as c:
        assert c.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
        text = "This is a simple text response for testing."
        assert only(await c.call_tool("test_simple_text", {})) == [{"type": "text", "text": text}]
        (image,) = only(await c.call_tool("test_image_content", {}))
        assert image["type"] == "image" and image["mimeType"] == "image/png"
        assert base64.b64decode(str(image["data"])) == PNG
        (audio,) = only(await c.call_tool("test_audio_content", {}))
        assert audio["mimeType"] == "audio/wav" and base64.b64decode(str(audio["data"]))[:4] == b"RIFF"
        (embedded,) = only(await c.call_tool("test_embedded_resource", {}))
        assert embedded["resource"] == {
            "uri": "test://embedded-resource",
            "mimeType": "text/plain",
            "text": "This is an embedded resource content.",
        }
        mixed = only(await c.call_tool("test_multiple_content_types", {}))
        assert [b["type"] for b in mixed] == ["text", "image", "resource"]
        assert json.loads(mixed[2]["resource"]["text"]) == {"test": "data", "value": 123}  # type: ignore[index]

        failed = await c.call_tool("test_error_handling", {})
        assert failed.is_error
        assert isinstance(failed.content[0], types.TextContent)
        assert failed.content[0].text == "This tool intentionally returns an error for testing"

        listed = {t.name: t for t in (await c.list_tools()).tools}
        schema = listed["json_schema_2020_12_tool"].input_schema
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$defs"]["address"]["properties"]["city"] == {"type": "string"}
        assert schema["additionalProperties"] is False
        ok = await c.call_tool(
            "json_schema_2020_12_tool", {"name": "x", "address": {"city": "Oslo"}, "email": "x@example.org"}
        )
        assert not ok.is_error
        bad = await c.call_tool("json_schema_2020_12_tool", {"nickname": "x"})
        assert bad.is_error  # additionalProperties: false is enforced before the tool runs


@pytest.mark.parametrize("mode", MODES)
async def test_logging_and_progress_tools(tmp_path: Path, mode: str) -> None:
    logs, reports = Inbox(), Inbox()

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.put(params)

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.put((progress, total))

    async with (
        serving(tmp_path) as server,
        Client(server, mode=mode, logging_callback=on_log, log_level="debug") as c,
    ):
        if mode == "legacy":
            await c.set_logging_level("debug")
        assert not (await c.call_tool("test_tool_with_logging", {})).is_error
        await logs.wait_for(lambda p: p.data == "Tool execution completed")
        assert [(p.level, p.data) for p in logs.items] == [
            ("info", "Tool execution started"),
            ("info", "Tool processing data"),
            ("info", "Tool execution completed"),
        ]
        result = await c.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
        assert not result.is_error
        await reports.wait_for(lambda x: x[0] == 100)
        assert reports.items == [(0, 100), (50, 100), (100, 100)]


@pytest.mark.parametrize("mode", MODES)
async def test_resources_and_templates(tmp_path: Path, mode: str) -> None:
    async with serving(tmp_path) as server, Client(server, mode=mode) as c:
        uris = {str(r.uri) for r in (await c.list_resources()).resources}
        assert {"test://static-text", "test://static-binary", "test://watched-resource"} <= uris
        (text,) = (await c.read_resource("test://static-text")).contents
        assert isinstance(text, types.TextResourceContents) and text.mime_type == "text/plain"
        assert text.text == "This is the content of the static text resource."
        (blob,) = (await c.read_resource("test://static-binary")).contents
        assert isinstance(blob, types.BlobResourceContents) and blob.mime_type == "image/png"
        assert base64.b64decode(blob.blob) == PNG
        templates = {t.uri_template for t in (await c.list_resource_templates()).resource_templates}
        assert "test://template/{id}/data" in templates
        (data,) = (await c.read_resource("test://template/123/data")).contents
        assert isinstance(data, types.TextResourceContents) and data.mime_type == "application/json"
        assert json.loads(data.text) == {"id": "123", "templateTest": True, "data": "Data for ID: 123"}
        with pytest.raises(MCPError):
            await c.read_resource("test://template/1/2/data")
        if mode == "legacy":  # subscriptions are a handshake-era request
            await c.subscribe_resource("test://watched-resource")
            await c.unsubscribe_resource("test://watched-resource")


@pytest.mark.parametrize("mode", MODES)
async def test_prompts_and_completion(tmp_path: Path, mode: str) -> None:
    async with serving(tmp_path) as server, Client(server, mode=mode) as c:
        prompts = {p.name: p for p in (await c.list_prompts()).prompts}
        assert all(p.description for p in prompts.values())
        simple = await c.get_prompt("test_simple_prompt")
        assert [m.model_dump(exclude_none=True) for m in simple.messages] == [
            {"role": "user", "content": {"type": "text", "text": "This is a simple prompt for testing."}}
        ]
        args = await c.get_prompt("test_prompt_with_arguments", {"arg1": "hello", "arg2": "world"})
        assert isinstance(args.messages[0].content, types.TextContent)
        assert args.messages[0].content.text == "Prompt with arguments: arg1='hello', arg2='world'"
        with pytest.raises(MCPError, match="arg2"):
            await c.get_prompt("test_prompt_with_arguments", {"arg1": "hello"})
        embedded = await c.get_prompt("test_prompt_with_embedded_resource", {"resourceUri": "test://abc"})
        first = embedded.messages[0].content
        assert isinstance(first, types.EmbeddedResource)
        assert isinstance(first.resource, types.TextResourceContents)
        assert (str(first.resource.uri), first.resource.text) == (
            "test://abc",
            "Embedded resource content for testing.",
        )
        image = await c.get_prompt("test_prompt_with_image")
        picture = image.messages[0].content
        assert isinstance(picture, types.ImageContent) and base64.b64decode(picture.data) == PNG
        ref = types.PromptReference(type="ref/prompt", name="test_prompt_with_arguments")
        done = await c.complete(ref, {"name": "arg1", "value": "te"})
        assert done.completion.values == []


@pytest.mark.parametrize("mode", MODES)
async def test_a_prompt_backed_by_a_script_asks_the_user(tmp_path: Path, mode: str) -> None:
    """``script:`` prompts elicit like script tools: a server request on 2025-11-25, an
    input-required round of prompts/get on 2026-07-28; the script's answer is the messages."""
    asked: list[str] = []

    async def on_elicit(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"context": "a code review"})

    async with serving(tmp_path) as server, Client(server, mode=mode, elicitation_callback=on_elicit) as c:
        listed = {p.name: p for p in (await c.list_prompts()).prompts}
        assert "test_input_required_result_prompt" in listed
        got = await c.get_prompt("test_input_required_result_prompt")
    assert asked == ["What context should the prompt use?"]
    (message,) = got.messages
    assert message.role == "user" and isinstance(message.content, types.TextContent)
    assert message.content.text == "Answer with this context in mind: a code review"


class SkillsListResult(types.Result):
    skills: list[dict[str, Any]]


async def test_the_skill_fixture_is_listed_by_skills_list(tmp_path: Path) -> None:
    """The conformance skill, through the SDK session's raw request: the SEP-2640 entry shape."""
    async with serving(tmp_path) as server, Client(server) as c:
        reply = await c.session.send_request(
            types.Request[Any, Any](method="skills/list", params={}), SkillsListResult
        )
    (entry,) = reply.skills
    assert entry["uri"] == "skill://conformance-demo/SKILL.md"
    assert entry["frontmatter"]["name"] == "conformance-demo"
    assert [r["uri"] for r in entry["resources"]] == [
        "skill://conformance-demo/SKILL.md",
        "skill://conformance-demo/references/GUIDE.md",
    ]
