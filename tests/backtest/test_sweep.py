"""Sweeps: one backtest per value; a Dask cluster gives the same table as a serial run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from schoolmode.backtest.sweep import run_sweep, write_sweep_report
from schoolmode.cli.app import app
from schoolmode.engine.settings import sweep_points
from schoolmode.metrics.frames import district_frame, school_frame, schools
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import Registry
from schoolmode.store.db import make_engine
from tests.conftest import POLICIES, copy_history

if TYPE_CHECKING:
    from distributed import Client

START, END = dt.date(2020, 9, 1), dt.date(2021, 3, 31)
MOA, HS = "cps-ctu-2021-02-06", "cps-ctu-2021-04-15-hs"
LEVELS = ["6", "8", "10", "12.5", "16"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, history_sqlite: Path) -> str:
    """A copy of the session's store of CDPH daily testing and cases and the CPS profiles."""
    return copy_history(history_sqlite, tmp_path_factory.mktemp("sweep"))


@pytest.fixture(scope="module")
def history(store: str) -> dict[str, pl.DataFrame]:
    engine = make_engine(store)
    district = district_frame(engine, START, END)
    return {"district": district, "school": school_frame(district, schools(engine))}


def _policy(pid: str):  # type: ignore[no-untyped-def]
    return Registry(POLICIES).get(pid).policy


def test_serial_sweep_moves_with_the_threshold(history: dict[str, pl.DataFrame]) -> None:
    table = run_sweep(
        [_policy(MOA)],
        "level_threshold_pct",
        LEVELS,
        history,
        START,
        END,
        apply_over_whole_period=True,
    )
    assert table["value"].to_list() == LEVELS
    assert set(table["kind"].to_list()) == {"parameter"}
    remote = table["district days remote"].to_list()
    assert remote == sorted(remote, reverse=True), "a higher level threshold pauses no more"
    assert remote[0] > remote[-1]
    at_default = table.filter(pl.col("value") == "10").row(0, named=True)
    assert at_default["first pause"] == "2020-10-30"  # as the plain backtest finds
    # the fixture has no school records: the schools' own rules have no data, so a school-day
    # the district does not pause is no_data (neither kept nor remote), but for the first day
    # of the term (nothing before it could have moved a school); kept is over the days with data
    kept = table["in-person student-days kept (%)"].to_list()
    assert kept == sorted(kept)


def test_dask_local_cluster_gives_the_serial_table(
    history: dict[str, pl.DataFrame], dask_cluster: Client
) -> None:
    policies = [_policy(MOA), _policy(HS)]
    serial = run_sweep(policies, "level_threshold_pct", LEVELS, history, START, END)
    parallel = run_sweep(
        policies,
        "level_threshold_pct",
        LEVELS,
        history,
        START,
        END,
        client=dask_cluster,
    )
    assert serial.height == 2 * len(LEVELS)
    assert serial["policy"].to_list() == [MOA] * len(LEVELS) + [HS] * len(LEVELS)
    assert_frame_equal(parallel, serial)
    for left, right in zip(serial.iter_rows(), parallel.iter_rows(), strict=True):
        assert left == right


def test_an_interpretation_can_be_swept(history: dict[str, pl.DataFrame], tmp_path: Path) -> None:
    readings = ["evaluation_day", "all_seven_days", "not_applied"]
    table = run_sweep([_policy(MOA)], "level_applies_to", readings, history, START, END)
    assert table["kind"].to_list() == ["interpretation"] * 3
    by = dict(zip(table["value"], table["district days remote"], strict=True))
    assert by["not_applied"] > by["evaluation_day"], (
        "without the level clause the trend alone pauses"
    )
    files = write_sweep_report(table, tmp_path / "out", start=START, end=END)
    assert "| cps-ctu-2021-02-06 | not_applied |" in files["sweep.md"].read_text(encoding="utf-8")
    assert files["sweep.png"].stat().st_size > 1000
    assert pl.read_csv(files["sweep.csv"]).height == 3


