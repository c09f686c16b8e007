"""The shipped examples: they validate clean, and every one works end to end through an MCP client.

``example-tools/`` and ``example-skills/`` are roots of their own. Each test builds the live
registry the way ``serve`` does (an ``Engine`` and its ``build_server``) and talks to it with the
SDK's in-memory ``mcp.Client``, in both protocol eras: ``legacy`` (initialize handshake,
2025-11-25) and ``auto`` (the 2026-07-28 per-request path). Expected outputs are real values,
worked out by hand, not just "no error".
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client, types
from mcp.shared.exceptions import MCPError

from skillz_engine.build.compile import Tree
from skillz_engine.tree.scan import ignored_name
from tests.mcp_helpers import served

REPO = Path(__file__).resolve().parents[1]
TOOLS_ROOT = REPO / "example-tools"
SKILLS_ROOT = REPO / "example-skills"
MODES = ("legacy", "auto")

pytestmark = pytest.mark.slow


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Session:
    """A connected client plus what the server sent besides results."""

    client: Client
    logs: list[types.LoggingMessageNotificationParams] = field(default_factory=list)
    progress: list[tuple[float, float | None, str | None]] = field(default_factory=list)

    async def call(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            self.progress.append((progress, total, message))

        return await self.client.call_tool(name, arguments, progress_callback=on_progress)

    async def prompt_text(self, name: str, arguments: dict[str, str]) -> list[tuple[str, str]]:
        result = await self.client.get_prompt(name, arguments)
        out: list[tuple[str, str]] = []
        for m in result.messages:
            assert isinstance(m.content, types.TextContent)
            out.append((m.role, m.content.text))
        return out

    async def read_text(self, uri: str) -> tuple[str, str | None]:
        result = await self.client.read_resource(uri)
        assert len(result.contents) == 1
        content = result.contents[0]
        assert isinstance(content, types.TextResourceContents)
        return content.text, content.mime_type

    async def complete_prompt(self, prompt: str, argument: str, value: str) -> list[str]:
        ref = types.PromptReference(type="ref/prompt", name=prompt)
        result = await self.client.complete(ref, {"name": argument, "value": value})
        return list(result.completion.values)


@asynccontextmanager
async def connect(mode: str, *roots: Path) -> AsyncIterator[Session]:
    """Serve ``roots`` as ``serve`` does and connect one in-memory client in ``mode``."""
    session: Session | None = None

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        assert session is not None
        session.logs.append(params)

    async with (
        served(list(roots or (TOOLS_ROOT, SKILLS_ROOT))) as (_, server),
        Client(server.server, mode=mode, logging_callback=on_log, log_level="debug") as client,
    ):
        session = Session(client)
        yield session


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("root", [TOOLS_ROOT, SKILLS_ROOT], ids=["example-tools", "example-skills"])
def test_examples_validate_with_zero_diagnostics(root: Path) -> None:
    tree = Tree([root])
    tree.full_scan()
    snap = tree.snapshot()
    assert snap.diagnostics == (), "\n".join(d.format() for d in snap.diagnostics)


def test_both_example_roots_serve_together_without_collisions() -> None:
    tree = Tree([TOOLS_ROOT, SKILLS_ROOT], lenient=True)
    tree.full_scan()
    snap = tree.snapshot()
    assert snap.diagnostics == (), "\n".join(d.format() for d in snap.diagnostics)
    assert {t.name for t in snap.entry_tools()} == set(TOOL_CASES_BY_NAME)
    assert set(snap.prompts) == {"code-review", "commit-message", *SKILLS}


def test_examples_cover_the_kinds_the_readme_promises() -> None:
    tree = Tree([TOOLS_ROOT, SKILLS_ROOT])
    tree.full_scan()
    snap = tree.snapshot()
    by_name = {s.name: s for s in snap.specs.values()}
    scripts = [s for s in by_name.values() if s.kind == "script"]
    interpreters = {s.data.get("interpreter") for s in scripts}
    assert {"python3", "node", "bash"} <= interpreters
    assert len(snap.entry_tools()) >= 10
    assert sum(1 for s in by_name.values() if s.kind == "command") >= 3
    assert any("outputSchema" in s.data for s in scripts)
    assert by_name["slugify"].data["protocol"] == "plain"
    assert [step["tool"] for step in by_name["post-metadata"].data["steps"]] == [
        "slugify",
        "text-stats",
        "hash",
    ]
    assert by_name["code-review"].data["template"] == "review.md.j2"
    assert "messages" in by_name["commit-message"].data
    assert "uri" in by_name["conventional-commits"].data
    assert "uriTemplate" in by_name["cheat-sheets"].data
    owned = {s.name: s.owner for s in by_name.values() if s.owner}
    assert owned == {"commit-lint": "writing-commit-messages", "list-tests": "python-testing"}


@pytest.mark.parametrize(
    "skill", ["writing-commit-messages", "python-testing", "changelog-keeping", "reviewing-pull-requests"]
)
def test_skill_md_follows_agent_skills_rules(skill: str) -> None:
    text = (SKILLS_ROOT / skill / "SKILL.md").read_text(encoding="utf-8")
    front, body = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S).groups()  # type: ignore[union-attr]
    meta = yaml.safe_load(front)
    assert meta["name"] == skill
    assert 1 <= len(meta["description"]) <= 1024
    assert "Use when" in meta["description"]  # says *when*, with trigger words
    assert "<" not in meta["description"] and ">" not in meta["description"]
    assert set(meta) <= {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}
    assert len(body.splitlines()) < 200
    for link in re.findall(r"\]\(((?:references|assets|scripts)/[^)]+)\)", body):
        assert (SKILLS_ROOT / skill / link).is_file(), f"{skill}: broken link {link}"


# --------------------------------------------------------------------------- tools, end to end

Check = Callable[[types.CallToolResult, "Session"], None]


def structured(expected: dict[str, Any]) -> Check:
    def check(result: types.CallToolResult, session: Session) -> None:
        assert not result.is_error, text_of(result)
        assert result.structured_content == expected
        assert json.loads(text_of(result)) == expected

    return check


def text_equals(expected: str) -> Check:
    def check(result: types.CallToolResult, session: Session) -> None:
        assert not result.is_error, text_of(result)
        assert text_of(result) == expected

    return check


def json_equals(expected: Any) -> Check:
    def check(result: types.CallToolResult, session: Session) -> None:
        assert not result.is_error, text_of(result)
        assert json.loads(text_of(result)) == expected

    return check


def error_says(*fragments: str) -> Check:
    def check(result: types.CallToolResult, session: Session) -> None:
        assert result.is_error, text_of(result)
        for fragment in fragments:
            assert fragment in text_of(result)

    return check


def check_uuids(version: int, count: int) -> Check:
    def check(result: types.CallToolResult, session: Session) -> None:
        assert not result.is_error, text_of(result)
        data = result.structured_content
        assert data is not None and data["version"] == version
        ids = [uuid.UUID(u) for u in data["uuids"]]
        assert len(ids) == count and len(set(ids)) == count
        assert all(u.version == version and u.variant == uuid.RFC_4122 for u in ids)
        assert data["uuids"] == sorted(data["uuids"]) or version == 4

    return check


def check_csv(result: types.CallToolResult, session: Session) -> None:
    assert not result.is_error, text_of(result)
    assert json.loads(text_of(result)) == {
        "columns": ["name", "age", "city"],
        "rows": [
            {"name": "Ada", "age": 36, "city": "London"},
            {"name": "Alan", "age": 41, "city": "Wilmslow, UK"},
            {"name": "Grace", "age": 85.5, "city": None},
        ],
        "rowCount": 3,
    }
    messages = [(log.level, log.data) for log in session.logs if log.logger == "csv-to-json"]
    assert messages == [("info", "delimiter ',', 3 header columns, 3 data rows")]


def check_csv_ragged(result: types.CallToolResult, session: Session) -> None:
    assert json.loads(text_of(result))["rows"] == [
        {"a": "1", "b": "2"},
        {"a": "3", "b": "4", "column_3": "5"},
    ]
    levels = [log.level for log in session.logs if log.logger == "csv-to-json"]
    assert levels == ["info", "warning"]


def check_list_tests(result: types.CallToolResult, session: Session) -> None:
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data is not None
    assert data["count"] == 5  # 3 parametrize cases + 2 methods
    assert [t["id"] for t in data["tests"]] == ["test_add", "TestThing::test_one", "TestThing::test_two"]
    add, one, two = data["tests"]
    assert add["cases"] == 3 and add["fixtures"] == ["db"] and add["line"] == 8
    assert one["marks"] == ["slow"] and one["fixtures"] == ["tmp_path"]
    assert two["async"] is True and two["marks"] == ["slow", "anyio"]
    assert data["fixtures"] == [{"name": "db", "line": 4, "scope": "module", "autouse": False, "file": None}]


SAMPLE_TESTS = """import pytest

