"""The vaccination benchmark runs (quick version), prints its table and finds the vectorised
scheduler's appointments identical to the per-person loop's; no timing assertions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_vaccination.py"


def test_quick_vaccination_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_vaccination", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_vaccination"] = module
    spec.loader.exec_module(module)
    assert module.main(["--quick"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    header, rows = lines[0], lines[1:]
    assert "vs per-person loop" in header
    assert "peak RSS MiB" in header
    assert [r.split("|")[1].strip() for r in rows] == [
        "vectorised (schedule)",
        "per-person loop (baseline)",
    ]
    assert all(r.split("|")[8].strip() == "yes" for r in rows)
