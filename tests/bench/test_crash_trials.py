"""The crash-trial script (issue 12, item 7) runs: 2 kills per scenario on SQLite and
PostgreSQL with the small fixture inputs, every store before or after, every rerun fine; and
its state comparison sees what it must (a half-written import) and ignores what it must (the
time of an import, the ids a killed PostgreSQL transaction drew). No timing assertions."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import text

from schoolmode.importers import IMPORTERS
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import upgrade
from schoolmode.store.service import run_import
from tests.bench import load_bench
from tests.conftest import FIXTURE_DATA, fresh_db_url, pg_admin_url

TESTING = IMPORTERS["cdph-daily-testing"].default_paths(FIXTURE_DATA)[0]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("crash_trials")


def test_one_trial_per_scenario_and_database(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["--trials", "1", "--data", str(FIXTURE_DATA), "--schools", "12"]
    status = bench.main([*argv, "--pg-url", pg_admin_url(), "--out", str(out)])
    with (out / "crash_trials.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert (out / "others.txt").read_text() == ""
    assert status == 0
    assert [(r["scenario"], r["database"]) for r in rows] == [
        (s, d) for d in ("sqlite", "postgresql") for s in ("single", "synth", "chicago")
    ]
    for row in rows:
        assert row["trials"] == "1"
        assert int(row["before"]) + int(row["after"]) == 1
        assert row["other"] == "0"
        assert row["rerun ok"] == "1"
    assert "| single | sqlite |" in (out / "crash_trials.md").read_text()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_state_ignores_import_times_and_ids_but_not_a_stray_row(
    bench: ModuleType, tmp_path: Path, kind: str
) -> None:
    (tmp_path / "a").mkdir()
    with fresh_db_url(kind, tmp_path / "a") as first, fresh_db_url(kind, tmp_path) as second:
        states = []
        for url, wasted in ((first, 0), (second, 3)):
            engine = make_engine(url)
            upgrade(engine)
            if kind == "postgresql":  # ids a killed transaction drew are not given back
                with engine.begin() as conn:
                    for _ in range(wasted):
                        conn.execute(text("SELECT nextval('import_log_id_seq')"))
            run_import(engine, IMPORTERS["cdph-daily-testing"], TESTING, imported_by="t")
            engine.dispose()
            states.append(bench.snapshot(url))
        assert states[0] == states[1]
        assert states[0].chain == "intact"
        engine = make_engine(second)
        with engine.begin() as conn:  # a row the import did not write
            conn.execute(
                text(
                    "INSERT INTO community_indicator (source, geography_type, geography, date, "
                    "period_days, metric, value, import_id) SELECT 'cdph', 'city', 'Chicago', "
                    ":day, 1, 'stray', 1.0, max(id) FROM import_log"
                ),
                {"day": dt.date(2019, 1, 1)},
            )
        engine.dispose()
        stray = bench.snapshot(second)
        assert stray != states[0]
        assert [d.split(":")[0] for d in stray.differences(states[0])] == ["community_indicator"]
