"""The typed records of manifests (tree/specs.py) and of skillz.yaml (tree/config.py): one field per
schema key, the schema's defaults, and lenient reading of what the schema has already judged."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from skillz_engine.tree import config as cfg
from skillz_engine.tree import records, schemas, specs
from skillz_engine.tree.config import DEFAULT_PORT, Config
from skillz_engine.tree.diagnostics import Severity
from skillz_engine.tree.kinds import KINDS, TOOL_KINDS, from_document
from skillz_engine.tree.model import EntrySpec
from skillz_engine.tree.parse import parse_yaml_text

Pointer = tuple[str | int, ...]

# every record and the schema object it reads: (record, schema name, pointer to the object schema)
RECORDS: list[tuple[type[Any], str, Pointer]] = [
    *((k.record, k.schema, ()) for k in KINDS.values()),
    (specs.SkillSpec, "skill-md", ()),
    (specs.Limits, "common", ("$defs", "limits")),
    (specs.WasmLimits, "wasm", ("properties", "limits")),
    (specs.Sandbox, "common", ("$defs", "sandbox", "anyOf", 1)),
    (specs.Requires, "common", ("$defs", "requires")),
    (specs.Dependencies, "script", ("properties", "dependencies")),
    (specs.Worker, "script", ("properties", "worker")),
    (specs.WasmBuild, "wasm", ("properties", "build")),
    (specs.Wasi, "wasm", ("properties", "wasi")),
    (specs.WasiMount, "wasm", ("properties", "wasi", "properties", "mounts", "items")),
    (specs.PipelineStep, "pipeline", ("properties", "steps", "items")),
    (specs.PromptArg, "prompt", ("properties", "arguments", "items")),
    (specs.PromptMessage, "prompt", ("properties", "messages", "items")),
    (specs.Healthcheck, "service", ("properties", "healthcheck")),
    (specs.ServiceResources, "service", ("properties", "resources")),
    (Config, "config", ()),
    (cfg.ServerSettings, "config", ("properties", "server")),
    (cfg.HttpSettings, "config", ("properties", "http")),
    (cfg.SourcePin, "config", ("properties", "sources", "items")),
    (cfg.BuiltinsSettings, "config", ("properties", "builtins")),
    (cfg.SkillsSettings, "config", ("properties", "skills")),
    (cfg.MemorySettings, "config", ("properties", "memory")),
    (cfg.DependencySettings, "config", ("properties", "dependencies")),
    (cfg.WatchSettings, "config", ("properties", "watch")),
]
IDS = [f"{r.__name__}@{name}" for r, name, _ in RECORDS]

# keys whose record default is "unset" (None) because they layer over skillz.yaml: their schema
# default is the effective one, after the layering
LAYERED: Mapping[tuple[type[Any], str], Any] = {
    (specs.Sandbox, "network"): specs.DEFAULT_SANDBOX.network,
    (specs.SkillSpec, "tool"): Config().skills.as_tools,
}
NOT_READ = {"kind", "$schema"}  # the record's type, and editor help
# records that inherit fields their own schema lacks (left at their defaults)
INHERITS: Mapping[type[Any], type[Any]] = {
    **{KINDS[k].record: specs.ToolSpec for k in TOOL_KINDS},
    specs.WasmLimits: specs.Limits,
}


def _at(schema: Any, pointer: Pointer) -> Any:
    for part in pointer:
        schema = schema[part]
    return schema


def _target(node: Mapping[str, Any], file: str) -> tuple[Mapping[str, Any], str]:
    """Where a ``$ref`` leads (file and all)."""
    while "$ref" in node:
        ref_file, _, fragment = str(node["$ref"]).partition("#")
        file = ref_file.removesuffix(".schema.json") or file
        node = _at(schemas.load(file), tuple(p for p in fragment.split("/") if p))
    return node, file


def _default(node: Mapping[str, Any], file: str) -> Any:
    """A property's ``default``: its own, else the one its ``$ref`` leads to (missing: ...)."""
    while True:
        if "default" in node:
            return node["default"]
        if "$ref" not in node:
            return ...
        ref_file, _, fragment = str(node["$ref"]).partition("#")
        file = ref_file.removesuffix(".schema.json") or file
        node = _at(schemas.load(file), tuple(p for p in fragment.split("/") if p))


def _properties(name: str, pointer: Pointer) -> Mapping[str, Any]:
    node, _ = _target(_at(schemas.load(name), pointer), name)
    props: Mapping[str, Any] = node["properties"]
    return props


def _fields(record: type[Any]) -> dict[str, dataclasses.Field[Any]]:
    """The record's fields by the manifest key they read."""
    out = {}
    for f in dataclasses.fields(record):
        key = records.json_key(f)
        if key is not None:
            out[key] = f
    return out


def _record_default(f: dataclasses.Field[Any]) -> Any:
    value = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[operator]
    return json.loads(json.dumps(value, default=dict)) if isinstance(value, tuple | Mapping) else value


