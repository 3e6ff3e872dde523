"""The vaccination benchmark runs (quick version), prints its table and finds the vectorised
scheduler's appointments identical to the per-person loop's; no timing assertions."""

from __future__ import annotations

import pytest

from tests.bench import cells, load_bench, table_lines


def test_quick_vaccination_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert load_bench("bench_vaccination").main(["--quick"]) == 0
    header, rows = table_lines(capsys.readouterr().out)
    assert "vs per-person loop" in header
    assert "peak RSS MiB" in header
    assert [cells(r)[0] for r in rows] == [
        "vectorised (schedule)",
        "per-person loop (baseline)",
    ]
    assert all(cells(r)[7] == "yes" for r in rows)
