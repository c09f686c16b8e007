"""Turning a tool's raw output into an MCP tool result."""

from __future__ import annotations

from typing import Any

import pytest

from skillz_engine.runtimes import results
from skillz_engine.tree.model import ToolResult

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


@pytest.mark.parametrize(
    "block",
    [
        {"type": "text", "text": "hi"},
        {"type": "image", "data": "aGk=", "mimeType": "image/png"},
        {"type": "audio", "data": "aGk=", "mimeType": "audio/wav"},
        {"type": "resource_link", "uri": "file:///x", "name": "x"},
        {"type": "resource", "resource": {"uri": "file:///x", "text": "hi"}},
        {"type": "resource", "resource": {"uri": "file:///x", "blob": "aGk="}},
        {"type": "text", "text": "hi", "annotations": {"priority": 1}},
    ],
)
def test_valid_content_blocks(block: dict[str, Any]) -> None:
    """Each MCP content block type with its required fields is recognised."""
    assert results.is_content_block(block)


@pytest.mark.parametrize(
    "block",
    [
        {"type": "text"},
        {"type": "image", "data": "aGk="},
        {"type": "audio", "mimeType": "audio/wav"},
        {"type": "resource_link", "uri": "file:///x"},
        {"type": "resource", "resource": {"uri": "file:///x"}},
        {"type": "video", "data": "x"},
        "text",
    ],
)
def test_invalid_content_blocks(block: Any) -> None:
    """Blocks missing a required field, or of an unknown type, are not content blocks."""
    assert not results.is_content_block(block)


def test_image_result_passes_through() -> None:
    """An MCP-shaped result with an image block is returned as is."""
    raw = {"content": [{"type": "image", "data": "aGk=", "mimeType": "image/png"}], "isError": False}
    r = results.from_json(raw)
    assert r.content == ({"type": "image", "data": "aGk=", "mimeType": "image/png"},)
    assert not r.is_error


def test_passthrough_keeps_structured_and_is_error() -> None:
    """structuredContent, isError and _meta of a passed-through result are kept."""
    raw = {"content": [{"type": "text", "text": "no"}], "isError": True, "structuredContent": {"n": 1},
           "_meta": {"k": "v"}}  # fmt: skip
    r = results.from_json(raw)
    assert r.is_error and r.structured == {"n": 1} and r.meta == {"k": "v"}


def test_passthrough_structured_checked_against_schema() -> None:
    """With an outputSchema, a passed-through result's structuredContent must validate."""
    good = {"content": [{"type": "text", "text": "1"}], "structuredContent": {"n": 1}}
    assert results.from_json(good, SCHEMA).structured == {"n": 1}
    bad = {"content": [{"type": "text", "text": "x"}], "structuredContent": {"n": "x"}}
    assert results.from_json(bad, SCHEMA).is_error
    missing = {"content": [{"type": "text", "text": "x"}]}
    assert "structuredContent" in results.from_json(missing, SCHEMA).text_content()


def test_lookalikes_are_data() -> None:
    """A dict with extra keys or invalid blocks is data, not a tool result."""
    for raw in (
        {"content": [{"type": "text", "text": "a"}], "count": 3},
        {"content": [{"type": "text"}]},
        {"content": "text"},
        {"content": [], "isError": "yes"},
    ):
        r = results.from_json(raw)
        assert r.content[0]["type"] == "text" and r.structured is None
        assert r.text_content().startswith("{")


def test_json_values_become_text() -> None:
    """A string is one text block as is; other JSON values become JSON text."""
    assert results.from_json("héllo").text_content() == "héllo"
    assert results.from_json([1, 2]).text_content() == "[1, 2]"
    assert results.from_json(None).text_content() == "null"
    assert results.from_json({"a": "é"}).text_content() == '{"a": "é"}'


def test_structured_with_output_schema() -> None:
    """With an outputSchema, a valid value is also structuredContent."""
    r = results.from_json({"n": 3}, SCHEMA)
    assert r.structured == {"n": 3} and not r.is_error
    assert r.to_json()["structuredContent"] == {"n": 3}


def test_invalid_against_output_schema() -> None:
    """A value that does not validate is an error naming the problem."""
    r = results.from_json({"n": "three"}, SCHEMA)
    assert r.is_error and "outputSchema" in r.text_content() and "n:" in r.text_content()


def test_text_and_output() -> None:
    """Plain text stays text; from_output parses JSON when it can."""
    assert results.from_text("hi there").text_content() == "hi there"
    assert results.from_output("plain words").text_content() == "plain words"
    assert results.from_output(' {"n": 2}\n', SCHEMA).structured == {"n": 2}
    assert results.from_output("[1]").text_content() == "[1]"


def test_text_with_output_schema_is_error() -> None:
    """Non-JSON output from a tool that declares an outputSchema is an error."""
    r = results.from_text("not json", SCHEMA)
    assert r.is_error and "not JSON" in r.text_content()


def test_error_result_carries_stderr_tail() -> None:
    """Error results append the last ~2 KB of stderr, marked when cut."""
    r = results.error_result("boom", b"x" * 5000 + b"LAST LINE\n")
    text = r.text_content()
    assert r.is_error and text.startswith("boom\nstderr:\n...") and text.endswith("LAST LINE")
    assert len(text) < 2200
    assert results.error_result("boom", b"").text_content() == "boom"


def test_with_note() -> None:
    """A note is one more text block; no note leaves the result unchanged."""
    base = ToolResult.text("a")
    assert results.with_note(base, None) is base
    assert [b["text"] for b in results.with_note(base, "n").content] == ["a", "n"]
