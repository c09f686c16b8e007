"""The JSON Schemas in ``schemas/``: well-formed, documented, and right about sample manifests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag

import pytest
from jsonschema import Draft202012Validator

from skillz_engine.tree import schemas
from skillz_engine.tree.kinds import KIND_NAMES, TOOL_KINDS

SCHEMA_DIR = schemas.schema_dir()
SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*.schema.json"))
SHARED_KEYS = tuple(schemas.load("common")["$defs"]["sharedKeys"]["properties"])

# Keywords whose value is one subschema, a list of subschemas, or a map of name -> subschema.
_ONE = (
    "additionalProperties",
    "items",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
    "contains",
    "unevaluatedItems",
    "unevaluatedProperties",
)
_MANY = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP = ("$defs", "properties", "patternProperties", "dependentSchemas")


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _subschemas(schema: Any, pointer: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object subschema with its JSON pointer (data keywords such as default/examples are skipped)."""
    if not isinstance(schema, dict):
        return
    yield pointer, schema
    for key in _ONE:
        if key in schema:
            yield from _subschemas(schema[key], f"{pointer}/{key}")
    for key in _MANY:
        for i, sub in enumerate(schema.get(key, ())):
            yield from _subschemas(sub, f"{pointer}/{key}/{i}")
    for key in _MAP:
        for name, sub in schema.get(key, {}).items():
            yield from _subschemas(sub, f"{pointer}/{key}/{name}")


def _refs(schema: dict[str, Any]) -> Iterator[str]:
    for _, sub in _subschemas(schema):
        if "$ref" in sub:
            yield sub["$ref"]


def test_schema_files_exist() -> None:
    """Every kind, the config, the SKILL.md front matter, the union and the legacy format have a schema."""
    names = {p.name.removesuffix(".schema.json") for p in SCHEMA_FILES}
    expected = {*KIND_NAMES, "common", "config", "skill-md", "manifest", "legacy-skillz"}
    assert expected <= names, sorted(expected - names)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_is_valid_json_and_draft_2020_12(path: Path) -> None:
    """Each schema file is JSON and passes the draft 2020-12 metaschema."""
    schema = _load(path)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema.get("title"), "every schema has a title"
    assert schema.get("description"), "every schema has a description"


def test_ids_match_filenames_and_are_unique() -> None:
    """Each ``$id`` is the base URL plus the file name, and no two files share one."""
    ids = [_load(p)["$id"] for p in SCHEMA_FILES]
    assert ids == [schemas.ID_BASE + p.name for p in SCHEMA_FILES]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_property_has_a_description(path: Path) -> None:
    """Every property at every depth carries a non-empty description (editor hover text, README reference)."""
    missing = []
    for pointer, sub in _subschemas(_load(path)):
        for name, prop in sub.get("properties", {}).items():
            desc = prop.get("description") if isinstance(prop, dict) else None
            if not (isinstance(desc, str) and desc.strip()):
                missing.append(f"{pointer}/properties/{name}")
    assert not missing, missing


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_ref_resolves_offline(path: Path) -> None:
    """Every ``$ref`` resolves through a registry of the bundled files alone (no network)."""
    schema = _load(path)
    resolver = schemas.registry().resolver(base_uri=schema["$id"])
    for ref in _refs(schema):
        if ref.startswith("#"):
            resolver.lookup(schema["$id"] + ref)
        else:
            url, _ = urldefrag(ref)
            assert (SCHEMA_DIR / url).is_file(), ref
            resolver.lookup(ref)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_kind_schemas_list_shared_keys_and_close_the_object(kind: str) -> None:
    """Kind schemas list every shared key (tool kinds: tool keys), fix ``kind`` and reject unknown keys."""
    schema = schemas.load(kind)
    assert schema["additionalProperties"] is False
    assert "kind" in schema["required"]
    assert schema["properties"]["kind"]["const"] == kind
    assert set(SHARED_KEYS) <= set(schema["properties"])
    if kind in TOOL_KINDS:
        assert {"inputSchema", "outputSchema", "annotations", "limits"} <= set(schema["properties"])
        assert "description" in schema["required"]


