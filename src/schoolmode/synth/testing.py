"""Synthetic tests and accommodation requests for the synthetic district, so that the
screening and accommodation commands have something to read (``docs/synthetic-district.md``,
"Tests" and "Accommodation requests").

Tests (``test`` records) for SY2021-22 from ``TestingConfig.screening_start``:

- **screening**: each school week, each person with testing consent on the school's roster is
  tested with probability ``screening_weekly_share`` on the school's testing day (one school
  day of the week, drawn per school and week). The result is positive when the person is a
  synthetic case reported from the test day to ``detection_days`` later (the screening found
  it), else negative; a small share is invalid or inconclusive.
- **diagnostic**: every case not found by screening has one positive diagnostic PCR the day
  before its report; each school week also has ``diagnostic_negatives_per_case`` negative
  diagnostic tests per case of that school and week, among the school's people, on its school
  days (symptomatic and exposure testing that came back negative).

Accommodation requests (``accommodation_request`` records): a share of staff file a pending
request before the February 2021 agreement, by basis (``accommodation_shares``).

Every number is a field of :class:`TestingConfig` and a synthetic assumption (none is a
published figure). Vectorised and deterministic: counter-based uniforms
(:func:`schoolmode.draws.uniforms`) keyed by person or school and week, so the same seed gives
identical rows and one person's draws do not depend on anyone else's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from schoolmode.draws import uniforms
from schoolmode.standard.batch import frame_schema
from schoolmode.standard.models import RECORD_TYPES
from schoolmode.synth.district import FIRST_DAY as FIRST_DAY_2122
from schoolmode.synth.district import LAST_DAY

KEY = "synthetic-testing"
"""The key of the counter-based draws (with the seed, the week and the stream name)."""


@dataclass(frozen=True)
class TestingConfig:
    """Every number of the synthetic tests and requests (all synthetic assumptions)."""

    __test__ = False  # not a pytest test class

    seed: int = 20210830
    screening_start: dt.date = FIRST_DAY_2122
    """First day of screening tests (SY2021-22's first day)."""
    end: dt.date = LAST_DAY
    screening_weekly_share: float = 0.10
    """Chance that a consenting person is tested in a given school week."""
    detection_days: int = 3
    """A screening test is positive when the person's case is reported 0..this many days later."""
    diagnostic_negatives_per_case: float = 4.0
    """Negative diagnostic tests per case, per school and week (about 20% positivity)."""
    invalid_share: float = 0.004
    inconclusive_share: float = 0.003
    accommodation_shares: tuple[tuple[str, float], ...] = (
        ("own_high_risk", 0.025),
        ("household_high_risk", 0.05),
        ("childcare", 0.015),
    )
    """Share of staff filing a request on each basis (a person files at most one)."""
    accommodation_window: tuple[dt.date, dt.date] = (dt.date(2021, 1, 4), dt.date(2021, 2, 10))
    """Requests are filed uniformly over these days (before the review of 2021-02-11)."""


def _monday(day: pl.Expr) -> pl.Expr:
    return day - pl.duration(days=day.dt.weekday() - 1)


def _u(ids: pl.Series, week: dt.date, seed: int, stream: str) -> pl.Series:
    return uniforms(ids, KEY, week, seed, stream)


def _roster(frames: dict[str, pl.DataFrame], start: dt.date, end: dt.date) -> pl.DataFrame:
    """``person_id``, ``school_id``, ``start_date``, ``end_date`` of every enrolment and staff
    assignment overlapping ``start`` .. ``end`` (a student's classroom gives the school)."""
    enrolment = frames["enrolment"].join(
        frames["classroom"].select("classroom_id", "school_id"), on="classroom_id"
    )
    cols = ["person_id", "school_id", "start_date", "end_date"]
    both = pl.concat([enrolment.select(cols), frames["staff_assignment"].select(cols)])
    return both.filter(
        (pl.col("start_date") <= end)
        & (pl.col("end_date").is_null() | (pl.col("end_date") >= start))
    )


def _weeks(days: pl.DataFrame) -> pl.DataFrame:
    """``week``, ``date`` of every school day."""
    return days.select("date", _monday(pl.col("date")).alias("week"))


def screening_tests(
    frames: dict[str, pl.DataFrame], days: pl.DataFrame, config: TestingConfig
) -> pl.DataFrame:
    """Screening tests (see the module doc): ``test_id``, ``person_id``, ``specimen_date``,
    ``result_date``, ``test_type``, ``result``, ``screening``."""
    days = days.filter(pl.col("date").is_between(config.screening_start, config.end))
    if days.is_empty():
        return _empty()
    school_weeks = _weeks(days)
    consent = frames.get("testing_consent")
    if consent is None or consent.is_empty():
        return _empty()
    roster = _roster(frames, config.screening_start, config.end).join(
        consent.select(
            "person_id",
            pl.col("start_date").alias("consent_from"),
            pl.col("end_date").alias("consent_to"),
        ),
        on="person_id",
    )
    # each school's testing day of each week: one of the week's school days
    weeks = school_weeks.group_by("week").agg(pl.col("date").sort()).sort("week")
    schools = roster.select("school_id").unique().sort("school_id")
    parts = []
    for week, dates in weeks.iter_rows():
        u_day = _u(schools["school_id"], week, config.seed, "testing-day")
        index = (u_day * len(dates)).cast(pl.Int64).clip(0, len(dates) - 1)
        testing_day = schools.with_columns(
            pl.Series("date", dates).gather(index).alias("specimen_date")
        )
        day = testing_day.select("school_id", "specimen_date")
        active = roster.join(day, on="school_id").filter(
            (pl.col("start_date") <= pl.col("specimen_date"))
            & (pl.col("end_date").is_null() | (pl.col("end_date") >= pl.col("specimen_date")))
            & (pl.col("consent_from") <= pl.col("specimen_date"))
            & (pl.col("consent_to").is_null() | (pl.col("consent_to") >= pl.col("specimen_date")))
        )
        active = active.sort("person_id", "school_id").unique("person_id", keep="first")
        tested = active.filter(
            _u(active["person_id"], week, config.seed, "screened") < config.screening_weekly_share
        )
        parts.append(
            tested.select(
                "person_id",
                "specimen_date",
                _u(tested["person_id"], week, config.seed, "test-quality").alias("quality"),
            )
        )
    tests = pl.concat(parts)
    cases = frames.get("case")
    if cases is not None and not cases.is_empty():
        found = (
            tests.join(cases.select("person_id", "report_date"), on="person_id")
            .filter(
                (pl.col("report_date") >= pl.col("specimen_date"))
                & (
                    pl.col("report_date")
                    <= pl.col("specimen_date") + dt.timedelta(days=config.detection_days)
                )
            )
            .select("person_id", "specimen_date", pl.lit(True).alias("positive"))
            .unique()
        )
        tests = tests.join(found, on=["person_id", "specimen_date"], how="left")
    else:
        tests = tests.with_columns(pl.lit(None, dtype=pl.Boolean).alias("positive"))
    result = (
        pl.when(pl.col("positive").fill_null(False))
        .then(pl.lit("positive"))
        .when(pl.col("quality") < config.invalid_share)
        .then(pl.lit("invalid"))
        .when(pl.col("quality") < config.invalid_share + config.inconclusive_share)
        .then(pl.lit("inconclusive"))
        .otherwise(pl.lit("negative"))
    )
    return _finish(
        tests.with_columns(
            result.alias("result"),
            pl.lit("PCR").alias("test_type"),
            pl.lit(True).alias("screening"),
        ),
        "S",
    )


def diagnostic_tests(
    frames: dict[str, pl.DataFrame],
    days: pl.DataFrame,
    screened: pl.DataFrame,
    config: TestingConfig,
) -> pl.DataFrame:
    """Diagnostic tests (see the module doc) for the cases of ``config.screening_start`` ..
    ``config.end``; ``screened``: the screening tests (a case they found has no other)."""
    days = days.filter(pl.col("date").is_between(config.screening_start, config.end))
    cases = frames.get("case")
    if cases is None or cases.is_empty() or days.is_empty():
        return _empty()
    cases = cases.filter(pl.col("report_date").is_between(config.screening_start, config.end))
    found = screened.filter(pl.col("result") == "positive").select("person_id").unique()
    positives = cases.join(found, on="person_id", how="anti").select(
        "person_id",
        (pl.col("report_date") - dt.timedelta(days=1)).alias("specimen_date"),
        pl.lit("positive").alias("result"),
    )
    roster = (
        _roster(frames, config.screening_start, config.end)
        .select("person_id", "school_id")
        .unique("person_id", keep="first")
        .sort("school_id", "person_id")
        .with_row_index("row")
    )
    school_rows = roster.group_by("school_id").agg(
        pl.col("row").min().alias("offset"), pl.len().alias("size")
    )
    per_week = (
        cases.join(roster.select("person_id", "school_id"), on="person_id")
        .with_columns(_monday(pl.col("report_date")).alias("week"))
        .group_by("school_id", "week")
        .agg(pl.len().alias("cases"))
    )
    week_days = _weeks(days).group_by("week").agg(pl.col("date").sort().alias("dates"))
    slots = (
        per_week.join(week_days, on="week")
        .join(school_rows, on="school_id")
        .with_columns(
            (pl.col("cases") * config.diagnostic_negatives_per_case)
            .round()
            .cast(pl.Int64)
            .alias("negatives")
        )
        .filter(pl.col("negatives") > 0)
        .with_columns(pl.int_ranges(0, pl.col("negatives")).alias("k"))
        .explode("k")
        .with_columns(
            (
                pl.col("school_id")
                + ":"
                + pl.col("week").cast(pl.String)
                + ":"
                + pl.col("k").cast(pl.String)
            ).alias("slot")
        )
    )
    if slots.is_empty():
        negatives = positives.clear()
    else:
        u_person = _u(slots["slot"], config.screening_start, config.seed, "diagnostic-person")
        u_day = _u(slots["slot"], config.screening_start, config.seed, "diagnostic-day")
        picked = slots.with_columns(
            (
                pl.col("offset")
                + (u_person * pl.col("size")).cast(pl.Int64).clip(0, pl.col("size") - 1)
            ).alias("row"),
            (u_day * pl.col("dates").list.len())
            .cast(pl.Int64)
            .clip(0, pl.col("dates").list.len() - 1)
            .alias("day_index"),
        ).with_columns(pl.col("dates").list.get(pl.col("day_index")).alias("specimen_date"))
        negatives = picked.join(roster.select("row", "person_id"), on="row").select(
            "person_id", "specimen_date", pl.lit("negative").alias("result")
        )
    tests = pl.concat([positives, negatives]).unique(["person_id", "specimen_date"], keep="first")
    return _finish(
        tests.with_columns(pl.lit("PCR").alias("test_type"), pl.lit(False).alias("screening")),
        "D",
    )


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=frame_schema(RECORD_TYPES["test"]))


