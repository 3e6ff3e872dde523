"""Engine frames from the store: the metric frames a policy evaluation reads.

District frame: Chicago's citywide series from the CDPH imports (7- and 14-day positivity by
test and specimen date; 7- and 14-day cases per 100,000), named as the policies read them.
School frame: one row per school and day carrying the citywide metrics and the school's grade
band, for guidance that recommends a mode per school (CDC K-12). When the store holds a
(synthetic) district's classrooms, :func:`unit_frames` joins the school metrics of
``metrics/school.py`` (cases, absences, quarantines, outbreaks) onto the school frame and adds
the classroom frame (``unit`` = homeroom id, ``parent`` = school id). The store's rows are
read for the frames' days only (:func:`school_data`), with a margin for the metrics' own
lookbacks: a single day's decision reads a few weeks, not the whole history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping

import polars as pl
from sqlalchemy import ColumnElement, Engine, Table, and_, func, or_, select

from schoolmode.metrics.community import DERIVED, citywide_metrics
from schoolmode.metrics.school import SCHOOL_METRICS, SCHOOL_READS, SchoolData, unit_metrics
from schoolmode.policy.counting import DEFAULTS, CountingRules
from schoolmode.store.frames import query_frame, record_frames
from schoolmode.store.tables import RECORD_TABLES

LEAD_IN_DAYS = 21  # trends compare with a week earlier over 7 days; windows need 14 days
HISTORY_MARGIN_DAYS = 60
"""Days of school records read before a frame's first day: more than any lookback of the
school metrics (the outbreak window's 14 days of case dates), so the frame's values are the
ones the whole history gives."""

DERIVED_FLAG = "_derived"
"""The suffix of a metric's 0/1 column marking its derived days (``engine.grid.DERIVED_SUFFIX``,
spelled here: the metrics read no engine module)."""
DERIVED_COLUMNS = ("positivity_7d_pct", "positivity_14d_pct")
"""District metrics derived from the ZIP weekly series where the daily by-test series ends."""

DISTRICT_COLUMNS = {
    "positivity_7d": "positivity_7d_pct",
    "positivity_14d": "positivity_14d_pct",
    "cases_per_100k_7d": "cases_per_100k_7d",
    "cases_per_100k_14d": "cases_per_100k_14d",
}


class MissingDataError(LookupError):
    """The store lacks what a backtest needs; the message says what to import."""


def district_frame(engine: Engine, start: dt.date, end: dt.date) -> pl.DataFrame:
    try:
        metrics = citywide_metrics(engine, start=start - dt.timedelta(days=LEAD_IN_DAYS), end=end)
    except LookupError as exc:
        raise MissingDataError(
            f"{exc}. Load the CDPH series with `schoolmode import chicago` (or `schoolmode import "
            "cdph-daily-testing PATH` and `schoolmode import cdph-daily-cases PATH`)."
        ) from None
    return metrics.select(
        pl.lit("chicago").alias("unit"),
        "date",
        *(pl.col(src).alias(dst) for src, dst in DISTRICT_COLUMNS.items()),
        # which series gave the day's positivity (text: described, never read by a rule)
        pl.col("positivity_basis"),
        # and, for the engine's trace, the days each positivity is derived (1) or not (0):
        # ``<metric>_derived`` (engine.trace.DERIVED_SUFFIX; the engine reads no metrics module)
        *(
            (pl.col("positivity_basis") == DERIVED).cast(pl.Int8).alias(f"{name}{DERIVED_FLAG}")
            for name in DERIVED_COLUMNS
        ),
    )


def schools(engine: Engine, school_year: str | None = None) -> pl.DataFrame:
    """School id, grade band and enrolment for one school year (default: the earliest stored)."""
    table = RECORD_TABLES["school"]
    with engine.connect() as conn:
        frame = query_frame(
            conn,
            select(table.c.school_id, table.c.school_year, table.c.level, table.c.enrolment),
            {
                "unit": pl.String,
                "school_year": pl.String,
                "grade_band": pl.String,
                "enrolled": pl.Int64,
            },
        )
    if frame.height == 0:
        raise MissingDataError(
            "no schools in the store: load the CPS school profiles with `schoolmode import chicago` "
            "(or `schoolmode import cps-school-profiles PATH`)"
        )
    year = school_year or str(frame["school_year"].min())
    chosen = frame.filter(pl.col("school_year") == year)
    if chosen.height == 0:
        raise MissingDataError(
            f"no school profiles for school year {year}; stored years: "
            f"{', '.join(sorted(set(frame['school_year'].to_list())))}"
        )
    return chosen.drop("school_year").sort("unit")


def school_frame(district: pl.DataFrame, school_list: pl.DataFrame) -> pl.DataFrame:
    """Every school on every day, with the citywide metrics and its grade band."""
    return (
        school_list.join(district.drop("unit"), how="cross")
        .select("unit", "date", "grade_band", "enrolled", *DISTRICT_COLUMNS.values())
        .sort("unit", "date")
    )


def has_classrooms(engine: Engine) -> bool:
    """Whether the store holds classrooms (a district's roster, e.g. the synthetic one)."""
    table = RECORD_TABLES["classroom"]
    with engine.connect() as conn:
        return bool(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _overlapping(table: Table, start: dt.date, end: dt.date) -> ColumnElement[bool]:
    """Spans (``start_date`` .. ``end_date``, blank = open) that reach into ``start .. end``."""
    ends = table.c.end_date.is_(None) | (table.c.end_date >= start)
    return and_(table.c.start_date <= end, ends)


def _dated(table: Table, start: dt.date, end: dt.date, *columns: str) -> ColumnElement[bool]:
    """Rows with any of ``columns`` in ``start .. end``."""
    return or_(*(table.c[c].between(start, end) for c in columns))


def school_data(engine: Engine, start: dt.date, end: dt.date) -> SchoolData:
    """The school records the metrics of days ``start .. end`` read, from the store: every
    classroom; memberships, orders and dated events that reach into the days from
    ``HISTORY_MARGIN_DAYS`` before ``start`` (the metrics of those days equal the whole
    history's)."""
    lo = start - dt.timedelta(days=HISTORY_MARGIN_DAYS)
    t = RECORD_TABLES
    where: dict[str, ColumnElement[bool] | None] = {
        "classroom": None,
        "enrolment": _overlapping(t["enrolment"], lo, end),
        "staff_assignment": _overlapping(t["staff_assignment"], lo, end),
        "absence": _dated(t["absence"], lo, end, "date"),
        "substitute_coverage": _dated(t["substitute_coverage"], lo, end, "date"),
        "quarantine_order": _overlapping(t["quarantine_order"], lo, end),
        "case": _dated(t["case"], lo, end, "report_date", "onset_date", "specimen_date"),
    }
    return SchoolData.from_frames(**record_frames(engine, where, SCHOOL_READS))


def school_records(engine: Engine, start: dt.date, end: dt.date) -> SchoolData | None:
    """:func:`school_data` for days ``start .. end``; None when the store holds no classrooms."""
    return school_data(engine, start, end) if has_classrooms(engine) else None


def unit_frames(
    engine: Engine,
    district: pl.DataFrame,
    school_list: pl.DataFrame,
    records: SchoolData | None = None,
    wanted: Mapping[str, Collection[str]] | None = None,
    classroom_start: dt.date | None = None,
    rules: CountingRules = DEFAULTS,
) -> dict[str, pl.DataFrame]:
    """The school frame (and, when the store holds classrooms, the classroom frame) over the
    district frame's days.

    Without classrooms in the store: ``{"school": school_frame(...)}``, as before. With them:
    the school frame's community metrics and grade band joined with the school metrics from the
    store (``enrolled`` is then the store's, not the profile's; a school of the list without a
    roster gets zeros), and ``"classroom"``: ``classroom_metrics`` (both from
    :func:`~schoolmode.metrics.school.unit_metrics`, which reads the tables once).
    ``records``: the store's school records (:func:`school_records`) of days that cover the
    district frame's, when the caller has read them already (e.g. while the citywide series
    were computed); read here when not given. ``wanted``: the columns to keep, by scope
    (default: all; :func:`keep_columns`), the metrics of the store's records computed only when
    wanted. ``classroom_start``: a later first day of the classroom frame. ``rules``: what the
    event-derived metrics count (the policy's ``counts:``; default: what they always counted).
    """
    school = school_frame(district, school_list)
    if district.height == 0:
        return keep_columns({"school": school}, wanted)
    start, end = district["date"].min(), district["date"].max()
    assert isinstance(start, dt.date)
    assert isinstance(end, dt.date)
    data = records if records is not None else school_records(engine, start, end)
    if data is None:
        return keep_columns({"school": school}, wanted)
    metrics = unit_metrics(data, start, end, wanted, classroom_start, rules)
    computed = [c for c in SCHOOL_METRICS if c in metrics["school"].columns]
    joined = (
        school.drop("enrolled")
        .join(metrics["school"], on=["unit", "date"], how="left")
        .with_columns(pl.col(c).fill_null(0) for c in computed)
        .sort("unit", "date")
    )
    return keep_columns({"school": joined, "classroom": metrics["classroom"]}, wanted)


KEYS = ("unit", "date")


def keep_columns(
    frames: Mapping[str, pl.DataFrame], wanted: Mapping[str, Collection[str]] | None
) -> dict[str, pl.DataFrame]:
    """``frames`` with only ``unit``, ``date`` and the columns ``wanted`` names for their scope
    (metrics and attributes such as ``parent`` or ``grade_band``; None keeps every column),
    with each kept metric's ``<metric>_derived`` flag where the frame has one (the engine's
    trend and trace read it)."""
    if wanted is None:
        return dict(frames)
    out = {}
    for scope, frame in frames.items():
        names = set(wanted.get(scope, ()))
        names |= {f"{n}{DERIVED_FLAG}" for n in names}
        out[scope] = frame.select(c for c in frame.columns if c in KEYS or c in names)
    return out
