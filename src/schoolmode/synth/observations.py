"""Observations over the synthetic district: cases, quarantine/isolation orders, staff
absences and substitute coverage, derived from the real CPS school-level case reports and the
CDPH ZIP weekly case rates.

The method, its sources and every assumption are in ``docs/observations.md``; the numbers live
in :class:`ObservationConfig`. Vectorised (numpy/polars, no loop over people or days) and
deterministic: every random decision draws from its own named stream seeded from
``ObservationConfig.seed`` and the stream's name, so changing one step does not shift the
draws of another.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from schoolmode.draws import stream
from schoolmode.operations.tracing import (
    CPS_QUARANTINE,
    Rosters,
    Tracing,
    rules_in_force,
    trace,
)
from schoolmode.policy.loader import Registry, shipped_registry
from schoolmode.standard.batch import frame_schema
from schoolmode.standard.models import RECORD_TYPES
from schoolmode.synth.district import FIRST_DAY as FIRST_DAY_2122
from schoolmode.synth.district import LAST_DAY, SynthConfig, SyntheticDistrict, calendar_frame

D = dt.date.fromisoformat

# CPS SY2020-21 (approximate calendar: see docs/observations.md). The roster of SY2021-22
# stands in for this year (same people, same homerooms).
SCHOOL_YEAR_2021 = "2020-2021"
FIRST_DAY_2021 = D("2020-09-08")
LAST_DAY_2021 = D("2021-06-15")
CALENDAR_2021 = "CPS-2020-2021"
NO_SCHOOL_2021: tuple[tuple[str, str, str], ...] = (
    ("2020-10-12", "2020-10-12", "Indigenous Peoples' Day"),
    ("2020-11-03", "2020-11-03", "Election Day"),
    ("2020-11-11", "2020-11-11", "Veterans Day"),
    ("2020-11-25", "2020-11-27", "Thanksgiving break"),
    ("2020-12-21", "2021-01-01", "Winter break"),
    ("2021-01-18", "2021-01-18", "Martin Luther King Jr. Day"),
    ("2021-02-15", "2021-02-15", "Presidents' Day"),
    ("2021-03-29", "2021-04-02", "Spring break"),
    ("2021-05-31", "2021-05-31", "Memorial Day"),
)


@dataclass(frozen=True)
class Schedule:
    """A dated value: ``values[i]`` applies from ``starts[i]`` (the first from any date)."""

    starts: tuple[dt.date, ...]
    values: tuple[int, ...]

    def on(self, dates: pl.Expr) -> pl.Expr:
        out = pl.lit(self.values[0], dtype=pl.Int64)
        for start, value in zip(self.starts[1:], self.values[1:], strict=True):
            out = pl.when(dates >= pl.lit(start)).then(pl.lit(value, dtype=pl.Int64)).otherwise(out)
        return out

    def at(self, day: dt.date) -> int:
        value = self.values[0]
        for start, v in zip(self.starts, self.values, strict=True):
            if day >= start:
                value = v
        return value


def periods_from_policies(
    registry: Registry | None = None, local: tuple[tuple[str, str], ...] = CPS_QUARANTINE
) -> tuple[Schedule, Schedule]:
    """``(isolation, quarantine)`` lengths in days after day 0, as contact tracing applies
    them (:func:`schoolmode.operations.tracing.rules_in_force` with the district rule
    ``local``): isolation ``cdc-quarantine-2020-12-02.isolation_days`` (10), then
    ``isbe-idph-isolation-2022-01-11`` (5 from 2022-01-11); quarantine of close contacts 14
    (CDC best practice before the options), 10 (CDC options from 2020-12-02), then CPS's
    ``classroom_pause_days`` (14 from 2021-02-11) and ``classroom_remote_days`` (10 from
    2022-01-11, 5 from 2022-02-01). For reading; the orders themselves come from tracing."""
    rules = rules_in_force(registry or shipped_registry(), local).sort("from")
    starts = tuple(rules["from"].to_list())
    return (
        Schedule(starts, tuple(int(v) for v in rules["isolation_days"])),
        Schedule(starts, tuple(int(v) for v in rules["quarantine_days"])),
    )


@dataclass(frozen=True)
class ObservationConfig:
    """Every number the derivation uses (documented in docs/observations.md)."""

    seed: int = 20200908
    start: dt.date = FIRST_DAY_2021
    end: dt.date = LAST_DAY
    staff_case_share: float = 0.30
    """Assumption: share of a school's cases that are staff (the CPS reports do not split)."""
    zip_rate_factors: tuple[tuple[dt.date, float], ...] = (
        (dt.date.min, 0.078),
        (FIRST_DAY_2122, 0.39),
    )
    """School cases per person = ZIP weekly cases per resident x the factor in force (from
    its date). Calibrated on the weeks where the CPS reports and the ZIP rates overlap: SY2020-21
    (mostly remote) 1,685 reported / 21,598 expected at factor 1 = 0.078; SY2021-22 weeks of
    2021-08-30 .. 2021-09-19 (in person) 408 / 1,047 = 0.39 (docs/observations.md)."""
    teacher_contact_quarantine_until: dt.date = dt.date(2021, 10, 14)
    """Classroom teachers quarantine as close contacts of their homeroom's cases until this
    day; afterwards not (CPS staff vaccination mandate, deadline 2021-10-15; vaccinated close
    contacts did not quarantine). Assumption."""
    substitutes_per_100_teachers: float = 5.0
    """Assumption: a school's daily substitute pool, per 100 classroom teachers (at least 1)."""
    substitute_fill_rate: float = 0.6
    """Assumption: chance that a pool substitute is actually found for an absence."""
    pathogen: str = "sars-cov-2"
    local_quarantine: tuple[tuple[str, str], ...] = CPS_QUARANTINE
    """The district's own quarantine rule (policy parameters) that tracing applies over the
    CDC/ISBE guidance; ``()`` for the guidance only."""


