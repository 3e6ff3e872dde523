from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.store.migrate import head_revision
from tests.conftest import BACKENDS, FIXTURE_DATA, fresh_db_url

TESTING = "chicago-daily-testing/COVID-19_Daily_Testing_-_By_Test.csv"


def _ok(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


@dataclass(frozen=True)
class Imported:
    """A store taken through the commands below, and what each printed."""

    url: str
    init: str
    upgrade: str
    testing: str
    testing_again: str
    chicago: str


def _import_chicago(url: str) -> Imported:
    """``init``, ``db upgrade``, the testing file twice (first ``--by cli``), ``import chicago``."""
    testing = ["import", "cdph-daily-testing", str(FIXTURE_DATA / TESTING), "--db", url]
    init = _ok(["init", "--db", url])
    upgrade = _ok(["db", "upgrade", "--db", url])
    first = _ok([*testing, "--by", "cli"])
    again = _ok(testing)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SCHOOLMODE_DATA", str(FIXTURE_DATA))
        chicago = _ok(["import", "chicago", "--db", url])
    return Imported(url, init, upgrade, first, again, chicago)


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Imported]]:
    """The store of each backend (sqlite, postgresql) taken through ``_import_chicago``, made on
    first use and shared by the module's tests, which only read it."""
    made: dict[str, Imported] = {}
    with ExitStack() as stack:

        def get(kind: str) -> Imported:
            if kind not in made:
                folder = tmp_path_factory.mktemp(f"chicago-{kind}")
                made[kind] = _import_chicago(stack.enter_context(fresh_db_url(kind, folder)))
            return made[kind]

        yield get


@pytest.mark.parametrize("kind", BACKENDS)
def test_init_import_status(kind: str, imported: Callable[[str], Imported]) -> None:
    store = imported(kind)
    db_url = store.url
    assert f"schema {head_revision()}" in store.init
    head = head_revision()
    assert f"schema {head} -> {head}" in store.upgrade
    assert "cdph-daily-testing/citywide: import #1: 36138 rows, 36138 added" in store.testing
    assert "unchanged (same file as import #1)" in store.testing_again

    assert "cdph-daily-testing/citywide: unchanged" in store.chicago
    assert "cps-school-profiles/2022-2023: import" in store.chicago

    status = json.loads(_ok(["status", "--db", db_url, "--json"]))
    assert status["schema"] == head_revision()
    assert status["rows"]["school"] == 24
    assert status["rows"]["community_indicator"] > 36138
    last = {r["source"]: r for r in status["last_imports"]}
    assert last["cdph-daily-testing"]["imported_by"] == "cli"
    assert last["cps-school-profiles"]["dataset"] == "2022-2023"
    assert "last import per source" in _ok(["status", "--db", db_url])


@pytest.mark.parametrize("kind", BACKENDS)
def test_status_lists_each_series_and_whether_it_has_rows_on_a_day(
    kind: str, imported: Callable[[str], Imported]
) -> None:
    url = imported(kind).url
    within = json.loads(_ok(["status", "--db", url, "--series", "2021-03-01", "--json"]))
    tests = {s["metric"]: s for s in within["series"] if s["source"] == "cdph-daily-testing"}
    assert tests["total_tests"]["days"] == 1
    assert tests["total_tests"]["ends"] == "2021-11-24"
    after = json.loads(_ok(["status", "--db", url, "--series", "2022-08-01", "--json"]))
    assert all(s["days"] == 0 for s in after["series"] if s["source"] == "cdph-daily-testing")
    shown = " ".join(_ok(["status", "--db", url, "--series", "2022-08-01"]).split())
    assert "series have no rows on 2022-08-01" in shown
    bad = CliRunner().invoke(app, ["status", "--db", url, "--series", "2022/08/01"])
    assert bad.exit_code == 2
    assert "--series" in bad.output


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
    assert result.exit_code == 3  # no store: said in one line, how to make one, none created
    assert "no store at" in result.output
    assert str(tmp_path / "x.sqlite") in result.output
    assert "schoolmode init" in result.output
    assert "db upgrade" not in result.output
    assert not (tmp_path / "x.sqlite").exists()
    (tmp_path / "x.sqlite").touch()  # an empty file: not initialised, not to be upgraded
    result = CliRunner().invoke(app, ["status", "--db", url])
    assert result.exit_code == 3
    assert "is not initialised" in result.output
    assert "db upgrade" not in result.output
    assert (tmp_path / "x.sqlite").stat().st_size == 0
    _ok(["db", "upgrade", "--revision", "0001", "--db", url])  # an older schema: upgrade it
    result = CliRunner().invoke(app, ["status", "--db", url])
    assert result.exit_code == 3
    assert "at an older schema: run `schoolmode db upgrade`" in result.output
    _ok(["db", "upgrade", "--db", url])
    assert f"store: {url} ({tmp_path / 'x.sqlite'})" in _ok(["status", "--db", url])
    assert "cdph-daily-testing [chicago]" in _ok(["import", "sources"])


