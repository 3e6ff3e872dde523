"""The backtest report: Markdown and HTML with plots, plus CSV and Parquet outputs.

Plots a person would rather look at than read: the district metrics with each policy's
thresholds drawn on them and its pauses shaded; a timeline of modes per policy; a heat strip
of schools by days remote.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.axes import Axes

from schoolmode.backtest.run import Backtest
from schoolmode.backtest.summary import IN_PERSON, disagreements, headline, spells
from schoolmode.policy import model as m
from schoolmode.policy.walk import walk


def _num(day: dt.date) -> float:
    """A date as matplotlib's float day number (its date helpers are untyped)."""
    return float(mdates.date2num(day))  # type: ignore[no-untyped-call]


def _date_axis(ax: Axes) -> None:
    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))  # type: ignore[no-untyped-call]


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
    fig, ax = plt.subplots(figsize=(11, 3.6))
    ax.plot(series["date"].to_list(), series[metric].to_list(), color="black", lw=1.2, label=label)
    colours = plt.get_cmap("tab10")
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
                    _num(spell.start),
                    _num(spell.end + dt.timedelta(days=1)),
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
    _date_axis(ax)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _timeline_plot(backtest: Backtest, path: Path) -> Path:
    """One row per policy: share of units not in person each day (district or schools)."""
    fig, ax = plt.subplots(figsize=(11, 0.45 * len(backtest.runs) + 1.2))
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
            _num(backtest.start),
            _num(backtest.end),
            len(backtest.runs),
            0,
        ),
    )
    ax.set_yticks(
        np.arange(len(backtest.runs)) + 0.5, [r.policy.id for r in backtest.runs], fontsize=8
    )
    ax.xaxis_date()
    _date_axis(ax)
    fig.colorbar(image, ax=ax, label="share of units not in person")
    ax.set_title("Modes per policy over time (district, or the share of schools)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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
    fig, ax = plt.subplots(figsize=(11, 0.45 * len(runs) + 1.2))
    image = ax.imshow(matrix[:, order], aspect="auto", cmap="Purples", interpolation="nearest")
    ax.set_yticks(range(len(runs)), [r.policy.id for r in runs], fontsize=8)
    ax.set_xlabel(f"{len(units or [])} schools, sorted by days remote")
    fig.colorbar(image, ax=ax, label="days not in person")
    ax.set_title("Schools by days remote, per policy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown_table(frame: pl.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = [
        "| " + " | ".join("" if v is None else str(v) for v in row) + " |"
        for row in frame.iter_rows()
    ]
    return "\n".join([head, rule, *rows])


def write_report(backtest: Backtest, out: Path) -> dict[str, Path]:
    """Write report.md, report.html, plots and data files into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    table = headline(backtest)
    differ = disagreements(backtest)
    files: dict[str, Path] = {}
    table.write_csv(out / "headline.csv")
    differ.write_csv(out / "disagreements.csv")
    for scope in ("district", "school", "classroom"):
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
    plots = [
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
    district = backtest.inputs.get("district")
    data_through = None
    if district is not None and "positivity_7d_pct" in district.columns:
        known = district.filter(pl.col("positivity_7d_pct").is_not_null())
        latest = known["date"].max() if known.height else None
        data_through = latest.isoformat() if isinstance(latest, dt.date) else None
    intro = [
        f"# Backtest {backtest.start} to {backtest.end}",
        "",
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
        ),
        "",
        "## What each policy would have done",
        "",
        markdown_table(table),
        "",
        "Days remote count calendar days on which the unit was not in person (pauses, remote or hybrid).",
        "",
    ]
    notes = ["## Rules that could not be evaluated on this data", ""]
    for run in backtest.runs:
        if run.not_evaluated:
            notes.append(f"- `{run.policy.id}`: " + "; ".join(run.not_evaluated))
    notes.append("")
    disagree = ["## Where the policies disagree (district)", ""]
    if differ.height:
        summary = (
            differ.group_by("policy_a", "policy_b")
            .agg(
                pl.len().alias("days"),
                pl.col("date").min().alias("first"),
                pl.col("date").max().alias("last"),
                pl.col("rule_a").drop_nulls().first().alias("rule_a"),
                pl.col("rule_b").drop_nulls().first().alias("rule_b"),
            )
            .sort("days", descending=True)
        )
        disagree.append(markdown_table(summary))
    else:
        disagree.append("No two policies put the district in different modes on any day.")
    disagree.append("")
    pictures = ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    markdown = "\n".join([*intro, *disagree, *notes, *pictures, ""])
    (out / "report.md").write_text(markdown, encoding="utf-8")
    files["report.md"] = out / "report.md"
    body = [
        f"<h1>{html.escape(intro[0][2:])}</h1>",
        f"<p>{html.escape(intro[2])}</p>",
        "<h2>What each policy would have done</h2>",
        _html_table(table),
        "<h2>Where the policies disagree (district)</h2>",
        _html_table(differ.head(200)) if differ.height else "<p>No disagreement.</p>",
        "<h2>Rules that could not be evaluated on this data</h2><ul>"
        + "".join(
            f"<li><code>{html.escape(r.policy.id)}</code>: {html.escape('; '.join(r.not_evaluated))}</li>"
            for r in backtest.runs
            if r.not_evaluated
        )
        + "</ul>",
        "<h2>Plots</h2>",
    ]
    for plot in plots:
        data = base64.b64encode(plot.read_bytes()).decode("ascii")
        body.append(f'<figure><img alt="{plot.stem}" src="data:image/png;base64,{data}"></figure>')
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>schoolmode backtest</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}"
        "img{max-width:100%}</style><body>" + "\n".join(body) + "</body></html>"
    )
    (out / "report.html").write_text(page, encoding="utf-8")
    files["report.html"] = out / "report.html"
    for plot in plots:
        files[plot.stem] = plot
    return files


def _html_table(frame: pl.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{'' if v is None else html.escape(str(v))}</td>" for v in row)
        + "</tr>"
        for row in frame.iter_rows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
