"""The start-up benchmark runs (one process per command, two commands, one bytecode mode) and
prints its table with the baseline in the same run; no timing assertions. The baseline here
is ``HEAD`` (any checkout has it; the script's default, b8ee051, needs the full history)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.bench import cells, load_bench, table_lines

ROOT = Path(__file__).resolve().parents[2]


def _is_checkout() -> bool:
    proc = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "HEAD"], capture_output=True, check=False
    )
    return proc.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _is_checkout(), reason="the baseline is taken from the git history")
def test_startup_benchmark_prints_both_trees(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "--repeats",
        "1",
        "--baseline",
        "HEAD",
        "--mode",
        "all",
        "--command=--help",
        "--command",
        "status",
    ]
    assert load_bench("bench_startup").main(argv) == 0
    out = capsys.readouterr().out
    header, rows = table_lines(out)
    assert cells(header)[:5] == [
        "command",
        "bytecode",
        "baseline (HEAD) s",
        "now s",
        "now / baseline",
    ]
    assert [cells(r)[:2] for r in rows] == [
        ["`schoolmode --help`", "all"],
        ["`schoolmode status`", "all"],
    ]
    for row in rows:
        assert cells(row)[4].endswith("x")
        assert cells(row)[8] in ("yes / yes", "yes / no", "no / yes", "no / no")
    assert "compiled bytecode files" in out
