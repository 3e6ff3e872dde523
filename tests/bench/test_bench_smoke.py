"""The benchmark script runs (quick version) and prints its table; no timing assertions."""

from __future__ import annotations

import pytest

from tests.bench import cells, load_bench, table_lines


def test_quick_benchmark_prints_the_expected_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert load_bench("bench_engine").main(["--quick"]) == 0
    out = capsys.readouterr().out
    header, rows = table_lines(out)
    assert "engine / reference" in header
    assert "engine / bare" in header
    assert "peak RSS MiB" in header
    names = [cells(row)[0] for row in rows]
    assert "(a) cps-ctu-2022-01-10" in names
    assert "(a) all shipped school/district policies" in names
    assert any(n.startswith("(b) cps-ctu-2022-01-10 school rules") for n in names)
    assert all(len(cells(row)) == len(cells(header)) for row in rows)
    assert "within 4 GiB" in out or "OVER 4 GiB" in out
