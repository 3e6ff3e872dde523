"""Benchmark the command line's start-up: `schoolmode --help` and the simple commands, each a
fresh process, against the start-up before issue 17 (commit b8ee051) in the same run.

    uv run python bench/bench_startup.py                # 7 processes per command and tree
    uv run python bench/bench_startup.py --quick        # 3
    uv run python bench/bench_startup.py --repeats 11 --baseline b8ee051

The **baseline** is the package as it was at ``--baseline`` (default b8ee051: every command
module imported by `--help`, polars and the case runner by `policy list`, the importers by
`status`), extracted with ``git archive`` into a temporary folder and run by the same
interpreter and virtual environment, its ``src`` first on ``PYTHONPATH`` (the current tree's
``src`` likewise). Each command runs as the console script (`.venv/bin/schoolmode`), the two
trees interleaved, ``--repeats`` times; the table gives the median wall seconds, the median
CPU seconds of the process (user + system, from ``resource.getrusage(RUSAGE_CHILDREN)``: less
disturbed than wall time by other work on a shared machine) and the ratios.

Three ways Python finds the modules' bytecode, each measured:

- **none**: ``PYTHONDONTWRITEBYTECODE=1`` and an empty ``PYTHONPYCACHEPREFIX``: every module,
  the libraries' too, is compiled from source at every start, as on a machine whose
  environment sets ``PYTHONDONTWRITEBYTECODE`` (this development machine does) with a virtual
  environment installed without compiled bytecode (``uv sync``'s default);
- **packages**: ``PYTHONDONTWRITEBYTECODE=1`` and the bytecode that ``uv sync
  --compile-bytecode`` wrote into the virtual environment once: the project's own modules
  (installed editable) are compiled at every start, the libraries are not. The script says
  how many compiled files the environment holds; with none this mode is the first.
  ``scripts/setup`` syncs with ``--compile-bytecode``: its users start at least this fast
  (without ``PYTHONDONTWRITEBYTECODE``, as **all** from their second start). (Not
  ``[tool.uv] compile-bytecode = true``: with it ``uv run`` checks every installed file's
  bytecode at each start, about a second on 2 cores.)
- **all**: ``PYTHONPYCACHEPREFIX`` a temporary folder filled by an untimed first run of each
  command: every module's bytecode cached, as any later start on an ordinary install.

The commands: `--help`, `version`, `policy --help`, `status --help`, `decide --help`,
`policy list`, `policy show cps-ctu-2022-01-10` and `status` of a store just created by that
tree's `init` (its own, in the temporary folder). The policies' parse cache
(``SCHOOLMODE_CACHE``) is a temporary folder too, filled by the untimed first runs. Only public
tools are used: ``time.perf_counter``, ``resource.getrusage`` and ``subprocess``.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bc  # the Markdown table

ROOT = Path(__file__).resolve().parents[1]
SCHOOLMODE = Path(sys.executable).parent / "schoolmode"
"""The command line installed beside this interpreter (the project's virtual environment)."""
BASELINE = "b8ee051"
"""The start-up before issue 17 item 5 (lazy help, lazy heavy imports)."""
TARGET_S = 1.0
"""The issue's goal: `--help` and the simple commands start in under a second."""

COMMANDS: list[tuple[str, list[str]]] = [
    ("--help", ["--help"]),
    ("version", ["version"]),
    ("policy --help", ["policy", "--help"]),
    ("status --help", ["status", "--help"]),
    ("decide --help", ["decide", "--help"]),
    ("policy list", ["policy", "list"]),
    ("policy show cps-ctu-2022-01-10", ["policy", "show", "cps-ctu-2022-01-10"]),
    ("status", ["status", "--db", "{store}"]),
]
"""Label and arguments; ``{store}`` is the tree's own store's URL."""

MODES = ("none", "packages", "all")
"""Where the bytecode comes from (see above)."""


@dataclass
class Tree:
    """A version of the package: its ``src`` folder and the store its `init` created."""

    name: str
    src: Path
    store: str


def extract(revision: str, folder: Path) -> Path:
    """``src`` of ``revision`` (``git archive``; the repository is only read), under ``folder``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "src"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def environment(tree: Tree, mode: str, tmp: Path) -> dict[str, str]:
    """The process environment of ``tree`` in bytecode ``mode``."""
    env = {
        **os.environ,
        "PYTHONPATH": str(tree.src),
        "SCHOOLMODE_CACHE": str(tmp / "cache"),
        "COLUMNS": "120",
    }
    env.pop("SCHOOLMODE_DB", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if mode == "none":
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "no-bytecode")  # stays empty
    elif mode == "all":
        env.pop("PYTHONDONTWRITEBYTECODE")
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "bytecode")
    return env


def compiled_files() -> int:
    """The compiled bytecode files in this virtual environment's packages (``uv sync`` with
    ``compile-bytecode``)."""
    return sum(1 for _ in Path(sysconfig.get_paths()["purelib"]).rglob("*.pyc"))


def run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``schoolmode ARGS``: its wall seconds and CPU seconds (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([str(SCHOOLMODE), *args], env=env, capture_output=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(
            f"schoolmode {' '.join(args)} ({env['PYTHONPATH']}) exited {proc.returncode}:\n"
            + proc.stderr.decode(errors="replace")[-2000:]
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(
    trees: list[Tree], repeats: int, tmp: Path, modes: list[str], commands: list[str]
) -> dict[tuple[str, str, str], tuple[list[float], list[float]]]:
    """(mode, command, tree) -> (wall seconds, CPU seconds) of ``repeats`` processes; each
    command's first run per tree and mode is untimed (it fills the caches)."""
    out: dict[tuple[str, str, str], tuple[list[float], list[float]]] = {}
    for mode in modes:
        for label, template in COMMANDS:
            if label not in commands:
                continue
            for tree in trees:
                args = [a.replace("{store}", tree.store) for a in template]
                run(args, environment(tree, mode, tmp))
                out[(mode, label, tree.name)] = ([], [])
            for _ in range(repeats):
                for tree in trees:
                    args = [a.replace("{store}", tree.store) for a in template]
                    wall, cpu = run(args, environment(tree, mode, tmp))
                    out[(mode, label, tree.name)][0].append(wall)
                    out[(mode, label, tree.name)][1].append(cpu)
    return out


