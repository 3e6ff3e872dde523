"""Sweeps: how a backtest's outcome moves with one threshold.

Each value of the swept parameter is a ``Settings`` override (a policy parameter replaced by
one value for every day, or an interpretation reading); each (policy, value) pair is one
backtest. A task is a pure function of the policy's JSON, the settings and the input frames,
so the tasks may run anywhere: serially here, or on a Dask distributed cluster (a
``LocalCluster`` of worker processes, or an existing scheduler). The input frames are sent to
the workers once (scattered) and every task refers to them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from schoolmode.backtest.report import DEFINITIONS
from schoolmode.backtest.run import run_backtest
from schoolmode.backtest.summary import headline
from schoolmode.engine.grid import Calendar
from schoolmode.engine.settings import Settings, SweepPoint, kind_of, sweep_points
from schoolmode.policy import model as m
from schoolmode.reports import figures
from schoolmode.reports.export import write_csv
from schoolmode.reports.page import (
    Bullets,
    Figures,
    Heading,
    Item,
    Page,
    Paragraph,
    TableBlock,
    write_page,
)
from schoolmode.reports.table import Table, readable

if TYPE_CHECKING:
    from distributed import Client

OUTCOMES = [
    "district days remote",
    "district days without data",
    "district pauses",
    "first pause",
    "schools ever remote",
    "mean school days remote",
    "mean school days without data",
    "school-days eligible for remote",
    "classroom-days remote",
    "student-days not in person",
    "in-person student-days kept (%)",
]
"""The headline figures reported for each swept value (``summary.headline`` columns)."""

PLOTTED = [
    "district days remote",
    "mean school days remote",
    "school-days eligible for remote",
    "classroom-days remote",
    "student-days not in person",
    "in-person student-days kept (%)",
]
"""The outcomes drawn, one panel each (a panel whose outcome no policy has says why)."""

NO_VALUE = "no value: the policy has no rule at this level"


def sweep_one(
    policy_json: str,
    settings: Settings,
    inputs: Mapping[str, pl.DataFrame],
    start: dt.date,
    end: dt.date,
    calendar: Calendar | None = None,
    apply_over_whole_period: bool = False,
) -> dict[str, object]:
    """One task: the headline figures of one policy under one setting. Pure: nothing but its
    arguments is read, nothing is written."""
    policy = m.Policy.model_validate_json(policy_json)
    backtest = run_backtest(
        [policy],
        inputs,
        start,
        end,
        calendar=calendar,
        settings={policy.id: settings},
        apply_over_whole_period=apply_over_whole_period,
    )
    row = headline(backtest).row(0, named=True)
    return {key: row.get(key) for key in [*OUTCOMES, "rules not evaluated"]}


def _frame(points: Sequence[SweepPoint], rows: Sequence[Mapping[str, object]]) -> pl.DataFrame:
    schema: dict[str, Any] = {
        "policy": pl.String,
        "name": pl.String,
        "kind": pl.String,
        "value": pl.String,
        "district days remote": pl.Int64,
        "district days without data": pl.Int64,
        "district pauses": pl.Int64,
        "first pause": pl.String,
        "schools ever remote": pl.Int64,
        "mean school days remote": pl.Float64,
        "mean school days without data": pl.Float64,
        "school-days eligible for remote": pl.Int64,
        "classroom-days remote": pl.Int64,
        "student-days not in person": pl.Int64,
        "in-person student-days kept (%)": pl.Float64,
        "rules not evaluated": pl.Int64,
    }
    data = [
        {"policy": p.policy_id, "name": p.name, "kind": p.kind, "value": p.label, **row}
        for p, row in zip(points, rows, strict=True)
    ]
    return pl.DataFrame(data, schema=schema, orient="row")


IN_FORCE = "in force"
"""The value label of the row of a policy as in force, when a sweep also changes other
settings (``base``): the point every proposal is compared with."""


def run_sweep(
    policies: Sequence[m.Policy],
    name: str,
    values: Sequence[str],
    inputs: Mapping[str, pl.DataFrame],
    start: dt.date,
    end: dt.date,
    *,
    client: Client | None = None,
    calendar: Calendar | None = None,
    base: Settings | None = None,
    apply_over_whole_period: bool = False,
    own_inputs: Mapping[tuple[str, str], Mapping[str, pl.DataFrame]] | None = None,
) -> pl.DataFrame:
    """One row per policy and value: the headline figures of that backtest. With ``base``
    (other parameters or readings set in every backtest), each policy's first row is the
    policy as in force (value ``IN_FORCE``), without ``base``.

    Without ``client`` the backtests run one after the other in this process; with one, each
    is a task on its cluster and the input frames are scattered to the workers once.
    ``own_inputs``: by (policy id, value as written), the frames that backtest reads instead
    (its event-derived metrics counted by the policy's ``counts:`` under that point's readings).
    """
    points = sweep_points(policies, name, values, base)
    if base is not None and (base.parameters or base.interpretations):
        # a proposal changing other settings too: first, each policy as it is in force
        points = [
            SweepPoint(p.id, name, kind_of(p, name), IN_FORCE, Settings()) for p in policies
        ] + points
    by_id = {p.id: p.model_dump_json(by_alias=True) for p in policies}

    def clipped(given: Mapping[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
        return {scope: frame.filter(pl.col("date") <= end) for scope, frame in given.items()}

    frames = clipped(inputs)
    # the frames of each point: the shared ones, or the point's own (one copy per distinct set)
    sets: list[dict[str, pl.DataFrame]] = [frames]
    which: list[int] = []
    seen: dict[int, int] = {}
    for p in points:
        own = (own_inputs or {}).get((p.policy_id, p.label))
        if own is None:
            which.append(0)
            continue
        if id(own) not in seen:
            seen[id(own)] = len(sets)
            sets.append(clipped(own))
        which.append(seen[id(own)])
    if client is None:
        rows = [
            sweep_one(
                by_id[p.policy_id],
                p.settings,
                sets[k],
                start,
                end,
                calendar,
                apply_over_whole_period,
            )
            for p, k in zip(points, which, strict=True)
        ]
        return _frame(points, rows)
    # One future per set of frames, on every worker: each task reads it, none re-sends it.
    shared = client.scatter(sets, broadcast=True, hash=False)
    futures = [
        client.submit(
            sweep_one,
            by_id[p.policy_id],
            p.settings,
            shared[k],
            start,
            end,
            calendar,
            apply_over_whole_period,
            pure=False,
        )
        for p, k in zip(points, which, strict=True)
    ]
    rows = client.gather(futures)
    return _frame(points, rows)


# ---------------------------------------------------------------------- report


def _numeric(labels: Sequence[str]) -> list[float] | None:
    try:
        out = [float(v) for v in labels]
    except ValueError:
        return None
    return out if all(math.isfinite(v) for v in out) else None


def sweep_plot(table: pl.DataFrame, path: Path) -> Path:
    """The outcome against the value, one line per policy, one panel per headline figure
    (``PLOTTED``), every point a cell of ``table``. A policy without a value for an outcome is
    named in its panel (``NO_VALUE``); a share in percent is drawn on 0..100."""
    fig, axes = figures.subplots(2, 3, figsize=(13, 7.5), constrained=True)
    name = str(table["name"][0]) if table.height else ""
    policies = table["policy"].unique(maintain_order=True).to_list()
    colours = figures.colormap("tab10")
    for ax, outcome in zip(axes.ravel(), PLOTTED, strict=True):
        empty = []
        for i, policy in enumerate(policies):
            rows = table.filter(pl.col("policy") == policy)
            if rows[outcome].null_count() == rows.height:
                empty.append(policy)
                continue
            labels = rows["value"].to_list()
            ys = [float("nan") if y is None else float(y) for y in rows[outcome].to_list()]
            xs = _numeric(labels)
            if xs is not None:
                pairs = sorted(zip(xs, ys, strict=True))
                ax.plot(
                    [p[0] for p in pairs],
                    [p[1] for p in pairs],
                    marker="o",
                    color=colours(i % 10),
                    label=policy,
                )
            else:
                ax.plot(range(len(labels)), ys, marker="o", color=colours(i % 10), label=policy)
                ax.set_xticks(range(len(labels)), labels, fontsize=8, rotation=15)
        if empty:
            ax.text(
                0.5,
                0.5,
                f"{NO_VALUE}:\n" + "\n".join(empty),
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=8,
                color="dimgray",
                gid="no-value",
            )
        if not ax.lines:
            ax.set_xticks([])
            ax.set_yticks([])
        elif outcome.endswith("(%)"):
            ax.set_ylim(0, 100)
        elif not (table[outcome].fill_null(0) != 0).any():
            ax.set_ylim(0, 1)  # not a 0.00..0.05 scale under a flat line
            ax.set_yticks([0, 1])
            ax.text(
                0.5,
                0.5,
                "0 for every policy and value",
                transform=ax.transAxes,
                ha="center",
                fontsize=8,
                color="dimgray",
                gid="all-zero",
            )
        else:
            ax.set_ylim(bottom=0)  # counts: a flat line at 0 is not a fall below it
            if table[outcome].max() is not None and float(table[outcome].max()) >= 1000:  # type: ignore[arg-type]
                figures.thousands(ax)
        ax.set_title(outcome, fontsize=10)
        ax.set_xlabel(name)
        ax.grid(alpha=0.3)
    handles = [figures.patch(colours(i % 10), p) for i, p in enumerate(policies)]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(policies), 4), fontsize=8)
    fig.suptitle(f"Backtest outcome against {name} (each point is a row of the table)")
    return figures.save_png(fig, path)


REMOTE_COUNTS = ["district days remote", "mean school days remote", "classroom-days remote"]
"""The outcomes that count days not in person (eligibility is not one)."""

ELIGIBLE = "school-days eligible for remote"


def unmoved(table: pl.DataFrame) -> list[str]:
    """The outcomes some policy has a value for that are the same at every swept value, for
    every policy."""
    out = []
    for outcome in OUTCOMES:
        if table[outcome].null_count() == table.height:
            continue
        per_policy = table.group_by("policy").agg(pl.col(outcome).n_unique().alias("n"))
        if (per_policy["n"] == 1).all():
            out.append(outcome)
    return out


def _what_moves(table: pl.DataFrame, name: str) -> list[Paragraph]:
    """Which figures the swept value leaves unchanged, and why eligibility alone can move."""
    still = unmoved(table)
    if not still or table["value"].n_unique() < 2:
        return []
    text = f"The same at every value of `{name}`, for every policy: {', '.join(still)}."
    if ELIGIBLE not in still and all(
        c in still for c in REMOTE_COUNTS if table[c].null_count() < table.height
    ):
        text += (
            f" Only {ELIGIBLE} moves: a school that meets the condition may go remote with an "
            "authorisation (e.g. the Tactical Team's), which the backtest does not assume, so "
            "the value changes which school-days could have gone remote, not how many did."
        )
    return [Paragraph(text)]


def sweep_page(
    table: pl.DataFrame, plot: Path, *, start: dt.date, end: dt.date, counterfactual: bool
) -> Page:
    """The sweep report: what was swept, the headline figures per value, the plot."""
    name = str(table["name"][0]) if table.height else ""
    kind = str(table["kind"][0]) if table.height else "parameter"
    policies = ", ".join(f"`{p}`" for p in table["policy"].unique(maintain_order=True).to_list())
    intro = (
        f"{policies} replayed once for each value of the {kind} `{name}` "
        + (
            "(the value replaces the parameter's dated values on every day). "
            if kind == "parameter"
            else "(the reading replaces the policy's default). "
        )
        + (
            "As asked (`--counterfactual`), each policy is applied over the whole period, "
            "whatever its own term: what it would have decided, not what was in force."
            if counterfactual
            else "Each policy applies only within its own term."
        )
    )
    return Page(
        "schoolmode sweep",
        [
            Heading(f"Sweep of {name}, {start} to {end}", level=1),
            Paragraph(intro),
            TableBlock(Table.from_frame(readable(table.select("policy", "value", *OUTCOMES)))),
            *_what_moves(table, name),
            Bullets(
                [
                    Item(text, code=term)
                    for term, text in DEFINITIONS
                    if term != "rules not evaluated"  # not a column of the sweep's table
                ]
            ),
            *(
                [Paragraph(f"Empty panels and cells: {NO_VALUE}.")]
                if any(table[c].null_count() for c in PLOTTED)
                else []
            ),
            Figures([plot]),
        ],
    )


def write_sweep_report(
    table: pl.DataFrame, out: Path, *, start: dt.date, end: dt.date, counterfactual: bool = False
) -> dict[str, Path]:
    """sweep.md, sweep.csv and sweep.png in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"sweep.csv": out / "sweep.csv"}
    write_csv(table, files["sweep.csv"])
    files["sweep.png"] = sweep_plot(table, out / "sweep.png")
    page = sweep_page(
        table, files["sweep.png"], start=start, end=end, counterfactual=counterfactual
    )
    files.update(write_page(page, out, "sweep", html=False))
    return files
