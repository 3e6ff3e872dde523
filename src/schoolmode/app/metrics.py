"""Use cases of the metrics resources: citywide, ZIP, district, school and classroom metrics by
date range, and school and district cases by week, as a page or a download (CSV, Parquet,
GeoJSON).

Roles holding ``decisions:inputs`` get the exact figures within their scope (a school-scoped
role: its school and its classrooms only; the citywide, ZIP and district rows only for the
district scope). Everyone else gets the *public release*: what ``app/releases.py`` released
and stored, period by period (counts of people from 1 to 10 hidden, with complements so that
none can be worked out from the rest, rates of a hidden count hidden too, no person-level id),
read back as it was published and never recomputed on a request.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, func, select

from schoolmode.access.roles import Permission, Principal
from schoolmode.app.context import Context
from schoolmode.app.releases import (
    CITY_COUNTS,
    DAY_COUNTS,
    WEEK_COUNTS,
    ZIP_COUNTS,
    latest_releases,
    release_frames,
)
from schoolmode.disclosure import SUPPRESSED, Rule, rule_on
from schoolmode.metrics.community import citywide_metrics
from schoolmode.metrics.frames import school_data
from schoolmode.metrics.school import unit_metrics
from schoolmode.reports.export import csv_bytes
from schoolmode.store.frames import query_frame
from schoolmode.store.tables import RECORD_TABLES, public_release

Level = Literal[
    "citywide", "zip", "district", "school", "classroom", "school_weekly", "district_weekly"
]
Format = Literal["csv", "parquet", "geojson"]

SCHOOL_COUNTS = (
    "enrolled",
    "students_quarantine_isolation",
    "classroom_teachers",
    "covid_absent_teachers",
    "staff_total",
    "staff_isolation_quarantine",
    "school_cases",
    "school_cases_14d",
)
"""The school and district counts of people (exact figures; the public release carries the
day counts and the cases by week, ``app/releases.py``)."""
CLASSROOM_COUNTS = ("enrolled", "students_quarantine_isolation", "positive_cases_reported")
RATES: dict[str, tuple[str, str]] = {
    "covid_absent_teachers_pct": ("covid_absent_teachers", "classroom_teachers"),
    "students_quarantine_isolation_pct": ("students_quarantine_isolation", "enrolled"),
}
"""Rates of the school and district tables: numerator and denominator (hidden with either)."""
CITY_RATES = {
    "positivity_7d": ("positive_7d",),
    "positivity_14d": ("positive_14d",),
    "cases_per_100k_7d": ("cases_7d",),
    "cases_per_100k_14d": ("cases_14d",),
}
"""The citywide rates and the counts of people behind them: a rate is hidden with any of
them. A blank count (one its series does not have) hides nothing: after the daily by-test
series ends the positivity is derived from the weekly ZIP-code cases and tests, neither
released citywide beside it, so no released count can be worked out from it."""
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "geojson": "application/geo+json",
}


class MetricsError(ValueError):
    """A request the metrics cannot answer; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class MetricsRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    level: Level
    start: dt.date | None = None
    end: dt.date | None = None
    units: tuple[str, ...] = ()
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class RuleInfo(BaseModel):
    """The suppression rule a public response applied."""

    id: str
    low: int
    high: int
    effective: dt.date
    note: str
    source: str

    @classmethod
    def of(cls, rule: Rule) -> RuleInfo:
        return cls(**{k: getattr(rule, k) for k in cls.model_fields})


class MetricsPage(BaseModel):
    level: Level
    exact: bool
    """True: exact figures (a role with decision inputs); False: the public release."""
    rule: RuleInfo | None
    """The suppression rule applied (None for exact figures)."""
    counts: list[str]
    """Which columns are counts of people."""
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]
    notes: list[str] = []
    """Public release only: what was published coarser than asked and why (a table that could
    not be protected is withheld, never refused; classroom counts are for roles only)."""


def exact_for(who: Principal, level: Level) -> bool:
    """Whether ``who`` gets exact figures of ``level``."""
    if not who.may(Permission.decisions_inputs):
        return False
    return level in ("school", "classroom", "school_weekly") or who.scope.kind.value == "district"


# ---------------------------------------------------------------------- frames


def _school_span(engine: Engine) -> tuple[dt.date, dt.date] | None:
    """The first and last day of the store's school events (absences and cases)."""
    a, c = RECORD_TABLES["absence"], RECORD_TABLES["case"]
    with engine.connect() as conn:
        rows = [
            conn.execute(select(func.min(a.c.date), func.max(a.c.date))).one(),
            conn.execute(select(func.min(c.c.report_date), func.max(c.c.report_date))).one(),
        ]
    days = [d for row in rows for d in row if d is not None]
    return (min(days), max(days)) if days else None


