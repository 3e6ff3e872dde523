from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.store.migrate import head_revision

SHARED_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "shared"

TESTING = "chicago-daily-testing/COVID-19_Daily_Testing_-_By_Test.csv"


def _ok(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_init_import_status(
    db_url: str, fixture_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert f"schema {head_revision()}" in _ok(["init", "--db", db_url])
    head = head_revision()
    assert f"schema {head} -> {head}" in _ok(["db", "upgrade", "--db", db_url])
    out = _ok(
        ["import", "cdph-daily-testing", str(fixture_data / TESTING), "--db", db_url, "--by", "cli"]
    )
    assert "cdph-daily-testing/citywide: import #1: 36138 rows, 36138 added" in out
    out = _ok(["import", "cdph-daily-testing", str(fixture_data / TESTING), "--db", db_url])
    assert "unchanged (same file as import #1)" in out

    monkeypatch.setenv("SCHOOLMODE_SHARED", str(SHARED_FIXTURE))
    out = _ok(["import", "chicago", "--db", db_url])
    assert "cdph-daily-testing/citywide: unchanged" in out
    assert "cps-school-profiles/2022-2023: import" in out

    status = json.loads(_ok(["status", "--db", db_url, "--json"]))
    assert status["schema"] == head_revision()
    assert status["rows"]["school"] == 24
    assert status["rows"]["community_indicator"] > 36138
    last = {r["source"]: r for r in status["last_imports"]}
    assert last["cdph-daily-testing"]["imported_by"] == "cli"
    assert last["cps-school-profiles"]["dataset"] == "2022-2023"
    assert "last import per source" in _ok(["status", "--db", db_url])


def test_import_errors_exit_non_zero_and_change_nothing(db_url: str, tmp_path: Path) -> None:
    _ok(["init", "--db", db_url])
    bad = tmp_path / "cases.csv"
    bad.write_text("Date,Cases - Total\n03/01/2020,3\n03/02/2020,-1\n")
    result = CliRunner().invoke(app, ["import", "cdph-daily-cases", str(bad), "--db", db_url])
    assert result.exit_code == 1
    assert f"{bad}: data row 2, field 'Cases - Total': value '-1'" in result.output
    status = json.loads(_ok(["status", "--db", db_url, "--json"]))
    assert status["last_imports"] == []
    assert sum(status["rows"].values()) == 0


def test_unknown_source_and_unmigrated_db(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    result = CliRunner().invoke(app, ["import", "file", "nope", "x.csv", "--db", url])
    assert result.exit_code == 2
    assert "unknown source 'nope'" in result.output
    result = CliRunner().invoke(app, ["status", "--db", url])
    assert result.exit_code == 2
    assert "schoolmode db upgrade" in result.output
    assert "cdph-daily-testing [chicago]" in _ok(["import", "sources"])


def test_import_chicago_gives_the_same_counts_on_sqlite_and_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The acceptance check of the data issue: one command, two backends, identical status."""
    from tests.conftest import SHARED_FIXTURE, fresh_db_url

    monkeypatch.setenv("SCHOOLMODE_SHARED", str(SHARED_FIXTURE))
    counts = {}
    for kind in ("sqlite", "postgresql"):
        with fresh_db_url(kind, tmp_path) as url:
            _ok(["init", "--db", url])
            _ok(["import", "chicago", "--db", url])
            status = json.loads(_ok(["status", "--db", url, "--json"]))
            counts[kind] = status["rows"]
    assert counts["sqlite"] == counts["postgresql"]
    assert counts["sqlite"]["school"] > 0
    assert counts["sqlite"]["community_indicator"] > 0
