"""The backtest report: Markdown and HTML with plots, plus CSV and Parquet outputs.

Plots a person would rather look at than read: the district metrics with each policy's
thresholds drawn on them and its pauses shaded; a timeline of modes per policy; a heat strip
of schools by days remote. The pages, tables and figures are ``schoolmode.reports``'.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from schoolmode.backtest.positivity import positivity_rules
from schoolmode.backtest.run import Backtest
from schoolmode.backtest.summary import (
    IN_PERSON,
    coverage,
    daily,
    disagreements,
    ends,
    headline,
    no_data_flag,
    reads,
    school_days,
    spells,
    stretches,
)
from schoolmode.policy import model as m
from schoolmode.policy.walk import walk
from schoolmode.reports import figures
from schoolmode.reports.export import write_csv
from schoolmode.reports.page import (
    Block,
    Bullets,
    Figures,
    Heading,
    Item,
    Page,
    Paragraph,
    TableBlock,
    write_page,
)
from schoolmode.reports.table import Table, cell_text, readable

PLOT_METRICS = {
    "positivity_7d_pct": "7-day test positivity (%)",
    "positivity_14d_pct": "14-day test positivity (%)",
    "cases_per_100k_7d": "cases per 100,000 over 7 days",
    "cases_per_100k_14d": "cases per 100,000 over 14 days",
}
"""The citywide metrics plotted, each with the thresholds of the policies that read it."""


def _latest(policy: m.Policy, ref: object) -> float | None:
    if isinstance(ref, m.ParamRef):
        values = [v.value for v in policy.parameters[ref.param].values if v.value is not None]
        if values and not isinstance(values[-1], bool | str | list):
            return float(values[-1])
        return None
    if isinstance(ref, Decimal | int | float) and not isinstance(ref, bool):
        return float(ref)
    return None  # an interpretation or a named value: no number to draw


def thresholds(policy: m.Policy, metric: str) -> list[float]:
    """Values a policy compares ``metric`` with: thresholds and the cuts between levels (latest
    value of each parameter used)."""
    out: list[float] = []
    for rule in policy.rules:
        for node in walk(rule):
            refs: list[object] = []
            if (
                isinstance(node, m.ThresholdSpec)
                and isinstance(node.of, m.MetricOp)
                and node.of.metric == metric
            ):
                refs = [node.value]
            elif (
                isinstance(node, m.BandsSpec)
                and isinstance(node.of, m.MetricOp)
                and node.of.metric == metric
            ):
                refs = [at for at, _ in node.cut_list()]
            out.extend(v for v in (_latest(policy, r) for r in refs) if v is not None)
    return sorted(set(out))


@dataclass(frozen=True)
class Plot:
    """A written figure and what it leaves out (a sentence for the report text; also printed
    in the figure), or None."""

    path: Path
    note: str | None = None


def _not_drawn(ids: list[str], why: str) -> str | None:
    return f"Not drawn: {', '.join(ids)} ({why})." if ids else None


def _coverage_lines(ax: Any, cover: pl.DataFrame, end: dt.date) -> list[Any]:
    """A dotted vertical line at the last day of each series that ends before ``end``, labelled
    for the legend ("CDPH test positivity ends 2021-11-24"); the legend handles."""
    handles = []
    for day, label in ends(cover, end):
        handles.append(
            ax.axvline(
                figures.date_number(day + dt.timedelta(days=1)),
                color="black",
                ls=":",
                lw=1.4,
                label=label,
                gid="coverage",
            )
        )
    return handles


def metric_plot(
    backtest: Backtest, metric: str, label: str, cover: pl.DataFrame, path: Path
) -> Plot | None:
    """The citywide ``metric`` over the period, each threshold of the policies that read it
    (dashed), their district days not in person (shaded), where the series' data end (dotted);
    every line and shading in the legend."""
    district = backtest.inputs.get("district")
    if district is None or metric not in district.columns:
        return None
    series = district.filter(pl.col("date").is_between(backtest.start, backtest.end)).sort("date")
    fig, ax = figures.subplots(figsize=(12, 4.8), constrained=True)
    ax.plot(series["date"].to_list(), series[metric].to_list(), color="black", lw=1.2, label=label)
    colours = figures.colormap("tab10")
    lines: dict[float, list[tuple[str, Any]]] = {}
    shaded: list[Any] = []
    spans: dict[tuple[tuple[dt.date, dt.date], ...], list[tuple[str, Any]]] = {}
    left_out: list[str] = []
    for i, run in enumerate(backtest.runs):
        if not reads(run.policy, metric):
            left_out.append(run.policy.id)
            continue  # only policies that read this metric are drawn on its plot
        colour = colours(i % 10)
        values = thresholds(run.policy, metric)
        for value in values:
            lines.setdefault(value, []).append((run.policy.id, colour))
        if not values:  # a trend or a change: no line to draw, but the policy is named
            ax.plot(
                [],
                [],
                color=colour,
                ls="-.",
                label=f"{run.policy.id}: reads its trend (no line to draw)",
            )
        district_result = run.results.get("district")
        if district_result is None or district_result.height == 0:
            ax.plot(
                [],
                [],
                color=colour,
                ls="none",
                marker="s",
                label=f"{run.policy.id}: decides per school, no district shading (see timeline)",
            )
        else:
            found = spells(district_result, str(district_result["unit"][0]))
            if found:  # policies with the same days share one shading (no blended colour)
                key = tuple((spell.start, spell.end) for spell in found)
                spans.setdefault(key, []).append((run.policy.id, colour))
            blind = stretches(district_result.filter(no_data_flag(district_result))["date"])
            for first, last in blind:
                ax.axvspan(
                    figures.date_number(first),
                    figures.date_number(last + dt.timedelta(days=1)),
                    facecolor="none",
                    edgecolor=colour,
                    hatch="//",
                    lw=0,
                    gid=f"no_data:{run.policy.id}",
                )
            if blind:
                shaded.append(figures.hatched(colour, f"{run.policy.id}: district without data"))
    for value, owners in sorted(lines.items()):
        ids = ", ".join(pid for pid, _ in owners)
        ax.axhline(value, color=owners[0][1], ls="--", lw=1.1, label=f"{ids}: threshold {value:g}")
    lanes = _pause_shading(ax, spans)
    shaded[:0] = lanes
    _coverage_lines(ax, cover, backtest.end)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(
        handles=[*handles, *shaded],
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0,
    )
    ax.set_xlim(figures.date_number(backtest.start), figures.date_number(backtest.end))
    shading = {
        0: "no district day not in person among the policies drawn",
        1: "district days not in person (shaded)",
    }
    ax.set_title(  # two lines: one would run past the axes, under a legend outside them
        f"Citywide {label}: thresholds (dashed),\n"
        + shading.get(len(spans), "district days not in person (a band per policy, at the top)"),
        fontsize=10,
    )
    figures.date_axis(ax)
    ax.grid(alpha=0.3)
    note = _not_drawn(left_out, "they do not read this metric")
    figures.note(fig, note)
    return Plot(figures.save_png(fig, path), note)


LANE = 0.05
"""Height of one policy's band of district days not in person, as a share of the axes."""