@pytest.mark.parametrize(("record", "name", "pointer"), RECORDS, ids=IDS)
def test_every_schema_key_has_a_field(record: type[Any], name: str, pointer: Pointer) -> None:
    """Each key the schema allows is a field of its record (tool kinds: the tool keys may be more)."""
    keys = set(_properties(name, pointer)) - NOT_READ
    fields = set(_fields(record))
    assert keys <= fields, sorted(keys - fields)
    extra = fields - keys
    if record is specs.SkillSpec:  # the front matter and the manifest.yaml beside it
        extra -= set(_properties("skill-md" if name == "skill" else "skill", ())) - NOT_READ
    if record in INHERITS:
        extra -= set(_fields(INHERITS[record]))
    assert not extra, f"fields no schema key feeds: {sorted(extra)}"


@pytest.mark.parametrize(("record", "name", "pointer"), RECORDS, ids=IDS)
def test_record_defaults_are_the_schema_defaults(record: type[Any], name: str, pointer: Pointer) -> None:
    """Where the schema states a ``default``, the record's field has it (layered keys: effectively)."""
    fields = _fields(record)
    checked = 0
    for key, node in _properties(name, pointer).items():
        default = _default(node, name)
        if default is ... or key in NOT_READ:
            continue
        f = fields[key]
        got = LAYERED[(record, f.name)] if (record, f.name) in LAYERED else _record_default(f)
        assert got == default, f"{record.__name__}.{f.name}: {got!r} != schema default {default!r}"
        checked += 1
    assert checked or not any(_default(n, name) is not ... for n in _properties(name, pointer).values())


def test_config_defaults_are_the_engines() -> None:
    """A tree without skillz.yaml gets the documented defaults; DEFAULT_PORT is the HTTP default."""
    c = Config()
    assert (c.server_name, c.instructions, c.disclosure, c.read_only) == ("skillz-engine", None, "all", False)
    assert (c.http.host, c.http.port, c.http.auth, c.http.allowed_origins) == (
        "127.0.0.1",
        DEFAULT_PORT,
        True,
        (),
    )
    assert c.disclosure in cfg.DISCLOSURE_MODES
    assert (c.sources, c.state, c.builtins.enabled, c.memory.backend) == ((), None, None, "sqlite")
    assert (c.watch.debounce, c.dependencies.installer, c.skills.as_tools) == ("50ms", "auto", False)


def test_config_reads_the_file_and_keeps_get() -> None:
    """Typed fields read skillz.yaml's keys; ``get`` still walks the raw data; overrides re-read."""
    data = {
        "server": {"name": "mine", "instructions": ""},
        "sandbox": "bwrap",
        "http": {"port": 9000, "allowedOrigins": ["https://a.example"]},
        "sources": [{"url": "https://x/y.git", "rev": "abc", "name": "y"}],
        "builtins": {"enabled": ["search_tools"]},
        "limits": {"timeout": "2m"},
        "watch": {"debounce": 0.2},
    }
    c = Config(data)
    assert (c.server_name, c.instructions) == ("mine", None)
    assert c.sandbox == specs.Sandbox(mode="bwrap")
    assert (c.http.port, c.http.host, c.http.allowed_origins) == (9000, "127.0.0.1", ("https://a.example",))
    assert c.sources == (cfg.SourcePin("https://x/y.git", "abc", None, "y"),)
    assert c.builtins.enabled == ("search_tools",) and c.builtins.disabled == ()
    assert c.limits == specs.Limits(timeout="2m") and c.watch.debounce == 0.2
    assert c.get("http", "port") == 9000 and c.get("http", "nope", default=1) == 1
    forced = c.with_overrides(readOnly=True, disclosure="skills", state=None)
    assert forced.read_only and forced.disclosure == "skills" and forced.http.port == 9000


def test_from_document_reads_each_kind() -> None:
    """The one choke point gives the kind's record, keys in snake case, lists as tuples."""
    data = {"kind": "script", "description": "d", "entry": "m.py", "args": ["-v"], "sandbox": "none",
            "requires": {"services": ["pg"]}, "dependencies": {"pip": ["rich"]},
            "limits": {"timeout": 3}}  # fmt: skip
    script = from_document("script", data)
    assert isinstance(script, specs.ScriptSpec)
    assert (script.entry, script.args, script.protocol, script.cwd) == ("m.py", ("-v",), "jsonrpc", None)
    assert script.sandbox == specs.Sandbox(mode="none") and script.requires.services == ("pg",)
    assert script.dependencies == specs.Dependencies(pip=("rich",)) and script.limits.timeout == 3
    assert script.input_schema == {"type": "object"} and script.enabled
    command = from_document("command", {"argv": ["ls"], "okExitCodes": [], "inputSchema": {}})
    assert isinstance(command, specs.CommandSpec)
    assert command.ok_exit_codes == (0,) and command.input_schema == {"type": "object"}  # empty: default
    skill = from_document("skill", {"name": "s", "allowed-tools": "Bash", "dependsOn": ["t"], "tool": True})
    assert isinstance(skill, specs.SkillSpec)
    assert (skill.allowed_tools, skill.depends_on, skill.tool, skill.activation) == (
        "Bash",
        ("t",),
        True,
        "manual",
    )
    wasm = from_document(
        "wasm", {"limits": {"fuel": 5, "memory": "1MiB"}, "wasi": {"mounts": [{"host": "d", "guest": "/d"}]}}
    )
    assert isinstance(wasm, specs.WasmSpec)
    assert wasm.limits == specs.WasmLimits(memory="1MiB", fuel=5) and wasm.build is None
    assert wasm.wasi.mounts == (specs.WasiMount("d", "/d"),)
    assert from_document("wasm", {}) == specs.WasmSpec(limits=specs.WasmLimits(fuel=specs.DEFAULT_FUEL))
    with pytest.raises(KeyError):
        from_document("plugin", {})


