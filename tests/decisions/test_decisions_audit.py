"""Daily decisions, their audit records and `audit reproduce`, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.decisions.answers import authorise
from schoolmode.decisions.audit import reproduce
from schoolmode.decisions.record import (
    DecisionError,
    decide,
    policy_in_force,
    stored_explanation,
)
from schoolmode.importers import IMPORTERS
from schoolmode.policy.errors import UnknownIdError
from schoolmode.policy.loader import Registry
from schoolmode.store.service import run_import
from schoolmode.store.tables import authorisation
from tests.conftest import FIXTURE_DATA, POLICIES

REGISTRY = Registry(POLICIES)
TESTING = "cdph-daily-testing"


def _corrected(tmp_path: Path, day: str) -> Path:
    source = IMPORTERS[TESTING].default_paths(FIXTURE_DATA)[0]
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    head = rows[0]
    for row in rows[1:]:
        if row[head.index("Date")] == day:
            row[head.index("Positive Tests")] = str(
                int(row[head.index("Positive Tests")].replace(",", "")) * 3
            )
    target = tmp_path / "corrected.csv"
    with target.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return target


def test_decide_reproduce_correct_and_append_only(history_store: Engine, tmp_path: Path) -> None:
    store = history_store  # the fixture history, imported once per session
    day = dt.date(2021, 3, 26)
    loaded = policy_in_force(REGISTRY, day)
    assert loaded.id == "cps-ctu-2021-02-06"
    summary = decide(store, loaded, day)
    assert summary.decisions > 1  # the district and every school
    assert "school.school_cases" in summary.missing_metrics
    report = reproduce(store, summary.run_id, REGISTRY)
    assert report.identical, report.render()
    assert report.render().startswith("identical")
    # A late correction to the data is imported: the audit names the values that changed.
    run_import(store, IMPORTERS[TESTING], _corrected(tmp_path, "03/20/2021"))
    after = reproduce(store, summary.run_id, REGISTRY)
    assert not after.identical
    rendered = after.render()
    assert "a late correction" in rendered
    assert "district chicago on 2021-03-20: positivity_7d_pct was 3.38" in rendered
    # Audit records are append-only, enforced by the database itself.
    for statement in (
        "UPDATE decision SET mode = 'pause'",
        "DELETE FROM decision_run",
        "UPDATE decision_run SET policy_hash = 'x'",
    ):
        with pytest.raises(Exception, match="append-only"), store.begin() as conn:
            conn.execute(text(statement))


def test_explanations_for_a_day_with_and_without_a_rule(history_store: Engine) -> None:
    store = history_store  # the fixture history, imported once per session
    k12 = REGISTRY.get("cdc-k12-2021-02-12")
    run = decide(store, k12, dt.date(2021, 4, 19))
    assert run.not_default > 0
    with store.connect() as conn:
        school = conn.execute(
            text(
                "SELECT unit FROM decision WHERE scope = 'school' AND status != 'in_person' "
                "AND run_id = :r LIMIT 1"
            ),
            {"r": run.run_id},
        ).scalar_one()
    _, fired = stored_explanation(store, "school", school, dt.date(2021, 4, 19))
    assert "level high" in fired
    assert "new cases per 100k, past 7 days 154.27 gives level high" in fired
    moa = decide(store, REGISTRY.get("cps-ctu-2021-02-06"), dt.date(2021, 3, 1))
    _, quiet = stored_explanation(store, "district", "chicago", dt.date(2021, 3, 1))
    assert "because no rule was met" in quiet
    # the fixture history has no school case records: a metric the store lacks altogether is
    # listed as missing (decide prints it), not a series that ended (no no_data)
    assert "school.school_cases" in moa.missing_metrics
    assert moa.not_default == 0


def test_bad_input_says_what_is_missing(history_store: Engine) -> None:
    store = history_store  # the fixture history, imported once per session
    with pytest.raises(
        DecisionError,
        match=r"no citywide data for 2022-01-20: positivity_7d_pct runs through 2021-11-24",
    ):
        decide(store, REGISTRY.get("cdc-k12-2021-02-12"), dt.date(2022, 1, 20))
    with pytest.raises(
        DecisionError, match=r"in force from 2022-01-11 to 2022-08-26, not on 2021-03-26"
    ):
        decide(store, REGISTRY.get("cps-ctu-2022-01-10"), dt.date(2021, 3, 26))
    with pytest.raises(
        DecisionError, match="no ratified agreement of Chicago is in force on 2020-10-01"
    ):
        policy_in_force(REGISTRY, dt.date(2020, 10, 1))
    decide(store, REGISTRY.get("cps-ctu-2021-02-06"), dt.date(2021, 3, 1))
    with pytest.raises(UnknownIdError, match=r"no school 'nope' in the store.*Known school ids"):
        stored_explanation(store, "school", "nope", dt.date(2021, 3, 1))
    with store.connect() as conn:
        known = conn.execute(
            text("SELECT unit FROM decision WHERE scope = 'school' LIMIT 1")
        ).scalar_one()
    # a school the store knows, on a day not decided: decide first (not an unknown id)
    with pytest.raises(DecisionError, match=r"on 2021-03-02: run `schoolmode decide") as err:
        stored_explanation(store, "school", str(known), dt.date(2021, 3, 2))
    assert not isinstance(err.value, UnknownIdError)


def test_authorisations_only_for_eligible_rules_and_known_units(history_store: Engine) -> None:
    store = history_store  # the fixture history: CPS school profiles, no classrooms
    loaded = REGISTRY.get("cps-ctu-2022-01-10")
    key = authorise(
        store,
        loaded,
        "teacher-absences",
        "610067",
        dt.date(2022, 1, 20),
        "CPS Tactical Team",
        "30% of teachers out two days; substitutes short",
    )
    assert key > 0
    with pytest.raises(DecisionError, match="acts automatically"):
        authorise(store, loaded, "flip-to-remote", "room-1", dt.date(2022, 1, 20), "x", "y")
    with pytest.raises(DecisionError, match="needs a reason"):
        authorise(store, loaded, "teacher-absences", "610067", dt.date(2022, 1, 20), "x", " ")
    with pytest.raises(DecisionError, match=r"no school '999999' in the store.*nothing recorded"):
        authorise(store, loaded, "teacher-absences", "999999", dt.date(2022, 1, 20), "x", "y")
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(authorisation)).scalar_one() == 1


def test_cli_decide_explain_reproduce(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", url]).exit_code == 0
    for source in (TESTING, "cdph-daily-cases", "cps-school-profiles"):
        for path in IMPORTERS[source].default_paths(FIXTURE_DATA):
            assert runner.invoke(app, ["import", source, str(path), "--db", url]).exit_code == 0
    made = runner.invoke(
        app, ["decide", "--date", "2021-03-26", "--db", url, "--policies-dir", str(POLICIES)]
    )
    assert made.exit_code == 0, made.output
    assert "under cps-ctu-2021-02-06" in made.output
    why = runner.invoke(
        app, ["explain", "--district", "chicago", "--date", "2021-03-26", "--db", url]
    )
    assert why.exit_code == 0, why.output
    assert "4.43% is not at least 10.0%" in why.output
    assert "level_threshold_pct" not in why.output
    technical = runner.invoke(
        app,
        ["explain", "--district", "chicago", "--date", "2021-03-26", "--db", url, "--technical"],
    )
    assert technical.exit_code == 0, technical.output
    assert "4.43 is not at least 10.0%" in technical.output
    assert "level_threshold_pct = 10.0" in technical.output
    public = runner.invoke(
        app,
        ["explain", "--district", "chicago", "--date", "2021-03-26", "--db", url, "--public"],
    )
    assert public.exit_code == 0, public.output
    assert "under half the threshold" in public.output, "a band, not the figure"
    assert "4.43" not in public.output
    spanish = ["explain", "--district", "chicago", "--date", "2021-03-26", "--db", url]
    por_que = runner.invoke(app, [*spanish, "--lang", "es"])
    assert por_que.exit_code == 0, por_que.output
    assert (
        'El viernes, 26 de marzo de 2021, el distrito chicago tiene la modalidad "Aprendizaje '
        'presencial"'
    ) in " ".join(por_que.output.split())
    assert "4.43% no es al menos 10.0%" in por_que.output
    assert "(ejecución de decisión 1; `schoolmode audit reproduce 1`" in por_que.output
    unknown = runner.invoke(app, [*spanish, "--lang", "fr"])
    assert unknown.exit_code == 2
    assert "--lang: unsupported language 'fr'; supported: en, es" in unknown.output
    same = runner.invoke(
        app, ["audit", "reproduce", "1", "--db", url, "--policies-dir", str(POLICIES)]
    )
    assert same.exit_code == 0, same.output
    assert same.output.startswith("identical")
    none = runner.invoke(
        app, ["decide", "--date", "2024-01-08", "--db", url, "--policies-dir", str(POLICIES)]
    )
    assert none.exit_code == 2
    assert "no ratified agreement of Chicago is in force on 2024-01-08" in none.output


def test_explain_a_day_inside_a_stored_range(history_store: Engine) -> None:
    store = history_store  # the fixture history, imported once per session
    decide(store, REGISTRY.get("cps-ctu-2021-02-06"), dt.date(2021, 3, 1), dt.date(2021, 4, 30))
    _, text_ = stored_explanation(store, "district", "chicago", dt.date(2021, 3, 26))
    assert 'On Friday 26 March 2021, the mode for district chicago is "In person"' in text_
    assert "4.43% is not at least 10.0%" in text_


def test_a_policy_reading_no_citywide_metric_needs_no_citywide_data(history_store: Engine) -> None:
    """The January 2022 agreement reads school and classroom data only: the end of the citywide
    positivity series (November 2021) does not stop a decision in January 2022."""
    store = history_store  # the fixture history, imported once per session
    summary = decide(store, REGISTRY.get("cps-ctu-2022-01-10"), dt.date(2022, 1, 20))
    assert summary.decisions > 0