@dataclass
class Observations:
    """Standard frames (``case``, ``quarantine_order``, ``absence``, ``substitute_coverage``)
    plus the SY2020-21 roster and calendar that the cases of 2020-21 need (``enrolment``,
    ``staff_assignment``, ``calendar_day``: rows to add to the district's)."""

    frames: dict[str, pl.DataFrame]
    weekly: pl.DataFrame
    """Per school and week: ``cases`` and where they came from (``real`` or ``zip``)."""

    def counts(self) -> dict[str, int]:
        return {name: f.height for name, f in self.frames.items()}


def calendar_2021(config: SynthConfig | None = None) -> pl.DataFrame:
    """``calendar_day`` rows of the approximate CPS SY2020-21 calendar."""
    config = config or SynthConfig()
    return calendar_frame(
        FIRST_DAY_2021, LAST_DAY_2021, NO_SCHOOL_2021, CALENDAR_2021, config.district_id
    )


def roster_2021(district: SyntheticDistrict) -> dict[str, pl.DataFrame]:
    """SY2020-21 enrolments and staff assignments: the SY2021-22 roster, dated 2020-21
    (assumption: nobody moves; learning choice blank, i.e. counted as in person)."""
    frames = district.frames
    dates = (
        pl.lit(FIRST_DAY_2021).alias("start_date"),
        pl.lit(LAST_DAY_2021).alias("end_date"),
    )
    enrolment = frames["enrolment"].with_columns(
        *dates, pl.lit(None, dtype=pl.String).alias("learning_choice")
    )
    assignment = frames["staff_assignment"].with_columns(*dates)
    return {"enrolment": enrolment, "staff_assignment": assignment}