@pytest.fixture(scope="module")
def db():
    yield 1

@pytest.mark.parametrize(("a", "b"), [(1, 2), (2, 3), (3, 4)])
def test_add(a, b, db):
    assert a + 1 == b

@pytest.mark.slow
class TestThing:
    def test_one(self, tmp_path):
        pass

    @pytest.mark.anyio
    async def test_two(self):
        pass

def helper():
    pass
"""

# (tool, arguments, check); every example tool appears at least once
TOOL_CASES: list[tuple[str, dict[str, Any], Check]] = [
    (
        "json-query",
        {"path": "users[*].email", "data": {"users": [{"email": "a@x.org"}, {"email": "b@x.org"}]}},
        structured({"found": True, "path": "users[*].email", "value": ["a@x.org", "b@x.org"]}),
    ),
    (
        "json-query",
        {"path": 'meta["build.id"]', "json": '{"meta": {"build.id": 42}}'},
        structured({"found": True, "path": 'meta["build.id"]', "value": 42}),
    ),
    (
        "json-query",
        {"path": "items[-1].name", "data": {"items": [{"name": "a"}, {"name": "b"}]}},
        structured({"found": True, "path": "items[-1].name", "value": "b"}),
    ),
    (
        "json-query",
        {"path": "a.b.c", "data": {"a": {"x": 1}}},
        structured({"found": False, "path": "a.b.c", "missing": "b"}),
    ),
    ("json-query", {"path": "a", "json": "{broken"}, error_says("`json` is not valid JSON")),
    (
        "regex-tester",
        {"pattern": r"(?P<key>\w+)=(\d+)", "text": "a=1, b=22, c=x", "replacement": r"\g<key>:\2"},
        structured(
            {
                "matchCount": 2,
                "truncated": False,
                "matches": [
                    {"match": "a=1", "start": 0, "end": 3, "groups": ["a", "1"], "named": {"key": "a"}},
                    {"match": "b=22", "start": 5, "end": 9, "groups": ["b", "22"], "named": {"key": "b"}},
                ],
                "replaced": "a:1, b:22, c=x",
            }
        ),
    ),
    (
        "regex-tester",
        {
            "pattern": "^err",
            "text": "ok\nERR 1\nerr 2",
            "flags": ["multiline", "ignorecase"],
            "maxMatches": 1,
        },
        structured(
            {
                "matchCount": 1,
                "truncated": True,
                "matches": [{"match": "ERR", "start": 3, "end": 6, "groups": [], "named": {}}],
            }
        ),
    ),
    (
        "regex-tester",
        {"pattern": "(unclosed", "text": "x"},
        error_says("invalid regular expression at position 0", "missing )"),
    ),
    (
        "unit-convert",
        {"value": 5, "from": "ft", "to": "cm"},
        structured(
            {
                "value": 5,
                "from": "ft",
                "to": "cm",
                "result": 152.4,
                "quantity": "length",
                "formatted": "5 ft = 152.4 cm",
            }
        ),
    ),
    (
        "unit-convert",
        {"value": 100, "from": "celsius", "to": "F"},
        structured(
            {
                "value": 100,
                "from": "C",
                "to": "F",
                "result": 212,
                "quantity": "temperature",
                "formatted": "100 C = 212 F",
            }
        ),
    ),
    (
        "unit-convert",
        {"value": 1, "from": "GiB", "to": "MB"},
        structured(
            {
                "value": 1,
                "from": "GiB",
                "to": "MB",
                "result": 1073.741824,
                "quantity": "data",
                "formatted": "1 GiB = 1073.741824 MB",
            }
        ),
    ),
    (
        "unit-convert",
        {"value": 1, "from": "kg", "to": "km"},
        error_says("cannot convert mass (kg) to length (km)"),
    ),
    ("unit-convert", {"value": 1, "from": "parsec", "to": "km"}, error_says("unknown unit 'parsec'")),
    (
        "csv-to-json",
        {"csv": 'name,age,city\nAda,36,London\nAlan,41,"Wilmslow, UK"\nGrace,85.5,\n', "numbers": True},
        check_csv,
    ),
    ("csv-to-json", {"csv": "a;b\n1;2\n3;4;5\n"}, check_csv_ragged),
    (
        "csv-to-json",
        {"csv": "x\ty\n1\t2", "header": False},
        json_equals({"columns": [], "rows": [["x", "y"], ["1", "2"]], "rowCount": 2}),
    ),
    ("csv-to-json", {"csv": 'a,b\n"unterminated,1'}, error_says("malformed CSV")),
    (
        "uuid",
        {"version": 5, "namespace": "dns", "name": "example.com"},
        structured({"version": 5, "uuids": ["cfbff0d1-9375-5685-968c-48ce8b15ae17"]}),
    ),
    ("uuid", {"version": 7, "count": 5}, check_uuids(7, 5)),
    ("uuid", {"count": 3}, check_uuids(4, 3)),
    ("uuid", {"version": 5}, error_says("version 5 needs `name`")),
    (
        "date-diff",
        {"start": "2024-01-15", "end": "2025-03-20"},
        structured(
            {
                "start": "2024-01-15T00:00:00+00:00",
                "end": "2025-03-20T00:00:00+00:00",
                "days": 430,
                "weeks": 61.43,
                "businessDays": 308,
                "hours": 10320.0,
                "seconds": 37152000.0,
                "calendar": {"years": 1, "months": 2, "days": 5},
                "text": "1 year, 2 months, 5 days (430 days)",
            }
        ),
    ),
    (
        "date-diff",
        {"start": "2024-03-01T09:30:00Z", "end": "2024-03-01T17:00:00+01:00"},
        structured(
            {
                "start": "2024-03-01T09:30:00+00:00",
                "end": "2024-03-01T16:00:00+00:00",
                "days": 0,
                "weeks": 0.04,
                "businessDays": 0,
                "hours": 6.5,
                "seconds": 23400.0,
                "calendar": {"years": 0, "months": 0, "days": 0},
                "text": "6.5 hours",
            }
        ),
    ),
    ("date-diff", {"start": "yesterday"}, error_says("`start` is not an ISO 8601 date")),
    (
        "text-stats",
        {
            "text": "The quick brown fox jumps over the lazy dog. The dog sleeps!\n\nA fox, again",
            "topWords": 2,
        },
        structured(
            {
                "characters": 74,
                "charactersNoSpaces": 59,
                "words": 15,
                "lines": 3,
                "sentences": 3,
                "paragraphs": 2,
                "averageSentenceWords": 5,
                "readingTimeMinutes": 0.1,
                "readingTime": "< 1 min",
                "topWords": [{"word": "dog", "count": 2}, {"word": "fox", "count": 2}],
            }
        ),
    ),
    ("slugify", {"text": "Crème Brûlée & Co."}, text_equals("creme-brulee-and-co")),
    (
        "slugify",
        {"text": '  The "quick" brown fox jumps over the lazy dog ', "maxLength": 20},
        text_equals("the-quick-brown-fox"),
    ),
    ("slugify", {"text": "Straße nach Łódź, 2024", "separator": "_"}, text_equals("strasse_nach_lodz_2024")),
    ("slugify", {"text": "!!!"}, error_says("nothing left to make a slug from")),
    (
        "hash",
        {"text": "hello"},
        text_equals("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
    ),
    (
        "hash",
        {"text": "héllo\n", "algorithm": "sha512"},
        text_equals(hashlib.sha512("héllo\n".encode()).hexdigest()),
    ),
    ("hash", {"text": "hello", "algorithm": "md5"}, text_equals("5d41402abc4b2a76b9719d911017c592")),
    ("hash", {"text": "x", "algorithm": "rot13"}, error_says("invalid arguments for 'hash'")),
    ("rot13", {"text": "Hello, World!"}, structured({"text": "Uryyb, Jbeyq!"})),
    ("rot13", {"text": 'Crème "brûlée"\n\\ ok'}, structured({"text": 'Peèzr "oeûyér"\n\\ bx'})),
    ("rot13", {"text": 7}, error_says("invalid arguments for 'rot13'")),
    ("base64", {"text": "hello, world"}, text_equals("aGVsbG8sIHdvcmxk")),
    ("base64", {"text": "aGVsbG8sIHdvcmxk", "decode": True}, text_equals("hello, world")),
    ("base64", {"text": "not base64!", "decode": True}, error_says("invalid input")),
    ("date-shift", {"date": "2024-02-28", "amount": 2, "unit": "days"}, text_equals("2024-03-01T00:00:00Z")),
    (
        "date-shift",
        {"date": "2024-03-10 14:30", "amount": -90, "unit": "minutes"},
        text_equals("2024-03-10T13:00:00Z"),
    ),
    (
        "date-shift",
        {"date": "2024-01-31", "amount": 1, "unit": "months", "format": "date"},
        text_equals("2024-03-02"),
    ),
    (
        "date-shift",
        {"date": "2024-03-10", "amount": 3, "unit": "weeks", "format": "weekday"},
        text_equals("Sunday"),
    ),
    (
        "date-shift",
        {"date": "2000-01-01", "amount": 0, "unit": "days", "format": "unix"},
        text_equals("946684800"),
    ),
    ("date-shift", {"date": "next tuesday", "amount": 1, "unit": "days"}, error_says("does not match")),
    (
        "commit-lint",
        {"message": "fix(auth): refresh the token before it expires\n\nRequests failed.\n\nFixes: #812"},
        structured(
            {
                "valid": True,
                "errors": 0,
                "warnings": 0,
                "subject": "fix(auth): refresh the token before it expires",
                "type": "fix",
                "scope": "auth",
                "breaking": False,
                "problems": [],
            }
        ),
    ),
    (
        "commit-lint",
        {"message": "feat(api)!: drop v1\n\nBREAKING CHANGE: v1 endpoints are gone."},
        structured(
            {
                "valid": True,
                "errors": 0,
                "warnings": 0,
                "subject": "feat(api)!: drop v1",
                "type": "feat",
                "scope": "api",
                "breaking": True,
                "problems": [],
            }
        ),
    ),
    (
        "commit-lint",
        {"message": "Feature: Added stuff.\nno blank line"},
        structured(
            {
                "valid": False,
                "errors": 2,
                "warnings": 3,
                "subject": "Feature: Added stuff.",
                "type": "Feature",
                "scope": None,
                "breaking": False,
                "problems": [
                    {
                        "rule": "subject-full-stop",
                        "severity": "warning",
                        "line": 1,
                        "message": "drop the period at the end of the subject",
                    },
                    {
                        "rule": "type-enum",
                        "severity": "error",
                        "line": 1,
                        "message": "type `Feature` is not one of: build, chore, ci, docs, feat, fix, perf, "
                        "refactor, revert, style, test",
                    },
                    {
                        "rule": "subject-case",
                        "severity": "warning",
                        "line": 1,
                        "message": "start the description in lower case after `type: `",
                    },
                    {
                        "rule": "subject-imperative",
                        "severity": "warning",
                        "line": 1,
                        "message": "use the imperative mood: `add`, not `added`",
                    },
                    {
                        "rule": "body-leading-blank",
                        "severity": "error",
                        "line": 2,
                        "message": "leave line 2 blank between the subject and the body",
                    },
                ],
            }
        ),
    ),
    (
        "post-metadata",
        {"title": "Crème Brûlée: a 2024 Guide!", "body": "One two three four five."},
        structured(
            {
                "slug": "creme-brulee-a-2024-guide",
                "words": 5,
                "readingTime": "< 1 min",
                "sha256": hashlib.sha256(b"One two three four five.").hexdigest(),
            }
        ),
    ),
    (
        "post-metadata",
        {"title": "???", "body": "x"},
        error_says("step 'slug'", "nothing left to make a slug"),
    ),
    ("list-tests", {"source": SAMPLE_TESTS}, check_list_tests),
    ("list-tests", {"source": "def test_x(:\n"}, error_says("the source does not parse: line 1")),
]
TOOL_CASES_BY_NAME = {name for name, _, _ in TOOL_CASES}
SKILLS = ("changelog-keeping", "python-testing", "reviewing-pull-requests", "writing-commit-messages")


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("tool", "arguments", "check"),
    TOOL_CASES,
    ids=[f"{name}-{i}" for i, (name, _, _) in enumerate(TOOL_CASES)],
)
async def test_tool_end_to_end(mode: str, tool: str, arguments: dict[str, Any], check: Check) -> None:
    if tool == "text-stats" and shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail("node is not installed; scripts/test installs it (the text-stats example needs it)")
        pytest.skip("node is not installed (the text-stats example is a Node script)")
    async with connect(mode) as session:
        listed = {t.name for t in (await session.client.list_tools()).tools}
        result = await session.call(tool, arguments)
    # checked outside the client's task group, so a failure reads as a plain assertion
    assert tool in listed
    check(result, session)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_tool_definitions_reach_the_client(mode: str) -> None:
    async with connect(mode) as session:
        listed = {t.name: t for t in (await session.client.list_tools()).tools}
    regex = listed["regex-tester"]
    assert regex.title == "Regex tester"
    assert regex.input_schema["required"] == ["pattern", "text"]
    assert regex.output_schema is not None and "matches" in regex.output_schema["properties"]
    assert regex.annotations is not None and regex.annotations.read_only_hint is True
    assert regex.annotations.open_world_hint is False
    assert listed["uuid"].annotations is not None and listed["uuid"].annotations.idempotent_hint is None
    assert listed["hash"].input_schema["properties"]["algorithm"]["enum"][0] == "sha256"
    for name in TOOL_CASES_BY_NAME:
        assert len(listed[name].description or "") > 80, f"{name}: say what it returns and when to use it"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_script_progress_notifications_reach_the_client(mode: str) -> None:
    rows = "\n".join(f"{i},{i * i}" for i in range(1, 21))
    async with connect(mode) as session:
        result = await session.call("csv-to-json", {"csv": "n,square\n" + rows, "numbers": True})
        assert json.loads(text_of(result))["rows"][-1] == {"n": 20, "square": 400}
        assert session.progress == [(float(n), 20.0, f"{n}/20 rows") for n in range(2, 21, 2)]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_script_logs_reach_the_client(mode: str) -> None:
    async with connect(mode) as session:
        await session.call("csv-to-json", {"csv": "a\n1\n"})
        assert [(log.level, log.logger, log.data) for log in session.logs] == [
            ("info", "csv-to-json", "delimiter ',', 1 header columns, 1 data rows")
        ]


# --------------------------------------------------------------------------- prompts


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_code_review_prompt_renders_its_template(mode: str) -> None:
    async with connect(mode) as session:
        listed = {p.name: p for p in (await session.client.list_prompts()).prompts}
        assert listed["code-review"].title == "Code review"
        assert [(a.name, a.required) for a in listed["code-review"].arguments or []] == [
            ("code", True),
            ("language", False),
            ("focus", False),
            ("context", False),
        ]
        [(role, text)] = await session.prompt_text(
            "code-review", {"code": "def f(x):\n    return x/0", "language": "python", "focus": "security"}
        )
        assert role == "user"
        assert text.startswith("You are reviewing python code as a careful senior engineer.\n")
        assert "2. **Security**: injection" in text
        assert "**Readability**" not in text
        assert text.rstrip("\n").endswith("```python\ndef f(x):\n    return x/0\n```")

        [(_, plain)] = await session.prompt_text("code-review", {"code": "x = 1"})
        assert plain.startswith("You are reviewing code as")
        assert "2. **Readability**" in plain  # the default focus
        assert "Context from the author" not in plain

        assert await session.complete_prompt("code-review", "language", "py") == ["python"]
        assert await session.complete_prompt("code-review", "language", "c") == ["c", "cpp", "csharp"]
        assert await session.complete_prompt("code-review", "focus", "") == [
            "security",
            "performance",
            "readability",
            "tests",
            "api-design",
        ]
        with pytest.raises(MCPError, match="code"):
            await session.client.get_prompt("code-review", {})


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_commit_message_prompt_renders_its_messages(mode: str) -> None:
    async with connect(mode) as session:
        messages = await session.prompt_text("commit-message", {"diff": "+retry = 3", "scope": "http"})
        assert [role for role, _ in messages] == ["user", "assistant", "user"]
        rules, example, ask = (text for _, text in messages)
        assert "- Conventional Commits: `type(scope): subject`" in rules
        assert "  Use the scope `http`." in rules
        assert "Refs:" not in rules
        assert example.startswith("fix(http): read the request timeout from HTTP_TIMEOUT\n\n")
        assert ask.rstrip("\n") == "Now this one:\n\n```diff\n+retry = 3\n```"

        plain = await session.prompt_text("commit-message", {"diff": "+x", "style": "plain", "issue": "#12"})
        rules, example, _ = (text for _, text in plain)
        assert "- Plain style: no type prefix" in rules
        assert "Conventional Commits" not in rules
        assert "- End with the trailer `Refs: #12`." in rules
        assert example.startswith("Read the request timeout from HTTP_TIMEOUT\n\n")

        assert await session.complete_prompt("commit-message", "style", "p") == ["plain"]
        with pytest.raises(MCPError, match="diff"):
            await session.client.get_prompt("commit-message", {"style": "plain"})


# --------------------------------------------------------------------------- resources


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_static_resource_serves_its_file(mode: str) -> None:
    path = TOOLS_ROOT / "resources/conventional-commits/conventional-commits.md"
    async with connect(mode) as session:
        listed = {r.uri: r for r in (await session.client.list_resources()).resources}
        entry = listed["guide://conventional-commits"]
        assert entry.mime_type == "text/markdown"
        assert entry.title == "Conventional Commits summary"
        text, mime = await session.read_text("guide://conventional-commits")
    assert text == path.read_text(encoding="utf-8")
    assert text.startswith("# Conventional Commits 1.0 in one page\n")
    assert mime == "text/markdown"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_cheat_sheet_template_serves_every_sheet(mode: str) -> None:
    sheets = sorted(p.name for p in (TOOLS_ROOT / "resources/cheat-sheets/sheets").glob("*.md"))
    assert sheets == ["cron.md", "git.md", "http-status.md", "regex.md", "semver.md", "yaml.md"]
    async with connect(mode) as session:
        templates = (await session.client.list_resource_templates()).resource_templates
        assert "cheatsheet:///{name}" in [t.uri_template for t in templates]
        for name in sheets:
            text, mime = await session.read_text(f"cheatsheet:///{name}")
            assert text == (TOOLS_ROOT / "resources/cheat-sheets/sheets" / name).read_text(encoding="utf-8")
            assert text.startswith("# ") and mime == "text/markdown"
        ref = types.ResourceTemplateReference(type="ref/resource", uri="cheatsheet:///{name}")
        completion = await session.client.complete(ref, {"name": "name", "value": "s"})
        assert list(completion.completion.values) == ["semver.md"]
        with pytest.raises(MCPError, match="not found"):
            await session.client.read_resource("cheatsheet:///missing.md")
        with pytest.raises(MCPError):
            await session.client.read_resource("cheatsheet:///../../tools/hash/manifest.yaml")


# --------------------------------------------------------------------------- skills


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("skill", SKILLS)
async def test_skill_is_a_prompt_and_its_files_are_resources(mode: str, skill: str) -> None:
    directory = SKILLS_ROOT / skill
    body = (directory / "SKILL.md").read_text(encoding="utf-8").split("\n---\n", 1)[1].strip()
    files = sorted(
        rel.as_posix()
        for rel in (p.relative_to(directory) for p in directory.rglob("*") if p.is_file())
        if rel.parts[0] != "tools"  # nested entries: the skill's own tools
        and rel.as_posix() != "manifest.yaml"  # engine extras, not skill content
        and not any(ignored_name(part) for part in rel.parts)
    )
    async with connect(mode) as session:
        [(role, text)] = await session.prompt_text(skill, {})
        assert role == "user"
        assert text.startswith(f"# Skill: {skill}\n")
        assert body in text
        listed = {r.uri for r in (await session.client.list_resources()).resources}
        assert {u for u in listed if u.startswith(f"skill://{skill}/") and not u.endswith("/_manifest")} == {
            f"skill://{skill}/{f}" for f in files
        }
        for rel in files:
            content, _ = await session.read_text(f"skill://{skill}/{rel}")
            assert content == (directory / rel).read_text(encoding="utf-8")


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_skill_owned_tools_are_served(mode: str) -> None:
    async with connect(mode, SKILLS_ROOT) as session:
        listed = {t.name for t in (await session.client.list_tools()).tools}
        assert {"commit-lint", "list-tests"} <= listed
        result = await session.call("list-tests", {"path": str(REPO / "tests" / "test_examples.py")})
        assert not result.is_error, text_of(result)
        data = result.structured_content
        assert data is not None
        names = {t["name"] for t in data["tests"]}
        assert {"test_tool_end_to_end", "test_skill_owned_tools_are_served"} <= names
        assert data["fixtures"][0]["name"] == "anyio_backend"


# --------------------------------------------------------------------------- scripts outside MCP


def test_commit_lint_runs_as_a_git_hook(tmp_path: Path) -> None:
    hook = SKILLS_ROOT / "writing-commit-messages/tools/commit-lint/commit_lint.py"
    good = tmp_path / "good"
    good.write_text("docs: explain the hook\n\n# Please enter the commit message\n", encoding="utf-8")
    bad = tmp_path / "bad"
    bad.write_text("Fixed everything in the whole code base, and then some more things too, ok\nx\n")
    ok = subprocess.run([sys.executable, str(hook), str(good)], capture_output=True, text=True, check=False)
    assert (ok.returncode, ok.stderr) == (0, "")
    fail = subprocess.run([sys.executable, str(hook), str(bad)], capture_output=True, text=True, check=False)
    assert fail.returncode == 1
    assert fail.stderr.splitlines() == [
        "commit-msg: error [subject-max-length] line 1: subject is 74 characters; keep it to 72 and move "
        "detail to the body",
        "commit-msg: warning [subject-imperative] line 1: use the imperative mood: `fix`, not `fixed`",
        "commit-msg: error [body-leading-blank] line 2: leave line 2 blank between the subject and the body",
    ]


def test_release_notes_script(tmp_path: Path) -> None:
    script = SKILLS_ROOT / "changelog-keeping/scripts/release_notes.py"
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text(
        "# Changelog\n\n## [Unreleased]\n\n### Added\n- `--json` for list.\n\n"
        "## [1.4.0] - 2024-03-01\n\n### Fixed\n- Decimal point in every locale (#233).\n\n"
        "## [1.3.2] - 2024-02-01\n\n### Fixed\n- A crash.\n\n"
        "[Unreleased]: https://example.com/compare/v1.4.0...HEAD\n",
        encoding="utf-8",
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), *args], capture_output=True, text=True, check=False
        )

    notes = run(str(changelog), "v1.4.0")
    assert (notes.returncode, notes.stdout) == (0, "### Fixed\n- Decimal point in every locale (#233).\n")
    assert run(str(changelog), "--next").stdout == "1.5.0 (minor: Added)\n"
    missing = run(str(changelog), "9.9.9")
    assert missing.returncode == 1 and "found: Unreleased, 1.4.0, 1.3.2" in missing.stderr
    template = SKILLS_ROOT / "changelog-keeping/assets/CHANGELOG.template.md"
    assert run(str(template), "--next").stdout == "0.1.0 (minor: Added)\n"
    assert run().returncode == 2


# --------------------------------------------------------------------------- documentation

# Codes the README's snippets may produce: kinds not served yet, programs not installed here.
README_ALLOWED = {"SKZ501", "SKZ504", "SKZ601"}  # SKZ601: a git source, never fetched in tests


def test_readme_manifest_examples_validate(tmp_path: Path) -> None:
    """Every code block of the README and docs/ titled with a path (```yaml title=tools/x/manifest.yaml)
    is a valid file; together they form one tree."""
    docs = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    blocks = [
        block
        for doc in docs
        for block in re.findall(
            r"^```\w+ title=(\S+)\n(.*?)^```$", doc.read_text(encoding="utf-8"), re.M | re.S
        )
    ]
    assert len({rel for rel, _ in blocks}) == len(blocks), "two blocks share a title"
    assert len(blocks) >= 13
    for rel, text in blocks:
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    kinds = {yaml.safe_load(t)["kind"] for r, t in blocks if r.endswith("manifest.yaml")}
    assert kinds == {"script", "command", "wasm", "pipeline", "prompt", "resource", "skill", "bundle",
                     "service", "mcp-server"}  # fmt: skip
    tree = Tree([tmp_path, TOOLS_ROOT])  # the pipeline example calls example tools
    tree.full_scan()
    snap = tree.snapshot()
    unexpected = [d for d in snap.diagnostics if d.code not in README_ALLOWED]
    assert unexpected == [], "\n".join(d.format() for d in unexpected)
    assert {"word-count", "git-log"} <= {t.name for t in snap.entry_tools()}


def test_reference_doc_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen-reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