def test_a_proposal_changing_several_parameters_is_compared_with_the_policy_in_force(
    history: dict[str, pl.DataFrame],
) -> None:
    """Other parameters set in every backtest (``base``): the rows are those of a sweep of
    the policy with those parameters changed, after one row of the policy as in force."""
    from schoolmode.app.backtests import fixed_settings
    from schoolmode.backtest.sweep import IN_FORCE

    moa = _policy(MOA)
    base = fixed_settings([moa], ["level_applies_to=not_applied", "trend_rising_days=5"], "x")
    assert base is not None
    table = run_sweep(
        [moa],
        "level_threshold_pct",
        ["10", "16"],
        history,
        START,
        END,
        base=base,
        apply_over_whole_period=True,
    )
    assert table["value"].to_list() == [IN_FORCE, "10", "16"]
    plain = run_sweep(
        [moa], "level_threshold_pct", ["10"], history, START, END, apply_over_whole_period=True
    )
    # the in-force row is the policy untouched (its threshold in force is 10)
    outcome = "district days remote"
    assert table.row(0, named=True)[outcome] == plain.row(0, named=True)[outcome]
    # the proposal (no level clause, 5 rising days) pauses at least as much as the policy
    assert table.row(1, named=True)[outcome] >= table.row(0, named=True)[outcome]
    # the level clause is gone in the proposal: its threshold no longer moves anything
    assert table.row(1, named=True)[outcome] == table.row(2, named=True)[outcome]
    with pytest.raises(SchoolmodeError, match="is the parameter swept"):
        fixed_settings([moa], ["level_threshold_pct=12"], "level_threshold_pct")
    with pytest.raises(SchoolmodeError, match="no parameter or interpretation 'nope'"):
        fixed_settings([moa], ["nope=1"], "level_threshold_pct")


def test_unknown_names_and_values_are_refused() -> None:
    moa = _policy(MOA)
    with pytest.raises(SchoolmodeError, match="no parameter or interpretation 'nope'"):
        sweep_points([moa], "nope", ["1"])
    with pytest.raises(SchoolmodeError, match="is a number"):
        sweep_points([moa], "level_threshold_pct", ["ten"])
    with pytest.raises(SchoolmodeError, match="choose from"):
        sweep_points([moa], "level_applies_to", ["sometimes"])
    with pytest.raises(SchoolmodeError, match="no parameter or interpretation"):
        sweep_points([moa, _policy("cps-ctu-2022-01-10")], "level_threshold_pct", ["10"])


def test_sweep_command_connects_to_a_running_scheduler(
    store: str, tmp_path: Path, dask_cluster: Client
) -> None:
    address = dask_cluster.scheduler.address  # the session's running cluster
    assert address.startswith("tcp://127.0.0.1:")
    args = [
        "backtest",
        "sweep",
        "--policy",
        MOA,
        "--param",
        "level_threshold_pct",
        "--values",
        "8,10,12",
        "--from",
        START.isoformat(),
        "--to",
        END.isoformat(),
        "--db",
        store,
    ]
    remote = CliRunner().invoke(app, [*args, "--scheduler", address, "--out", str(tmp_path / "d")])
    assert remote.exit_code == 0, remote.output
    assert f"on {address}" in remote.output
    serial = CliRunner().invoke(app, [*args, "--workers", "0", "--out", str(tmp_path / "s")])
    assert serial.exit_code == 0, serial.output
    assert (tmp_path / "d" / "sweep.csv").read_text() == (tmp_path / "s" / "sweep.csv").read_text()
    assert (tmp_path / "d" / "sweep.png").exists()
    assert "| cps-ctu-2021-02-06 | 10 |" in (tmp_path / "d" / "sweep.md").read_text()


def test_sweep_command_reports_a_bad_parameter(store: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "sweep",
            "--policy",
            "cps-ctu-2022-01-10",
            "--param",
            "level_threshold_pct",
            "--values",
            "20,30",
            "--db",
            store,
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2
    assert "teacher_absence_share_pct" in result.output
