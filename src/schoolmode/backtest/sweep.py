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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import polars as pl

from schoolmode.backtest.run import run_backtest
from schoolmode.backtest.summary import headline
from schoolmode.engine.evaluate import Settings, Value
from schoolmode.engine.grid import Calendar
from schoolmode.policy import model as m
from schoolmode.policy.errors import SchoolmodeError

if TYPE_CHECKING:
    from distributed import Client

OUTCOMES = [
    "district days remote",
    "district pauses",
    "first pause",
    "schools ever remote",
    "mean school days remote",
    "school-days eligible for remote",
    "classroom-days remote",
    "in-person student-days kept (%)",
]
"""The headline figures reported for each swept value (``summary.headline`` columns)."""

PLOTTED = [
    "district days remote",
    "mean school days remote",
    "school-days eligible for remote",
    "in-person student-days kept (%)",
]

Kind = Literal["parameter", "interpretation"]


@dataclass(frozen=True)
class SweepPoint:
    """One backtest of a sweep: a policy with one value of the swept name."""

    policy_id: str
    name: str
    kind: Kind
    label: str  # the value as written on the command line
    settings: Settings


def kind_of(policy: m.Policy, name: str) -> Kind:
    if name in policy.parameters:
        return "parameter"
    if name in policy.interpretations:
        return "interpretation"
    raise SchoolmodeError(
        f"policy {policy.id!r} has no parameter or interpretation {name!r}; parameters: "
        f"{', '.join(sorted(policy.parameters)) or 'none'}; interpretations: "
        f"{', '.join(sorted(policy.interpretations)) or 'none'}"
    )


def parse_value(policy: m.Policy, name: str, text: str) -> Value:
    """A command-line value as the engine wants it for ``name`` of ``policy``."""
    text = text.strip()
    if kind_of(policy, name) == "interpretation":
        spec = policy.interpretations[name]
        matches = [c for c in spec.choices if str(c) == text]
        if not matches:
            raise SchoolmodeError(
                f"interpretation {name!r} of policy {policy.id!r} cannot be {text!r}; "
                f"choose from {', '.join(map(str, spec.choices))}"
            )
        return matches[0]
    current = [v.value for v in policy.parameters[name].values if v.value is not None]
    if current and isinstance(current[0], bool):
        if text.lower() not in ("true", "false"):
            raise SchoolmodeError(
                f"parameter {name!r} of {policy.id!r} is true or false, not {text!r}"
            )
        return text.lower() == "true"
    if current and isinstance(current[0], str):
        return text
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise SchoolmodeError(
            f"parameter {name!r} of {policy.id!r} is a number, not {text!r}"
        ) from None
    if not value.is_finite():
        raise SchoolmodeError(f"parameter {name!r} of {policy.id!r} must be finite, not {text!r}")
    return value


def sweep_points(
    policies: Sequence[m.Policy], name: str, values: Sequence[str], base: Settings | None = None
) -> list[SweepPoint]:
    """Every (policy, value) pair, in order: policies outer, values inner."""
    if not values:
        raise SchoolmodeError("give at least one value to sweep")
    base = base or Settings()
    points = []
    for policy in policies:
        kind = kind_of(policy, name)
        for text in values:
            value = parse_value(policy, name, text)
            if kind == "parameter":
                settings = Settings(
                    interpretations=dict(base.interpretations),
                    parameters={**base.parameters, name: value},
                )
            else:
                if value is None or isinstance(value, list):  # pragma: no cover - a choice
                    raise SchoolmodeError(f"interpretation {name!r} needs a value")
                settings = Settings(
                    interpretations={**base.interpretations, name: value},
                    parameters=dict(base.parameters),
                )
            points.append(SweepPoint(policy.id, name, kind, text.strip(), settings))
    return points


