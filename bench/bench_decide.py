"""Benchmark one day's stored decision (`schoolmode decide`) on a synthetic district store.

    uv run python bench/bench_decide.py --db sqlite:///out/schoolmode.sqlite
    uv run python bench/bench_decide.py --db sqlite:///out/schoolmode.sqlite --day 2022-01-20

The store must be an SQLite file holding a synthetic district (`scripts/run` builds the full
one in `out/schoolmode.sqlite`); the benchmark works on a copy of it in a temporary folder,
brought to the current schema, so the runs it stores never reach the original. Each measurement runs in a fresh child process:

(a) the use case `app.decisions.decide` (what `schoolmode decide` runs): the inputs of the
    policy's window, read from the store; the engine; the decision rows with traces and
    explanations; the inputs' digest and archive; insert and commit. Its first call in the
    process, then ``--repeats`` - 1 more (each stores a run), and `audit reproduce` of the
    last run, which must say "identical";
(b) the same day's decision without storing, from the inputs a run keeps: the columns the
    policy reads, each scope from its own rules' window (`decisions.record`);
(c) the **baseline**: the same without storing, from inputs read over the whole history
    (from the earliest enrolment) with every column, as a decision read them before it kept
    a window; its decisions, traces and explanations must equal (b)'s;
(d) `schoolmode decide` from the command line (wall time of the process), ``--repeats`` times
    (the median), against the **baseline** of the eager start-up (every command module
    imported before the command runs, the collector not frozen: ``EAGER``), and `schoolmode
    --help` (the interpreter and the command line's start-up alone).

The shipped policies are parsed once into the parse cache before (as any earlier command has
done), and the copy of the store is written out (``os.sync``) before anything is timed.

Printed: a Markdown table (seconds, CPU seconds, peak RSS) and the ratio (c) / (b). Only public
tools are used: ``time.perf_counter``, ``time.process_time`` and ``resource.getrusage``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bc  # peak RSS, child processes, tables

DEFAULT_DB = "sqlite:///out/schoolmode.sqlite"
DEFAULT_DAY = dt.date(2022, 1, 20)
SCHOOLMODE = Path(sys.executable).parent / "schoolmode"
"""The command line installed beside this interpreter (the project's virtual environment)."""


def stored(url: str, day: dt.date, repeats: int) -> dict[str, Any]:
    """(a): the use case, ``repeats`` times in this process, and the audit of the last run."""
    from schoolmode.app.context import Context
    from schoolmode.app.decisions import DecideRequest, ReproduceRequest, decide, reproduce
    from schoolmode.settings import AppSettings

    ctx = Context(AppSettings.load(db_url=url))
    times, cpu = [], []
    result = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = decide(ctx, DecideRequest(first=day))
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    assert result is not None
    t0 = time.perf_counter()
    audit = reproduce(ctx, ReproduceRequest(run_id=result.run_id))
    return {
        "seconds": times,
        "cpu": cpu,
        "reproduce_s": time.perf_counter() - t0,
        "identical": audit.identical,
        "decisions": result.decisions,
        "not_default": result.not_default,
        "policy": result.policy_id,
        "rss": bc.peak_rss_mib(),
    }


def unstored(url: str, day: dt.date, whole: bool) -> dict[str, Any]:
    """(b) from the run's inputs, or (c) from the whole history with every column: seconds and
    the decision rows (as JSON text, for the comparison)."""
    from sqlalchemy import func, select

    from schoolmode.decisions import record
    from schoolmode.engine.settings import Settings
    from schoolmode.policy.loader import Registry
    from schoolmode.store.db import make_engine
    from schoolmode.store.tables import RECORD_TABLES

    engine = make_engine(url)
    policy = record.policy_in_force(Registry(), day).policy
    needed = record.citywide_needed(policy)
    t0, c0 = time.perf_counter(), time.process_time()
    if whole:
        with engine.connect() as conn:
            start = conn.execute(select(func.min(RECORD_TABLES["enrolment"].c.start_date))).scalar()
        frames = record.input_frames(engine, start, day, needed)
    else:
        start = day - dt.timedelta(days=record.decision_window(policy))
        frames = record.input_frames(
            engine,
            start,
            day,
            needed,
            record.frame_columns(policy),
            record.scope_starts(policy, day),
        )
    auth = record.authorisations(engine, policy.id)
    evaluation = record.evaluate_run(policy, frames, auth, Settings(), day, day)
    rows = record.decision_frame(evaluation, day, day)
    record.inputs_digest(frames)
    record.pack(frames)
    return {
        "seconds": [time.perf_counter() - t0],
        "cpu": [time.process_time() - c0],
        "rows": rows.write_json(),
        "input_rows": sum(f.height for f in frames.values()),
        "input_cells": sum(f.height * f.width for f in frames.values()),
        "rss": bc.peak_rss_mib(),
    }


EAGER = (
    "import gc, importlib, sys; gc.freeze = lambda: None; "
    "from schoolmode.cli import app; "
    "[importlib.import_module('schoolmode.cli.' + m) for m in sorted(set(app.COMMANDS.values()))]; "
    "sys.argv[0] = 'schoolmode'; app.main()"
)
"""The (d) baseline: the command line as it started before its commands were loaded lazily
and the collector frozen: every command module imported first, ``gc.freeze`` a no-op."""


def command_line(url: str, day: dt.date, processes: int) -> dict[str, Any]:
    """(d): ``schoolmode decide``, the same with the eager start-up (``EAGER``) and ``schoolmode
    --help``, each a process of its own, ``processes`` times, interleaved."""
    decide = ["decide", "--date", day.isoformat(), "--db", url]
    runs = {
        "help": [str(SCHOOLMODE), "--help"],
        "decide": [str(SCHOOLMODE), *decide],
        "eager": [sys.executable, "-c", EAGER, *decide],
    }
    out: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(processes):
        for name, args in runs.items():
            t0 = time.perf_counter()
            proc = subprocess.run(args, capture_output=True, text=True, check=False)
            out[name].append(time.perf_counter() - t0)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return out


def child(kind: str, url: str, day: dt.date, repeats: int) -> dict[str, Any]:
    if kind == "stored":
        return stored(url, day, repeats)
    if kind == "command":
        return command_line(url, day, repeats)
    return unstored(url, day, whole=kind == "whole")


def copy_store(url: str, folder: Path) -> str:
    """A copy of the SQLite store of ``url`` in ``folder`` (its WAL checkpointed first)."""
    import sqlite3

    if not url.startswith("sqlite:///"):
        raise SystemExit(f"--db must be an SQLite file URL (sqlite:///PATH), not {url}")
    source = Path(url.removeprefix("sqlite:///"))
    if not source.is_file():
        raise SystemExit(
            f"{source}: no such store; build the synthetic district with `scripts/run` first"
        )
    target = folder / "store.sqlite"
    with sqlite3.connect(source) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(source, target)
    url = f"sqlite:///{target}"
    subprocess.run([str(SCHOOLMODE), "db", "upgrade", "--db", url], check=True, capture_output=True)
    os.sync()  # the copy's pages written out before anything is timed
    return url


def warm_policy_cache() -> None:
    """Parse the shipped policies once into the user's parse cache (``$SCHOOLMODE_CACHE``), as
    any earlier command has: the children then measure a day's decision, not the first parse."""
    from schoolmode.policy.loader import Registry
    from schoolmode.settings import AppSettings

    Registry(cache_dir=AppSettings.load().cache_dir).all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", default=DEFAULT_DB, help="SQLite store of a synthetic district")
    parser.add_argument("--day", type=dt.date.fromisoformat, default=DEFAULT_DAY)
    parser.add_argument("--repeats", type=int, default=3, help="calls of (a) in one process")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, url = args.child
        print(json.dumps(child(kind, url, args.day, args.repeats)))
        return 0
    warm_policy_cache()
    with tempfile.TemporaryDirectory(prefix="bench-decide-") as tmp:
        url = copy_store(args.db, Path(tmp))
        common = ["--day", args.day.isoformat(), "--repeats", str(args.repeats)]
        got = {
            kind: bc.run_child(__file__, "--child", kind, url, *common)
            for kind in ("stored", "window", "whole", "command")
        }
    print(report(got, args.day))
    return 0


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _spread(values: list[float]) -> str:
    return f"median of {len(values)} (min {min(values):.2f}, max {max(values):.2f})"


def report(got: dict[str, dict[str, Any]], day: dt.date) -> str:
    a, b, c, d = got["stored"], got["window"], got["whole"], got["command"]
    same = b["rows"] == c["rows"]
    rows = [
        [
            f"(a) decide {day}, stored: first call",
            f"{a['seconds'][0]:.2f}",
            f"{a['cpu'][0]:.2f}",
            f"{a['rss']:,.0f}",
        ],
        *(
            [f"(a) decide {day}, stored: call {i + 1}", f"{s:.2f}", f"{cpu:.2f}", ""]
            for i, (s, cpu) in enumerate(zip(a["seconds"][1:], a["cpu"][1:], strict=True), 1)
        ),
        ["(a) audit reproduce of the last run", f"{a['reproduce_s']:.2f}", "", ""],
        [
            f"(b) the run's inputs ({b['input_cells']:,} cells), not stored",
            f"{b['seconds'][0]:.2f}",
            f"{b['cpu'][0]:.2f}",
            f"{b['rss']:,.0f}",
        ],
        [
            f"(c) baseline: whole history, every column ({c['input_cells']:,} cells), not stored",
            f"{c['seconds'][0]:.2f}",
            f"{c['cpu'][0]:.2f}",
            f"{c['rss']:,.0f}",
        ],
        [
            f"(d) `schoolmode --help` (start-up), {_spread(d['help'])}",
            f"{_median(d['help']):.2f}",
            "",
            "",
        ],
        [
            f"(d) `schoolmode decide` (process), {_spread(d['decide'])}",
            f"{_median(d['decide']):.2f}",
            "",
            "",
        ],
        [
            f"(d) baseline: the same, eager start-up, {_spread(d['eager'])}",
            f"{_median(d['eager']):.2f}",
            "",
            "",
        ],
    ]
    table = bc.markdown_table(["measurement", "seconds", "CPU seconds", "peak RSS MiB"], rows)
    ratio = c["seconds"][0] / b["seconds"][0]
    lines = [
        table,
        "",
        f"{a['decisions']:,} decisions under {a['policy']}, {a['not_default']:,} not in the "
        f"default mode; audit reproduce: {'identical' if a['identical'] else 'DIFFERENT'}",
        f"(c) / (b): {ratio:.1f}x; decisions, traces and explanations "
        f"{'identical' if same else 'DIFFERENT'}",
        f"first call {'under' if a['seconds'][0] < 2 else 'OVER'} 2 s; median of the calls "
        f"{_median(a['seconds']):.2f} s",
        f"`schoolmode decide`: median {_median(d['decide']):.2f} s of {len(d['decide'])} "
        f"processes ({'under' if _median(d['decide']) < 2 else 'OVER'} 2 s); eager start-up / "
        f"lazy: {_median(d['eager']) / _median(d['decide']):.2f}x",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