def _school_tables(engine: Engine) -> dict[str, pl.DataFrame]:
    """School, district (the sum of the schools) and classroom metrics over the history."""
    span = _school_span(engine)
    empty = {
        "school": pl.DataFrame(schema={"unit": pl.String, "date": pl.Date}),
        "classroom": pl.DataFrame(schema={"unit": pl.String, "parent": pl.String, "date": pl.Date}),
    }
    frames = empty if span is None else unit_metrics(school_data(engine, *span), *span)
    school = frames["school"].with_columns(pl.lit("district").alias("parent"))
    counts = [c for c in school.columns if c not in ("unit", "date", "parent", "in_outbreak")]
    district = (
        school.group_by("date").agg(
            *(pl.col(c).sum() for c in counts), pl.col("in_outbreak").sum().alias("in_outbreak")
        )
        if "in_outbreak" in school.columns
        else school.group_by("date").agg(*(pl.col(c).sum() for c in counts))
    ).with_columns(pl.lit("district").alias("unit"))
    return {
        "school": school.sort("unit", "date"),
        "district": district.sort("date"),
        "classroom": frames["classroom"].sort("unit", "date"),
    }


def _city_table(engine: Engine) -> pl.DataFrame:
    try:
        frame = citywide_metrics(engine)
    except LookupError:
        return pl.DataFrame(schema={"unit": pl.String, "date": pl.Date})
    # from the first day with every count (the 14-day windows full) to the last day with any:
    # after the daily by-test series ends the cases go on, with the positivity derived from
    # the ZIP weekly series (its positive tests are blanks). The start stays where it was
    # before the blanks: an earlier day's small 7-day count would be given away by a 14-day
    # count published before (the 14 = 7 + the 7 a week earlier).
    counts = [c for c in CITY_COUNTS if c in frame.columns]
    full = frame.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in counts))
    if full.height == 0:
        return frame.clear()
    return frame.filter(
        (pl.col("date") >= full["date"].min())
        & pl.any_horizontal(pl.col(c).is_not_null() for c in counts)
    )


def _zip_table(engine: Engine) -> pl.DataFrame:
    t = RECORD_TABLES["community_indicator"]
    query = select(t.c.geography, t.c.date, t.c.metric, t.c.value).where(
        t.c.geography_type == "zip", t.c.period_days == 7
    )
    schema = {"unit": pl.String, "date": pl.Date, "metric": pl.String, "value": pl.Float64}
    with engine.connect() as conn:
        long = query_frame(conn, query, schema)
    if long.height == 0:
        return pl.DataFrame(schema={"unit": pl.String, "date": pl.Date, "cases_weekly": pl.Int64})
    wide = long.unique(["unit", "date", "metric"], keep="last").pivot(
        on="metric", index=["unit", "date"], values="value"
    )
    if "cases_weekly" not in wide.columns:
        wide = wide.with_columns(pl.lit(None, pl.Float64).alias("cases_weekly"))
    return wide.with_columns(pl.col("cases_weekly").round(0).cast(pl.Int64)).sort("unit", "date")


def _weekly(frame: pl.DataFrame) -> pl.DataFrame:
    """Cases by calendar week (``date``: its Monday) of a school or district table."""
    if "school_cases" not in frame.columns:
        return pl.DataFrame(schema={"unit": pl.String, "date": pl.Date, "school_cases": pl.Int64})
    return (
        frame.with_columns(pl.col("date").dt.truncate("1w"))
        .group_by("unit", "date")
        .agg(pl.col("school_cases").sum())
        .sort("unit", "date")
    )


def exact_tables(engine: Engine) -> dict[str, pl.DataFrame]:
    """Every level's table, exact, over the whole history."""
    tables = _school_tables(engine)
    return {
        "citywide": _city_table(engine),
        "zip": _zip_table(engine),
        **tables,
        "school_weekly": _weekly(tables["school"]),
        "district_weekly": _weekly(tables["district"]),
    }


def _public_counts(level: Level) -> tuple[str, ...]:
    return {
        "citywide": CITY_COUNTS,
        "zip": ZIP_COUNTS,
        "classroom": CLASSROOM_COUNTS,
        "school": DAY_COUNTS,
        "district": (*DAY_COUNTS, "school_cases"),
        "school_weekly": WEEK_COUNTS,
        "district_weekly": WEEK_COUNTS,
    }[level]


def _with_rates(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den) * 100.0).alias(rate)
        for rate, (num, den) in RATES.items()
        if num in frame.columns and den in frame.columns
    )