def test_manifest_union_covers_every_kind() -> None:
    """The union schema's ``kind`` enum and its if/then branches name exactly the kinds."""
    schema = schemas.load("manifest")
    assert schema["properties"]["kind"]["enum"] == list(KIND_NAMES)
    branches = [b["if"]["properties"]["kind"]["const"] for b in schema["allOf"]]
    assert branches == list(KIND_NAMES)
    assert [b["then"]["$ref"] for b in schema["allOf"]] == [f"{k}.schema.json" for k in KIND_NAMES]


# --------------------------------------------------------------------------- sample manifests

SCRIPT: dict[str, Any] = {"kind": "script", "description": "d", "entry": "a.py"}

VALID: list[tuple[str, dict[str, Any]]] = [
    ("script", {"kind": "script", "description": "Say hi.", "entry": "main.py"}),
    (
        "script",
        {
            "$schema": "../../schemas/script.schema.json",
            "kind": "script",
            "name": "hello",
            "title": "Hello",
            "version": "1.0.0",
            "enabled": True,
            "description": "Say hi.",
            "tags": ["demo"],
            "icons": [{"src": "icon.png", "sizes": ["48x48"], "theme": "dark"}],
            "interpreter": "python3",
            "entry": "src/main.py",
            "args": ["--fast"],
            "protocol": "plain",
            "dependencies": {"pip": ["requests>=2"], "npm": []},
            "cwd": "data",
            "inputSchema": {"type": "object", "properties": {"who": {"type": "string"}}},
            "outputSchema": {"type": "object"},
            "annotations": {"readOnlyHint": True, "openWorldHint": False},
            "limits": {"timeout": "30s", "memory": "256MiB", "output": 65536},
            "env": {"LOG_LEVEL": "debug"},
            "secrets": ["SKILLZ_TOKEN"],
            "requires": {"services": ["postgres"]},
            "sandbox": {"mode": "bwrap", "network": True, "writable": ["out", "/var/tmp/x"]},
        },
    ),
    ("script", {**SCRIPT, "sandbox": "none", "limits": {"timeout": 2.5}}),
    ("command", {"kind": "command", "description": "List.", "argv": ["ls", "{{ path }}"]}),
    (
        "command",
        {
            "kind": "command",
            "description": "Grep.",
            "argv": ["grep", "-n", "{{ pattern }}"],
            "stdin": "{{ text }}",
            "stdout": "json",
            "cwd": ".",
            "okExitCodes": [0, 1],
        },
    ),
    ("wasm", {"kind": "wasm", "description": "Add.", "module": "add.wasm"}),
    (
        "wasm",
        {
            "kind": "wasm",
            "description": "Add.",
            "build": {
                "language": "rust",
                "source": "src/lib.rs",
                "dependencies": ["serde_json@1", "serde@1[derive]", "anyhow"],
            },
            "wasi": {"env": {"MODE": "x"}, "args": ["-v"], "mounts": [{"host": "data", "guest": "/data"}]},
            "limits": {"fuel": 1000000, "timeout": "5s", "memory": "64MiB"},
        },
    ),
    (
        "pipeline",
        {
            "kind": "pipeline",
            "description": "Two steps.",
            "steps": [
                {"id": "fetch", "tool": "http_get", "args": {"url": "{{ input.url }}"}},
                {
                    "id": "count",
                    "tool": "word_count",
                    "args": {"text": "$prev"},
                    "when": "prev.ok",
                    "onError": "retry",
                    "retries": 3,
                    "timeout": "10s",
                },
            ],
            "output": {"words": "{{ steps.count }}"},
        },
    ),
    (
        "prompt",
        {
            "kind": "prompt",
            "description": "Review.",
            "template": "review.md.j2",
            "arguments": [{"name": "lang", "description": "Language", "required": True, "values": ["py"]}],
        },
    ),
    (
        "prompt",
        {
            "kind": "prompt",
            "description": "Show.",
            "messages": [
                {"role": "user", "content": "Look at {{ thing }}"},
                {"role": "assistant", "content": {"type": "text", "text": "ok"}},
                {"role": "user", "content": {"type": "image", "file": "a.png", "mimeType": "image/png"}},
                {"role": "user", "content": {"type": "audio", "file": "a.wav"}},
                {"role": "user", "content": {"type": "resource", "uri": "skill://pdf/SKILL.md"}},
                {
                    "role": "user",
                    "content": {"type": "resource", "file": "notes.md", "mimeType": "text/markdown"},
                },
            ],
        },
    ),
    ("resource", {"kind": "resource", "uri": "notes://todo", "file": "todo.md", "mimeType": "text/markdown"}),
    ("resource", {"kind": "resource", "uri": "notes://motd", "text": "hello", "subscribe": False}),
    ("resource", {"kind": "resource", "uriTemplate": "notes:///{+path}", "files": "notes/**/*.md"}),
    ("skill", {"kind": "skill"}),
    (
        "skill",
        {
            "kind": "skill",
            "name": "pdf-forms",
            "dependsOn": ["git-basics"],
            "activation": "always",
            "tool": True,
        },
    ),
    (
        "skill-md",
        {
            "name": "pdf-forms",
            "description": "Fill PDF forms.",
            "license": "MIT",
            "compatibility": "Needs qpdf",
            "metadata": {"author": "acme"},
            "allowed-tools": "Bash(git:*) Read",
        },
    ),
    ("bundle", {"kind": "bundle", "skills": ["pdf-forms", "@office"]}),
    (
        "service",
        {
            "kind": "service",
            "image": "postgres:16",
            "ports": ["5432", "5432:5432", "127.0.0.1:8080:80"],
            "env": {"POSTGRES_PASSWORD": "dev"},
            "volumes": ["pgdata:/var/lib/postgresql/data", "./init:/docker-entrypoint-initdb.d:ro"],
            "healthcheck": {
                "test": ["CMD", "pg_isready"],
                "interval": "2s",
                "timeout": 5,
                "retries": 15,
                "startPeriod": "1m",
            },
            "autostart": True,
            "keepRunning": False,
            "resources": {"memory": "1GiB", "cpus": 0.5},
        },
    ),
    ("service", {"kind": "service", "build": "docker", "command": "redis-server --appendonly yes"}),
    (
        "mcp-server",
        {
            "kind": "mcp-server",
            "command": "npx",
            "args": ["-y", "srv"],
            "env": {"A": "b"},
            "cwd": ".",
            "namespace": "fs",
            "include": ["read_*"],
            "exclude": ["write_*"],
            "timeout": "30s",
            "autostart": False,
            "secrets": ["SKILLZ_X"],
        },
    ),
    (
        "mcp-server",
        {
            "kind": "mcp-server",
            "url": "https://mcp.example.com/mcp",
            "headers": {"Authorization": "Bearer ${SKILLZ_TOKEN}"},
        },
    ),
    ("config", {}),
    (
        "config",
        {
            "server": {"name": "mine", "version": "1", "instructions": "Be nice."},
            "disclosure": "skills",
            "sandbox": "auto",
            "http": {
                "host": "0.0.0.0",
                "port": 9000,
                "auth": False,
                "allowedOrigins": ["http://localhost:*"],
            },
            "sources": [
                {
                    "url": "https://github.com/anthropics/skills",
                    "rev": "3f2a9c1",
                    "path": "skills",
                    "name": "anthropic",
                }
            ],
            "builtins": {
                "readOnly": True,
                "enabled": ["search_tools", "call_tool"],
                "disabled": ["execute_code"],
            },
            "skills": {"asTools": True},
            "state": "/var/lib/skillz",
            "memory": {"backend": "redis", "url": "redis://h"},
            "limits": {"timeout": "2m"},
            "watch": {"debounce": "100ms"},
        },
    ),
    (
        "legacy-skillz",
        {
            "name": "hello",
            "description": "Hi",
            "tool_type": "script",
            "entry_file": "hello.py",
            "interpreter": "python3",
            "input_schema": {"type": ""},
            "dependencies": ["requests"],
            "pipeline_steps": [
                {
                    "name": "a",
                    "tool": "b",
                    "args": {"x": "$prev"},
                    "continue_on_error": True,
                    "condition": "$a.ok == true",
                }
            ],
            "mcp_server": {"command": "npx", "args": [], "env": {}},
            "created_at": "2025-13-01T00:00:00Z",
            "extra_future_key": 1,
        },
    ),
]

