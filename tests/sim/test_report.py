"""The simulation report reads right: every plotted line is the mean over seeds of the daily
series the run counted, days without school are shaded and in the legend, series counted on
school days only are not drawn as zeros on the others, and outcomes the scenario never
exercises are said to be so (sim/report.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from schoolmode.policy.loader import Registry
from schoolmode.reports import figures
from schoolmode.sim import report
from schoolmode.sim.calendar import school_calendar
from schoolmode.sim.compare import Comparison, compare, load_population
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.sweep import run_sweep, sweep_summary
from schoolmode.sim.sweep_report import HEADLINE, sweep_table, write_sweep_report
from tests.synth.test_district import PROFILES

AGREEMENT = "cps-ctu-2022-01-10"
# 2022-01-11 (a Tuesday) + 20 days: three weekends and the district's calendar
SCENARIO = Scenario(
    days=20, beta=0.15, initial_infections=40, seeds=2, vaccination={"initial_share": {}}
)


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    return compare(load_population(str(PROFILES), 4), SCENARIO, [AGREEMENT, "none"], Registry())


@pytest.fixture(scope="module")
def drawn(
    comparison: Comparison, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, Path]]:
    """The figures as drawn (before they are saved and closed) and the report's files."""
    kept: dict[str, Any] = {}
    save = figures.save_png

    def keep(fig: Any, path: Path, **kwargs: Any) -> Path:
        kept[path.name] = fig
        return save(fig, path, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(figures, "save_png", keep)
        files = report.write_report(comparison, tmp_path_factory.mktemp("sim-report"))
    return kept, files


def _legend(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_each_line_is_the_mean_over_seeds_and_school_series_skip_days_without_school(
    comparison: Comparison, drawn: tuple[dict[str, Any], dict[str, Path]]
) -> None:
    figs, _ = drawn
    school = school_calendar(SCENARIO.start, SCENARIO.days, SCENARIO.district_holidays)
    assert school.any()
    assert not school.all()
    for series, _label, name in report.BANDS:
        ax = figs[name].axes[0]
        lines = ax.get_lines()
        assert [ln.get_label() for ln in lines] == [
            f"{p}: mean over seeds" for p in comparison.policy_ids
        ]
        for line, policy in zip(lines, comparison.policy_ids, strict=True):
            plotted = np.asarray(line.get_ydata(), dtype=float)
            counted = comparison.daily(series, policy).astype(float).mean(axis=0)
            assert plotted.size == SCENARIO.days
            if series in report.SCHOOL_SERIES:
                assert np.isnan(plotted[~school]).all(), (name, policy)
                np.testing.assert_allclose(plotted[school], counted[school])
            else:
                np.testing.assert_allclose(plotted, counted)
        # every day without school is shaded, and the shading is in the legend
        assert any(p.get_gid() == "no-school" for p in ax.patches), name
        labels = _legend(ax)
        assert any(
            t.startswith("no school (weekend, holiday or day without classes)") for t in labels
        ), name
        assert len(labels) == 2 * len(comparison.policy_ids) + 1


def test_the_shading_covers_exactly_the_days_without_school(
    drawn: tuple[dict[str, Any], dict[str, Path]],
) -> None:
    figs, _ = drawn
    school = school_calendar(SCENARIO.start, SCENARIO.days, SCENARIO.district_holidays)
    ax = figs["in_person.png"].axes[0]
    covered = np.zeros(SCENARIO.days, dtype=bool)
    for patch in (p for p in ax.patches if p.get_gid() == "no-school"):
        xs = patch.get_path().transformed(patch.get_patch_transform()).vertices[:, 0]
        lo, hi = xs.min(), xs.max()
        for d in range(SCENARIO.days):
            mid = figures.date_number(SCENARIO.start + dt.timedelta(days=d))
            covered[d] |= lo < mid < hi
    np.testing.assert_array_equal(covered, ~school)


def test_definitions_and_unexercised_outcomes_are_stated(
    comparison: Comparison, drawn: tuple[dict[str, Any], dict[str, Path]]
) -> None:
    _, files = drawn
    unused = report.unused_outcomes(comparison)
    outcomes = comparison.outcomes()
    assert "pools" in unused
    assert "doses" in unused
    assert "infections" not in unused
    for c in unused:
        assert (outcomes[c] == 0).all()
    for page in (files["report.md"].read_text(), files["report.html"].read_text()):
        [line] = [x for x in page.splitlines() if "0 in every run of every policy: " in x]
        for c in unused:
            assert report.LABELS[c] in line, c
        assert "do not add the two" in page  # absence-days overlap school-days remote
        assert "the figure to read for learning kept in person" in page
        assert "infections are every infection in the model, seen or not" in page


def test_the_sweep_report_draws_and_prints_the_summary(tmp_path: Path) -> None:
    rows = run_sweep(
        SCENARIO,
        [AGREEMENT, "none"],
        [0, 1],
        "tracing.delay_days",
        ["0", "3"],
        profiles=str(PROFILES),
        schools=4,
    )
    summary = sweep_summary(rows)
    kept: dict[str, Any] = {}
    save = figures.save_png

    def keep(fig: Any, path: Path, **kwargs: Any) -> Path:
        kept[path.name] = fig
        return save(fig, path, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(figures, "save_png", keep)
        files = write_sweep_report("tracing.delay_days", rows, summary, SCENARIO, tmp_path)
    fig = kept["sweep.png"]
    for ax, outcome in zip(fig.axes, HEADLINE, strict=True):
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "3"]
        drawn = {c.get_label(): c for c in ax.containers}
        assert list(drawn) == [AGREEMENT, "none"]  # the paired difference is not drawn
        for policy, container in drawn.items():
            want = summary.filter(
                (pl.col("outcome") == outcome) & (pl.col("policy") == policy)
            ).sort("value")
            data_line, _caps, (bars,) = container.lines
            np.testing.assert_allclose(data_line.get_ydata(), want["mean"].to_numpy())
            spans = np.array([[s[0][1], s[1][1]] for s in bars.get_segments()])
            np.testing.assert_allclose(spans.min(axis=1), want["lo"].to_numpy())
            np.testing.assert_allclose(spans.max(axis=1), want["hi"].to_numpy())
    text = files["report.md"].read_text()
    infections = sweep_table(summary, "infections")
    assert infections.columns == ["value", AGREEMENT, "none", f"{AGREEMENT} - none"]
    for cell in infections.row(0):
        assert f"| {cell} |" in text or f"| {cell}" in text
    assert "below zero, cps-ctu-2022-01-10 has less of it" in text
    assert "With 2 seeds an interval is little more than the range of the runs" in text
    assert "do not add the two" in text
    assert files["report.html"].stat().st_size > 0