CLASSROOM_NOTE = "classroom counts are not public: they are for roles with decision inputs"
UNRELEASED_NOTE = (
    "nothing of this level has been released to the public yet (a release is made by "
    "`schoolmode publish` or POST /api/v1/releases, period by period)"
)
CASES_BY_WEEK_NOTE = (
    "cases are published by complete week (levels school_weekly and district_weekly); a day's "
    "district cases appear once its week is released"
)


class PublicRelease(BaseModel):
    """Every level's public table (from the stored releases) and, per level, the notes of a
    coarser release."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    tables: dict[str, pl.DataFrame]
    notes: dict[str, list[str]]


def _any_hidden(needs: tuple[str, ...]) -> pl.Expr:
    """A citywide row where a count behind a rate is suppressed (named in ``suppressed``; a
    blank is not)."""
    names = pl.col(SUPPRESSED).fill_null("").str.split(",")
    return pl.any_horizontal(names.list.contains(pl.lit(c)) for c in needs)


def _empty(level: Level) -> pl.DataFrame:
    keys: dict[str, pl.DataType] = {"unit": pl.String(), "date": pl.Date()}
    counts = {c: pl.Int64() for c in _public_counts(level)}
    return pl.DataFrame(schema={**keys, **counts, SUPPRESSED: pl.String()})


def public_tables(engine: Engine) -> PublicRelease:
    """The public tables of every level: the latest stored release of each period
    (``app/releases.py``), never computed here. Classrooms: no rows (their counts are small by
    nature and are for roles only)."""
    latest = latest_releases(engine)
    ids = [r.id for r in latest if r.kind in ("day", "week")]
    for kind in ("citywide", "zip"):
        mine = [r.id for r in latest if r.kind == kind]
        ids += [max(mine)] if mine else []
    frames = release_frames(engine, ids)
    notes: dict[str, list[str]] = {}
    for r in latest:
        levels = {
            "day": ("school", "district"),
            "week": ("school_weekly", "district_weekly", "district"),
            "citywide": ("citywide",),
            "zip": ("zip",),
        }[r.kind]
        for level in levels:
            notes.setdefault(level, []).extend(r.notes)

    def got(name: str, level: Level) -> pl.DataFrame:
        frame = frames.get(name)
        if frame is None:
            notes.setdefault(level, []).append(UNRELEASED_NOTE)
            return _empty(level)
        return frame.sort("unit", "date")

    district = got("district", "district")
    days = frames.get("district_day")
    if days is not None and district.height:
        district = (
            district.join(
                days.select("date", "school_cases", pl.col(SUPPRESSED).alias("__s")),
                on="date",
                how="left",
            )
            .with_columns(
                pl.concat_str([SUPPRESSED, "__s"], separator=",", ignore_nulls=True).alias(
                    SUPPRESSED
                )
            )
            .with_columns(
                pl.when(pl.col(SUPPRESSED) == "")
                .then(None)
                .otherwise(pl.col(SUPPRESSED))
                .alias(SUPPRESSED)
            )
            .drop("__s")
        )
    elif "school_cases" not in district.columns:
        district = district.with_columns(pl.lit(None, pl.Int64).alias("school_cases"))
    notes.setdefault("district", []).append(CASES_BY_WEEK_NOTE)
    notes.setdefault("school", []).append(CASES_BY_WEEK_NOTE)
    city = got("citywide", "citywide")
    city = city.with_columns(
        pl.when(_any_hidden(needs)).then(None).otherwise(pl.col(rate)).alias(rate)
        for rate, needs in CITY_RATES.items()
        if rate in city.columns
    )
    return PublicRelease(
        tables={
            "citywide": city,
            "zip": got("zip", "zip"),
            "district": _with_rates(district),
            "school": _with_rates(got("school", "school")),
            "school_weekly": got("school_week", "school_weekly"),
            "district_weekly": got("district_week", "district_weekly"),
            "classroom": pl.DataFrame(
                schema={"unit": pl.String, "parent": pl.String, "date": pl.Date}
                | dict.fromkeys(CLASSROOM_COUNTS, pl.Int64)
            ),
        },
        notes={k: list(dict.fromkeys(v)) for k, v in notes.items()},
    )


_RELEASES: dict[tuple[str, int], PublicRelease] = {}
_LOCK = threading.Lock()


def public_version(ctx: Context) -> int:
    """The latest stored release's id (0: none): what the public tables are as of; a public
    response keyed by it can be kept until the next release."""
    with ctx.engine.connect() as conn:
        return int(
            conn.execute(select(func.coalesce(func.max(public_release.c.id), 0))).scalar_one()
        )


def _public(ctx: Context) -> PublicRelease:
    """The public tables as of the latest stored release, read once per release."""
    key = (str(ctx.engine.url), public_version(ctx))
    with _LOCK:
        if key not in _RELEASES:
            _RELEASES.clear()
            _RELEASES[key] = public_tables(ctx.engine)
        return _RELEASES[key]


# ---------------------------------------------------------------------- use cases


def metrics_frame(
    ctx: Context, req: MetricsRequest, who: Principal
) -> tuple[pl.DataFrame, Rule | None, list[str]]:
    """The rows of ``req`` as ``who`` may see them, the rule applied (None: exact) and the
    notes of a coarser public release."""
    notes: list[str] = []
    if req.start and req.end and req.start > req.end:
        raise MetricsError("query.from", f"from {req.start} is after to {req.end}")
    if exact_for(who, req.level):
        frame = _with_rates(exact_tables(ctx.engine)[req.level])
        if (
            req.level in ("school", "classroom", "school_weekly")
            and who.scope.kind.value != "district"
        ):
            key = "unit" if req.level == "school" else "parent"
            allowed = [u for u in frame[key].unique().to_list() if who.scope.covers_school(u)]
            frame = frame.filter(pl.col(key).is_in(allowed))
        rule = None
    else:
        rule = rule_on(dt.date.today())
        release = _public(ctx)
        frame = release.tables[req.level]
        notes = list(release.notes.get(req.level, []))
        if req.level == "classroom":
            notes.append(CLASSROOM_NOTE)
    if req.start:
        frame = frame.filter(pl.col("date") >= req.start)
    if req.end:
        frame = frame.filter(pl.col("date") <= req.end)
    if req.units:
        frame = frame.filter(pl.col("unit").is_in(list(req.units)))
    return frame.sort("unit", "date"), rule, notes


def _counts(level: Level, exact: bool) -> list[str]:
    if not exact:
        return list(_public_counts(level))
    return list(
        {
            "citywide": CITY_COUNTS,
            "zip": ZIP_COUNTS,
            "classroom": CLASSROOM_COUNTS,
            "school_weekly": WEEK_COUNTS,
            "district_weekly": WEEK_COUNTS,
        }.get(level, SCHOOL_COUNTS)
    )


def metrics_page(ctx: Context, req: MetricsRequest, who: Principal) -> MetricsPage:
    frame, rule, notes = metrics_frame(ctx, req, who)
    page = frame.slice(req.offset, req.limit)
    return MetricsPage(
        level=req.level,
        exact=rule is None,
        rule=None if rule is None else RuleInfo.of(rule),
        counts=_counts(req.level, rule is None),
        total=frame.height,
        limit=req.limit,
        offset=req.offset,
        items=page.to_dicts(),
        notes=notes,
    )


class Download(BaseModel):
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    content: bytes
    media_type: str
    filename: str
    rule: RuleInfo | None
    notes: list[str]


def metrics_download(ctx: Context, req: MetricsRequest, who: Principal, fmt: Format) -> Download:
    """Every row of ``req`` (no paging) as CSV (neutralised for spreadsheets), Parquet or
    GeoJSON (schools only: a point per school from its profile, blank when it has none)."""
    frame, rule, notes = metrics_frame(ctx, req, who)
    if fmt == "geojson":
        if req.level != "school":
            raise MetricsError("query.format", "GeoJSON is for the school level (points)")
        content = _geojson(ctx.engine, frame, rule, notes)
    elif fmt == "csv":
        content = csv_bytes(frame)
    else:
        buf = io.BytesIO()
        frame.write_parquet(buf)
        content = buf.getvalue()
    ext = "geojson" if fmt == "geojson" else fmt
    info = None if rule is None else RuleInfo.of(rule)
    return Download(
        content=content,
        media_type=MEDIA[fmt],
        filename=f"{req.level}.{ext}",
        rule=info,
        notes=notes,
    )


def _geojson(engine: Engine, frame: pl.DataFrame, rule: Rule | None, notes: list[str]) -> bytes:
    t = RECORD_TABLES["school"]
    with engine.connect() as conn:
        places = query_frame(
            conn,
            select(t.c.school_id, t.c.school_year, t.c.name, t.c.latitude, t.c.longitude),
            {
                "unit": pl.String,
                "year": pl.String,
                "name": pl.String,
                "lat": pl.Float64,
                "lon": pl.Float64,
            },
        )
    latest = places.sort("year").unique("unit", keep="last")
    rows = frame.join(latest.drop("year"), on="unit", how="left")
    features = []
    for row in rows.to_dicts():
        lat, lon = row.pop("lat"), row.pop("lon")
        point = None if lat is None or lon is None else {"type": "Point", "coordinates": [lon, lat]}
        row["date"] = row["date"].isoformat()
        features.append({"type": "Feature", "geometry": point, "properties": row})
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if rule is not None:
        doc["suppression"] = RuleInfo.of(rule).model_dump(mode="json")
        doc["notes"] = notes
    return json.dumps(doc).encode()
