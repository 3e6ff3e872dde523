"""``schoolmode backtest``: replay history through several policies and write a report;
``schoolmode backtest sweep``: how one policy's outcome moves with one threshold. The face of
``schoolmode.app.backtests``."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from schoolmode.cli.common import DbOption, app_context, console, parse_day, stages

Counterfactual = Annotated[
    bool,
    typer.Option(
        "--counterfactual",
        help="Apply each policy over the whole period, whatever its own term (default: each "
        "only within its term; outside it a policy is not in force).",
    ),
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
    "ctu-resolution-2022-01-04",
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
    db: DbOption = None,
    out: Annotated[Path, typer.Option(help="Folder for the report and data files.")] = Path(
        "out/backtest"
    ),
    counterfactual: Counterfactual = False,
    school_year: SchoolYear = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Replay history day by day through each policy; write report.md, report.html, plots and data."""
    if ctx.invoked_subcommand is not None:
        return
    from schoolmode.app.backtests import BacktestRequest
    from schoolmode.app.backtests import backtest as run
    from schoolmode.reports.table import markdown_table

    with app_context(db, policies_dir) as context, ExitStack() as stack:
        req = BacktestRequest(
            policy_ids=policies.split(","),
            start=parse_day(from_, "--from"),
            end=parse_day(to, "--to"),
            out=out,
            counterfactual=counterfactual,
            school_year=school_year,
        )
        bars: list[tuple[Progress, TaskID]] = []

        def stage(description: str) -> None:
            if not bars:  # the display starts with the first stage, once the input is checked
                progress = stack.enter_context(
                    Progress(
                        SpinnerColumn(),
                        TextColumn("{task.description}"),
                        TimeElapsedColumn(),
                        console=console,
                        transient=True,
                    )
                )
                bars.append((progress, progress.add_task(description, total=3)))
            else:
                progress, task = bars[0]
                progress.update(task, advance=1, description=description)

        result = run(context, req, stage)
    console.print(markdown_table(result.headline), markup=False)
    console.print(f"report: {result.files['report.md']} and {result.files['report.html']}")


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
    db: DbOption = None,
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
    counterfactual: Counterfactual = False,
    school_year: SchoolYear = None,
    fixed: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Another parameter or reading set in every backtest (name=value; repeat it): "
            "a proposal changing several at once, the policy as in force listed first.",
        ),
    ] = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Backtest once per value of one parameter; write a table and a plot of the outcome."""
    from schoolmode.app.backtests import SweepRequest
    from schoolmode.app.backtests import sweep as run
    from schoolmode.reports.table import markdown_table

    with app_context(db, policies_dir) as context:
        req = SweepRequest(
            policy_ids=policy.split(","),
            param=param,
            values=[v for v in values.split(",") if v.strip()],
            start=parse_day(from_, "--from"),
            end=parse_day(to, "--to"),
            out=out,
            scheduler=scheduler,
            workers=workers,
            counterfactual=counterfactual,
            school_year=school_year,
            fixed=fixed or [],
        )
        with stages("reading the history from the store") as stage:

            def started(runs: int, where: str) -> None:
                console.print(f"{runs} backtests on {where}")
                stage(f"running {runs} backtests on {where}")

            result = run(context, req, started)
    table = result.table.select("policy", "value", *result.outcomes)
    console.print(markdown_table(table), markup=False)
    files = result.files
    console.print(f"report: {files['sweep.md']}, {files['sweep.csv']}, {files['sweep.png']}")
