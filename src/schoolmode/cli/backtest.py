"""``schoolmode backtest``: replay history through several policies and write a report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from schoolmode.policy.errors import SchoolmodeError

console = Console(highlight=False)
if not console.is_terminal:
    console = Console(highlight=False, width=180)

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


def backtest(
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
    within_term: Annotated[
        bool, typer.Option("--within-term", help="Apply each policy only within its own term.")
    ] = False,
    school_year: Annotated[
        str | None, typer.Option(help="School profiles to use (default: the earliest stored).")
    ] = None,
    policies_dir: Annotated[
        Path | None, typer.Option("--policies-dir", help="Folder of policies.")
    ] = None,
) -> None:
    """Replay history day by day through each policy; write report.md, report.html, plots and data."""
    from schoolmode.backtest.report import markdown_table, write_report
    from schoolmode.backtest.run import run_backtest
    from schoolmode.backtest.summary import headline
    from schoolmode.metrics.frames import district_frame, schools, unit_frames
    from schoolmode.policy.loader import Registry
    from schoolmode.store.db import make_engine

    try:
        start, end = dt.date.fromisoformat(from_), dt.date.fromisoformat(to)
        if end < start:
            raise SchoolmodeError(f"--to {end} is before --from {start}")
        registry = Registry(policies_dir)
        chosen = [registry.get(pid.strip()).policy for pid in policies.split(",") if pid.strip()]
        engine = make_engine(db)
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