INVALID: list[tuple[str, str, dict[str, Any]]] = [
    ("script", "missing entry", {"kind": "script", "description": "d"}),
    ("script", "missing description", {"kind": "script", "entry": "a.py"}),
    ("script", "unknown key", {**SCRIPT, "entrypoint": "a.py"}),
    ("script", "entry escapes with ..", {"kind": "script", "description": "d", "entry": "../a.py"}),
    ("script", "absolute entry", {"kind": "script", "description": "d", "entry": "/etc/passwd"}),
    ("script", "bad protocol", {**SCRIPT, "protocol": "grpc"}),
    ("script", "secret without prefix", {**SCRIPT, "secrets": ["TOKEN"]}),
    ("script", "bad duration", {**SCRIPT, "limits": {"timeout": "5 min"}}),
    ("script", "bad size", {**SCRIPT, "limits": {"memory": "1TB"}}),
    ("script", "negative timeout", {**SCRIPT, "limits": {"timeout": -1}}),
    ("script", "bad sandbox mode", {**SCRIPT, "sandbox": "docker"}),
    ("script", "bad env name", {**SCRIPT, "env": {"1X": "y"}}),
    ("script", "env value not a string", {**SCRIPT, "env": {"X": 1}}),
    ("script", "bad name", {"kind": "script", "name": "-bad", "description": "d", "entry": "a.py"}),
    ("script", "enabled not bool", {**SCRIPT, "enabled": "yes"}),
    ("script", "icon without src", {**SCRIPT, "icons": [{"theme": "dark"}]}),
    ("script", "inputSchema not object", {**SCRIPT, "inputSchema": []}),
    (
        "script",
        "unknown annotation",
        {"kind": "script", "description": "d", "entry": "a.py", "annotations": {"readonly": True}},
    ),
    ("command", "empty argv", {"kind": "command", "description": "d", "argv": []}),
    ("command", "argv is a string", {"kind": "command", "description": "d", "argv": "ls -l"}),
    ("command", "bad stdout", {"kind": "command", "description": "d", "argv": ["ls"], "stdout": "yaml"}),
    ("wasm", "neither module nor build", {"kind": "wasm", "description": "d"}),
    ("wasm", "module not .wasm", {"kind": "wasm", "description": "d", "module": "add.so"}),
    ("wasm", "build without source", {"kind": "wasm", "description": "d", "build": {"language": "rust"}}),
    (
        "wasm",
        "bad crate spec",
        {
            "kind": "wasm",
            "description": "d",
            "build": {"language": "rust", "source": "a.rs", "dependencies": ["serde json"]},
        },
    ),
    (
        "wasm",
        "relative guest",
        {
            "kind": "wasm",
            "description": "d",
            "module": "a.wasm",
            "wasi": {"mounts": [{"host": "data", "guest": "data"}]},
        },
    ),
    ("wasm", "zero fuel", {"kind": "wasm", "description": "d", "module": "a.wasm", "limits": {"fuel": 0}}),
    ("pipeline", "no steps", {"kind": "pipeline", "description": "d", "steps": []}),
    ("pipeline", "step without tool", {"kind": "pipeline", "description": "d", "steps": [{"id": "a"}]}),
    (
        "pipeline",
        "bad onError",
        {"kind": "pipeline", "description": "d", "steps": [{"id": "a", "tool": "t", "onError": "ignore"}]},
    ),
    (
        "pipeline",
        "too many retries",
        {"kind": "pipeline", "description": "d", "steps": [{"id": "a", "tool": "t", "retries": 11}]},
    ),
    (
        "pipeline",
        "Skillz step keys",
        {
            "kind": "pipeline",
            "description": "d",
            "steps": [{"name": "a", "tool": "t", "continue_on_error": True}],
        },
    ),
    (
        "prompt",
        "both template and messages",
        {
            "kind": "prompt",
            "description": "d",
            "template": "t.j2",
            "messages": [{"role": "user", "content": "x"}],
        },
    ),
    ("prompt", "neither template nor messages", {"kind": "prompt", "description": "d"}),
    (
        "prompt",
        "bad role",
        {"kind": "prompt", "description": "d", "messages": [{"role": "system", "content": "x"}]},
    ),
    (
        "prompt",
        "image without file",
        {"kind": "prompt", "description": "d", "messages": [{"role": "user", "content": {"type": "image"}}]},
    ),
    (
        "prompt",
        "argument without name",
        {"kind": "prompt", "description": "d", "template": "t.j2", "arguments": [{"required": True}]},
    ),
    ("resource", "uri without content", {"kind": "resource", "uri": "notes://a"}),
    ("resource", "uri with file and text", {"kind": "resource", "uri": "n://a", "file": "a.md", "text": "x"}),
    (
        "resource",
        "uri and uriTemplate",
        {"kind": "resource", "uri": "n://a", "uriTemplate": "n:///{p}", "files": "*.md"},
    ),
    ("resource", "uriTemplate without files", {"kind": "resource", "uriTemplate": "n:///{p}"}),
    ("resource", "uriTemplate with file", {"kind": "resource", "uriTemplate": "n:///{p}", "file": "a.md"}),
    (
        "resource",
        "two template variables",
        {"kind": "resource", "uriTemplate": "n:///{a}/{b}", "files": "*/*"},
    ),
    ("resource", "size is computed", {"kind": "resource", "uri": "n://a", "text": "x", "size": 1}),
    ("skill", "uppercase dependsOn", {"kind": "skill", "dependsOn": ["Git"]}),
    ("skill", "bad activation", {"kind": "skill", "activation": "auto"}),
    ("skill-md", "missing description", {"name": "pdf"}),
    ("skill-md", "double hyphen", {"name": "pdf--forms", "description": "d"}),
    ("skill-md", "name too long", {"name": "a" * 65, "description": "d"}),
    ("skill-md", "description too long", {"name": "pdf", "description": "x" * 1025}),
    ("skill-md", "empty compatibility", {"name": "pdf", "description": "d", "compatibility": ""}),
    ("skill-md", "allowed-tools as list", {"name": "pdf", "description": "d", "allowed-tools": ["Read"]}),
    ("skill-md", "metadata not strings", {"name": "pdf", "description": "d", "metadata": {"n": 1}}),
    ("skill-md", "Claude Code extension key", {"name": "pdf", "description": "d", "argument-hint": "x"}),
    ("bundle", "empty skills", {"kind": "bundle", "skills": []}),
    ("bundle", "bad reference", {"kind": "bundle", "skills": ["@"]}),
    ("service", "neither image nor build", {"kind": "service", "ports": ["80"]}),
    ("service", "both image and build", {"kind": "service", "image": "a", "build": "."}),
    ("service", "bad port", {"kind": "service", "image": "a", "ports": ["http"]}),
    ("service", "port as number", {"kind": "service", "image": "a", "ports": [80]}),
    ("service", "absolute bind mount", {"kind": "service", "image": "a", "volumes": ["/etc:/host-etc"]}),
    ("service", "bind mount escapes", {"kind": "service", "image": "a", "volumes": ["./../x:/x"]}),
    ("service", "zero cpus", {"kind": "service", "image": "a", "resources": {"cpus": 0}}),
    ("mcp-server", "neither command nor url", {"kind": "mcp-server", "namespace": "x"}),
    ("mcp-server", "both command and url", {"kind": "mcp-server", "command": "x", "url": "https://a/mcp"}),
    ("mcp-server", "headers on stdio", {"kind": "mcp-server", "command": "x", "headers": {"A": "b"}}),
    ("mcp-server", "args on http", {"kind": "mcp-server", "url": "https://a/mcp", "args": ["x"]}),
    ("mcp-server", "non-http url", {"kind": "mcp-server", "url": "ftp://a/mcp"}),
    ("config", "has a kind", {"kind": "script"}),
    ("config", "bad disclosure", {"disclosure": "some"}),
    ("config", "port out of range", {"http": {"port": 70000}}),
    ("config", "source without rev", {"sources": [{"url": "https://x/y"}]}),
    ("config", "unknown builtin", {"builtins": {"enabled": ["rm_rf"]}}),
    ("config", "redis without url", {"memory": {"backend": "redis"}}),
    ("config", "bad debounce", {"watch": {"debounce": "soon"}}),
    ("legacy-skillz", "unknown tool_type", {"name": "a", "description": "d", "tool_type": "docker"}),
    ("legacy-skillz", "missing name", {"description": "d"}),
]