def _pause_shading(
    ax: Any, spans: dict[tuple[tuple[dt.date, dt.date], ...], list[tuple[str, Any]]]
) -> list[Any]:
    """Shade the district days not in person of each group of policies (``spans``: their
    days -> the policies with exactly those days). One group: over the whole height. More: a
    band each above the data (the y axis is raised to make room), so no two overlap in a
    blended colour the legend does not have. The legend entries."""
    entries = []
    if len(spans) > 1:
        bottom, top = ax.get_ylim()
        room = len(spans) * LANE
        ax.set_ylim(bottom, top + (top - bottom) * room / (1 - room))
    for k, (key, owners) in enumerate(spans.items()):
        ids = ", ".join(pid for pid, _ in owners)
        band = (1 - (k + 1) * LANE, 1 - k * LANE) if len(spans) > 1 else (0.0, 1.0)
        for first, last in key:
            ax.axvspan(
                figures.date_number(first),
                figures.date_number(last + dt.timedelta(days=1)),
                ymin=band[0],
                ymax=band[1],
                color=owners[0][1],
                alpha=0.18 if len(spans) == 1 else 0.6,
                lw=0,
                gid=f"pause:{ids}",
            )
        entry = f"{ids}: district not in person" + (" (same days)" if len(owners) > 1 else "")
        entries.append(figures.patch(owners[0][1], entry, alpha=0.3 if len(spans) == 1 else 0.6))
    return entries


