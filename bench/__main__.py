"""``python -m bench [--quick] [--only NAME ...] [--out DIR] [--keep]``: run the scenarios, write
``latest.md`` and ``latest.json`` (default ``bench/results/``)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench import procs, report
from bench.core import Ctx, Row, reason_of
from bench.scenarios import ORDER, load

RESULTS = Path(__file__).resolve().parent / "results"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument(
        "--quick",
        action="store_true",
        help="smallest sizes, few repetitions, no timing verdicts (CI smoke test)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        choices=ORDER,
        help=f"run only these scenarios: {', '.join(ORDER)}",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where latest.md/latest.json go (default: bench/results/ for a full run of every scenario, "
        "bench/results/quick/ for --quick, bench/results/partial/<names>/ for --only: the committed full "
        "results, and other scenarios' partial runs, are never overwritten by a smaller run)",
    )
    p.add_argument("--keep", action="store_true", help="keep the generated trees (path is logged)")
    args = p.parse_args(argv)
    if args.out is None:
        args.out = default_out(quick=args.quick, only=args.only or ())
    return args


def default_out(*, quick: bool, only: Sequence[str]) -> Path:
    """The committed ``bench/results/`` is written only by a full run of every scenario; a run of
    some scenarios goes to ``partial/<their names>/``, so runs of different scenarios (several
    people measuring their own rows) keep one another's tables."""
    if quick:
        return RESULTS / "quick"
    return RESULTS / "partial" / "+".join(only) if only else RESULTS


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    names = [n for n in ORDER if not args.only or n in args.only]
    work = Path(tempfile.mkdtemp(prefix="skillz-bench-"))
    procs.PYCACHE = work / "pycache"
    ctx = Ctx(quick=args.quick, work=work)
    started, t0 = report.now(), time.perf_counter()
    ctx.log(f"{'quick' if args.quick else 'full'} run of {', '.join(names)}; work dir {work}")
    rows: list[Row] = []
    timings: dict[str, float] = {}
    try:
        for name in names:
            mod = load(name)
            t = time.perf_counter()
            try:
                got = mod.run(ctx)
            except Exception as exc:  # a broken scenario is a row that says why, never a crash
                ctx.log(f"{name}: failed: {exc!r}")
                got = [Row(mod.TITLE, "-", "ms", unavailable=reason_of(exc))]
            for row in got:
                row.scenario_id = name
            timings[name] = round(time.perf_counter() - t, 1)
            ctx.log(f"{name}: done in {timings[name]:.0f} s")
            rows.extend(got)
    finally:
        if args.keep:
            ctx.log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    meta = {
        "started": started,
        "mode": "quick" if args.quick else "full",
        "duration_s": time.perf_counter() - t0,
        "scenarios": names,
        "scenario_seconds": timings,
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "machine": report.machine(),
    }
    md, js = report.write(args.out, rows, meta)
    ctx.log(f"wrote {md} and {js} in {meta['duration_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
