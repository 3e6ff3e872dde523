"""District commands: ``district synth`` builds a synthetic district from the CPS profiles."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from schoolmode.cli.common import data_root, store_url
from schoolmode.cli.data import run_imports
from schoolmode.importers.cdph import ZipWeekly
from schoolmode.importers.cps import SchoolCovidCases, SchoolProfiles
from schoolmode.importers.standard import StandardLayout
from schoolmode.standard.batch import FileValidationError
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import current_revision, head_revision
from schoolmode.synth.consent import STAFF_CONSENT_SHARE, STUDENT_CONSENT_SHARE, district_consent
from schoolmode.synth.district import (
    SynthConfig,
    SyntheticDistrict,
    synth_absences,
    synth_district,
    write_standard_files,
)
from schoolmode.synth.observations import (
    ObservationConfig,
    derive_observations,
    merge_into,
    zip_weekly_frame,
)

SOURCE = "synthetic-district"
PROFILES = SchoolProfiles.default_files[0]

app = typer.Typer(help="Districts: synthetic populations.", no_args_is_help=True)


@app.command("synth")
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder for the standard-layout CSV files.")],
    seed: Annotated[int, typer.Option(help="Random seed: same seed, identical rows.")] = (
        SynthConfig.seed
    ),
    profiles: Annotated[
        Path | None,
        typer.Option(help=f"CPS school profile CSV (default: <shared data>/{PROFILES})."),
    ] = None,
    absences: Annotated[
        bool, typer.Option("--absences/--no-absences", help="Also write a school year of absences.")
    ] = False,
    do_import: Annotated[
        bool, typer.Option("--import", help="Import the files into the store (--db).")
    ] = False,
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL for --import (default $SCHOOLMODE_DB).")
    ] = None,
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
    started = time.perf_counter()
    schools = _schools(profiles)
    config = SynthConfig(seed=seed)
    district = synth_district(schools, config)
    frames = dict(district.frames)
    if absences:
        frames["absence"] = synth_absences(district, config)
    if observations:
        frames = _observe(frames, district, schools, first, last, seed)
    frames["testing_consent"] = district_consent(frames, consent_share, staff_consent_share, seed)
    paths = write_standard_files(frames, out)
    took = time.perf_counter() - started
    typer.echo(
        f"synthetic district (seed {seed}) from {schools.height} schools: "
        f"{district.students:,} students, {district.staff:,} staff, built in {took:.1f} s"
    )
    for name, frame in frames.items():
        typer.echo(f"  {name:18} {frame.height:>10,} rows -> {out / (name + '.csv')}")
    if not do_import:
        return
    engine = make_engine(store_url(db))
    try:
        if current_revision(engine) != head_revision():
            typer.echo("the database is not at the latest schema: run `schoolmode init`", err=True)
            raise typer.Exit(2)
        parser = StandardLayout(SOURCE)
        run_imports(engine, [(parser, file) for file in paths], None)
    finally:
        engine.dispose()


def _schools(profiles: Path | None) -> pl.DataFrame:
    """The CPS school profiles (``--profiles`` or the shared copy); exit 1 naming the problem
    if the file is missing or invalid."""
    path = profiles or data_root() / PROFILES
    try:
        return SchoolProfiles().parse(path).frame
    except (FileValidationError, FileNotFoundError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    )


def _observe(
    frames: dict[str, pl.DataFrame],
    district: SyntheticDistrict,
    schools: pl.DataFrame,
    first: dt.datetime | None,
    last: dt.datetime | None,
    seed: int,
) -> dict[str, pl.DataFrame]:
    """Derive the observations and merge them into ``frames`` (with a progress display)."""
    base = ObservationConfig()
    config = replace(
        base,
        start=first.date() if first else base.start,
        end=last.date() if last else base.end,
        seed=base.seed if seed == SynthConfig.seed else seed,
    )
    data = data_root()
    started = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task("observations: reading CPS case reports and CDPH ZIP weekly", total=3)
        try:
            reports = SchoolCovidCases().parse(data / SchoolCovidCases.default_files[0]).frame
            bar.advance(task)
            zips = zip_weekly_frame(ZipWeekly().parse(data / ZipWeekly.default_files[0]).frame)
        except (FileValidationError, FileNotFoundError) as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from exc
        bar.update(task, advance=1, description="observations: deriving")
        observed = derive_observations(district, schools, reports, zips, config)
        bar.advance(task)
    weekly = observed.weekly.group_by("origin").agg(pl.col("cases").sum())
    origin = dict(zip(weekly["origin"].to_list(), weekly["cases"].to_list(), strict=True))
    typer.echo(
        f"observations {config.start} .. {config.end}: {observed.frames['case'].height:,} cases "
        f"({origin.get('real', 0):,} from CPS reports, {origin.get('zip', 0):,} from ZIP rates), "
        f"derived in {time.perf_counter() - started:.1f} s"
    )
    return merge_into(SyntheticDistrict(frames), observed)


@app.command("surge")
def surge(
    week: Annotated[
        dt.datetime,
        typer.Option("--week", formats=["%Y-%m-%d"], help="Monday of the surge week."),
    ] = dt.datetime(2022, 1, 24),
    cases: Annotated[int, typer.Option("--cases", min=1, help="Cases reported that week.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed of the district.")] = SynthConfig.seed,
    profiles: Annotated[
        Path | None,
        typer.Option(help=f"CPS school profile CSV (default: <shared data>/{PROFILES})."),
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
    from rich.console import Console
    from rich.table import Table

    from schoolmode.synth.surge import surge_week

    started = time.perf_counter()
    schools = _schools(profiles)
    monday = week.date()
    if monday.weekday() != 0:
        typer.echo(f"--week {monday} is a {monday:%A}: give the Monday of the week", err=True)
        raise typer.Exit(2)
    with _progress() as bar:
        task = bar.add_task("surge: building the district", total=2)
        district = synth_district(schools, SynthConfig(seed=seed))
        bar.update(task, advance=1, description=f"surge: tracing {cases:,} cases and evaluating")
        try:
            result = surge_week(district, monday, cases)
        except ValueError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from exc
        bar.advance(task)
    console = Console()
    summary = result.summary()
    console.print(
        f"surge week {result.start} .. {result.end} in the synthetic district "
        f"({district.students:,} students, {district.staff:,} staff), "
        f"{time.perf_counter() - started:.1f} s"
    )
    for key, value in summary.items():
        console.print(f"  {key.replace('_', ' '):30} {value:>10,}")
    eligible = result.eligible_schools()
    table = Table(title="Schools eligible for remote learning (the CPS Tactical Team decides)")
    for column in ("school", "first day", "rule", "teachers absent", "students quarantined"):
        table.add_column(column)
    first = eligible.sort("date").unique("unit", keep="first").sort("date", "unit")
    for r in first.head(show).iter_rows(named=True):
        rules = [c.split(".", 1)[1] for c in eligible.columns if c.startswith("trigger.") and r[c]]
        table.add_row(
            r["unit"],
            str(r["date"]),
            ", ".join(rules),
            f"{r['covid_absent_teachers']}/{r['classroom_teachers']}",
            f"{r['students_quarantine_isolation']}/{r['enrolled']}",
        )
    console.print(table)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        result.orders.write_csv(out / "quarantine_order.csv")
        result.school.write_csv(out / "school_metrics.csv")
        eligible.write_csv(out / "eligible_schools.csv")
        result.flipped_classrooms().write_csv(out / "flipped_classrooms.csv")
        console.print(f"wrote {out}/")
