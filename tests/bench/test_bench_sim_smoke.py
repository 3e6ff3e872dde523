"""The simulator benchmark runs (quick version); its numba and numpy loops agree exactly."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_sim.py"


def test_quick_sim_benchmark_prints_both_loops_and_they_agree(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = importlib.util.spec_from_file_location("bench_sim", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_sim"] = module
    spec.loader.exec_module(module)
    assert module.main(["--quick", "--days", "20"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert "s per agent-day" in rows[0]
    assert "peak RSS MiB" in rows[0]
    assert [row.split("|")[1].strip() for row in rows[1:]] == ["numba", "numpy"]
    assert "identical infections: yes" in out
