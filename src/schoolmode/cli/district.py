"""District commands: ``district synth`` builds a synthetic district from the CPS profiles,
``district surge`` runs a surge week in it. The face of ``schoolmode.app.district``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from schoolmode.cli.common import DbOption, ProgressSteps, RemovalsOption, app_context, fail

if TYPE_CHECKING:
    from schoolmode.app.district import SurgeResult, SynthResult

# The defaults the options show, written here so that ``--help`` imports neither the importers
# nor the synthetic district (polars, numpy); ``tests/cli/test_startup.py`` checks each against
# where it is defined (``SchoolProfiles.default_files[0]``, ``SynthConfig.seed``,
# ``synth.consent``).
PROFILES = "cps-schools/Chicago_Public_Schools_-_School_Profile_Information_SY2122.csv"
SEED = 20210830
STUDENT_CONSENT_SHARE = 0.25
STAFF_CONSENT_SHARE = 0.75

app = typer.Typer(help="Districts: synthetic populations.", no_args_is_help=True)


@contextmanager
def _steps() -> Iterator[ProgressSteps]:
    """Progress for a use case; a source file or input problem is the command's one-line
    error (6 for a missing or invalid file, 2 for a bad input: docs/exit-codes.md)."""
    from schoolmode.app.district import SourceFileError, SurgeInputError

    steps = ProgressSteps()
    try:
        yield steps
    except (SourceFileError, SurgeInputError) as exc:
        steps.stop()
        raise fail(exc) from None
    finally:
        steps.stop()


@app.command("synth")
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder for the standard-layout CSV files.")],
    seed: Annotated[int, typer.Option(help="Random seed: same seed, identical rows.")] = SEED,
    profiles: Annotated[
        Path | None,
        typer.Option(
            help=f"CPS school profile CSV (default: the data folder's {PROFILES}, shipped compressed)."
        ),
    ] = None,
    absences: Annotated[
        bool, typer.Option("--absences/--no-absences", help="Also write a school year of absences.")
    ] = False,
    do_import: Annotated[
        bool, typer.Option("--import", help="Import the files into the store (--db).")
    ] = False,
    db: DbOption = None,
    allow_removals: RemovalsOption = False,
    observations: Annotated[
        bool,
        typer.Option(
            "--observations",
            help="Also derive cases, quarantine/isolation orders, staff absences and substitute "
            "coverage from the real CPS school case reports and CDPH ZIP weekly rates "
            "(docs/observations.md).",
        ),
    ] = False,
    first: Annotated[
        dt.datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First day of the observations."),
    ] = None,
    last: Annotated[
        dt.datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last day of the observations."),
    ] = None,
    consent_share: Annotated[
        float,
        typer.Option(
            "--consent-share",
            min=0.0,
            max=1.0,
            help="Share of students with screening-test consent (testing_consent rows from the "
            "first roster day; 0 writes none for students). A synthetic input, not sourced.",
        ),
    ] = STUDENT_CONSENT_SHARE,
    staff_consent_share: Annotated[
        float,
        typer.Option(
            "--staff-consent-share",
            min=0.0,
            max=1.0,
            help="Share of staff with screening-test consent. A synthetic input, not sourced.",
        ),
    ] = STAFF_CONSENT_SHARE,
) -> None:
    """Build a synthetic district (homerooms, students, teachers, staff, households,
    enrolments, staff assignments, calendar) from the real CPS SY2021-22 school profiles."""
    from schoolmode.app.context import open_context
    from schoolmode.app.district import SynthRequest
    from schoolmode.app.district import synth as run

    req = SynthRequest(
        out=out,
        seed=seed,
        profiles=profiles,
        absences=absences,
        observations=observations,
        first=first.date() if first else None,
        last=last.date() if last else None,
        consent_share=consent_share,
        staff_consent_share=staff_consent_share,
    )
    if do_import:  # a store that cannot take the files is refused before the long build
        from schoolmode.cli.data import _migrated

        with app_context(db) as store:
            _migrated(store)
    with open_context() as ctx, _steps() as steps:
        result = run(ctx, req, steps)
    _print_synth(result)
    if do_import:
        _import(db, result, allow_removals)


def _print_synth(result: SynthResult) -> None:
    observed = result.observations
    if observed is not None:
        typer.echo(
            f"observations {observed.start} .. {observed.end}: {observed.cases:,} cases "
            f"({observed.real:,} from CPS reports, {observed.zip:,} from ZIP rates), "
            f"derived in {observed.seconds:.1f} s"
        )
    typer.echo(
        f"synthetic district (seed {result.seed}) from {result.schools} schools: "
        f"{result.students:,} students, {result.staff:,} staff, built in {result.seconds:.1f} s"
    )
    for f in result.files:
        typer.echo(f"  {f.name:18} {f.rows:>10,} rows -> {f.path}")


def _import(db: str | None, result: SynthResult, allow_removals: bool) -> None:
    from schoolmode.app.district import district_parser
    from schoolmode.cli.data import _migrated, run_imports

    with app_context(db) as ctx:
        _migrated(ctx)
        parser = district_parser()
        run_imports(ctx, [(parser, f.path) for f in result.files], None, allow_removals)


@app.command("surge")
def surge(
    week: Annotated[
        dt.datetime,
        typer.Option("--week", formats=["%Y-%m-%d"], help="Monday of the surge week."),
    ] = dt.datetime(2022, 1, 24),
    cases: Annotated[int, typer.Option("--cases", min=1, help="Cases reported that week.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed of the district.")] = SEED,
    profiles: Annotated[
        Path | None,
        typer.Option(
            help=f"CPS school profile CSV (default: the data folder's {PROFILES}, shipped compressed)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the orders, school metrics and decisions (CSV)."),
    ] = None,
    show: Annotated[int, typer.Option("--show", help="Schools to list.")] = 15,
) -> None:
    """A surge week end to end in the synthetic district: cases -> contact tracing -> orders
    -> absences -> school metrics -> the January 2022 agreement (cps-ctu-2022-01-10): which
    schools become eligible for remote learning and which classrooms flip."""
    from schoolmode.app.context import open_context
    from schoolmode.app.district import SurgeRequest
    from schoolmode.app.district import surge as run

    req = SurgeRequest(
        week=week.date(), cases=cases, seed=seed, profiles=profiles, out=out, show=show
    )
    with open_context() as ctx, _steps() as steps:
        result = run(ctx, req, steps)
    _print_surge(result)


def _print_surge(result: SurgeResult) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"surge week {result.start} .. {result.end} in the synthetic district "
        f"({result.students:,} students, {result.staff:,} staff), "
        f"{result.seconds:.1f} s"
    )
    for key, value in result.summary.items():
        console.print(f"  {key.replace('_', ' '):30} {value:>10,}")
    table = Table(title="Schools eligible for remote learning (the CPS Tactical Team decides)")
    for column in ("school", "first day", "rule", "teachers absent", "students quarantined"):
        table.add_column(column)
    for r in result.eligible:
        table.add_row(
            r.school,
            str(r.first_day),
            ", ".join(r.rules),
            f"{r.teachers_absent}/{r.classroom_teachers}",
            f"{r.students_out}/{r.enrolled}",
        )
    console.print(table)
    if result.wrote is not None:
        console.print(f"wrote {result.wrote}/")