def report(got: dict[tuple[str, str, str], tuple[list[float], list[float]]], baseline: str) -> str:
    rows = []
    for mode in MODES:
        for label, _ in COMMANDS:
            if (mode, label, "now") not in got:
                continue
            b_wall, b_cpu = (statistics.median(v) for v in got[(mode, label, "baseline")])
            n_wall, n_cpu = (statistics.median(v) for v in got[(mode, label, "now")])
            rows.append(
                [
                    f"`schoolmode {label}`",
                    mode,
                    f"{b_wall:.2f}",
                    f"{n_wall:.2f}",
                    f"{n_wall / b_wall:.2f}x",
                    f"{b_cpu:.2f}",
                    f"{n_cpu:.2f}",
                    f"{n_cpu / b_cpu:.2f}x",
                    f"{'yes' if n_wall < TARGET_S else 'no'} / {'yes' if n_cpu < TARGET_S else 'no'}",
                ]
            )
    header = [
        "command",
        "bytecode",
        f"baseline ({baseline}) s",
        "now s",
        "now / baseline",
        "baseline CPU s",
        "now CPU s",
        "CPU now / baseline",
        f"now under {TARGET_S:.0f} s (wall / CPU)",
    ]
    return bc.markdown_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3 processes per command and tree")
    parser.add_argument("--repeats", type=int, default=7, help="processes per command and tree")
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the baseline")
    parser.add_argument(
        "--mode", action="append", choices=MODES, help="only this bytecode mode (repeatable)"
    )
    parser.add_argument(
        "--command",
        action="append",
        choices=[label for label, _ in COMMANDS],
        help="only this command (repeatable)",
    )
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as name:
        tmp = Path(name)
        trees = [
            Tree("baseline", extract(args.baseline, tmp / "baseline"), ""),
            Tree("now", ROOT / "src", ""),
        ]
        for tree in trees:
            tree.store = f"sqlite:///{tmp / f'{tree.name}.sqlite'}"
            run(["init", "--db", tree.store], environment(tree, "all", tmp))
        modes = args.mode or list(MODES)
        got = measure(trees, repeats, tmp, modes, args.command or [c for c, _ in COMMANDS])
    load = os.getloadavg()
    print(
        f"median of {repeats} processes per command and tree, interleaved; "
        f"load average at the end {load[0]:.2f} on {os.cpu_count()} CPUs; "
        f"{compiled_files():,} compiled bytecode files in the virtual environment's packages"
    )
    print(report(got, args.baseline))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