def test_pipeline_output_steps_and_timeouts() -> None:
    """``output: null`` is an output; retries default by onError; the whole run has its own limit."""
    steps = [{"id": "a", "tool": "t", "onError": "retry"}, {"id": "b", "tool": "u"}]
    p = from_document("pipeline", {"steps": steps, "output": None})
    assert isinstance(p, specs.PipelineSpec)
    assert p.has_output and p.output is None and p.total_timeout == specs.PIPELINE_TIMEOUT
    assert [(s.id, s.extra_attempts, s.args) for s in p.steps] == [("a", 2, {}), ("b", 0, {})]
    q = from_document(
        "pipeline", {"steps": [{"id": "a", "tool": "t", "retries": 1}], "limits": {"timeout": "9s"}}
    )
    assert isinstance(q, specs.PipelineSpec)
    assert not q.has_output and q.steps[0].extra_attempts == 1 and q.total_timeout == "9s"


def test_reading_is_lenient() -> None:
    """Missing keys take defaults, null is missing, a wrongly shaped value is ignored."""
    r = from_document("resource", {"uri": "a://b", "title": None, "tags": "x", "subscribe": None})
    assert isinstance(r, specs.ResourceSpec)
    assert (r.uri, r.title, r.tags, r.subscribe, r.mime_type) == ("a://b", None, (), True, None)
    s = from_document("service", {"command": ["redis", "-x"], "healthcheck": "nope"})
    assert isinstance(s, specs.ServiceSpec) and s.command == ("redis", "-x") and s.healthcheck is None


def test_layering_over_skillz_yaml() -> None:
    """A tool's limits and sandbox win key by key over skillz.yaml's, then the engine defaults."""
    own = specs.Limits(timeout=5)
    assert own.over(Config({"limits": {"timeout": 1, "output": "1KiB"}}).limits).over(
        specs.DEFAULT_LIMITS
    ) == (specs.Limits(timeout=5, output="1KiB"))
    assert specs.Limits().over(specs.DEFAULT_LIMITS) == specs.DEFAULT_LIMITS
    box = specs.Sandbox(network=False).over(specs.Sandbox(mode="firejail", network=True, writable=("c",)))
    assert box.over(specs.DEFAULT_SANDBOX) == specs.Sandbox("firejail", False, ("c",))
    assert specs.WasmLimits(fuel=3).over(specs.Limits(timeout=2)) == specs.WasmLimits(timeout=2, fuel=3)


def _spec(tmp_path: Path, kind: str, text: str) -> EntrySpec:
    data, positions, _ = parse_yaml_text(text, "manifest.yaml")
    return EntrySpec(kind=kind, name="t", root=tmp_path, dir=tmp_path, manifest=tmp_path / "manifest.yaml",
                     display="manifest.yaml", data=data, positions=positions, fingerprint="")  # fmt: skip


def test_entry_spec_record_diag_and_refs(tmp_path: Path) -> None:
    """EntrySpec reads its record itself (cached specs too), points diagnostics, lists references."""
    spec = _spec(tmp_path, "pipeline", "kind: pipeline\nenabled: false\nsteps:\n  - id: a\n    tool: other\n")
    assert isinstance(spec.record, specs.PipelineSpec) and not spec.enabled and spec.description == ""
    assert spec.record_as(specs.PipelineSpec) is spec.record
    with pytest.raises(TypeError):
        spec.record_as(specs.ScriptSpec)
    assert [(r.path, r.what, r.name) for r in spec.refs] == [(("steps", 0, "tool"), "tool", "other")]
    d = spec.diag(("steps", 0, "tool"), "SKZ301", "unknown tool", "Check the name.")
    assert (d.path, d.line, d.col, d.json_path, d.severity, d.hint) == (
        "manifest.yaml",
        5,
        11,
        "$.steps[0].tool",
        Severity.ERROR,
        "Check the name.",
    )
    w = spec.diag(("steps", 0, "tool"), "SKZ110", "unknown key", severity=Severity.WARNING, at_key=True)
    assert (w.line, w.col, w.severity) == (5, 5, Severity.WARNING)
    restored = dataclasses.replace(spec, data=json.loads(json.dumps(spec.data)))  # as the spec cache does
    assert restored.record == spec.record
