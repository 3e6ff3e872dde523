"""The backtest benchmark runs (quick version) and prints its table; no timing assertions."""

from __future__ import annotations

import pytest

from tests.bench import cells, load_bench, table_lines


def test_quick_backtest_benchmark_prints_the_expected_rows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert load_bench("bench_backtest").main(["--quick"]) == 0
    out = capsys.readouterr().out
    header, rows = table_lines(out)
    for column in ("backtest decisions/s", "baseline decisions/s", "backtest / baseline"):
        assert column in header
    assert "peak RSS MiB" in header
    assert [cells(row)[0][:3] for row in rows] == ["(a)", "(b)"]
    assert all(len(cells(row)) == len(cells(header)) for row in rows)
    # the day-by-day baseline decides exactly what the backtest decides on the sampled days
    assert all(cells(row)[-2] == "yes" for row in rows)
    assert "the day-by-day loop per decision" in out
