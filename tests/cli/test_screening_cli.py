from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from schoolmode.cli.app import app


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_screening_results(tmp_path: Path) -> None:
    members = _write(
        tmp_path / "pools.csv",
        "person_id,pool_id\n" + "".join(f"S{i},P{i // 4 + 1}\n" for i in range(8)),
    )
    results = _write(
        tmp_path / "results.csv",
        "pool_id,result,specimen_date\nP1,negative,2021-03-01\nP2,invalid,2021-03-01\n",
    )
    out = CliRunner().invoke(
        app, ["screening", "results", str(results), "--assignments", str(members)]
    )
    assert out.exit_code == 0, out.output
    assert "4 negative, 0 positive, 4 to retest" in out.output
    assert "excluded 1 invalid" in out.output
    assert "retest S4 (pool P2): pool_invalid" in out.output


def test_screening_results_names_bad_row(tmp_path: Path) -> None:
    members = _write(tmp_path / "pools.csv", "person_id,pool_id\nS1,P1\n")
    results = _write(
        tmp_path / "results.csv",
        "pool_id,result,specimen_date\nP1,negative,2021-03-01\nP7,negative,2021-03-01\n",
    )
    out = CliRunner().invoke(
        app, ["screening", "results", str(results), "--assignments", str(members)]
    )
    assert out.exit_code == 2
    assert "pool result row 2: field 'pool_id': 'P7'" in out.output
    future = _write(
        tmp_path / "future.csv", "pool_id,result,specimen_date\nP1,negative,2031-03-01\n"
    )
    out = CliRunner().invoke(
        app,
        [
            "screening",
            "results",
            str(future),
            "--assignments",
            str(members),
            "--today",
            "2021-03-02",
        ],
    )
    assert out.exit_code == 2
    assert "row 1: field 'specimen_date': 2031-03-01 is after today" in out.output


# ---------------------------------------------------------------- stored plans, end to end


def _small_district(tmp_path: Path) -> tuple[str, list[str]]:
    """A small synthetic district (the fixture's 37 school profiles) in a fresh SQLite store,
    with weekly ZIP cases for the schools' ZIP codes and testing consent for some persons."""
    import datetime as dt

    import polars as pl

    from schoolmode.app.context import open_context
    from schoolmode.cli.data import run_imports
    from schoolmode.importers.standard import StandardLayout
    from schoolmode.synth.consent import synth_consent
    from tests.conftest import FIXTURE_DATA

    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    profiles = (
        FIXTURE_DATA
        / "cps-schools"
        / "Chicago_Public_Schools_-_School_Profile_Information_SY2122.csv"
    )
    runner = CliRunner()
    for args in (
        ["init", "--db", url],
        ["import", "file", "cps-school-profiles", str(profiles), "--db", url],
        [
            "district",
            "synth",
            "--profiles",
            str(profiles),
            "--out",
            str(tmp_path / "d"),
            "--consent-share",  # this test writes its own consent (8% of students)
            "0",
            "--staff-consent-share",
            "0",
            "--import",
            "--db",
            url,
        ],
    ):
        out = runner.invoke(app, args)
        assert out.exit_code == 0, out.output
    person = pl.read_csv(tmp_path / "d" / "person.csv", infer_schema=False)
    consent = synth_consent(person, 0.08, 0.9, dt.date(2021, 8, 1), seed=1)
    consent.write_csv(tmp_path / "testing_consent.csv")
    zips = sorted(pl.read_csv(profiles, infer_schema=False)["Zip"].drop_nulls().unique().to_list())
    weeks = [dt.date(2021, 11, 28) + dt.timedelta(days=7 * w) for w in range(10)]
    pl.DataFrame(
        [
            {
                "source": "cdph-zip-weekly",
                "geography_type": "zip",
                "geography": z,
                "date": w,
                "period_days": 7,
                "metric": "cases_weekly",
                "value": float(10 + i),
            }
            for i, z in enumerate(zips)
            for w in weeks
        ]
    ).write_csv(tmp_path / "community_indicator.csv")
    with open_context(db_url=url) as ctx:
        run_imports(
            ctx,
            [
                (StandardLayout("test"), tmp_path / "testing_consent.csv"),
                (StandardLayout("test"), tmp_path / "community_indicator.csv"),
            ],
            None,
        )
    return url, zips


def _flat(text: str) -> str:
    """Console output with line wrapping undone."""
    return " ".join(text.split())


