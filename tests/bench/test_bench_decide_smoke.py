"""The decision benchmark runs on a small district store and prints its table; no timing
assertions."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.bench import cells, load_bench, table_lines
from tests.decisions.test_decide_window import district_store  # noqa: F401 (the fixture)


def test_decide_benchmark_prints_every_measurement(
    district_store: Engine,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = str(district_store.url)
    argv = ["--db", url, "--day", "2022-02-10", "--repeats", "2"]
    assert load_bench("bench_decide").main(argv) == 0
    out = capsys.readouterr().out
    header, rows = table_lines(out)
    assert cells(header) == ["measurement", "seconds", "CPU seconds", "peak RSS MiB"]
    labels = [cells(row)[0] for row in rows]
    assert labels[:3] == [
        "(a) decide 2022-02-10, stored: first call",
        "(a) decide 2022-02-10, stored: call 2",
        "(a) audit reproduce of the last run",
    ]
    assert any(label.startswith("(c) baseline: whole history") for label in labels)
    assert "audit reproduce: identical" in out
    assert "decisions, traces and explanations identical" in out
    # the benchmark stores its runs in a copy: the fixture's store has none of them
    with district_store.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM decision_run").scalar_one() == 0
