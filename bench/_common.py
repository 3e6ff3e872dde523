"""What the benchmark scripts share: wall time, peak RSS, one child process per scenario (so
each scenario's peak RSS is its own) and the Markdown table printed at the end.

Imported by the scripts as ``import _common as bc`` (each script puts ``bench/`` on
``sys.path``). Only public tools are used: ``time.perf_counter`` and ``resource.getrusage``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_rss_mib() -> float:
    """:func:`peak_rss` in MiB."""
    return peak_rss() / 2**20


def median_time(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` runs (the machine is shared and noisy)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table: the header, a rule, one line per row of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(cells) + " |" for cells in rows)
    return "\n".join(lines)


def scenario_args(doc: str | None, argv: list[str] | None) -> argparse.Namespace:
    """The usual command line: ``--quick`` and the hidden ``--child KEY MODE``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help="a small version that runs in seconds")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_child(script: str | Path, *args: str) -> dict[str, Any]:
    """Run ``script`` with ``args`` in a fresh Python process; its last stdout line is JSON."""
    proc = subprocess.run(
        [sys.executable, str(Path(script).resolve()), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{Path(script).name} {' '.join(args)} exited with {proc.returncode}:\n{proc.stderr}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_scenarios(script: str | Path, keys: Iterable[str], mode: str) -> list[dict[str, Any]]:
    """Each scenario ``key`` in its own child process (``script --child KEY MODE``)."""
    return [run_child(script, "--child", key, mode) for key in keys]


def scenario_main(
    doc: str | None,
    argv: list[str] | None,
    script: str | Path,
    keys: Iterable[str],
    child: Callable[[str, str], dict[str, Any]],
) -> list[dict[str, Any]] | None:
    """The command line of a script with scenarios: as a child (``--child KEY MODE``), print
    ``child(KEY, MODE)`` as one JSON line and return ``None``; else run every scenario in its
    own child (mode ``quick`` with ``--quick``, else ``full``) and return what they printed."""
    args = scenario_args(doc, argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return None
    return run_scenarios(script, keys, "quick" if args.quick else "full")
