"""District commands: ``district synth`` builds a synthetic district from the CPS profiles."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from schoolmode.importers import shared_data_dir
from schoolmode.importers.cps import SchoolProfiles
from schoolmode.importers.standard import StandardLayout
from schoolmode.standard.batch import FileValidationError
from schoolmode.store.db import default_url, make_engine
from schoolmode.store.migrate import current_revision, head_revision
from schoolmode.store.service import ImportFailed, run_import
from schoolmode.synth.district import (
    SynthConfig,
    synth_absences,
    synth_district,
    write_standard_files,
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
) -> None:
    """Build a synthetic district (homerooms, students, teachers, staff, households,
    enrolments, staff assignments, calendar) from the real CPS SY2021-22 school profiles."""
    started = time.perf_counter()
    path = profiles or shared_data_dir() / PROFILES
    try:
        schools = SchoolProfiles().parse(path).frame
    except (FileValidationError, FileNotFoundError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    config = SynthConfig(seed=seed)
    district = synth_district(schools, config)
    frames = dict(district.frames)
    if absences:
        frames["absence"] = synth_absences(district, config)
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
    engine = make_engine(db or default_url())
    try:
        if current_revision(engine) != head_revision():
            typer.echo("the database is not at the latest schema: run `schoolmode init`", err=True)
            raise typer.Exit(2)
        parser = StandardLayout(SOURCE)
        failed = False
        for file in paths:
            try:
                result = run_import(engine, parser, file)
            except (FileValidationError, ImportFailed) as exc:
                typer.echo(str(exc), err=True)
                failed = True
                continue
            typer.echo(result.summary())
        if failed:
            raise typer.Exit(1)
    finally:
        engine.dispose()
