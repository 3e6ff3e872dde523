"""``district synth`` writes testing consent, so a fresh synthetic district can be screened;
``screening positivity`` reads the stored tests."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from schoolmode.cli.app import app
from tests.conftest import FIXTURE_DATA

PROFILES = (
    FIXTURE_DATA / "cps-schools" / "Chicago_Public_Schools_-_School_Profile_Information_SY2122.csv"
)


def _invoke(*args: str) -> str:
    out = CliRunner().invoke(app, list(args))
    assert out.exit_code == 0, out.output
    return out.output


def test_screening_plan_on_a_freshly_synthesised_district(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    _invoke("init", "--db", url)
    _invoke("import", "file", "cps-school-profiles", str(PROFILES), "--db", url)
    out = _invoke(
        "district", "synth", "--profiles", str(PROFILES), "--out", str(tmp_path / "d"),
        "--consent-share", "0.5", "--import", "--db", url,
    )  # fmt: skip
    assert "testing_consent" in out
    person = pl.read_csv(tmp_path / "d" / "person.csv", infer_schema=False)
    consent = pl.read_csv(tmp_path / "d" / "testing_consent.csv", infer_schema=False)
    roles = person.join(consent, on="person_id").group_by("role").len()
    share = dict(zip(roles["role"], roles["len"], strict=True))
    students = person.filter(pl.col("role") == "student").height
    assert abs(share["student"] / students - 0.5) < 0.05  # --consent-share 0.5
    staff = person.height - students
    staffed = share.get("classroom_teacher", 0) + share.get("other_staff", 0)
    assert abs(staffed / staff - 0.75) < 0.05  # the default staff share
    plan = json.loads(_invoke("screening", "plan", "--week", "2022-W04", "--db", url, "--json"))
    assert plan["policy_id"] == "cps-ctu-2022-01-10"
    totals = plan["totals"]
    # no December tests stored: every school is resourced for 10% of its students, and half
    # of them consented, so every target is met
    assert totals["students_consented"] > totals["student_target"] > 0
    assert totals["students_selected"] == totals["student_target"]
    assert totals["student_shortfall"] == 0
    assert totals["tests"] == totals["students_selected"]
    # the plan is stored; without lab results its positivity has nothing to count
    got = json.loads(
        _invoke("screening", "positivity", "--week", "2022-W04", "--db", url, "--json")
    )
    assert [(r["plan_id"], r["rule"], r["denominator"]) for r in got["plan"]] == [
        (plan["plan_id"], "by_test", 0),
        (plan["plan_id"], "by_person", 0),
    ]


def test_synth_without_consent_leaves_the_plan_short(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    _invoke("init", "--db", url)
    _invoke("import", "file", "cps-school-profiles", str(PROFILES), "--db", url)
    _invoke(
        "district", "synth", "--profiles", str(PROFILES), "--out", str(tmp_path / "d"),
        "--consent-share", "0", "--staff-consent-share", "0", "--import", "--db", url,
    )  # fmt: skip
    assert pl.read_csv(tmp_path / "d" / "testing_consent.csv").height == 0
    plan = json.loads(_invoke("screening", "plan", "--week", "2022-W04", "--db", url, "--json"))
    assert plan["totals"]["students_selected"] == 0
    assert plan["totals"]["student_shortfall"] == plan["totals"]["student_target"] > 0


def test_screening_positivity_of_stored_tests(tmp_path: Path) -> None:
    from schoolmode.app.context import open_context
    from schoolmode.cli.data import run_imports
    from schoolmode.importers.standard import StandardLayout

    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    _invoke("init", "--db", url)
    rows = [
        # screening, week of 2022-01-24: persons A (pos then neg), B neg, C invalid, a pool
        ("T1", "A", None, "2022-01-24", "positive", True),
        ("T2", "A", None, "2022-01-26", "negative", True),
        ("T3", "B", None, "2022-01-25", "negative", True),
        ("T4", "C", None, "2022-01-25", "invalid", True),
        ("T5", None, "P1", "2022-01-24", "negative", True),
        # diagnostic that week: D pos, E inconclusive
        ("T6", "D", None, "2022-01-30", "positive", False),
        ("T7", "E", None, "2022-01-27", "inconclusive", False),
        # outside the week
        ("T8", "F", None, "2022-01-31", "positive", True),
        ("T9", "F", None, "2022-01-23", "positive", False),
    ]
    tests = pl.DataFrame(
        rows,
        schema=["test_id", "person_id", "pool_id", "specimen_date", "result", "screening"],
        orient="row",
    ).with_columns(pl.lit("PCR").alias("test_type"))
    tests.write_csv(tmp_path / "test.csv")
    with open_context(db_url=url) as ctx:
        run_imports(ctx, [(StandardLayout("lab"), tmp_path / "test.csv")], None)
    got = json.loads(
        _invoke("screening", "positivity", "--week", "2022-W04", "--db", url, "--json")
    )
    assert got["tests"] == 7
    rates = {(r["kind"], r["rule"]): r for r in got["positivity"]}
    by_test = rates[("screening", "by_test")]
    assert (by_test["positive"], by_test["denominator"]) == (1, 4)  # T1 of T1, T2, T3, T5
    assert by_test["excluded_invalid"] == 1
    by_person = rates[("screening", "by_person")]
    assert (by_person["positive"], by_person["denominator"]) == (1, 2)  # A of A, B
    diagnostic = rates[("diagnostic", "by_test")]
    assert (diagnostic["positive"], diagnostic["denominator"]) == (1, 1)
    assert diagnostic["excluded_inconclusive"] == 1
    assert got["plan"] == []
    text = " ".join(_invoke("screening", "positivity", "--week", "2022-01-26", "--db", url).split())
    assert "7 stored test(s) with a specimen collected 2022-01-24 .. 2022-01-30" in text
    assert "25.00%" in text
    assert "no screening plan stored for this week" in text