def _finish(tests: pl.DataFrame, prefix: str) -> pl.DataFrame:
    """The standard ``test`` frame: ids ``T<prefix>-<person>-<yyyymmdd>``, results the day after."""
    schema = frame_schema(RECORD_TYPES["test"])
    out = tests.with_columns(
        (
            pl.lit(f"T{prefix}-")
            + pl.col("person_id")
            + "-"
            + pl.col("specimen_date").dt.strftime("%Y%m%d")
        ).alias("test_id"),
        pl.lit(None, dtype=pl.String).alias("pool_id"),
        (pl.col("specimen_date") + dt.timedelta(days=1)).alias("result_date"),
    )
    return out.select(*(pl.col(c).cast(t) for c, t in schema.items())).sort("test_id")


def synth_tests(
    frames: dict[str, pl.DataFrame], days: pl.DataFrame, config: TestingConfig | None = None
) -> pl.DataFrame:
    """Screening and diagnostic tests of the district (``frames``: its standard frames with
    cases and testing consent; ``days``: its instructional days, column ``date``)."""
    config = config or TestingConfig()
    screened = screening_tests(frames, days, config)
    diagnostic = diagnostic_tests(frames, days, screened, config)
    return pl.concat([screened, diagnostic]).sort("test_id")


def synth_accommodation_requests(
    frames: dict[str, pl.DataFrame], config: TestingConfig | None = None
) -> pl.DataFrame:
    """Pending ``accommodation_request`` rows: staff file on each basis with the shares of
    ``config.accommodation_shares`` (one request at most per person), on a day of
    ``config.accommodation_window``."""
    config = config or TestingConfig()
    first, last = config.accommodation_window
    staff = (
        frames["person"].filter(pl.col("role") != "student").select("person_id").sort("person_id")
    )
    u = _u(staff["person_id"], first, config.seed, "accommodation-basis")
    lower = 0.0
    expr = pl.lit(None, dtype=pl.String)
    for name, share in config.accommodation_shares:
        upper = lower + share
        expr = (
            pl.when((pl.col("u") >= lower) & (pl.col("u") < upper))
            .then(pl.lit(name))
            .otherwise(expr)
        )
        lower = upper
    span = (last - first).days + 1
    filed = (
        staff.with_columns(u.alias("u"))
        .with_columns(expr.alias("basis"))
        .filter(pl.col("basis").is_not_null())
    )
    u_day = _u(filed["person_id"], first, config.seed, "accommodation-day")
    offset = (u_day * span).cast(pl.Int64).clip(0, span - 1).alias("offset")
    out = filed.with_columns(
        (pl.lit(first) + pl.duration(days=pl.lit(offset))).alias("requested_date"),
    ).with_columns(
        ("AR-" + pl.col("person_id")).alias("request_id"),
        pl.lit("pending").alias("status"),
        pl.lit(None, dtype=pl.Date).alias("decided_date"),
    )
    schema = frame_schema(RECORD_TYPES["accommodation_request"])
    return out.select(*(pl.col(c).cast(t) for c, t in schema.items())).sort("request_id")
