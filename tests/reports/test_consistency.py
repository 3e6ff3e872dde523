"""The backtest report agrees with itself: every plotted value is read back from the figure's
artists and compared with the table the report prints (or the file it writes beside it);
every policy of the table is in every plot or the plot and the report say why not; where a
citywide series ends is marked on every timeline; days without data are their own category;
the student-days figure counts classroom flips; a cut table says so and links the full file."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from schoolmode.backtest.report import write_report
from schoolmode.backtest.run import Backtest, run_backtest
from schoolmode.metrics.frames import district_frame, school_frame, schools
from schoolmode.policy.loader import Registry
from schoolmode.reports import figures
from schoolmode.store.db import make_engine
from tests.conftest import POLICIES, copy_history

START, END = dt.date(2020, 9, 1), dt.date(2022, 2, 28)  # test positivity ends 2021-11-24
POSITIVITY_ENDS = dt.date(2021, 11, 24)
POLICY_IDS = [
    "cps-lbfo-2021-02-04",  # district and school rules
    "ctu-demand-2021-02",  # district only: remote most days
    "cps-ctu-2021-02-06",  # a district pause
    "cps-ctu-2022-01-10",  # classroom flips, no district rule
    "cdc-indicators-2020-09-15",  # district levels: no data after positivity ends
    "cdc-k12-2021-02-12",  # school levels: no data after positivity ends
]
ENROLLED = 20  # students per classroom
SCHOOLS = 12


@pytest.fixture(scope="module")
def backtest(tmp_path_factory: pytest.TempPathFactory, history_sqlite: Path) -> Backtest:
    engine = make_engine(copy_history(history_sqlite, tmp_path_factory.mktemp("consistency")))
    district = district_frame(engine, START, END)
    school = school_frame(district, schools(engine).sort("unit").head(SCHOOLS))
    units = school["unit"].unique().sort().to_list()[:4]
    days = district["date"].to_list()
    # two classrooms in each of four schools; one class a fortnight reports a case
    classroom = pl.DataFrame(
        [
            {
                "unit": f"{unit}-{room}",
                "parent": unit,
                "date": day,
                "enrolled": ENROLLED,
                "students_quarantine_isolation": 0,
                "positive_cases_reported": int(
                    room == 0 and (day - START).days % 14 == i and day.weekday() < 5
                ),
            }
            for i, unit in enumerate(units)
            for room in range(2)
            for day in days
        ]
    )
    registry = Registry(POLICIES)
    return run_backtest(
        [registry.get(p).policy for p in POLICY_IDS],
        {"district": district, "school": school, "classroom": classroom},
        START,
        END,
        apply_over_whole_period=True,
    )


Drawn = dict[str, Any]


@pytest.fixture(scope="module")
def report(
    backtest: Backtest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Path], dict[str, Any]]:
    """The written files, and each figure (by file name) as it was when saved."""
    drawn: dict[str, Any] = {}
    save = figures.save_png

    def keep(fig: Any, path: Path, **kwargs: Any) -> Path:
        drawn[path.name] = fig
        fig.canvas.draw()  # lay out as saved, so the artists are final
        return save(fig, path, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(figures, "save_png", keep)
        files = write_report(backtest, tmp_path_factory.mktemp("report"))
    return files, drawn


def _table(files: dict[str, Path]) -> pl.DataFrame:
    return pl.read_csv(files["report.md"].parent / "headline.csv", infer_schema_length=None)


def _row(table: pl.DataFrame, policy: str) -> dict[str, Any]:
    return table.filter(pl.col("policy") == policy).row(0, named=True)


def _labels(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


def _legend(ax: Any) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def _note(fig: Any) -> str:
    label = fig.get_supxlabel() if hasattr(fig, "get_supxlabel") else ""
    return str(label).replace("\n", " ")


def test_every_policy_is_in_every_plot_or_the_plot_says_why_not(
    report: tuple[dict[str, Path], dict[str, Any]],
) -> None:
    files, drawn = report
    table = _table(files)
    markdown = files["report.md"].read_text(encoding="utf-8")
    assert set(drawn) >= {"timeline.png", "schools-days-remote.png"}
    for name, fig in drawn.items():
        ax = fig.axes[0]
        shown = " ".join([*_labels(ax), *_legend(ax)])
        note = _note(fig)
        for policy in table["policy"].to_list():
            if policy in shown:
                continue
            assert policy in note, f"{name}: {policy} neither drawn nor explained"
            line = next(x for x in markdown.splitlines() if x.startswith(f"- `{name}`"))
            assert policy in line, f"{name}: the report text does not say why {policy} is left out"


def test_the_school_strip_is_the_tables_school_columns(
    report: tuple[dict[str, Path], dict[str, Any]],
) -> None:
    files, drawn = report
    table = _table(files)
    fig = drawn["schools-days-remote.png"]
    ax, right = fig.axes[0], fig.axes[1]
    policies = _labels(ax)
    assert policies == table["policy"].to_list(), "every policy of the table, in its order"
    matrix = np.asarray(ax.images[0].get_array())
    printed = [t.get_text() for t in right.get_yticklabels()]
    per_school = pl.read_csv(files["schools-days-remote.csv"])
    for i, policy in enumerate(policies):
        row = _row(table, policy)
        assert round(float(matrix[i].mean()), 1) == row["mean school days remote"], policy
        assert int((matrix[i] > 0).sum()) == row["schools ever remote"], policy
        assert sorted(matrix[i].tolist()) == sorted(
            per_school.filter(pl.col("policy") == policy)["days not in person"].to_list()
        )
        assert printed[i] == (
            f"mean {row['mean school days remote']} days; "
            f"{row['schools ever remote']} schools ever not in person"
        )
    # a district pause closes every school: the district-only policy's schools have its days
    demand = _row(table, "ctu-demand-2021-02")
    assert demand["mean school days remote"] == demand["district days remote"] > 0


def test_the_timeline_is_the_daily_table_and_adds_up_to_the_headline(
    backtest: Backtest, report: tuple[dict[str, Path], dict[str, Any]]
) -> None:
    files, drawn = report
    table = _table(files)
    fig = drawn["timeline.png"]
    ax = fig.axes[0]
    policies = _labels(ax)
    assert policies == table["policy"].to_list()
    away = np.asarray(ax.images[0].get_array(), dtype=float)
    [grey] = [im for im in ax.images if im.get_gid() == "no-data"]
    blind = np.asarray(np.ma.filled(grey.get_array(), np.nan), dtype=float)
    assert away.shape[1] == (END - START).days + 1
    daily = pl.read_csv(files["timeline.csv"], try_parse_dates=True)
    for i, policy in enumerate(policies):
        row = _row(table, policy)
        mine = daily.filter(pl.col("policy") == policy).sort("date")
        np.testing.assert_allclose(away[i], mine["share not in person"].to_numpy())
        # summed over days, the share of schools away is the table's mean school days away
        assert abs(float(np.nansum(away[i])) - row["mean school days remote"]) < 0.051, policy
        no_data_days = int(np.nansum(blind[i] == 1))
        assert no_data_days == round(row["mean school days without data"]), policy
        # hatched: the days a citywide series the policy reads is missing, as timeline.csv says
        hatched = sum(p.get_width() for p in ax.patches if p.get_gid() == f"missing:{policy}")
        assert hatched == mine["citywide data missing"].sum(), policy
    missing = daily.filter(pl.col("citywide data missing")).group_by("policy").len()
    by = dict(missing.iter_rows())
    assert by["cps-ctu-2021-02-06"] == (END - POSITIVITY_ENDS).days, "its rules read positivity"
    assert "cps-ctu-2022-01-10" not in by, "it reads no citywide series"
    indicators = _row(table, "cdc-indicators-2020-09-15")
    assert indicators["district days without data"] == (END - POSITIVITY_ENDS).days
    assert "no data for the policy's rules, most schools (not counted as remote)" in _legend(ax)


def test_where_each_series_ends_is_marked_on_every_timeline(
    report: tuple[dict[str, Path], dict[str, Any]],
) -> None:
    files, drawn = report
    label = f"CDPH test positivity ends {POSITIVITY_ENDS.isoformat()}"
    for name, fig in drawn.items():
        if name == "schools-days-remote.png":
            continue  # not a timeline
        ax = fig.axes[0]
        marks = [line for line in ax.get_lines() if line.get_gid() == "coverage"]
        assert [m.get_label() for m in marks] == [label], name
        assert marks[0].get_xdata()[0] == figures.date_number(POSITIVITY_ENDS + dt.timedelta(1))
        assert label in _legend(ax), name
    coverage = pl.read_csv(files["coverage.csv"], try_parse_dates=True)
    assert coverage.filter(pl.col("series") == "CDPH test positivity")["last"].item() == (
        POSITIVITY_ENDS
    )
    assert label in files["report.md"].read_text(encoding="utf-8")


def test_metric_plots_shade_the_tables_district_days_and_label_in_legends(
    report: tuple[dict[str, Path], dict[str, Any]],
) -> None:
    files, drawn = report
    table = _table(files)
    metric_plots = [n for n in drawn if n.startswith("district-")]
    assert metric_plots
    shaded: set[str] = set()
    for name in metric_plots:
        ax = drawn[name].axes[0]
        assert not ax.texts, f"{name}: labels belong in the legend, not over the lines"
        legend = _legend(ax)
        widths: dict[str, float] = {}
        boxes: dict[str, list[tuple[float, float]]] = {}
        bands: dict[str, set[tuple[float, float]]] = {}
        for patch in ax.patches:
            gid = patch.get_gid() or ""
            if gid.startswith("pause:"):  # "pause:A, B": policies with the same days
                widths[gid[6:]] = widths.get(gid[6:], 0.0) + patch.get_width()
                boxes.setdefault(gid[6:], []).append((patch.get_x(), patch.get_width()))
                bands.setdefault(gid[6:], set()).add((patch.get_y(), patch.get_height()))
        for ids, days in widths.items():
            for policy in ids.split(", "):
                shaded.add(policy)
                assert days == _row(table, policy)["district days remote"], (name, policy)
            same = " (same days)" if ", " in ids else ""
            assert f"{ids}: district not in person{same}" in legend, (name, ids)
        # one shading per set of days: no two overlaid in a blended colour the legend lacks
        assert len({tuple(sorted(b)) for b in boxes.values()}) == len(boxes), name
        if len(bands) > 1:  # a band each, one above the other: no blended colours
            rows = sorted(next(iter(b)) for b in bands.values())
            assert all(len(b) == 1 for b in bands.values()), name
            for (y0, h0), (y1, _) in pairwise(rows):
                assert y0 + h0 <= y1 + 1e-9, name
        for line in ax.get_lines():
            if line.get_linestyle() == "--":
                assert line.get_label() in legend, (name, line.get_label())
    assert shaded >= {"ctu-demand-2021-02", "cps-ctu-2021-02-06", "cdc-indicators-2020-09-15"}


def test_student_days_count_classroom_flips(
    report: tuple[dict[str, Path], dict[str, Any]],
) -> None:
    files, _ = report
    row = _row(_table(files), "cps-ctu-2022-01-10")
    assert row["classroom-days remote"] > 0
    assert row["mean school days remote"] == 0  # no school or district rule sent a school away
    assert row["student-days not in person"] == row["classroom-days remote"] * ENROLLED
    assert row["in-person student-days kept (%)"] < 100
    markdown = files["report.md"].read_text(encoding="utf-8")
    assert "`in-person student-days kept (%)`: 100 x (1 - student-days not in person" in markdown


def test_a_cut_table_says_so_and_links_the_full_file(
    report: tuple[dict[str, Path], dict[str, Any]],
) -> None:
    files, _ = report
    rows = pl.read_csv(files["report.md"].parent / "disagreements.csv").height
    assert rows > 200, "the fixture history has more disagreements than the HTML shows"
    html = files["report.html"].read_text(encoding="utf-8")
    assert (
        f'first 200 of {rows:,} rows, full table in <a href="disagreements.csv">'
        "disagreements.csv</a>" in html
    )
    markdown = files["report.md"].read_text(encoding="utf-8")
    assert f"{rows:,} (pair, day) rows in all" in markdown
    assert "All rows are in disagreements.csv." in markdown
    assert "rule_a and rule_b: the rule that set each policy's mode" in markdown
    assert "`rules not evaluated`: how many of the policy's rules need data" in markdown


def test_the_sweep_plot_is_its_table_and_says_why_a_panel_is_empty(tmp_path: Path) -> None:
    from schoolmode.backtest.sweep import NO_VALUE, OUTCOMES, PLOTTED, write_sweep_report

    values = ["10", "20", "40"]
    rows = [
        {
            "policy": policy,
            "name": "student_quarantine_share_pct",
            "kind": "parameter",
            "value": v,
            **dict.fromkeys(OUTCOMES),
            "mean school days remote": 0.0,
            "school-days eligible for remote": 1000 // int(v) + shift,
            "classroom-days remote": 77490 + shift,
            "student-days not in person": 1_702_531 + shift,
            "in-person student-days kept (%)": 98.2,
            "district days remote": None if policy == "a" else 3 * int(v),
            "rules not evaluated": 0,
        }
        for shift, policy in enumerate(["a", "b"])
        for v in values
    ]
    table = pl.DataFrame(rows, strict=False)
    drawn: dict[str, Any] = {}
    save = figures.save_png

    def keep(fig: Any, path: Path, **kwargs: Any) -> Path:
        drawn[path.name] = fig
        return save(fig, path, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(figures, "save_png", keep)
        files = write_sweep_report(
            table, tmp_path, start=dt.date(2021, 8, 30), end=dt.date(2022, 6, 30)
        )
    axes = drawn["sweep.png"].axes
    assert [ax.get_title() for ax in axes] == PLOTTED
    for ax, outcome in zip(axes, PLOTTED, strict=True):
        for line in ax.get_lines():
            policy = line.get_label()
            expected = table.filter(pl.col("policy") == policy)[outcome].to_list()
            assert [float(x) for x in line.get_xdata()] == [float(v) for v in values]
            assert list(line.get_ydata()) == expected, (outcome, policy)
        missing = [p for p in ("a", "b") if p not in [x.get_label() for x in ax.get_lines()]]
        texts = " ".join(t.get_text() for t in ax.texts)
        for policy in missing:
            assert NO_VALUE in texts, (outcome, policy)
            assert policy in texts, (outcome, policy)
        if outcome.endswith("(%)"):
            assert ax.get_ylim() == (0, 100), "a share is drawn on its whole scale"
        zero = [t for t in ax.texts if t.get_gid() == "all-zero"]
        if outcome == "mean school days remote":  # 0.0 in every row
            assert zero, "an all-zero panel says so"
            assert ax.get_ylim() == (0, 1)
        else:
            assert not zero, outcome
    markdown = files["sweep.md"].read_text(encoding="utf-8")
    assert f"Empty panels and cells: {NO_VALUE}." in markdown
    assert "`rules not evaluated`" not in markdown  # not a column of the sweep's table
    # classroom-days and the shares are flat per policy; eligibility and district days move
    [same] = [x for x in markdown.splitlines() if x.startswith("The same at every value")]
    for outcome in ("mean school days remote", "classroom-days remote", "student-days not in"):
        assert outcome in same
    assert "school-days eligible for remote," not in same
    assert "Only school-days eligible for remote moves" not in same  # district days move too
    only = table.with_columns(pl.lit(None).alias("district days remote"))
    files = write_sweep_report(only, tmp_path, start=dt.date(2021, 8, 30), end=dt.date(2022, 6, 30))
    text = files["sweep.md"].read_text(encoding="utf-8")
    assert "Only school-days eligible for remote moves" in text


def test_the_report_says_where_school_figures_come_from(backtest: Backtest) -> None:
    from dataclasses import replace

    from schoolmode.backtest.report import provenance

    synthetic = provenance(replace(backtest, sources=("cdph-daily-testing", "synthetic-district")))
    assert "are the synthetic district's" in synthetic
    assert "not what happened in Chicago's schools" in synthetic
    assert "synthetic" not in provenance(replace(backtest, sources=("cdph-daily-testing",)))
    profiles_only = {k: v for k, v in backtest.inputs.items() if k != "classroom"}
    assert "CPS school profiles" in provenance(replace(backtest, inputs=profiles_only))


def test_days_outside_a_policys_term_are_their_own_category(
    backtest: Backtest, tmp_path: Path
) -> None:
    registry = Registry(POLICIES)
    ids = ["cps-ctu-2021-02-06", "ctu-demand-2021-02"]
    within = run_backtest(
        [registry.get(p).policy for p in ids],
        backtest.inputs,
        START,
        END,
        apply_over_whole_period=False,
    )
    drawn: dict[str, Any] = {}
    save = figures.save_png

    def keep(fig: Any, path: Path, **kwargs: Any) -> Path:
        drawn[path.name] = fig
        return save(fig, path, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(figures, "save_png", keep)
        files = write_report(within, tmp_path)
    ax = drawn["timeline.png"].axes[0]
    [blue] = [im for im in ax.images if im.get_gid() == "not-in-force"]
    cells = np.asarray(np.ma.filled(blue.get_array(), np.nan), dtype=float)
    daily = pl.read_csv(files["timeline.csv"], try_parse_dates=True)
    for i, policy in enumerate(_labels(ax)):
        mine = daily.filter(pl.col("policy") == policy)
        outside = int((mine["share not in force"] >= 0.5).sum())
        assert int(np.nansum(cells[i] == 1)) == outside, policy
        assert outside > 0, f"{policy}: its term does not cover {START}..{END}"
    assert "policy not in force (outside its term)" in _legend(ax)


def test_policies_paused_on_the_same_days_share_one_shading(
    backtest: Backtest, tmp_path: Path
) -> None:
    from schoolmode.backtest.report import coverage, metric_plot

    registry = Registry(POLICIES)
    ids = ["cps-ctu-2021-02-06", "cps-ctu-2021-04-15-hs"]  # the same district rules
    twins = run_backtest(
        [registry.get(p).policy for p in ids],
        backtest.inputs,
        START,
        END,
        apply_over_whole_period=True,
    )
    drawn: dict[str, Any] = {}
    save = figures.save_png

    def keep(fig: Any, path: Path, **kwargs: Any) -> Path:
        drawn[path.name] = fig
        return save(fig, path, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(figures, "save_png", keep)
        metric_plot(
            twins,
            "positivity_7d_pct",
            "7-day test positivity (%)",
            coverage(twins),
            tmp_path / "p.png",
        )
    ax = drawn["p.png"].axes[0]
    gids = {p.get_gid() for p in ax.patches if (p.get_gid() or "").startswith("pause:")}
    assert gids == {"pause:" + ", ".join(ids)}
    assert f"{', '.join(ids)}: district not in person (same days)" in _legend(ax)
    assert ax.get_title().startswith("Citywide 7-day test positivity (%): thresholds")
