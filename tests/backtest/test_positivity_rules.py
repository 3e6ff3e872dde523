"""The backtest report covers January 2022 for every rule on citywide test positivity and says
which series each read (issue 15, item 7): the daily by-test series ends on 2021-11-24, so
January's positivity is derived from the weekly ZIP-code tests; level and threshold rules read
it, rules on daily rises have no data. On the shipped snapshot, through the CLI."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from schoolmode.backtest.positivity import defaults, positivity_reads
from schoolmode.cli.app import app
from schoolmode.cli.backtest import CHICAGO_POLICIES
from schoolmode.policy.loader import shipped_registry

RUNNER = CliRunner()
DERIVED = "derived from the weekly ZIP-code tests (cdph-zip-weekly)"
BY_TEST = "daily, by test (cdph-daily-testing)"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('positivity-rules') / 'store.sqlite'}"
    for command in (["init"], ["import", "chicago"]):
        result = RUNNER.invoke(app, [*command, "--db", url])
        assert result.exit_code == 0, result.output
    return url


def _rules(db: str, out: Path, *args: str) -> pl.DataFrame:
    result = RUNNER.invoke(app, ["backtest", *args, "--db", db, "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    assert "## Rules on citywide test positivity" in report
    return pl.read_csv(out / "positivity-rules.csv", try_parse_dates=True)


def _positivity_rules() -> set[tuple[str, str]]:
    registry = shipped_registry()
    return {
        (policy, rule.id)
        for policy in CHICAGO_POLICIES
        for rule in registry.get(policy).policy.rules
        if positivity_reads(rule, defaults(registry.get(policy).policy))[0]
    }


def test_every_positivity_rule_over_january_2022_on_the_derived_series(
    db: str, tmp_path: Path
) -> None:
    rules = _rules(db, tmp_path, "--from", "2022-01-01", "--to", "2022-01-31", "--counterfactual")
    expected = _positivity_rules()
    # the mayor's 25%, CTU's demands (3%, then the CDC column) and return condition, the 2021
    # agreement's and CTU's January pauses, the CDC levels of 2020 and 2021
    assert len(expected) == 10
    assert ("ctu-resolution-2022-01-04", "remote-until-below-10") in expected
    assert set(zip(rules["policy"], rules["rule"], strict=True)) == expected
    # CTU's starting position (3%) gave way on 3 February 2021 (its parameter ends there)
    start = rules.filter(pl.col("rule") == "start-below-3pct").row(0, named=True)
    assert (start["series"], start["days"]) == (
        "does not apply (a parameter it reads has no value)",
        0,
    )
    rules = rules.filter(pl.col("rule") != "start-below-3pct")
    assert set(rules["series"]) == {DERIVED}
    assert set(rules["first"].cast(pl.String)) == {"2022-01-01"}
    assert set(rules["last"].cast(pl.String)) == {"2022-01-31"}
    assert set(rules["days"]) == {31}
    by_rule = {(r["policy"], r["rule"]): r for r in rules.iter_rows(named=True)}
    # rules on daily rises: no data on any day (a weekly value does not rise day by day)
    for policy in ("cps-ctu-2021-02-06", "cps-ctu-2021-04-15-hs", "ctu-proposal-2022-01-08"):
        row = by_rule[(policy, "district-pause")]
        assert (row["kind"], row["days without data"], row["days met"]) == ("trend", 31, 0)
    # the mayor's 25% is never reached: the highest derived 7-day positivity is 21.2%
    lbfo = by_rule[("cps-lbfo-2021-02-04", "citywide-positivity")]
    assert (lbfo["days without data"], lbfo["days met"]) == (0, 0)
    assert lbfo["positivity (min-max %)"] == "3.8-21.2"
    # CTU's return condition (below 10%) held from the 22nd: 21 days at or above 10%
    ctu = by_rule[("ctu-resolution-2022-01-04", "remote-until-below-10")]
    assert (ctu["days without data"], ctu["days met"], str(ctu["first met"])) == (
        0,
        21,
        "2022-01-01",
    )
    k12 = by_rule[("cdc-k12-2021-02-12", "transmission-level")]
    assert k12["levels (days)"] == "high 31"


def test_in_their_terms_each_series_is_named_where_it_was_used(db: str, tmp_path: Path) -> None:
    rules = _rules(db, tmp_path, "--from", "2021-11-01", "--to", "2022-01-31")
    series = {(r["policy"], r["rule"], r["series"]): r for r in rules.iter_rows(named=True)}
    k12_by_test = series[("cdc-k12-2021-02-12", "transmission-level", BY_TEST)]
    k12_derived = series[("cdc-k12-2021-02-12", "transmission-level", DERIVED)]
    assert (str(k12_by_test["first"]), str(k12_by_test["last"])) == ("2021-11-01", "2021-11-24")
    assert (str(k12_derived["first"]), str(k12_derived["last"])) == ("2021-11-25", "2022-01-31")
    ctu = series[("ctu-resolution-2022-01-04", "remote-until-below-10", DERIVED)]
    assert (str(ctu["first"]), str(ctu["last"]), ctu["days"], ctu["days met"]) == (
        "2022-01-04",
        "2022-01-10",
        7,
        7,
    )
    # the 2021 agreement's term ended on 2021-08-24
    moa = series[("cps-ctu-2021-02-06", "district-pause", "not in force")]
    assert moa["days"] == 0


def test_ctus_starting_position_then_the_cdc_column_in_early_2021(db: str, tmp_path: Path) -> None:
    """CTU's 3% (from 4 January 2021) gives way to the CDC "lower risk" column on 3 February:
    each rule's row covers its own days (positivity 5.6-10.4% over 14 days in January)."""
    rules = _rules(db, tmp_path, "--from", "2021-01-01", "--to", "2021-02-28")
    demand = {
        r["rule"]: r
        for r in rules.filter(pl.col("policy") == "ctu-demand-2021-02").iter_rows(named=True)
    }
    start, column = demand["start-below-3pct"], demand["cdc-lower-risk"]
    assert (str(start["first"]), str(start["last"]), start["days"], start["days met"]) == (
        "2021-01-04",
        "2021-02-02",
        30,
        30,
    )
    assert start["positivity (min-max %)"] == "5.6-10.4"
    assert (str(column["first"]), str(column["last"]), column["days"]) == (
        "2021-02-03",
        "2021-02-28",
        26,
    )