def test_import_chicago_gives_the_same_counts_on_sqlite_and_postgresql(
    imported: Callable[[str], Imported], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The acceptance check of the data issue: one command, two backends, identical status
    (the stores `import chicago` filled for the module; again here, it changes nothing)."""
    monkeypatch.setenv("SCHOOLMODE_DATA", str(FIXTURE_DATA))
    counts = {}
    for kind in ("sqlite", "postgresql"):
        url = imported(kind).url
        _ok(["init", "--db", url])
        _ok(["import", "chicago", "--db", url])
        status = json.loads(_ok(["status", "--db", url, "--json"]))
        counts[kind] = status["rows"]
    assert counts["sqlite"] == counts["postgresql"]
    assert counts["sqlite"]["school"] > 0
    assert counts["sqlite"]["community_indicator"] > 0


def test_a_short_file_is_refused_unless_removals_are_allowed(tmp_path: Path) -> None:
    """The first ten days of the testing file over the whole stored series: exit 1 with the
    count and the flag to pass, the store unchanged; with ``--allow-removals`` it imports."""
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    _ok(["init", "--db", url])
    _ok(["import", "cdph-daily-testing", str(FIXTURE_DATA / TESTING), "--db", url])
    before = json.loads(_ok(["status", "--json", "--db", url]))
    lines = (FIXTURE_DATA / TESTING).read_text().splitlines(keepends=True)
    short = tmp_path / "short.csv"
    short.write_text("".join(lines[:11]))
    args = ["import", "cdph-daily-testing", str(short), "--db", url]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1
    assert "would remove" in refused.output
    assert "--allow-removals" in refused.output
    assert "Traceback" not in refused.output
    assert json.loads(_ok(["status", "--json", "--db", url])) == before
    done = _ok([*args, "--allow-removals"])
    removed = re.search(r"([\d,]+) removed", done)
    assert removed is not None, done
    assert int(removed.group(1).replace(",", "")) > 0
    after = json.loads(_ok(["status", "--json", "--db", url]))
    assert after["rows"]["community_indicator"] < before["rows"]["community_indicator"]


def test_the_default_store_is_out_schoolmode_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --db or SCHOOLMODE_DB every command uses out/schoolmode.sqlite under the current
    folder: init creates it (and out/), status names it with its absolute path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCHOOLMODE_DB", raising=False)
    store = tmp_path / "out" / "schoolmode.sqlite"
    missing = CliRunner().invoke(app, ["status"])
    assert missing.exit_code == 3
    assert f"no store at sqlite:///out/schoolmode.sqlite ({store})" in missing.output
    assert not (tmp_path / "out").exists()
    assert "store ready at sqlite:///out/schoolmode.sqlite" in _ok(["init"])
    assert store.is_file()
    status = json.loads(_ok(["status", "--json"]))
    assert (status["store"], status["path"]) == ("sqlite:///out/schoolmode.sqlite", str(store))