def _errors(name: str, instance: dict[str, Any]) -> list[str]:
    return [e.message for e in schemas.validator(name).iter_errors(instance)]


@pytest.mark.parametrize(("name", "instance"), VALID, ids=[f"{n}-{i}" for i, (n, _) in enumerate(VALID)])
def test_valid_samples_pass(name: str, instance: dict[str, Any]) -> None:
    """Each valid sample validates against its own schema and, for manifests, the union schema."""
    assert _errors(name, instance) == []
    if name in KIND_NAMES:
        assert _errors("manifest", instance) == []


@pytest.mark.parametrize(("name", "why", "instance"), INVALID, ids=[f"{n}: {w}" for n, w, _ in INVALID])
def test_invalid_samples_fail(name: str, why: str, instance: dict[str, Any]) -> None:
    """Each invalid sample is rejected by its own schema and, for manifests, by the union schema."""
    assert _errors(name, instance), why
    if name in KIND_NAMES:
        assert _errors("manifest", instance), why


def test_union_rejects_unknown_kind() -> None:
    """The union schema rejects a manifest whose ``kind`` is not one of the kinds."""
    assert _errors("manifest", {"kind": "plugin", "description": "d"})


@pytest.mark.parametrize(
    ("definition", "good", "bad"),
    [
        ("duration", [0, 1.5, "500ms", "30s", "2m", "1.5h"], [-1, "30", "1d", "s", True]),
        ("size", [0, 65536, "64KiB", "1.5GiB", "10B"], [-1, 1.5, "64k", "1TB", "MiB"]),
        (
            "relativePath",
            ["a", "a/b.py", ".", "a/..b", "..a"],
            ["", "/a", "..", "a/../b", "a/..", "C:\\x", "a\x00b"],
        ),
        ("entryName", ["a", "git-log", "db.query", "A_1"], ["", "-a", ".a", "a b", "a" * 65]),
        ("skillName", ["a", "pdf-forms", "x1"], ["", "A", "-a", "a-", "a--b", "a_b", "a" * 65]),
    ],
)
def test_common_definitions(definition: str, good: list[Any], bad: list[Any]) -> None:
    """Shared definitions accept and reject the values their descriptions promise."""
    schema = {"$ref": f"common.schema.json#/$defs/{definition}", "$id": schemas.ID_BASE + "probe.json"}
    validator = Draft202012Validator(schema, registry=schemas.registry())
    for value in good:
        assert validator.is_valid(value), value
    for value in bad:
        assert not validator.is_valid(value), value
