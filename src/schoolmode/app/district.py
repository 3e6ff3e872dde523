"""Use cases of the synthetic district: build it (with absences, observations and screening
consent) and write its standard-layout files; run a surge week end to end."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict

from schoolmode.app.context import Context
from schoolmode.app.progress import Silent, Steps
from schoolmode.importers.base import source_file
from schoolmode.importers.cdph import ZipWeekly
from schoolmode.importers.cps import SchoolCovidCases, SchoolProfiles
from schoolmode.importers.standard import StandardLayout
from schoolmode.policy.errors import InputDataError, SchoolmodeError
from schoolmode.reports.export import write_csv
from schoolmode.standard.batch import FileValidationError
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
from schoolmode.synth.surge import surge_week
from schoolmode.synth.testing import TestingConfig, synth_accommodation_requests, synth_tests

SOURCE = "synthetic-district"
"""The source name the district's files are imported under."""
PROFILES = SchoolProfiles.default_files[0]
"""The CPS school profiles, relative to the data folder."""


class SourceFileError(InputDataError):
    """A source file (school profiles, case reports, ZIP rates) is missing or invalid."""


def _source_problem(exc: Exception) -> SourceFileError:
    """A missing source file said with the fix (the data folder); an invalid one as it is."""
    if isinstance(exc, FileNotFoundError):
        return SourceFileError(
            f"missing source file {exc.filename}: the data folder (SCHOOLMODE_DATA, default "
            "the snapshot shipped with schoolmode) lacks it; name another with SCHOOLMODE_DATA "
            "or the file with --profiles"
        )
    return SourceFileError(str(exc))


class SurgeInputError(SchoolmodeError):
    """A surge request the week cannot be run for (not a Monday, too many cases)."""


def district_parser() -> StandardLayout:
    """The parser the district's files are imported with."""
    return StandardLayout(SOURCE)


def _schools(ctx: Context, profiles: Path | None) -> pl.DataFrame:
    path = profiles or source_file(ctx.settings.data_dir, PROFILES)
    try:
        return SchoolProfiles().parse(path).frame
    except (FileValidationError, FileNotFoundError) as exc:
        raise _source_problem(exc) from exc


class SynthRequest(BaseModel):
    """A synthetic district from the CPS school profiles (``profiles`` or the shared copy),
    written as standard-layout CSV files under ``out``."""

    model_config = ConfigDict(frozen=True)

    out: Path
    seed: int = SynthConfig.seed
    profiles: Path | None = None
    absences: bool = False
    """Also a school year of absences."""
    observations: bool = False
    """Also cases, orders, absences and coverage derived from the real reports and rates."""
    first: dt.date | None = None
    """First day of the observations (default: the observation config's)."""
    last: dt.date | None = None
    consent_share: float = STUDENT_CONSENT_SHARE
    staff_consent_share: float = STAFF_CONSENT_SHARE


class ObservationSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: dt.date
    end: dt.date
    cases: int
    real: int
    """Cases from the CPS school reports."""
    zip: int
    """Cases from the ZIP weekly rates."""
    seconds: float


