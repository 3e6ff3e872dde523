"""``schoolmode decide`` after CDPH's daily by-test series ends (2021-11-24): the citywide
positivity is derived from the weekly ZIP-code tests (docs/metrics.md), a level rule reads
it, and a rule on its daily rises has no data (``no_data``, never "not met"), with an
explanation that says why."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.store.db import make_engine
from schoolmode.store.tables import decision
from tests.conftest import shipped_cdph_store

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The shipped snapshot's daily tests, daily cases and ZIP weekly series (no schools)."""
    return shipped_cdph_store(tmp_path_factory.mktemp("decide-derived") / "store.sqlite")


def _district_mode(db: str) -> str:
    """The district's mode in the store's last decision run (each test decides one)."""
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            last = conn.execute(select(func.max(decision.c.run_id))).scalar_one()
            return str(
                conn.execute(
                    select(decision.c.mode).where(
                        decision.c.run_id == last, decision.c.scope == "district"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_a_rule_on_daily_rises_has_no_data_on_derived_days(db: str) -> None:
    result = RUNNER.invoke(
        app, ["decide", "--date", "2022-01-12", "--policy", "ctu-proposal-2022-01-08", "--db", db]
    )
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert (
        "1 of 1 district units have no data for rule district-pause on 2022-01-12 "
        "(CDPH 7-day test positivity from weekly figures, no daily change): stored as no_data"
    ) in out
    assert _district_mode(db) == "no_data"
    why = RUNNER.invoke(
        app, ["explain", "--date", "2022-01-12", "--district", "chicago", "--db", db]
    )
    assert why.exit_code == 0, why.output
    text = " ".join(why.output.split())
    assert (
        "No mode is decided for district chicago on Wednesday 12 January 2022, because test "
        "positivity over 7 days came from weekly figures that day or the day before, and a "
        "weekly figure shows no rise or fall from one day to the next."
    ) in text
    assert '"District pause when citywide positivity rises seven days running"' in text


def test_a_level_rule_reads_the_derived_positivity(db: str) -> None:
    """CTU's return condition of 4 January 2022: derived positivity 21.2% on the 4th (at or
    above 10%), so the district works remotely on the 5th, and the explanation says the
    figure is derived."""
    result = RUNNER.invoke(
        app, ["decide", "--date", "2022-01-05", "--policy", "ctu-resolution-2022-01-04", "--db", db]
    )
    assert result.exit_code == 0, result.output
    assert _district_mode(db) == "remote"
    why = RUNNER.invoke(
        app, ["explain", "--date", "2022-01-05", "--district", "chicago", "--db", db]
    )
    assert why.exit_code == 0, why.output
    text = " ".join(why.output.split())
    assert 'the mode for district chicago is "Remote learning"' in text
    assert "derived from the weekly ZIP-code tests" in text
