"""Make-before-break with a stateful runtime: ``start`` before the swap, ``stop`` after the drain.

The runtime is a fake injected through ``Tree(runtimes=...)``: each compile of the ``prompt`` kind
is one instance whose ``start`` can be held at a gate or made to fail. Every check that something
has *not* happened yet waits on an event or on ``wait_all_tasks_blocked`` first, never on a sleep.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from skillz_engine.build.compile import Tree
from skillz_engine.build.contract import Services
from skillz_engine.build.diff import Delta
from skillz_engine.build.snapshot import Snapshot
from skillz_engine.live.registry import LiveRegistry
from skillz_engine.live.reload import Reloader
from skillz_engine.tree.model import Compiled, EntrySpec, PromptDef

pytestmark = pytest.mark.anyio
Write = Callable[..., Path]


def prompt(version: str) -> str:
    return f"kind: prompt\ndescription: {version}\nmessages:\n  - role: user\n    content: hi\n"


class Instance:
    """One compiled version of the entry: what a real runtime would connect or spawn."""

    def __init__(self, version: str, entered: anyio.Event, gate: anyio.Event | None) -> None:
        self.version = version
        self.entered = entered  # start was called
        self.gate = gate  # start waits for it
        self.started = anyio.Event()
        self.stopped = anyio.Event()

    async def start(self) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if "fail" in self.version:
            raise RuntimeError("cannot bind port 1")
        self.started.set()

    async def stop(self) -> None:
        assert not self.stopped.is_set(), f"{self.version} stopped twice"
        self.stopped.set()


class Stateful:
    """A runtime for ``prompt`` whose every compile is a stateful :class:`Instance`."""

    kind = "prompt"

    def __init__(self) -> None:
        self.instances: dict[str, Instance] = {}
        self.gates: dict[str, anyio.Event] = {}
        self._entered: dict[str, anyio.Event] = {}

    def entered(self, version: str) -> anyio.Event:
        return self._entered.setdefault(version, anyio.Event())

    def compile(self, spec: EntrySpec, services: Services) -> Compiled:
        inst = Instance(spec.description, self.entered(spec.description), self.gates.get(spec.description))
        self.instances[spec.description] = inst

        async def render(args: Any, ctx: Any) -> list[dict[str, Any]]:
            return [{"role": "user", "content": {"type": "text", "text": inst.version}}]

        p = PromptDef(spec.name, spec.description, (), render)
        return Compiled(spec, prompts=(p,), start=inst.start, stop=inst.stop)


async def _serve(tmp_path: Path, write: Write) -> tuple[Reloader, LiveRegistry, Stateful, Path]:
    m = write("prompts/p/manifest.yaml", prompt("v1"))
    runtime = Stateful()
    reloader = Reloader(Tree([tmp_path], lenient=True, runtimes={"prompt": runtime}))
    live = await reloader.start()
    assert runtime.instances["v1"].started.is_set()
    return reloader, live, runtime, m


def served(live: LiveRegistry) -> str:
    return live.current.prompts["p"].description


@contextlib.asynccontextmanager
async def watching(reloader: Reloader) -> AsyncIterator[None]:
    """``reloader.run`` as serve runs it (with no file batches): it retires what swaps replaced."""
    send, receive = anyio.create_memory_object_stream[list[Path]]()
    async with anyio.create_task_group() as tg:
        tg.start_soon(reloader.run, receive)
        yield
        send.close()


async def test_start_finishes_before_the_new_snapshot_is_served(tmp_path: Path, write: Write) -> None:
    reloader, live, runtime, m = await _serve(tmp_path, write)
    gate = runtime.gates["v2"] = anyio.Event()
    at_swap: list[bool] = []

    async def listener(delta: Delta, snap: Snapshot) -> None:
        at_swap.append(runtime.instances["v2"].started.is_set())

    live.add_listener(listener)
    write("prompts/p/manifest.yaml", prompt("v2"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(reloader.apply, [m])
        with anyio.fail_after(5):
            await runtime.entered("v2").wait()
        # v2 is starting (held at its gate): clients still get v1
        assert served(live) == "v1" and live.current.generation == 1
        gate.set()
    assert served(live) == "v2" and at_swap == [True]
    assert runtime.instances["v1"].stopped.is_set()  # no request read v1's snapshot: stopped at the swap


async def test_stop_waits_for_every_reader_of_the_old_snapshot(tmp_path: Path, write: Write) -> None:
    """A writer's request (itself a reader of the old snapshot) reloads without waiting for
    itself; the replaced instance stops only once the last old reader has left."""
    reloader, live, runtime, m = await _serve(tmp_path, write)
    v1 = runtime.instances["v1"]
    async with watching(reloader):
        first, second = contextlib.ExitStack(), contextlib.ExitStack()
        old = first.enter_context(live.reading())
        second.enter_context(live.reading())
        write("prompts/p/manifest.yaml", prompt("v2"))
        with anyio.fail_after(5):
            new = await reloader.reload([m])  # from inside a request reading the old snapshot
        assert new.prompts["p"].description == "v2" and old.prompts["p"].description == "v1"
        await anyio.wait_all_tasks_blocked()
        assert not v1.stopped.is_set() and live.retiring == 1
        with live.reading() as current:  # readers of the new snapshot do not hold the old one
            assert current is new
        await anyio.wait_all_tasks_blocked()
        assert not v1.stopped.is_set()
        first.close()
        await anyio.wait_all_tasks_blocked()
        assert not v1.stopped.is_set()
        second.close()
        with anyio.fail_after(5):
            await v1.stopped.wait()
        assert live.retiring == 0 and not runtime.instances["v2"].stopped.is_set()


async def test_failing_start_keeps_the_old_entry_serving(tmp_path: Path, write: Write) -> None:
    reloader, live, runtime, m = await _serve(tmp_path, write)
    v1 = runtime.instances["v1"]
    write("prompts/p/manifest.yaml", prompt("v2 fail"))
    await reloader.apply([m])
    assert served(live) == "v1" and live.current.stale == ((tmp_path / "prompts/p").resolve().as_posix(),)
    codes = [d.code for d in live.current.diagnostics]
    assert "SKZ502" in codes and "SKZ010" in codes
    assert runtime.entered("v2 fail").is_set() and not runtime.instances["v2 fail"].started.is_set()
    # the stale copy is the running v1, not a replacement of it
    assert live.retiring == 0 and not v1.stopped.is_set()
    write("prompts/p/manifest.yaml", prompt("v3"))
    await reloader.apply([m])
    assert served(live) == "v3" and runtime.instances["v3"].started.is_set()
    assert v1.stopped.is_set()  # nothing read the old snapshot any more: stopped at the swap
    assert "SKZ502" not in [d.code for d in live.current.diagnostics]


async def test_close_stops_current_and_retiring_entries(tmp_path: Path, write: Write) -> None:
    reloader, live, runtime, m = await _serve(tmp_path, write)
    with live.reading():
        write("prompts/p/manifest.yaml", prompt("v2"))
        await reloader.apply([m])
        assert live.retiring == 1
        await live.close()
    assert runtime.instances["v1"].stopped.is_set() and runtime.instances["v2"].stopped.is_set()
