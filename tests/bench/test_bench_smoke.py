"""The benchmark script runs (quick version) and prints its table; no timing assertions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_engine.py"


def test_quick_benchmark_prints_the_expected_rows(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_engine", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_engine"] = module
    spec.loader.exec_module(module)
    assert module.main(["--quick"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("| ")]
    header, rows = lines[0], lines[1:]
    assert "engine / reference" in header
    assert "engine / bare" in header
    assert "peak RSS MiB" in header
    names = [row.split("|")[1].strip() for row in rows]
    assert "(a) cps-ctu-2022-01-10" in names
    assert "(a) all shipped school/district policies" in names
    assert any(n.startswith("(b) cps-ctu-2022-01-10 school rules") for n in names)
    assert all(len(row.split("|")) == len(header.split("|")) for row in rows)
    assert "within 4 GiB" in out or "OVER 4 GiB" in out
