"""The dashboard benchmark serves a small district store, loads the pages in Chromium and
prints its table; no timing assertions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine

from schoolmode.app.context import Context
from schoolmode.app.decisions import DecideRequest, decide
from schoolmode.settings import AppSettings
from tests.bench import cells, load_bench, table_lines
from tests.conftest import copy_history
from tests.decisions.test_decide_window import district_store  # noqa: F401 (the fixture)
from tests.web.browser import chromium_path


def test_web_benchmark_prints_both_pages(
    district_store: Engine,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCHOOLMODE_CHROMIUM", chromium_path())  # fails loudly without one
    url = copy_history(Path(str(district_store.url.database)), tmp_path)
    ctx = Context(AppSettings.load(db_url=url))
    try:
        decide(ctx, DecideRequest(first=dt.date(2022, 2, 10), created_by="tests"))
    finally:
        ctx.close()
    assert load_bench("bench_web").main(["--db", url, "--repeat", "2"]) == 0
    header, rows = table_lines(capsys.readouterr().out)
    assert cells(header)[0] == "page"
    assert [cells(row)[0].split(" (")[0] for row in rows] == ["school page", "district page"]
    for row in rows:
        values = cells(row)[1:]
        assert all(float(v) > 0 for v in values), row  # the paint was measured too
