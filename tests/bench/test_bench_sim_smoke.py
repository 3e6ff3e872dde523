"""The simulator benchmark runs (quick version); its numba and numpy loops agree exactly."""

from __future__ import annotations

import pytest

from tests.bench import load_bench


def test_quick_sim_benchmark_prints_both_loops_and_they_agree(
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = load_bench("bench_sim")
    assert module.main(["--quick", "--days", "20"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert "s per agent-day" in rows[0]
    assert "peak RSS MiB" in rows[0]
    assert [row.split("|")[1].strip() for row in rows[1:]] == ["numba", "numpy"]
    assert "identical infections: yes" in out
