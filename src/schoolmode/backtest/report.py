"""The backtest report: Markdown and HTML with plots, plus CSV and Parquet outputs.

Plots a person would rather look at than read: the district metrics with each policy's
thresholds drawn on them and its pauses shaded; a timeline of modes per policy; a heat strip
of schools by days remote. The pages, tables and figures are ``schoolmode.reports``'.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from schoolmode.backtest.run import Backtest
from schoolmode.backtest.summary import IN_PERSON, disagreements, headline, spells
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
from schoolmode.reports.table import Table

PLOT_METRICS = {
    "positivity_7d_pct": "7-day test positivity (%)",
    "cases_per_100k_14d": "cases per 100,000 over 14 days",
}


def thresholds(policy: m.Policy, metric: str) -> list[float]:
    """Values a policy compares ``metric`` with (latest value of each parameter used)."""
    out: list[float] = []
    for rule in policy.rules:
        for node in walk(rule):
            if (
                isinstance(node, m.ThresholdSpec)
                and isinstance(node.of, m.MetricOp)
                and node.of.metric == metric
            ):
                ref = node.value
                if isinstance(ref, m.ParamRef):
                    values = [
                        v.value for v in policy.parameters[ref.param].values if v.value is not None
                    ]
                    if values and not isinstance(values[-1], bool | str | list):
                        out.append(float(values[-1]))
                elif not isinstance(ref, bool | str | m.InterpRef):
                    out.append(float(ref))
    return sorted(set(out))


def _metric_plot(backtest: Backtest, metric: str, label: str, path: Path) -> Path | None:
    district = backtest.inputs.get("district")
    if district is None or metric not in district.columns:
        return None
    series = district.filter(pl.col("date") >= backtest.start).sort("date")
    fig, ax = figures.subplots(figsize=(11, 3.6))
    ax.plot(series["date"].to_list(), series[metric].to_list(), color="black", lw=1.2, label=label)
    colours = figures.colormap("tab10")
    labels: dict[float, list[str]] = {}
    for i, run in enumerate(backtest.runs):
        values = thresholds(run.policy, metric)
        if not values:
            continue  # only policies that read this metric are drawn on its plot
        colour = colours(i % 10)
        for value in values:
            ax.axhline(value, color=colour, ls="--", lw=0.9)
            labels.setdefault(value, []).append(run.policy.id)
        district_result = run.results.get("district")
        if district_result is not None and district_result.height:
            for spell in spells(district_result, str(district_result["unit"][0])):
                ax.axvspan(
                    figures.date_number(spell.start),
                    figures.date_number(spell.end + dt.timedelta(days=1)),
                    color=colour,
                    alpha=0.18,
                )
    for value, ids in labels.items():
        ax.annotate(
            f"{', '.join(ids)}: {value:g}", (series["date"][0], value), fontsize=7, va="bottom"
        )
    ax.set_title(
        f"{label}: thresholds of the policies that read it (dashed), their district pauses (shaded)"
    )
    figures.date_axis(ax)
    ax.grid(alpha=0.3)
    return figures.save_png(fig, path)


def _timeline_plot(backtest: Backtest, path: Path) -> Path:
    """One row per policy: share of units not in person each day (district or schools)."""
    fig, ax = figures.subplots(figsize=(11, 0.45 * len(backtest.runs) + 1.2))
    days = pl.date_range(backtest.start, backtest.end, "1d", eager=True)
    matrix = np.full((len(backtest.runs), days.len()), np.nan)
    for i, run in enumerate(backtest.runs):
        frame = run.results.get("district")
        if frame is None or frame.height == 0:
            frame = run.results.get("school")
        if frame is None or frame.height == 0:
            continue
        share = frame.group_by("date").agg(
            (~pl.col("mode").cast(pl.String).is_in(sorted(IN_PERSON))).mean().alias("share")
        )
        joined = pl.DataFrame({"date": days}).join(share, on="date", how="left")
        matrix[i] = joined["share"].to_numpy()
    image = ax.imshow(
        matrix,
        aspect="auto",
        cmap="Reds",
        vmin=0,
        vmax=1,
        interpolation="nearest",
        extent=(
            figures.date_number(backtest.start),
            figures.date_number(backtest.end),
            len(backtest.runs),
            0,
        ),
    )
    ax.set_yticks(
        np.arange(len(backtest.runs)) + 0.5, [r.policy.id for r in backtest.runs], fontsize=8
    )
    ax.xaxis_date()
    figures.date_axis(ax)
    fig.colorbar(image, ax=ax, label="share of units not in person")
    ax.set_title("Modes per policy over time (district, or the share of schools)")
    return figures.save_png(fig, path)


def _school_strip(backtest: Backtest, path: Path) -> Path | None:
    runs = [
        r
        for r in backtest.runs
        if r.results.get("school") is not None and r.results["school"].height
    ]
    if not runs:
        return None
    columns = []
    units: list[str] | None = None
    for run in runs:
        frame = run.results["school"]
        per = (
            frame.group_by("unit")
            .agg((~pl.col("mode").cast(pl.String).is_in(sorted(IN_PERSON))).sum().alias("days"))
            .sort("unit")
        )
        units = units or per["unit"].to_list()
        columns.append(per["days"].to_numpy())
    matrix = np.vstack(columns)
    order = np.argsort(matrix.sum(axis=0))
    fig, ax = figures.subplots(figsize=(11, 0.45 * len(runs) + 1.2))
    image = ax.imshow(matrix[:, order], aspect="auto", cmap="Purples", interpolation="nearest")
    ax.set_yticks(range(len(runs)), [r.policy.id for r in runs], fontsize=8)
    ax.set_xlabel(f"{len(units or [])} schools, sorted by days remote")
    fig.colorbar(image, ax=ax, label="days not in person")
    ax.set_title("Schools by days remote, per policy")
    return figures.save_png(fig, path)


SCOPES = ("district", "school", "classroom")


def write_data(
    backtest: Backtest, table: pl.DataFrame, differ: pl.DataFrame, out: Path
) -> dict[str, Path]:
    """headline.csv and disagreements.csv (``table``, ``differ``), and modes-{scope}.parquet
    (every policy's modes); the paths of the Parquet files by name."""
    write_csv(table, out / "headline.csv")
    write_csv(differ, out / "disagreements.csv")
    files: dict[str, Path] = {}
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


def write_plots(backtest: Backtest, out: Path) -> list[Path]:
    """The metric plots, the timeline and the school strip (those there is data for)."""
    return [
        p
        for p in (
            *(
                _metric_plot(backtest, metric, label, out / f"district-{metric}.png")
                for metric, label in PLOT_METRICS.items()
            ),
            _timeline_plot(backtest, out / "timeline.png"),
            _school_strip(backtest, out / "schools-days-remote.png"),
        )
        if p is not None
    ]


def _data_through(backtest: Backtest) -> str | None:
    """The last day with citywide test positivity, if the inputs have it."""
    district = backtest.inputs.get("district")
    if district is None or "positivity_7d_pct" not in district.columns:
        return None
    known = district.filter(pl.col("positivity_7d_pct").is_not_null())
    latest = known["date"].max() if known.height else None
    return latest.isoformat() if isinstance(latest, dt.date) else None


def _intro(backtest: Backtest) -> str:
    data_through = _data_through(backtest)
    return (
        f"{len(backtest.runs)} policies replayed day by day through the same engine as the daily decisions. "
        + (
            "Each policy is applied over the whole period, whatever its own term (a counterfactual). "
            if backtest.counterfactual
            else "Each policy applies only within its own term. "
        )
        + (
            f"Citywide test data run through {data_through}; later days have no positivity, so rules that "
            "read it are not met on them."
            if data_through
            else ""
        )
    )


def _disagreement_blocks(differ: pl.DataFrame) -> list[Block]:
    """Markdown: one row per pair of policies; HTML: the first 200 days they disagree on."""
    blocks: list[Block] = [Heading("Where the policies disagree (district)")]
    if not differ.height:
        return [
            *blocks,
            Paragraph(
                "No two policies put the district in different modes on any day.",
                only="markdown",
            ),
            Paragraph("No disagreement.", only="html"),
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
        TableBlock(Table.from_frame(summary), only="markdown"),
        TableBlock(table, only="html"),
    ]


def report_page(
    backtest: Backtest, table: pl.DataFrame, differ: pl.DataFrame, plots: list[Path]
) -> Page:
    """The backtest report: headline ``table``, disagreements (``differ``), rules not
    evaluated, plots."""
    return Page(
        "schoolmode backtest",
        [
            Heading(f"Backtest {backtest.start} to {backtest.end}", level=1),
            Paragraph(_intro(backtest)),
            Heading("What each policy would have done"),
            TableBlock(Table.from_frame(table)),
            Paragraph(
                "Days remote count calendar days on which the unit was not in person "
                "(pauses, remote or hybrid).",
                only="markdown",
            ),
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
            Figures(plots),
        ],
    )


def write_report(backtest: Backtest, out: Path) -> dict[str, Path]:
    """Write report.md, report.html, plots and data files into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    table = headline(backtest)
    differ = disagreements(backtest)
    files = write_data(backtest, table, differ, out)
    plots = write_plots(backtest, out)
    files.update(write_page(report_page(backtest, table, differ, plots), out))
    for plot in plots:
        files[plot.stem] = plot
    return files
