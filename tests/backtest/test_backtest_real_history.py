"""Backtests on Chicago's real history reproduce the facts of policies.md section 12."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from schoolmode.backtest.report import write_report
from schoolmode.backtest.run import Backtest, run_backtest
from schoolmode.backtest.summary import disagreements, headline, run_by_id, spells
from schoolmode.engine.settings import Settings
from schoolmode.importers import IMPORTERS
from schoolmode.metrics.frames import district_frame, school_frame, schools
from schoolmode.policy.loader import Registry
from schoolmode.store.db import make_engine
from tests.conftest import FIXTURE_DATA, POLICIES, SHARED_FIXTURE, copy_history

START, END = dt.date(2020, 9, 1), dt.date(2021, 11, 24)  # the by-test series ends on 2021-11-24
POLICY_IDS = [
    "cps-lbfo-2021-02-04",
    "ctu-demand-2021-02",
    "cps-ctu-2021-02-06",
    "ctu-proposal-2022-01-08",
    "cps-ctu-2022-01-10",
    "cdc-k12-2021-02-12",
]


@pytest.fixture(scope="module")
def history(
    tmp_path_factory: pytest.TempPathFactory, history_sqlite: Path
) -> dict[str, pl.DataFrame]:
    # a copy of the session's store of CDPH daily testing and cases and the CPS profiles
    engine = make_engine(copy_history(history_sqlite, tmp_path_factory.mktemp("bt")))
    district = district_frame(engine, START, END)
    return {"district": district, "school": school_frame(district, schools(engine))}


def _run(history: dict[str, pl.DataFrame], **kwargs: object) -> Backtest:
    """The policies over the whole period (a counterfactual, asked for) unless told."""
    registry = Registry(POLICIES)
    kwargs.setdefault("apply_over_whole_period", True)
    return run_backtest([registry.get(p).policy for p in POLICY_IDS], history, START, END, **kwargs)  # type: ignore[arg-type]


def test_the_mayors_25_percent_level_is_never_reached(history: dict[str, pl.DataFrame]) -> None:
    run = run_by_id(_run(history), "cps-lbfo-2021-02-04")
    assert not run.results["district"]["trigger.citywide-positivity"].any()
    peak = (
        history["district"]
        .sort("positivity_7d_pct", descending=True, nulls_last=True)
        .row(0, named=True)
    )
    assert peak["date"] == dt.date(2020, 11, 12)
    assert round(peak["positivity_7d_pct"], 2) == 15.89


def test_the_moa_trend_alone_is_met_on_26_march_2021(history: dict[str, pl.DataFrame]) -> None:
    trend_only = {
        "cps-ctu-2021-02-06": Settings(interpretations={"level_applies_to": "not_applied"})
    }
    backtest = _run(history, settings=trend_only, apply_over_whole_period=False)
    district = run_by_id(backtest, "cps-ctu-2021-02-06").results["district"]
    triggered = district.filter(pl.col("trigger.district-pause"))["date"].to_list()
    assert triggered[0] == dt.date(2021, 3, 26)
    assert any(d.month == 7 and d.year == 2021 for d in triggered), (
        "the trend clauses are met again in July 2021"
    )


def test_the_moa_never_pauses_in_its_term_under_the_default_reading(
    history: dict[str, pl.DataFrame],
) -> None:
    district = run_by_id(
        _run(history, apply_over_whole_period=False), "cps-ctu-2021-02-06"
    ).results["district"]
    in_term = district.filter(pl.col("date").is_between(dt.date(2021, 2, 11), dt.date(2021, 8, 24)))
    assert set(in_term["mode"].cast(pl.String).to_list()) == {"in_person"}
    for day in (dt.date(2021, 2, 11), dt.date(2021, 3, 1), dt.date(2021, 4, 19)):
        assert not in_term.filter(pl.col("date") == day)["trigger.district-pause"].item()


def test_applied_to_autumn_2020_the_moa_would_have_paused(history: dict[str, pl.DataFrame]) -> None:
    backtest = _run(history)
    district = run_by_id(backtest, "cps-ctu-2021-02-06").results["district"]
    pauses = spells(district, "chicago")
    assert pauses[0].start == dt.date(2020, 10, 30)
    assert (pauses[0].end - pauses[0].start).days + 1 == 14
    row = headline(backtest).filter(pl.col("policy") == "cps-ctu-2021-02-06").row(0, named=True)
    assert row["mean school days remote"] == 14.0, "a district pause closes every school"
    assert row["schools ever remote"] == history["school"]["unit"].n_unique()


def test_cdc_levels_on_the_return_dates(history: dict[str, pl.DataFrame]) -> None:
    school = run_by_id(_run(history), "cdc-k12-2021-02-12").results["school"]
    levels = school.filter(pl.col("unit") == school["unit"][0]).select(
        "date", "level.transmission-level"
    )
    by_day = dict(levels.iter_rows())
    assert by_day[dt.date(2021, 2, 11)] == "substantial"
    assert by_day[dt.date(2021, 3, 1)] == "substantial"
    assert by_day[dt.date(2021, 4, 19)] == "high"


def test_ctu_demand_keeps_the_district_remote_on_the_k5_return(
    history: dict[str, pl.DataFrame],
) -> None:
    district = run_by_id(_run(history), "ctu-demand-2021-02").results["district"]
    assert (
        district.filter(pl.col("date") == dt.date(2021, 3, 1))["mode"].cast(pl.String).item()
        == "remote"
    )


def test_report_headline_and_disagreements(
    history: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    backtest = _run(history)
    table = headline(backtest)
    assert table["policy"].to_list() == POLICY_IDS
    row = table.filter(pl.col("policy") == "cps-lbfo-2021-02-04").row(0, named=True)
    assert row["district days remote"] == 0
    differ = disagreements(backtest)
    pair = differ.filter(
        (pl.col("policy_a") == "cps-lbfo-2021-02-04") & (pl.col("policy_b") == "ctu-demand-2021-02")
    )
    assert pair.height > 300
    # CTU's starting position (below 3%) until 2 February 2021, the CDC column from the 3rd
    assert set(pair["rule_b"].drop_nulls().to_list()) == {"start-below-3pct", "cdc-lower-risk"}
    files = write_report(backtest, tmp_path / "report")
    markdown = files["report.md"].read_text(encoding="utf-8")
    assert "| cps-lbfo-2021-02-04 | offer | 0 | 0 |" in markdown
    assert "timeline.png" in markdown
    html = files["report.html"].read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 3
    assert pl.read_parquet(files["modes-district"]).height > 0


def test_backtest_command_writes_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from schoolmode.cli.app import app

    monkeypatch.setenv("SCHOOLMODE_DATA", str(FIXTURE_DATA))
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", url]).exit_code == 0
    for source in ("cdph-daily-testing", "cdph-daily-cases", "cps-school-profiles"):
        for path in IMPORTERS[source].default_paths(SHARED_FIXTURE / "data"):
            result = runner.invoke(app, ["import", source, str(path), "--db", url])
            assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "backtest",
            "--db",
            url,
            "--from",
            "2020-09-01",
            "--to",
            "2021-11-24",
            "--policies",
            "cps-lbfo-2021-02-04,cps-ctu-2021-02-06",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "report.md").exists()
    assert (out / "report.html").exists()
    bad = runner.invoke(
        app, ["backtest", "--db", url, "--policies", "no-such-policy", "--out", str(out)]
    )
    assert bad.exit_code == 4  # an unknown id (docs/exit-codes.md)
    assert "No policy with id 'no-such-policy'" in bad.output


def test_a_district_only_policy_closes_every_school(history: dict[str, pl.DataFrame]) -> None:
    row = (
        headline(_run(history)).filter(pl.col("policy") == "ctu-demand-2021-02").row(0, named=True)
    )
    assert row["schools ever remote"] == history["school"]["unit"].n_unique()
    assert row["mean school days remote"] == float(row["district days remote"])