def sweep_one(
    policy_json: str,
    settings: Settings,
    inputs: Mapping[str, pl.DataFrame],
    start: dt.date,
    end: dt.date,
    calendar: Calendar | None = None,
    apply_over_whole_period: bool = True,
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
        "district pauses": pl.Int64,
        "first pause": pl.String,
        "schools ever remote": pl.Int64,
        "mean school days remote": pl.Float64,
        "school-days eligible for remote": pl.Int64,
        "classroom-days remote": pl.Int64,
        "in-person student-days kept (%)": pl.Float64,
        "rules not evaluated": pl.Int64,
    }
    data = [
        {"policy": p.policy_id, "name": p.name, "kind": p.kind, "value": p.label, **row}
        for p, row in zip(points, rows, strict=True)
    ]
    return pl.DataFrame(data, schema=schema, orient="row")


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
    apply_over_whole_period: bool = True,
) -> pl.DataFrame:
    """One row per policy and value: the headline figures of that backtest.

    Without ``client`` the backtests run one after the other in this process; with one, each
    is a task on its cluster and the input frames are scattered to the workers once.
    """
    points = sweep_points(policies, name, values, base)
    by_id = {p.id: p.model_dump_json(by_alias=True) for p in policies}
    frames = {scope: frame.filter(pl.col("date") <= end) for scope, frame in inputs.items()}
    if client is None:
        rows = [
            sweep_one(
                by_id[p.policy_id],
                p.settings,
                frames,
                start,
                end,
                calendar,
                apply_over_whole_period,
            )
            for p in points
        ]
        return _frame(points, rows)
    # One future holding every frame, on every worker: each task reads it, none re-sends it.
    [shared] = client.scatter([frames], broadcast=True, hash=False)
    futures = [
        client.submit(
            sweep_one,
            by_id[p.policy_id],
            p.settings,
            shared,
            start,
            end,
            calendar,
            apply_over_whole_period,
            pure=False,
        )
        for p in points
    ]
    rows = client.gather(futures)
    return _frame(points, rows)


@contextmanager
def dask_client(workers: int = 2, scheduler: str | None = None) -> Iterator[Client]:
    """A client of an existing scheduler, or of a fresh ``LocalCluster`` of worker processes
    bound to 127.0.0.1 with no dashboard, closed on exit."""
    import logging

    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    if workers < 1:
        raise SchoolmodeError(f"--workers must be at least 1, not {workers}")
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # no dashboard; the scheduler's small HTTP server (health routes) on any free port
            # of 127.0.0.1, not 8787, so that two clusters on one machine do not collide
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


# ---------------------------------------------------------------------- report


def _numeric(labels: Sequence[str]) -> list[float] | None:
    try:
        out = [float(v) for v in labels]
    except ValueError:
        return None
    return out if all(math.isfinite(v) for v in out) else None


def sweep_plot(table: pl.DataFrame, path: Path) -> Path:
    """The outcome against the value, one line per policy, one panel per headline figure."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    name = str(table["name"][0]) if table.height else ""
    for ax, outcome in zip(axes.ravel(), PLOTTED, strict=True):
        for policy in table["policy"].unique(maintain_order=True).to_list():
            rows = table.filter(pl.col("policy") == policy)
            labels = rows["value"].to_list()
            ys = [float("nan") if y is None else float(y) for y in rows[outcome].to_list()]
            xs = _numeric(labels)
            if xs is not None:
                pairs = sorted(zip(xs, ys, strict=True))
                ax.plot([p[0] for p in pairs], [p[1] for p in pairs], marker="o", label=policy)
            else:
                ax.plot(range(len(labels)), ys, marker="o", label=policy)
                ax.set_xticks(range(len(labels)), labels, fontsize=8, rotation=15)
        ax.set_title(outcome, fontsize=10)
        ax.set_xlabel(name)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"Backtest outcome against {name}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_sweep_report(
    table: pl.DataFrame, out: Path, *, start: dt.date, end: dt.date, counterfactual: bool = True
) -> dict[str, Path]:
    """sweep.md, sweep.csv and sweep.png in ``out``."""
    from schoolmode.backtest.report import markdown_table

    out.mkdir(parents=True, exist_ok=True)
    files = {"sweep.csv": out / "sweep.csv", "sweep.md": out / "sweep.md"}
    table.write_csv(files["sweep.csv"])
    files["sweep.png"] = sweep_plot(table, out / "sweep.png")
    name = str(table["name"][0]) if table.height else ""
    kind = str(table["kind"][0]) if table.height else "parameter"
    policies = ", ".join(f"`{p}`" for p in table["policy"].unique(maintain_order=True).to_list())
    shown = table.select("policy", "value", *OUTCOMES)
    text = [
        f"# Sweep of {name}, {start} to {end}",
        "",
        f"{policies} replayed once for each value of the {kind} `{name}` "
        + (
            "(the value replaces the parameter's dated values on every day). "
            if kind == "parameter"
            else "(the reading replaces the policy's default). "
        )
        + (
            "Each policy is applied over the whole period, whatever its own term (a counterfactual)."
            if counterfactual
            else "Each policy applies only within its own term."
        ),
        "",
        markdown_table(shown),
        "",
        "Days remote count calendar days on which the unit was not in person (pauses, remote or hybrid).",
        "",
        f"![sweep]({files['sweep.png'].name})",
        "",
    ]
    files["sweep.md"].write_text("\n".join(text), encoding="utf-8")
    return files