def test_plan_results_exceptions_end_to_end(tmp_path: Path) -> None:
    import json

    url, _ = _small_district(tmp_path)
    runner = CliRunner()
    out = runner.invoke(
        app, ["screening", "plan", "--week", "2022-W04", "--seed", "11", "--db", url]
    )
    assert out.exit_code == 0, out.output
    assert "plan 1: cps-ctu-2022-01-10, week of 2022-01-24 (2022W04), seed 11" in _flat(out.output)
    assert "consent shortfall at" in _flat(out.output)
    out = runner.invoke(
        app, ["screening", "plan", "--week", "2022-01-26", "--seed", "11", "--db", url, "--json"]
    )
    assert out.exit_code == 0, out.output
    plan = json.loads(out.output)
    assert plan["plan_id"] == 2
    schools = plan["schools"]
    assert sum(s["student_target"] for s in schools) == plan["totals"]["student_target"]
    # 8% consented against a 10% target: every school falls short, none over-selects
    assert all(s["students_selected"] <= s["students_consented"] for s in schools)
    assert all(
        s["student_shortfall"] == s["student_target"] - s["students_selected"] for s in schools
    )
    assert plan["totals"]["student_shortfall"] > 0
    # same week and seed: the same persons (plan 1 and plan 2)
    from schoolmode.operations.screening_store import load_plan
    from schoolmode.store.db import make_engine

    engine = make_engine(url)
    try:
        a, b = load_plan(engine, 1), load_plan(engine, 2)
    finally:
        engine.dispose()
    assert a.members.equals(b.members)
    pools = b.members["pool_id"].unique().sort().to_list()
    person = b.members.filter(b.members["pool_id"] == pools[1])["person_id"][0]
    results = _write(
        tmp_path / "lab.csv",
        "specimen_id,pool_id,person_id,result,specimen_date\n"
        f"L1,{pools[0]},,negative,2022-01-24\n"
        f"L2,{pools[1]},,positive,2022-01-24\n"
        f"L3,{pools[2]},,invalid,2022-01-24\n"
        f"L4,,{person},positive,2022-01-25\n"
        "L5,2022W04-000000-S001,,negative,2022-01-24\n"
        f"L6,{pools[3]},,negative,2022-02-24\n",
    )
    out = runner.invoke(
        app, ["screening", "results", str(results), "--today", "2022-01-28", "--db", url]
    )
    assert out.exit_code == 0, out.output
    assert "6 row(s) for plan 2" in _flat(out.output)
    assert "4 stored, 0 unchanged (already stored), 2 to the exceptions queue" in _flat(out.output)
    assert "field 'pool_id': '2022W04-000000-S001': unknown_pool" in _flat(out.output)
    assert "field 'specimen_date': '2022-02-24': future_specimen_date" in _flat(out.output)
    assert "1 positive" in _flat(out.output)
    assert "pool_invalid" in _flat(out.output)
    again = runner.invoke(
        app, ["screening", "results", str(results), "--today", "2022-01-28", "--db", url]
    )
    assert "0 stored, 4 unchanged" in _flat(again.output)
    out = runner.invoke(app, ["screening", "exceptions", "--db", url])
    assert out.exit_code == 0, out.output
    assert "4 open screening exception(s)" in _flat(out.output)
    out = runner.invoke(
        app, ["screening", "exceptions", "--db", url, "--resolve", "1", "--note", "pool resent"]
    )
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["screening", "exceptions", "--db", url, "--all", "--json"])
    rows = json.loads(out.output)
    assert [r["status"] for r in rows] == ["resolved", "open", "open", "open"]
    out = runner.invoke(
        app, ["screening", "exceptions", "--db", url, "--resolve", "1", "--note", "again"]
    )
    assert out.exit_code == 2
    assert "already resolved" in _flat(out.output)
    # a malformed file names file, row, field and value; nothing is stored
    bad = _write(
        tmp_path / "bad.csv",
        f"specimen_id,pool_id,result,specimen_date\nM1,{pools[4]},negative,24/01/2022\n",
    )
    out = runner.invoke(app, ["screening", "results", str(bad), "--db", url])
    assert out.exit_code == 2
    assert "row 1: field 'specimen_date': '24/01/2022'" in _flat(out.output)


def test_plan_without_a_policy_in_force_is_an_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", url]).exit_code == 0
    out = runner.invoke(app, ["screening", "plan", "--week", "2021-10-04", "--db", url])
    assert out.exit_code == 2
    assert "no screening agreement in force in the week of 2021-10-04" in _flat(out.output)
    out = runner.invoke(app, ["screening", "results", "x.csv", "--db", url])
    assert out.exit_code == 2
    assert "no screening plan in the store" in _flat(out.output)