NO_DATA_COLOUR = "#9e9e9e"
NOT_IN_FORCE_COLOUR = "#c6dbef"


def timeline_matrices(
    days: pl.DataFrame, policies: list[str], start: dt.date, end: dt.date
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(share not in person, share without data, share not in force): one row per policy of
    ``policies``, one column per day from ``start`` to ``end``, from the
    :func:`~summary.daily` frame (NaN where a policy has no row that day)."""
    axis = pl.DataFrame({"date": pl.date_range(start, end, "1d", eager=True)})
    columns = ("share not in person", "share without data", "share not in force")
    out = [np.full((len(policies), axis.height), np.nan) for _ in columns]
    for i, policy in enumerate(policies):
        joined = axis.join(days.filter(pl.col("policy") == policy), on="date", how="left")
        for matrix, column in zip(out, columns, strict=True):
            matrix[i] = joined[column].to_numpy()
    return out[0], out[1], out[2]


def _cells(ax: Any, share: np.ndarray[Any, Any], colour: str, gid: str, extent: Any) -> bool:
    """Lay ``colour`` over the cells where ``share`` is at least one half; whether any was."""
    mask = np.where(share >= 0.5, 1.0, np.nan)
    ax.imshow(
        mask,
        aspect="auto",
        cmap=figures.listed_colormap([colour]),
        vmin=0,
        vmax=1,
        interpolation="nearest",
        extent=extent,
        gid=gid,
    )
    return bool(np.isfinite(mask).any())


def _hatch_missing(ax: Any, days: pl.DataFrame, drawn: list[str]) -> bool:
    """Hatch the days a citywide series a policy reads is missing; whether any were."""
    hatched = False
    for i, policy in enumerate(drawn):
        missing = days.filter((pl.col("policy") == policy) & pl.col("citywide data missing"))
        for first, last in stretches(missing["date"]):
            hatched = True
            ax.add_patch(
                figures.hatched_box(
                    figures.date_number(first),
                    i,
                    float((last - first).days + 1),
                    1.0,
                    gid=f"missing:{policy}",
                )
            )
    return hatched


def timeline_plot(
    days: pl.DataFrame,
    policies: list[str],
    cover: pl.DataFrame,
    start: dt.date,
    end: dt.date,
    path: Path,
) -> Plot:
    """One row per policy: the share of schools not in person each day (red), the days its
    rules had no data for (grey, when it is so for most schools), the days outside its term
    (light blue, without ``--counterfactual``), the days a citywide series it reads is missing
    (hatched), where each citywide series ends (dotted). Drawn from ``days``
    (:func:`~summary.daily`, written as timeline.csv)."""
    drawn = [p for p in policies if days.filter(pl.col("policy") == p).height]
    away, blind, outside = timeline_matrices(days, drawn, start, end)
    fig, ax = figures.subplots(figsize=(11, 0.45 * max(len(drawn), 1) + 2.4), constrained=True)
    extent = (
        figures.date_number(start),
        figures.date_number(end + dt.timedelta(days=1)),
        len(drawn),
        0,
    )
    image = ax.imshow(
        away, aspect="auto", cmap="Reds", vmin=0, vmax=1, interpolation="nearest", extent=extent
    )
    handles = []
    if np.isfinite(np.where(outside >= 0.5, 1.0, np.nan)).any():
        _cells(ax, outside, NOT_IN_FORCE_COLOUR, "not-in-force", extent)
        handles.append(figures.patch(NOT_IN_FORCE_COLOUR, "policy not in force (outside its term)"))
    _cells(ax, blind, NO_DATA_COLOUR, "no-data", extent)
    handles.insert(
        0,
        figures.patch(
            NO_DATA_COLOUR, "no data for the policy's rules, most schools (not counted as remote)"
        ),
    )
    if _hatch_missing(ax, days, drawn):
        handles.append(
            figures.hatched(
                "black", "a citywide series the policy reads is missing (rules on it not met)"
            )
        )
    ax.set_yticks(np.arange(len(drawn)) + 0.5, drawn, fontsize=8)
    ax.xaxis_date()
    figures.date_axis(ax)
    handles += _coverage_lines(ax, cover, end)
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    fig.colorbar(image, ax=ax, label="share of schools not in person")
    ax.set_title("Share of schools not in person each day (a district pause counts every school)")
    note = _not_drawn([p for p in policies if p not in drawn], "no school or district decisions")
    figures.note(fig, note)
    return Plot(figures.save_png(fig, path), note)


def school_strip(table: pl.DataFrame, per_school: pl.DataFrame, path: Path) -> Plot | None:
    """One row per policy of the headline ``table``: its schools by days not in person (all
    rows share one order of schools), with the table's mean and count printed at the right.
    Drawn from ``per_school`` (:func:`~summary.school_days`, written as
    schools-days-remote.csv)."""
    policies = table["policy"].to_list()
    drawn = [p for p in policies if per_school.filter(pl.col("policy") == p).height]
    if not drawn:
        return None
    wide = (
        per_school.filter(pl.col("policy").is_in(drawn))
        .pivot(on="policy", index="unit", values="days not in person")
        .sort("unit")
    )
    matrix = np.vstack([wide[p].fill_null(0).to_numpy() for p in drawn]).astype(float)
    order = np.argsort(matrix.sum(axis=0), kind="stable")
    fig, ax = figures.subplots(figsize=(11, 0.5 * len(drawn) + 2.2), constrained=True)
    image = ax.imshow(
        matrix[:, order], aspect="auto", cmap="Purples", interpolation="nearest", vmin=0
    )
    ax.set_yticks(range(len(drawn)), drawn, fontsize=8)
    rows = {r["policy"]: r for r in table.iter_rows(named=True)}
    right = ax.twinx()  # the table's figures for each row, as printed there
    right.set_ylim(ax.get_ylim())
    right.set_yticks(
        range(len(drawn)),
        [
            f"mean {cell_text(rows[p]['mean school days remote'])} days; "
            f"{cell_text(rows[p]['schools ever remote'])} schools ever not in person"
            for p in drawn
        ],
        fontsize=7,
    )
    ax.set_xlabel(f"{wide.height} schools, in the same order in every row (fewest days first)")
    fig.colorbar(image, ax=[ax, right], label="days not in person")
    ax.set_title("Days each school was not in person (its own mode or a district pause)")
    note = _not_drawn([p for p in policies if p not in drawn], "no school decisions")
    figures.note(fig, note)
    return Plot(figures.save_png(fig, path), note)


SCOPES = ("district", "school", "classroom")


def write_data(
    backtest: Backtest,
    table: pl.DataFrame,
    differ: pl.DataFrame,
    out: Path,
    *,
    per_school: pl.DataFrame | None = None,
    days: pl.DataFrame | None = None,
    cover: pl.DataFrame | None = None,
) -> dict[str, Path]:
    """headline.csv and disagreements.csv (``table``, ``differ``); schools-days-remote.csv,
    timeline.csv and coverage.csv (the data of the plots), when given; modes-{scope}.parquet
    (every policy's modes). The paths of the files other than headline and disagreements, by
    name."""
    write_csv(table, out / "headline.csv")
    write_csv(differ, out / "disagreements.csv")
    files: dict[str, Path] = {}
    for name, frame in (
        ("schools-days-remote.csv", per_school),
        ("timeline.csv", days),
        ("coverage.csv", cover),
    ):
        if frame is not None:
            write_csv(frame, out / name)
            files[name] = out / name
    for scope in SCOPES:
        parts = [
            r.results[scope]
            .with_columns(
                pl.lit(r.policy.id).alias("policy"),
                pl.col("mode", "status", "rule").cast(pl.String),
            )
            .select("policy", "unit", "date", "mode", "status", "rule")
            for r in backtest.runs
            if scope in r.results and r.results[scope].height
        ]
        if parts:
            pl.concat(parts).write_parquet(out / f"modes-{scope}.parquet")
            files[f"modes-{scope}"] = out / f"modes-{scope}.parquet"
    return files


def write_plots(
    backtest: Backtest,
    table: pl.DataFrame,
    per_school: pl.DataFrame,
    days: pl.DataFrame,
    cover: pl.DataFrame,
    out: Path,
) -> list[Plot]:
    """The metric plots, the timeline and the school strip (those there is data for), each
    drawn from the frame the report prints or writes beside it."""
    policies = table["policy"].to_list()
    return [
        p
        for p in (
            *(
                metric_plot(backtest, metric, label, cover, out / f"district-{metric}.png")
                for metric, label in PLOT_METRICS.items()
            ),
            timeline_plot(
                days, policies, cover, backtest.start, backtest.end, out / "timeline.png"
            ),
            school_strip(table, per_school, out / "schools-days-remote.png"),
        )
        if p is not None
    ]


SYNTHETIC = "synthetic-district"
"""The import source of the synthetic district (``schoolmode district synth``)."""


def provenance(backtest: Backtest) -> str:
    """Where the figures come from: the citywide series, and whether the school and classroom
    records are the synthetic district's."""
    if "classroom" in backtest.inputs and SYNTHETIC in backtest.sources:
        return (
            "The citywide series are CDPH's published data. The school and classroom records "
            "(enrolment, cases, absences, quarantines, staff) are the synthetic district's "
            f"(imported from {SYNTHETIC}), not CPS's: school and classroom figures show how "
            "each policy's rules act on a plausible district, not what happened in Chicago's "
            "schools. "
        )
    if "classroom" in backtest.inputs:
        return "School and classroom figures come from the store's school records. "
    return "School figures use the CPS school profiles (enrolment) and the citywide series. "


def _intro(backtest: Backtest, cover: pl.DataFrame) -> str:
    gaps = ends(cover, backtest.end)
    return (
        f"{len(backtest.runs)} policies replayed day by day through the same engine as the daily "
        "decisions. "
        + (
            "As asked (`--counterfactual`), each policy is applied over the whole period, "
            "whatever its own term: what it would have decided, not what was in force. "
            if backtest.counterfactual
            else "Each policy applies only within its own term (a counterfactual over the whole "
            "period is `--counterfactual`); outside it the policy is not in "
            "force (light blue on the timeline), which counts neither as remote nor as without "
            "data. "
        )
        + provenance(backtest)
        + (
            "Not every data series covers the whole period: "
            + "; ".join(label for _, label in gaps)
            + ". After a series ends, a rule that reads it is either not met (a threshold on a "
            "missing value is false, so the policy's default mode applies) or has no data (a "
            "level rule: counted under 'without data', not as remote). A policy that seems to "
            "return to in-person learning on such a day did so for lack of data, not because "
            "the metric fell."
            if gaps
            else ""
        )
    )


DEFINITIONS = [
    (
        "days remote",
        "calendar days on which the unit was not in person (paused, remote or hybrid); "
        "weekends and holidays count like school days",
    ),
    (
        "days without data",
        "calendar days on which the policy's rules could not decide for lack of data (mode "
        "no_data); not counted as remote",
    ),
    (
        "school-days eligible for remote",
        "days a school met a condition that lets it change mode with an authorisation (e.g. "
        "the Tactical Team's); not remote until authorised, so not counted as remote",
    ),
    (
        "school days remote",
        "a school's own mode or a district pause (a district pause closes every school)",
    ),
    (
        "classroom-days remote",
        "one classroom flipped to remote for one day; counted in student-days only when its "
        "school was in person that day",
    ),
    (
        "student-days not in person",
        "enrolled students summed over the days their school or classroom was not in person",
    ),
    (
        "in-person student-days kept (%)",
        "100 x (1 - student-days not in person / all enrolled student-days); days without "
        "data count as in person, and days without enrolled students (between school years) "
        "count for nothing, so a policy remote on every day students are enrolled keeps 0.0. "
        "A figure of 100.0 can hide a few classrooms flipped to remote: read it with "
        "classroom-days remote",
    ),
    (
        "rules not evaluated",
        "how many of the policy's rules need data this store does not have (listed under "
        "'Rules that could not be evaluated'); the policy's figures are what its other rules "
        "decide, and may differ from what it would have decided with them",
    ),
    ("empty cell", "the policy has no rule at that level, or the data have no such units"),
]


def _remote_modes(backtest: Backtest) -> list[Item]:
    """Per policy, the labels of its modes that count as not in person."""
    items = []
    for run in backtest.runs:
        labels = [
            mode.label + (f" ({mode.description.rstrip('.')})" if mode.description else "")
            for mode in run.policy.modes
            if mode.id not in IN_PERSON
        ]
        items.append(Item("; ".join(labels) or "none", code=run.policy.id))
    return items


def _positivity_blocks(backtest: Backtest, rules: pl.DataFrame) -> list[Block]:
    """Every rule that reads citywide test positivity, per series its positivity came from
    (positivity-rules.csv holds the same rows)."""
    if rules.height == 0:
        return []
    derived = rules.filter(pl.col("series").str.starts_with("derived"))
    said = (
        "After CDPH's daily by-test series ends, the positivity is derived from the weekly "
        "ZIP-code tests (the last complete week's cases per test, scaled to positivity by test; "
        "docs/metrics.md): a level or threshold reads it as it is; a rule on daily rises "
        "(kind trend) has no data on those days, since a weekly value held for a week never "
        "rises from one day to the next (its days are counted under days without data, never "
        "as not met). "
        if derived.height
        else ""
    )
    return [
        Heading("Rules on citywide test positivity"),
        Paragraph(
            "Every rule that reads citywide test positivity, over the days of the period its "
            "policy is in force"
            + (" (all of them, `--counterfactual`)" if backtest.counterfactual else "")
            + " and the rule applies (every parameter it reads has a value; a policy's earlier "
            "position can give way to a later one), under the default readings, split by the "
            "series its positivity came from. "
            + said
            + "Days met: days the rule's condition held (at school level, at any school); "
            "levels: days at each level (at school level, the first school's: every school "
            "reads the same citywide figures); positivity: the lowest and highest value the "
            "rule read (the first column it reads). A policy in force on no day of the period "
            "has one row, series 'not in force'. The rows are in positivity-rules.csv."
        ),
        TableBlock(Table.from_frame(rules)),
    ]


def _disagreement_blocks(differ: pl.DataFrame) -> list[Block]:
    """One row per pair of policies; HTML adds the first 200 days they disagree on (the note
    says how many there are and links disagreements.csv)."""
    blocks: list[Block] = [Heading("Where the policies disagree (district)")]
    if not differ.height:
        return [
            *blocks,
            Paragraph("No two policies put the district in different modes on any day."),
        ]
    summary = (
        differ.group_by("policy_a", "policy_b", maintain_order=True)
        .agg(
            pl.len().alias("days"),
            pl.col("date").min().alias("first"),
            pl.col("date").max().alias("last"),
            pl.col("rule_a").drop_nulls().first().alias("rule_a"),
            pl.col("rule_b").drop_nulls().first().alias("rule_b"),
        )
        .sort("days", descending=True, maintain_order=True)  # ties in the policies' order
    )
    table = Table.from_frame(differ, limit=200, full_file="disagreements.csv")
    return [
        *blocks,
        Paragraph(
            f"{summary.height} pairs of policies disagree on {differ.height:,} (pair, day) rows "
            "in all: one is in person (or has no data) while the other is not. All rows are "
            "in disagreements.csv. In the table, days: the days the pair disagree (first and "
            "last of them, not a continuous stretch); rule_a and rule_b: the rule that set each "
            "policy's mode on the first such day it had one (blank: no rule acted, the policy's "
            "default mode applied)."
        ),
        TableBlock(Table.from_frame(summary)),
        Paragraph("Day by day:", only="html"),
        TableBlock(table, only="html"),
    ]


def report_page(
    backtest: Backtest,
    table: pl.DataFrame,
    differ: pl.DataFrame,
    plots: list[Plot],
    cover: pl.DataFrame | None = None,
    rules: pl.DataFrame | None = None,
) -> Page:
    """The backtest report: headline ``table`` with its definitions, data coverage, the
    positivity rules and the series they read (``rules``: :func:`positivity_rules`),
    disagreements (``differ``), rules not evaluated, plots (and what each leaves out)."""
    cover = coverage(backtest) if cover is None else cover
    rules = positivity_rules(backtest) if rules is None else rules
    notes = [Item(p.note, code=p.path.name) for p in plots if p.note]
    return Page(
        "schoolmode backtest",
        [
            Heading(f"Backtest {backtest.start} to {backtest.end}", level=1),
            Paragraph(_intro(backtest, cover)),
            Heading("What each policy would have done"),
            TableBlock(Table.from_frame(readable(table))),
            Bullets([Item(text, code=term) for term, text in DEFINITIONS]),
            Heading("What counts as not in person"),
            Paragraph(
                "Each policy's own modes other than in person, all counted as days remote above. "
                "Guidance recommends; it does not close schools: read its days as days the "
                "guidance would have had a school consider learning other than fully in person."
            ),
            Bullets(_remote_modes(backtest)),
            Heading("Data coverage"),
            Paragraph(
                "The first and last day of each citywide series within the period and where "
                "its values come from; the plots mark where a series ends with a dotted line."
            ),
            TableBlock(Table.from_frame(cover)),
            *_positivity_blocks(backtest, rules),
            *_disagreement_blocks(differ),
            Heading("Rules that could not be evaluated on this data"),
            Bullets(
                [
                    Item("; ".join(r.not_evaluated), code=r.policy.id)
                    for r in backtest.runs
                    if r.not_evaluated
                ]
            ),
            Heading("Plots"),
            Paragraph(
                "Drawn from the tables above and the files beside this report: "
                "schools-days-remote.csv (one row per policy and school), timeline.csv (one row "
                "per policy and day), coverage.csv."
            ),
            *([Bullets(notes)] if notes else []),
            Figures([p.path for p in plots]),
        ],
    )


def write_report(backtest: Backtest, out: Path) -> dict[str, Path]:
    """Write report.md, report.html, plots and data files into ``out``. Every plot is drawn
    from the frame the report prints or writes beside it (headline, school days, daily shares,
    coverage)."""
    out.mkdir(parents=True, exist_ok=True)
    per_school = school_days(backtest)
    days = daily(backtest)
    cover = coverage(backtest)
    table = headline(backtest, per_school)
    differ = disagreements(backtest)
    rules = positivity_rules(backtest)
    files = write_data(backtest, table, differ, out, per_school=per_school, days=days, cover=cover)
    write_csv(rules, out / "positivity-rules.csv")
    files["positivity-rules.csv"] = out / "positivity-rules.csv"
    plots = write_plots(backtest, table, per_school, days, cover, out)
    files.update(write_page(report_page(backtest, table, differ, plots, cover, rules), out))
    for plot in plots:
        files[plot.path.stem] = plot.path
    return files
