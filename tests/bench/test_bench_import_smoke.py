"""The import benchmark runs (quick version) and prints its table; no timing assertions."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.bench import cells, load_bench, table_lines
from tests.conftest import FIXTURE_DATA, pg_admin_url


def _bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("SCHOOLMODE_DATA", str(FIXTURE_DATA))
    monkeypatch.delenv("SCHOOLMODE_BENCH_PG_URL", raising=False)
    return load_bench("bench_import")


def _table(out: str) -> dict[str, list[str]]:
    header_line, lines = table_lines(out)
    header = cells(header_line)
    assert header == ["stage", "rows", "seconds", "rows/s", "vs DuckDB", "peak RSS MiB"]
    rows = {}
    for line in lines:
        row = cells(line)
        assert len(row) == len(header)
        rows[row[0]] = row
    return rows


def test_quick_sqlite_only_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _bench(monkeypatch).main(["--quick"]) == 0
    out = capsys.readouterr().out
    rows = _table(out)
    assert "from 12 schools" in out  # the fixture profiles have 12 schools
    assert "5,106 students" in out
    assert "SQLite only" in out
    assert set(rows) == {
        "generate (district + absences, write CSV)",
        "duckdb read_csv (baseline)",
        "parse + validate",
        "floor sqlite: write only, bare tables",
        "import sqlite",
        "import sqlite, same files again",
    }
    assert rows["parse + validate"][1] == rows["duckdb read_csv (baseline)"][1]
    assert rows["import sqlite"][1] == rows["parse + validate"][1]  # every row written once
    assert rows["floor sqlite: write only, bare tables"][1] == rows["import sqlite"][1]
    assert rows["parse + validate"][4].endswith("x")


def test_quick_with_postgresql(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _bench(monkeypatch).main(["--quick", pg_admin_url()]) == 0
    out = capsys.readouterr().out
    rows = _table(out)
    assert "SQLite only" not in out
    assert rows["import postgresql"][1] == rows["import sqlite"][1]
    assert rows["floor postgresql: write only, bare tables"][1] == rows["import sqlite"][1]
    assert "import postgresql, same files again" in rows
