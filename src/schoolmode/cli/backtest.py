"""``schoolmode backtest``: replay history through several policies and write a report;
``schoolmode backtest sweep``: how one policy's outcome moves with one threshold."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from schoolmode.cli.common import policies_root, store_url
from schoolmode.policy.errors import SchoolmodeError

console = Console(highlight=False)
if not console.is_terminal:
    console = Console(highlight=False, width=180)

WithinTerm = Annotated[
    bool, typer.Option("--within-term", help="Apply each policy only within its own term.")
]
SchoolYear = Annotated[
    str | None, typer.Option(help="School profiles to use (default: the earliest stored).")
]
PoliciesDir = Annotated[Path | None, typer.Option("--policies-dir", help="Folder of policies.")]

CHICAGO_POLICIES = [
    "cps-lbfo-2021-02-04",
    "ctu-demand-2021-02",
    "cps-ctu-2021-02-06",
    "cps-ctu-2021-04-15-hs",
    "ctu-proposal-2021-12-30",
    "cps-proposal-2022-01-04",
    "ctu-proposal-2022-01-08",
    "cps-ctu-2022-01-10",
    "cdc-indicators-2020-09-15",
    "cdc-k12-2021-02-12",
]


app = typer.Typer(
    help="Replay history through several policies; `backtest sweep` varies one threshold.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@app.callback()
def backtest(
    ctx: typer.Context,
    policies: Annotated[
        str,
        typer.Option(
            help="Comma-separated policy ids (default: the Chicago ones and CDC school guidance)."
        ),
    ] = ",".join(CHICAGO_POLICIES),
    from_: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")] = "2020-09-01",
    to: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD).")] = "2022-06-30",
    db: Annotated[
        str | None, typer.Option(help="Store URL (default: sqlite:///schoolmode.sqlite).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the report and data files.")] = Path(
        "out/backtest"
    ),
    within_term: WithinTerm = False,
    school_year: SchoolYear = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Replay history day by day through each policy; write report.md, report.html, plots and data."""
    if ctx.invoked_subcommand is not None:
        return
    from schoolmode.backtest.report import write_report
    from schoolmode.backtest.run import run_backtest
    from schoolmode.backtest.summary import headline
    from schoolmode.metrics.frames import district_frame, schools, unit_frames
    from schoolmode.policy.loader import Registry
    from schoolmode.reports.table import markdown_table
    from schoolmode.store.db import make_engine

    try:
        start, end = dt.date.fromisoformat(from_), dt.date.fromisoformat(to)
        if end < start:
            raise SchoolmodeError(f"--to {end} is before --from {start}")
        registry = Registry(policies_root(policies_dir))
        chosen = [registry.get(pid.strip()).policy for pid in policies.split(",") if pid.strip()]
        engine = make_engine(store_url(db))
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("reading metrics from the store", total=3)
            district = district_frame(engine, start, end)
            units = unit_frames(engine, district, schools(engine, school_year))
            progress.update(task, advance=1, description=f"replaying {len(chosen)} policies")
            result = run_backtest(
                chosen,
                {"district": district, **units},
                start,
                end,
                apply_over_whole_period=not within_term,
            )
            progress.update(task, advance=1, description="writing the report")
            files = write_report(result, out)
            progress.update(task, advance=1)
    except (SchoolmodeError, LookupError, ValueError) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(code=2) from None
    console.print(markdown_table(headline(result)), markup=False)
    console.print(f"report: {files['report.md']} and {files['report.html']}")


def _read_history(
    db: str | None, start: dt.date, end: dt.date, school_year: str | None
) -> dict[str, pl.DataFrame]:
    from schoolmode.metrics.frames import district_frame, schools, unit_frames
    from schoolmode.store.db import make_engine

    engine = make_engine(store_url(db))
    district = district_frame(engine, start, end)
    return {"district": district, **unit_frames(engine, district, schools(engine, school_year))}


@app.command()
def sweep(
    policy: Annotated[
        str,
        typer.Option(
            "--policy",
            "--policies",
            help="Policy id, or comma-separated ids sharing the swept name.",
        ),
    ],
    param: Annotated[
        str,
        typer.Option(
            "--param", help="Parameter (e.g. teacher_absence_share_pct) or interpretation name."
        ),
    ],
    values: Annotated[
        str, typer.Option("--values", help="Comma-separated values, e.g. 20,25,30,35,40.")
    ],
    from_: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")] = "2020-09-01",
    to: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD).")] = "2022-06-30",
    db: Annotated[
        str | None, typer.Option(help="Store URL (default: sqlite:///schoolmode.sqlite).")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Address of a running Dask scheduler (default: start a LocalCluster)."),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="Worker processes of the LocalCluster; 0 runs serially here.")
    ] = 2,
    out: Annotated[Path, typer.Option(help="Folder for sweep.md, sweep.csv, sweep.png.")] = Path(
        "out/sweep"
    ),
    within_term: WithinTerm = False,
    school_year: SchoolYear = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Backtest once per value of one parameter; write a table and a plot of the outcome."""
    from schoolmode.backtest.sweep import OUTCOMES, run_sweep, write_sweep_report
    from schoolmode.engine.settings import sweep_points
    from schoolmode.parallel import dask_client
    from schoolmode.policy.loader import Registry
    from schoolmode.reports.table import markdown_table

    try:
        start, end = dt.date.fromisoformat(from_), dt.date.fromisoformat(to)
        if end < start:
            raise SchoolmodeError(f"--to {end} is before --from {start}")
        registry = Registry(policies_root(policies_dir))
        chosen = [registry.get(pid.strip()).policy for pid in policy.split(",") if pid.strip()]
        if not chosen:
            raise SchoolmodeError("--policy names no policy")
        listed = [v for v in values.split(",") if v.strip()]
        sweep_points(chosen, param, listed)  # check names and values before reading the store
        history = _read_history(db, start, end, school_year)
        where = scheduler or ("serial" if workers == 0 else f"LocalCluster of {workers} workers")
        console.print(f"{len(chosen) * len(listed)} backtests on {where}")
        whole = not within_term
        if workers == 0 and not scheduler:
            table = run_sweep(
                chosen, param, listed, history, start, end, apply_over_whole_period=whole
            )
        else:
            with dask_client(workers, scheduler) as client:
                table = run_sweep(
                    chosen,
                    param,
                    listed,
                    history,
                    start,
                    end,
                    client=client,
                    apply_over_whole_period=whole,
                )
        files = write_sweep_report(table, out, start=start, end=end, counterfactual=not within_term)
    except (SchoolmodeError, LookupError, ValueError, OSError) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(code=2) from None
    console.print(markdown_table(table.select("policy", "value", *OUTCOMES)), markup=False)
    console.print(f"report: {files['sweep.md']}, {files['sweep.csv']}, {files['sweep.png']}")
