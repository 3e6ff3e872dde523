"""``schoolmode fetch`` through the command line, against the publishers served on 127.0.0.1:
every Chicago source fetched and imported on SQLite and PostgreSQL, the app token sent and
never printed, errors printed without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from schoolmode.cli.app import app
from schoolmode.importers import CHICAGO
from tests.conftest import BACKENDS, fresh_db_url
from tests.fetch.conftest import publisher_env
from tests.fetch.publisher import Publisher

TOKEN = "app-token-not-to-be-printed"


@pytest.fixture
def env(
    publisher: Publisher,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """The environment of a command whose fetches go to ``publisher``; the cache folder."""
    cache = tmp_path / "cache"
    for name, value in publisher_env(publisher.base, cache).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SCHOOLMODE_SOCRATA_APP_TOKEN", TOKEN)
    return cache


def _run(args: list[str]) -> Result:
    return CliRunner().invoke(app, args)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fetch_chicago_imports_every_chicago_source(
    env: Path,
    publisher: Publisher,
    tmp_path: Path,
    backend: str,
) -> None:
    with fresh_db_url(backend, tmp_path) as url:
        assert _run(["init", "--db", url]).exit_code == 0
        first = _run(["fetch", "chicago", "--db", url, "--by", "fetch-test"])
        assert first.exit_code == 0, first.output
        for imp in CHICAGO:
            assert f"{imp.source}: " in first.output
            assert all(p.is_file() for p in imp.default_paths(env / "fetch"))
        assert first.output.count(", new, sha256 ") == 8
        assert first.output.count(": import #") == 8
        assert "licence: City of Chicago Data Portal terms of use" in first.output
        again = _run(["fetch", "chicago", "--db", url])
        assert again.exit_code == 0, again.output
        assert again.output.count(", unchanged, sha256 ") == 8
        assert again.output.count(": unchanged (same file as import #") == 8
        status = json.loads(_run(["status", "--db", url, "--json"]).output)
    assert {r["source"] for r in status["last_imports"]} == {imp.source for imp in CHICAGO}
    assert {r["imported_by"] for r in status["last_imports"]} == {"fetch-test"}
    assert status["rows"]["school_case_report"] == 152810


def test_the_app_token_goes_to_the_chicago_portal_only_and_is_never_printed(
    env: Path, publisher: Publisher
) -> None:
    result = _run(["fetch", "cdph-population", "--no-import"])
    assert result.exit_code == 0, result.output
    assert "cdph-population: Chicago_Population_Counts.csv: 120 rows, new" in result.output
    others = _run(["fetch", "cps-school-covid-cases", "--no-import"])
    assert others.exit_code == 0, others.output
    assert _run(["fetch", "sociopatterns"]).exit_code == 0
    assert _run(["fetch", "ontario-school-cases", "--no-import"]).exit_code == 0
    sent = {(r.site, r.headers.get("X-App-Token")) for r in publisher.requests_to("/")}
    assert sent == {
        ("chicago", TOKEN),
        ("github", None),
        ("sociopatterns", None),
        ("ontario", None),
        ("", None),
    }
    assert TOKEN not in result.output + others.output


def test_a_changed_schema_exits_1_naming_the_column(
    env: Path,
    publisher: Publisher,
) -> None:
    publisher.datasets["85cm-7uqa"].columns[3] = "Population - All"
    result = _run(["fetch", "cdph-population", "--no-import"])
    assert result.exit_code == 1
    assert "cdph-population: not fetched:" in result.output
    assert "missing column(s) 'Population - Total'" in result.output
    assert "Traceback" not in result.output


def test_bad_arguments_exit_2_without_a_traceback(env: Path) -> None:
    unknown = _run(["fetch", "nowhere", "--no-import"])
    assert unknown.exit_code == 2
    assert "cannot fetch 'nowhere'" in unknown.output
    since = _run(["fetch", "cdph-daily-cases", "--since", "last week", "--no-import"])
    assert since.exit_code == 2
    assert "--since 'last week' is not a date written YYYY-MM-DD" in since.output
    assert "Traceback" not in unknown.output + since.output
