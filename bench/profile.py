"""Profile the engine where the benchmark shows a miss (needs ``pip install pyinstrument``).

    python -m bench.profile compile  --size 1000 [--mix tools|mixed]   Tree.full_scan() + snapshot()
    python -m bench.profile serve    --size 1000    skillz-engine serve, spawn to first tools/list
    python -m bench.profile validate --size 1000    skillz-engine validate, whole process
    python -m bench.profile apply    --size 10000   Reloader.apply([one changed manifest])

Prints the call tree (library frames folded) and the flat list of the functions with the most own
time. Trees are generated in a temp dir, exactly as the benchmark makes them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.procs import PY, StdioPeer, server_env
from bench.trees import make_tree


def _render(session: Any, top: int) -> str:
    from pyinstrument.renderers import ConsoleRenderer

    tree = ConsoleRenderer(unicode=False, color=False, show_all=False, short_mode=False).render(session)
    flat = ConsoleRenderer(unicode=False, color=False, flat=True).render(session)
    lines = [ln for ln in flat.splitlines() if ln.strip()]
    start = next((i + 1 for i, ln in enumerate(lines) if ln.startswith(("Program:", "Profile at"))), 0)
    return tree + "\nTop functions by own time:\n" + "\n".join(lines[start : start + top]) + "\n"


def _in_process(fn: Any, top: int) -> str:
    from pyinstrument import Profiler

    p = Profiler(interval=0.0005)
    p.start()
    t0 = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - t0
    p.stop()
    return f"elapsed {elapsed * 1000:.0f} ms (under the profiler)\n" + _render(p.last_session, top)


def _subprocess(args: list[str], work: Path, top: int, serve: bool) -> str:
    from pyinstrument.session import Session

    out = work / "profile.pyisession"
    argv = [
        PY,
        "-m",
        "pyinstrument",
        "-i",
        "0.0005",
        "-r",
        "session",
        "-o",
        str(out),
        "-m",
        "skillz_engine",
        *args,
    ]
    if serve:
        with StdioPeer(argv) as peer:
            peer.initialize()
            peer.request("tools/list", {})
    else:
        subprocess.run(argv, env=server_env(), stdout=subprocess.DEVNULL, check=False, timeout=600)
    return _render(Session.load(str(out)), top)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("what", choices=("compile", "serve", "validate", "apply"))
    p.add_argument("--size", type=int, default=1000)
    p.add_argument("--mix", choices=("tools", "mixed"), default=None)
    p.add_argument("--top", type=int, default=25, help="rows of the flat list")
    a = p.parse_args(argv)
    mix = a.mix or ("tools" if a.what == "serve" else "mixed")
    with tempfile.TemporaryDirectory(prefix="skillz-profile-") as d:
        work = Path(d)
        info = make_tree(work / "tree", a.size, mix)
        print(f"# profile {a.what}, {a.size} entries ({mix})\n")
        if a.what == "compile":
            from skillz_engine.build.compile import Tree
            from skillz_engine.builtins import catalog

            Tree([info.root], builtins=catalog(), lenient=True)  # imports outside the measurement

            def go() -> None:
                t = Tree([info.root], builtins=catalog(), lenient=True)
                t.full_scan()
                t.snapshot()

            print(_in_process(go, a.top))
        elif a.what == "apply":
            import anyio

            from skillz_engine.build.compile import Tree
            from skillz_engine.builtins import catalog
            from skillz_engine.live.reload import Reloader

            async def prepare() -> Reloader:
                r = Reloader(Tree([info.root], builtins=catalog(), lenient=True))
                await r.start()
                return r

            reloader = anyio.run(prepare)
            path = info.first_tool_manifest()
            path.write_text(path.read_text().replace("description: >-\n", "description: >-\n  Edited.\n"))
            print(_in_process(lambda: anyio.run(reloader.apply, [path]), a.top))
        elif a.what == "serve":
            print(_subprocess(["serve", str(info.root), "--no-watch"], work, a.top, serve=True))
        else:
            print(_subprocess(["validate", str(info.root), "--format", "json"], work, a.top, serve=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
