"""The API benchmark runs against a real server on a small district store and prints its
table; no timing assertions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.bench import cells, load_bench, table_lines
from tests.conftest import copy_history
from tests.decisions.test_decide_window import district_store  # noqa: F401 (the fixture)


def test_api_benchmark_prints_every_scenario(
    district_store: Engine,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = copy_history(Path(str(district_store.url.database)), tmp_path)  # WAL included
    argv = ["--db", url, "--day", "2022-02-10", "--rate", "10", "--seconds", "1", "--warmup", "0.5"]
    assert load_bench("bench_api").main([*argv, "--baseline-calls", "3"]) == 0
    header, rows = table_lines(capsys.readouterr().out)
    assert cells(header)[:4] == ["scenario", "first request ms", "requests", "errors"]
    labels = [cells(row)[0] for row in rows]
    assert labels == [
        "(a) decisions of every school, sqlite",
        "(b) a school's explanation, sqlite",
        "(c) the public school metrics of the day, CSV, sqlite",
    ]
    for row in rows:
        assert float(cells(row)[1]) > 0  # the first request, alone, timed
        assert cells(row)[2:4] == ["10", "0"]  # every counted request answered 200