def school_days(district: SyntheticDistrict, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Instructional days of both school years within ``start`` .. ``end``."""
    cal = pl.concat([calendar_2021(), district.frames["calendar_day"]])
    return (
        cal.filter(pl.col("instructional") & pl.col("date").is_between(start, end))
        .select("date")
        .unique()
        .sort("date")
    )


def _monday(day: pl.Expr) -> pl.Expr:
    return day - pl.duration(days=day.dt.weekday() - 1)


def population(district: SyntheticDistrict) -> pl.DataFrame:
    """Every person with school, group (0 student, 1 staff), role, homeroom and household,
    sorted by school, group and person."""
    f = district.frames
    students = (
        f["enrolment"]
        .join(f["classroom"], on="classroom_id")
        .select("person_id", "school_id", pl.lit(0).alias("group"), "classroom_id")
    )
    staff = f["staff_assignment"].select(
        "person_id", "school_id", pl.lit(1).alias("group"), "classroom_id"
    )
    return (
        pl.concat([students, staff])
        .unique("person_id", keep="first", maintain_order=True)
        .join(f["person"].select("person_id", "role", "household_id"), on="person_id")
        .sort("school_id", "group", "person_id")
    )


def weekly_counts(
    schools: pl.DataFrame,
    days: pl.DataFrame,
    reports: pl.DataFrame,
    zip_weekly: pl.DataFrame,
    config: ObservationConfig,
) -> pl.DataFrame:
    """Cases per school and week (Monday start) with at least one school day.

    ``schools``: ``school_id``, ``zip``, ``people`` (students and staff). ``reports``: the CPS
    school case reports (``school_id``, ``date``, ``cases``, ``period_days``): a week whose days all lie within
    the reports' coverage takes, for a school that appears in them, the sum of the reports
    dated in that week. Otherwise the count is Poisson with mean ZIP weekly cases per resident
    (the CDPH week starting the Sunday before) x ``people`` x the ``zip_rate_factors`` in force; a ZIP
    without a rate that week takes the citywide one.
    """
    weeks = (
        days.with_columns(_monday(pl.col("date")).alias("week"))
        .group_by("week")
        .agg(pl.len().alias("school_days"))
    )
    grid = schools.join(weeks, how="cross").sort("school_id", "week")
    if reports.height:
        # coverage: from the first day the first report covers to the last report's date
        lo = reports.select(pl.col("date") - pl.duration(days=pl.col("period_days") - 1)).min()
        lo, hi = lo.item(), reports["date"].max()
        real_schools = reports.select("school_id").unique()
        real = (
            reports.with_columns(_monday(pl.col("date")).alias("week"))
            .group_by("school_id", "week")
            .agg(pl.col("cases").sum().cast(pl.Int64).alias("real"))
        )
        covered = (pl.col("week") >= lo) & (pl.col("week") + pl.duration(days=6) <= hi)
        grid = (
            grid.join(real, on=["school_id", "week"], how="left")
            .with_columns(
                pl.col("school_id").is_in(real_schools["school_id"].implode()).alias("reported")
            )
            .with_columns(
                pl.when(covered & pl.col("reported"))
                .then(pl.col("real").fill_null(0))
                .otherwise(None)
                .alias("real")
            )
            .drop("reported")
        )
    else:
        grid = grid.with_columns(pl.lit(None, dtype=pl.Int64).alias("real"))
    rates = zip_weekly.select(
        pl.col("zip"),
        (pl.col("week_start") + pl.duration(days=1)).alias("week"),
        (pl.col("cases") / pl.col("population")).alias("rate"),
    ).filter(pl.col("rate").is_finite())
    city = (
        zip_weekly.filter(pl.col("cases").is_not_null() & (pl.col("population") > 0))
        .group_by("week_start")
        .agg((pl.col("cases").sum() / pl.col("population").sum()).alias("city_rate"))
        .select((pl.col("week_start") + pl.duration(days=1)).alias("week"), "city_rate")
    )
    factor = pl.lit(config.zip_rate_factors[0][1])
    for since, value in config.zip_rate_factors[1:]:
        factor = pl.when(pl.col("week") >= pl.lit(since)).then(pl.lit(value)).otherwise(factor)
    grid = (
        grid.join(rates, on=["zip", "week"], how="left")
        .join(city, on="week", how="left")
        .with_columns(
            (pl.coalesce("rate", "city_rate", pl.lit(0.0)) * pl.col("people") * factor).alias(
                "mean"
            )
        )
        .sort("school_id", "week")
    )
    drawn = stream(config.seed, "zip-draw").poisson(grid["mean"].to_numpy())
    return grid.with_columns(
        pl.Series("drawn", drawn, dtype=pl.Int64),
    ).select(
        "school_id",
        "week",
        "school_days",
        pl.coalesce("real", "drawn").alias("cases"),
        pl.when(pl.col("real").is_not_null())
        .then(pl.lit("real"))
        .otherwise(pl.lit("zip"))
        .alias("origin"),
        "mean",
    )


def _pick(offsets: np.ndarray, sizes: np.ndarray, u: np.ndarray) -> np.ndarray:
    picked: np.ndarray = offsets + np.minimum(
        (u * sizes).astype(np.int64), np.maximum(sizes - 1, 0)
    )
    return picked


def _case_slots(
    weekly: pl.DataFrame, days: pl.DataFrame, pools: pl.DataFrame, config: ObservationConfig
) -> pl.DataFrame:
    """One row per case to draw: its school, day (uniform over the week's school days) and the
    pool it is drawn from (``offset``, ``size`` into the population: staff with probability
    ``staff_case_share``, else students; a school without one group takes the other)."""
    week_days = (
        days.with_columns(_monday(pl.col("date")).alias("week"))
        .sort("date")
        .with_columns(pl.int_range(pl.len()).over("week").alias("k"))
    )
    each = (
        weekly.filter(pl.col("cases") > 0)
        .sort("school_id", "week")
        .select(
            "school_id", "week", "school_days", pl.col("school_id").repeat_by("cases").alias("r")
        )
        .explode("r")
        .drop("r")
    )
    n = each.height
    k = (stream(config.seed, "day-of-week").random(n) * each["school_days"].to_numpy()).astype(
        np.int64
    )
    group = (stream(config.seed, "staff-or-student").random(n) < config.staff_case_share).astype(
        np.int64
    )
    return (
        each.with_columns(pl.Series("k", k), pl.Series("group", group, dtype=pl.Int32))
        .join(week_days, on=["week", "k"], how="left")
        .join(pools.rename({"size": "want_size"}), on=["school_id", "group"], how="left")
        .join(
            pools.select(
                "school_id",
                (1 - pl.col("group")).alias("group"),
                pl.col("offset").alias("alt_offset"),
                pl.col("size").alias("alt_size"),
            ),
            on=["school_id", "group"],
            how="left",
        )
        .with_columns(  # a school without staff (or students) takes the other group
            pl.when(pl.col("want_size").fill_null(0) > 0)
            .then(pl.col("offset"))
            .otherwise(pl.col("alt_offset"))
            .alias("offset"),
            pl.when(pl.col("want_size").fill_null(0) > 0)
            .then(pl.col("want_size"))
            .otherwise(pl.col("alt_size"))
            .alias("size"),
        )
        .filter(pl.col("size").fill_null(0) > 0)
    )


def _household_links(cases: pl.DataFrame) -> pl.DataFrame:
    """``case_id`` -> ``linked_case_id``: the earliest case of the same household reported 1-14
    days before (ties by case id)."""
    earlier = cases.filter(pl.col("household_id").is_not_null()).select(
        "household_id", pl.col("case_id").alias("linked_case_id"), pl.col("report_date").alias("d0")
    )
    return (
        cases.filter(pl.col("household_id").is_not_null())
        .join(earlier, on="household_id")
        .filter(
            (pl.col("d0") < pl.col("report_date"))
            & (pl.col("report_date") <= pl.col("d0") + pl.duration(days=14))
        )
        .sort("case_id", "d0", "linked_case_id")
        .group_by("case_id")
        .agg(pl.col("linked_case_id").first())
    )


def derive_cases(
    district: SyntheticDistrict,
    weekly: pl.DataFrame,
    days: pl.DataFrame,
    config: ObservationConfig,
) -> pl.DataFrame:
    """``case`` rows: each week's cases on uniformly drawn school days of that week, each a
    staff member with probability ``staff_case_share`` (else a student), drawn uniformly
    within the school's staff or students; household-linked when another case of the same
    household was reported 1-14 days earlier."""
    people = population(district)
    pools = (
        people.with_row_index("i")
        .group_by("school_id", "group")
        .agg(pl.col("i").min().alias("offset"), pl.len().alias("size"))
    )
    each = _case_slots(weekly, days, pools, config)
    picked = _pick(
        each["offset"].to_numpy(),
        each["size"].to_numpy(),
        stream(config.seed, "person").random(each.height),
    )
    cases = (
        people[picked]
        .select("person_id", "household_id")
        .with_columns(each["date"].alias("report_date"))
        .sort("report_date", "person_id")
        .with_columns(
            pl.format("C{}", (pl.int_range(pl.len()) + 1).cast(pl.String).str.zfill(7)).alias(
                "case_id"
            )
        )
    )
    out = cases.join(_household_links(cases), on="case_id", how="left").with_columns(
        pl.lit(config.pathogen).alias("pathogen"),
        pl.lit(None, dtype=pl.Date).alias("specimen_date"),
        pl.lit(None, dtype=pl.Date).alias("onset_date"),
        pl.lit("confirmed").alias("status"),
        pl.col("linked_case_id").is_not_null().alias("household_linked"),
        pl.lit(None, dtype=pl.Boolean).alias("on_site_during_infectious_period"),
    )
    schema = frame_schema(RECORD_TYPES["case"])
    return out.select(*(pl.col(c).cast(t) for c, t in schema.items())).sort("case_id")


def derive_orders(
    district: SyntheticDistrict,
    cases: pl.DataFrame,
    config: ObservationConfig,
    days: pl.DataFrame | None = None,
    registry: Registry | None = None,
) -> pl.DataFrame:
    """``quarantine_order`` rows, by contact tracing (:func:`schoolmode.operations.tracing.trace`)
    over the district's rosters (both school years) with the rules in force: each case isolates
    from its report date; its homeroom's students and staff present on a school day of its
    infectious window, and its household, quarantine from the same day to the end the rule in
    force on day 0 gives. Staff exposed after ``teacher_contact_quarantine_until`` are exempt
    (vaccinated). Overlapping orders of a person are merged (latest end wins)."""
    return trace_district(district, cases, config, days, registry).orders


def district_rosters(district: SyntheticDistrict, config: ObservationConfig) -> Rosters:
    """The tracer's rosters for the synthetic district: SY2021-22 and its SY2020-21 copy, and
    staff exempt from quarantine from the day after ``teacher_contact_quarantine_until``."""
    frames = district.frames
    roster = roster_2021(district)
    enrolment = pl.concat(
        [roster["enrolment"], frames["enrolment"]], how="diagonal_relaxed"
    ).select("person_id", "classroom_id", "start_date", "end_date")
    staff = pl.concat(
        [roster["staff_assignment"], frames["staff_assignment"]], how="diagonal_relaxed"
    ).select("person_id", "school_id", "classroom_id", "role", "start_date", "end_date")
    exempt = (
        staff.select("person_id")
        .unique()
        .with_columns(
            pl.lit(config.teacher_contact_quarantine_until + dt.timedelta(days=1)).alias(
                "from_date"
            )
        )
    )
    return Rosters(frames["person"], enrolment, staff, exempt=exempt)


def trace_district(
    district: SyntheticDistrict,
    cases: pl.DataFrame,
    config: ObservationConfig,
    days: pl.DataFrame | None = None,
    registry: Registry | None = None,
) -> Tracing:
    """Trace ``cases`` in the synthetic district (see :func:`derive_orders`); exposures count
    on school days only (``days``; default: both school years' instructional days)."""
    if days is None:
        days = school_days(district, FIRST_DAY_2021, LAST_DAY)
    return trace(
        cases,
        district_rosters(district, config),
        registry or shipped_registry(),
        school_days=days["date"],
        local=config.local_quarantine,
    )


def derive_absences(
    district: SyntheticDistrict, orders: pl.DataFrame, days: pl.DataFrame
) -> pl.DataFrame:
    """``absence`` rows: staff under an order on a school day, ``documented_positive`` for
    isolation, ``directed_quarantine_isolation`` for quarantine (isolation wins a tie)."""
    staff = population(district).filter(pl.col("group") == 1).select("person_id", "school_id")
    return (
        orders.join(staff, on="person_id")
        .select(
            "person_id",
            "school_id",
            pl.date_ranges("start_date", "end_date").alias("date"),
            (pl.col("kind") == "isolation").alias("positive"),
        )
        .explode("date")
        .join(days, on="date", how="semi")
        .sort("person_id", "date", "positive", descending=[False, False, True])
        .unique(["person_id", "date"], keep="first", maintain_order=True)
        .select(
            "person_id",
            "school_id",
            "date",
            pl.when("positive")
            .then(pl.lit("documented_positive"))
            .otherwise(pl.lit("directed_quarantine_isolation"))
            .alias("reason"),
        )
    )


def derive_coverage(
    district: SyntheticDistrict, absences: pl.DataFrame, config: ObservationConfig
) -> pl.DataFrame:
    """``substitute_coverage`` rows, one per absent classroom teacher and day: the school's
    daily pool has ``max(1, round(teachers x substitutes_per_100_teachers / 100))``
    substitutes; absences are served in a random order, and each of the first ``pool`` is
    covered with probability ``substitute_fill_rate``."""
    teachers = district.frames["staff_assignment"].filter(pl.col("role") == "classroom_teacher")
    pool = teachers.group_by("school_id").agg(
        pl.max_horizontal(
            (pl.len() * config.substitutes_per_100_teachers / 100).round(0), pl.lit(1)
        )
        .cast(pl.Int64)
        .alias("pool")
    )
    absent = (
        absences.join(teachers.select("person_id", "classroom_id"), on="person_id")
        .sort("school_id", "date", "person_id")
        .join(pool, on="school_id")
    )
    order = stream(config.seed, "substitute-order").random(absent.height)
    fill = (
        stream(config.seed, "substitute-fill").random(absent.height) < config.substitute_fill_rate
    )
    absent = (
        absent.with_columns(pl.Series("u", order), pl.Series("fill", fill))
        .with_columns(pl.col("u").rank("ordinal").over("school_id", "date").alias("rank"))
        .with_columns(((pl.col("rank") <= pl.col("pool")) & pl.col("fill")).alias("covered"))
    )
    return absent.select(
        "classroom_id",
        "date",
        pl.col("person_id").alias("absent_person_id"),
        "covered",
        pl.lit(None, dtype=pl.String).alias("substitute_person_id"),
    ).select(*frame_schema(RECORD_TYPES["substitute_coverage"]))


def school_people(district: SyntheticDistrict, schools: pl.DataFrame) -> pl.DataFrame:
    """``school_id``, ``zip``, ``people`` (students and staff) for the ZIP draws."""
    counts = population(district).group_by("school_id").agg(pl.len().alias("people"))
    return (
        schools.select("school_id", "zip")
        .unique("school_id")
        .join(counts, on="school_id")
        .sort("school_id")
    )


def derive_observations(
    district: SyntheticDistrict,
    schools: pl.DataFrame,
    reports: pl.DataFrame,
    zip_weekly: pl.DataFrame,
    config: ObservationConfig | None = None,
) -> Observations:
    """All observation frames for ``config.start`` .. ``config.end`` (see the module doc).

    ``schools``: ``school_id``, ``zip`` (the CPS profiles). ``reports``: ``school_id``,
    ``date``, ``cases`` (the CPS school case reports; may be empty). ``zip_weekly``: ``zip``,
    ``week_start`` (Sunday), ``cases``, ``population`` (CDPH ZIP weekly).
    """
    config = config or ObservationConfig()
    days = school_days(district, config.start, config.end)
    weekly = weekly_counts(
        school_people(district, schools),
        days,
        reports.select(
            "school_id",
            "date",
            "cases",
            (pl.col("period_days") if "period_days" in reports.columns else pl.lit(1)).alias(
                "period_days"
            ),
        ),
        zip_weekly,
        config,
    )
    cases = derive_cases(district, weekly, days, config)
    orders = derive_orders(district, cases, config, days)
    absences = derive_absences(district, orders, days)
    coverage = derive_coverage(district, absences, config)
    frames: dict[str, pl.DataFrame] = {}
    if config.start <= LAST_DAY_2021:
        roster = roster_2021(district)
        frames["calendar_day"] = calendar_2021()
        frames.update(roster)
    frames.update(
        {
            "case": cases,
            "quarantine_order": orders,
            "absence": absences.sort("person_id", "date"),
            "substitute_coverage": coverage.sort("classroom_id", "date"),
        }
    )
    return Observations(frames, weekly)


def merge_into(district: SyntheticDistrict, observations: Observations) -> dict[str, pl.DataFrame]:
    """The district's frames with the observations added (one frame per record type): the
    SY2020-21 calendar, enrolments and assignments are appended to SY2021-22's; derived
    COVID-19 absences replace any random absence of the same person and day, and random
    absences with a COVID-19 reason are dropped (the derived ones stand for them)."""
    out = dict(district.frames)
    for name, frame in observations.frames.items():
        if name not in out:
            out[name] = frame
        elif name == "absence":
            kept = out[name].filter(
                ~pl.col("reason").is_in(["documented_positive", "directed_quarantine_isolation"])
            )
            kept = kept.join(frame, on=["person_id", "date"], how="anti")
            out[name] = pl.concat([kept, frame]).sort("person_id", "date")
        else:
            out[name] = pl.concat([frame, out[name]])
    return out


def zip_weekly_frame(indicators: pl.DataFrame) -> pl.DataFrame:
    """``zip``, ``week_start``, ``cases``, ``population`` from ``cdph-zip-weekly``
    ``community_indicator`` rows (long: ``geography``, ``date``, ``metric``, ``value``)."""
    wide = (
        indicators.filter(pl.col("metric").is_in(["cases_weekly", "population"]))
        .select(
            pl.col("geography").alias("zip"), pl.col("date").alias("week_start"), "metric", "value"
        )
        .pivot(on="metric", index=["zip", "week_start"], values="value", aggregate_function="first")
    )
    for column in ("cases_weekly", "population"):
        if column not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(column))
    return wide.select(
        "zip",
        "week_start",
        pl.col("cases_weekly").cast(pl.Float64).alias("cases"),
        pl.col("population").cast(pl.Float64).alias("population"),
    )


__all__ = [
    "ObservationConfig",
    "Observations",
    "Schedule",
    "derive_observations",
    "merge_into",
    "periods_from_policies",
    "trace_district",
    "zip_weekly_frame",
]
