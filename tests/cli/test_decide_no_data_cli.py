"""``schoolmode decide`` on a day without the data its rules need: every unit-day lacking a
reading is stored as ``no_data`` (never the default mode), with a warning before and the counts
after, and an explanation that names the missing readings; an unknown policy writes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.store.tables import decision, decision_run
from tests.conftest import case_row, import_classroom, store_url

RUNNER = CliRunner()
SUMMER = "2022-08-01"  # inside the January 2022 agreement's term, after the school year


def _modes(store: Engine, scope: str) -> dict[str, str]:
    with store.connect() as conn:
        rows = conn.execute(
            select(decision.c.unit, decision.c.mode).where(decision.c.scope == scope)
        ).all()
    return {str(unit): str(mode) for unit, mode in rows}


def test_decide_on_a_day_without_school_records_stores_no_data(
    history_store: Engine, tmp_path: Path
) -> None:
    # a classroom of school SCH with one case reported on 2022-01-13: the school records of
    # the store end there
    import_classroom(history_store, tmp_path, [case_row("C1", "S1", dt.date(2022, 1, 12))])
    db = store_url(history_store)
    result = RUNNER.invoke(app, ["decide", "--date", SUMMER, "--db", db])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "rule flip-to-remote reads data that end before 2022-08-01" in out
    assert "positive cases reported (data end on 2022-01-13)" in out
    assert "1 of 1 classroom units have no data for rule flip-to-remote on 2022-08-01" in out
    assert "stored as no_data" in out
    assert _modes(history_store, "classroom") == {"3A": "no_data"}
    schools = _modes(history_store, "school")
    assert schools
    assert set(schools.values()) == {"no_data"}  # no staff records at all
    why = RUNNER.invoke(app, ["explain", "--date", SUMMER, "--classroom", "3A", "--db", db])
    assert why.exit_code == 0, why.output
    text = " ".join(why.output.split())
    assert "No mode is decided for classroom 3A on Monday 1 August 2022" in text
    assert "positive cases reported that day (the data end on Thursday 13 January 2022)" in text
    assert 'This rule could not be applied: "' in text
    assert 'The day is stored as "no data", not as "In person"' in text
    for internal in ("flip-to-remote", "positive_cases_reported", "no_data", "in_person"):
        assert internal not in text
    audit = RUNNER.invoke(app, ["audit", "reproduce", "1", "--db", db])
    assert audit.exit_code == 0, audit.output
    assert audit.output.startswith("identical")
    verify = RUNNER.invoke(app, ["audit", "verify", "--db", db])
    assert verify.exit_code == 0, verify.output


def test_a_day_with_records_is_decided_as_before(history_store: Engine, tmp_path: Path) -> None:
    """Within the records' days a count of zero is a reading: the classroom is in person the
    day before its case is reported and remote after it (not no_data)."""
    import_classroom(history_store, tmp_path, [case_row("C1", "S1", dt.date(2022, 1, 12))])
    db = store_url(history_store)
    result = RUNNER.invoke(
        app, ["decide", "--date", "2022-01-12", "--to", "2022-01-13", "--db", db]
    )
    assert result.exit_code == 0, result.output
    with history_store.connect() as conn:
        rows = conn.execute(
            select(decision.c.date, decision.c.mode).where(decision.c.scope == "classroom")
        ).all()
    assert sorted((str(d), str(m)) for d, m in rows) == [
        ("2022-01-12", "in_person"),
        ("2022-01-13", "in_person"),
    ]


def test_an_unknown_policy_is_refused_before_anything_is_written(history_store: Engine) -> None:
    db = store_url(history_store)
    result = RUNNER.invoke(app, ["decide", "--date", SUMMER, "--policy", "no-such", "--db", db])
    assert result.exit_code != 0
    assert "No policy with id 'no-such'" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    with history_store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(decision_run)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(decision)).scalar_one() == 0