class FileRows(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    rows: int
    path: Path


class SynthResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    seed: int
    schools: int
    students: int
    staff: int
    seconds: float
    files: list[FileRows]
    """Each record type written: its rows and its file."""
    observations: ObservationSummary | None


def _observe(
    ctx: Context,
    frames: dict[str, pl.DataFrame],
    district: SyntheticDistrict,
    schools: pl.DataFrame,
    req: SynthRequest,
    steps: Steps,
) -> tuple[dict[str, pl.DataFrame], ObservationSummary]:
    base = ObservationConfig()
    config = replace(
        base,
        start=req.first or base.start,
        end=req.last or base.end,
        seed=base.seed if req.seed == SynthConfig.seed else req.seed,
    )
    data = ctx.settings.data_dir
    started = time.perf_counter()
    steps.start("observations: reading CPS case reports and CDPH ZIP weekly", 3)
    try:
        reports = SchoolCovidCases().parse(SchoolCovidCases().default_paths(data)[0]).frame
        steps.advance()
        zips = zip_weekly_frame(ZipWeekly().parse(ZipWeekly().default_paths(data)[0]).frame)
    except (FileValidationError, FileNotFoundError) as exc:
        raise _source_problem(exc) from exc
    steps.advance("observations: deriving")
    observed = derive_observations(district, schools, reports, zips, config)
    steps.advance()
    weekly = observed.weekly.group_by("origin").agg(pl.col("cases").sum())
    origin = dict(zip(weekly["origin"].to_list(), weekly["cases"].to_list(), strict=True))
    summary = ObservationSummary(
        start=config.start,
        end=config.end,
        cases=observed.frames["case"].height,
        real=origin.get("real", 0),
        zip=origin.get("zip", 0),
        seconds=time.perf_counter() - started,
    )
    return merge_into(SyntheticDistrict(frames), observed), summary


def synth(ctx: Context, req: SynthRequest, steps: Steps | None = None) -> SynthResult:
    """Build the district and write its files (same seed, identical rows)."""
    started = time.perf_counter()
    schools = _schools(ctx, req.profiles)
    config = SynthConfig(seed=req.seed)
    district = synth_district(schools, config)
    frames = dict(district.frames)
    if req.absences:
        frames["absence"] = synth_absences(district, config)
    observed = None
    if req.observations:
        frames, observed = _observe(ctx, frames, district, schools, req, steps or Silent())
    frames["testing_consent"] = district_consent(
        frames, req.consent_share, req.staff_consent_share, req.seed
    )
    testing = TestingConfig(seed=req.seed)
    frames["accommodation_request"] = synth_accommodation_requests(frames, testing)
    if req.observations:
        days = frames["calendar_day"].filter(pl.col("instructional")).select("date").unique()
        frames["test"] = synth_tests(frames, days.sort("date"), testing)
    paths = write_standard_files(frames, req.out)
    return SynthResult(
        seed=req.seed,
        schools=schools.height,
        students=district.students,
        staff=district.staff,
        seconds=time.perf_counter() - started,
        files=[
            FileRows(name=name, rows=frame.height, path=path)
            for (name, frame), path in zip(frames.items(), paths, strict=True)
        ],
        observations=observed,
    )


class SurgeRequest(BaseModel):
    """A surge week (``week`` a Monday, ``cases`` reported that week) in the district of
    ``seed``; the orders, school metrics and decisions written under ``out`` if given."""

    model_config = ConfigDict(frozen=True)

    week: dt.date
    cases: int = 3000
    seed: int = SynthConfig.seed
    profiles: Path | None = None
    out: Path | None = None
    show: int = 15
    """Schools to list."""


class EligibleSchool(BaseModel):
    model_config = ConfigDict(frozen=True)

    school: str
    first_day: dt.date
    rules: list[str]
    """The rules that made it eligible that day."""
    teachers_absent: int
    classroom_teachers: int
    students_out: int
    """Students in quarantine or isolation."""
    enrolled: int


class SurgeResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: dt.date
    end: dt.date
    students: int
    staff: int
    seconds: float
    summary: dict[str, int]
    """The week's counts (cases, orders, absences, eligible schools, ...)."""
    eligible: list[EligibleSchool]
    """The first ``show`` schools eligible for remote learning, by first day."""
    wrote: Path | None
    """The folder the CSV files were written to."""


def _eligible(eligible: pl.DataFrame, show: int) -> list[EligibleSchool]:
    first = eligible.sort("date").unique("unit", keep="first").sort("date", "unit")
    rows = []
    for r in first.head(show).iter_rows(named=True):
        rules = [c.split(".", 1)[1] for c in eligible.columns if c.startswith("trigger.") and r[c]]
        rows.append(
            EligibleSchool(
                school=r["unit"],
                first_day=r["date"],
                rules=rules,
                teachers_absent=r["covid_absent_teachers"],
                classroom_teachers=r["classroom_teachers"],
                students_out=r["students_quarantine_isolation"],
                enrolled=r["enrolled"],
            )
        )
    return rows


def surge(ctx: Context, req: SurgeRequest, steps: Steps | None = None) -> SurgeResult:
    """Cases -> contact tracing -> orders -> absences -> school metrics -> the January 2022
    agreement (cps-ctu-2022-01-10): which schools become eligible, which classrooms flip."""
    tell = steps or Silent()
    started = time.perf_counter()
    schools = _schools(ctx, req.profiles)
    if req.week.weekday() != 0:
        raise SurgeInputError(f"--week {req.week} is a {req.week:%A}: give the Monday of the week")
    tell.start("surge: building the district", 2)
    district = synth_district(schools, SynthConfig(seed=req.seed))
    tell.advance(f"surge: tracing {req.cases:,} cases and evaluating")
    try:
        result = surge_week(district, req.week, req.cases)
    except ValueError as exc:
        raise SurgeInputError(str(exc)) from exc
    tell.advance()
    seconds = time.perf_counter() - started
    eligible = result.eligible_schools()
    if req.out is not None:
        req.out.mkdir(parents=True, exist_ok=True)
        write_csv(result.orders, req.out / "quarantine_order.csv")
        write_csv(result.school, req.out / "school_metrics.csv")
        write_csv(eligible, req.out / "eligible_schools.csv")
        write_csv(result.flipped_classrooms(), req.out / "flipped_classrooms.csv")
    return SurgeResult(
        start=result.start,
        end=result.end,
        students=district.students,
        staff=district.staff,
        seconds=seconds,
        summary=result.summary(),
        eligible=_eligible(eligible, req.show),
        wrote=req.out,
    )
