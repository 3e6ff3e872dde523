"""The operations benchmark runs (quick version) and prints its table; no timing assertions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_operations.py"


def test_quick_operations_benchmark_prints_the_expected_rows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = importlib.util.spec_from_file_location("bench_operations", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_operations"] = module
    spec.loader.exec_module(module)
    assert module.main(["--quick"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("| ")]
    header, rows = lines[0], lines[1:]
    for column in ("vectorised items/s", "baseline items/s", "vectorised / baseline"):
        assert column in header
    assert "peak RSS MiB" in header
    names = [row.split("|")[1].strip() for row in rows]
    assert [n[:3] for n in names] == ["(a)", "(b)"]
    assert all(len(row.split("|")) == len(header.split("|")) for row in rows)
    # the per-item baselines find exactly what the vectorised code finds on their sample
    assert all(row.split("|")[-3].strip() == "yes" for row in rows)
    assert "the per-item loop" in out
