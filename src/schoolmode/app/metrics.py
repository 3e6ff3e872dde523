"""Use cases of the metrics resources: citywide, ZIP, district, school and classroom metrics by
date range, as a page or a download (CSV, Parquet, GeoJSON).

Roles holding ``decisions:inputs`` get the exact figures within their scope (a school-scoped
role: its school and its classrooms only; the citywide, ZIP and district rows only for the
district scope). Everyone else gets the *public release*: every table suppressed together by
``disclosure/`` (counts of people from 1 to 10 hidden, with complements so that none can be
worked out from the other tables, the totals, the 14-day sums or the citywide 7- and 14-day
windows), rates of a hidden count hidden too, and no person-level id. The release is computed
over the whole stored history, never over the range asked for (two overlapping ranges would
otherwise hide different cells), and kept per store version (the latest import).
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
from schoolmode.disclosure import SUPPRESSED, DisclosureError, Release, Rule, rule_on
from schoolmode.metrics.community import citywide_metrics
from schoolmode.metrics.frames import school_data
from schoolmode.metrics.school import unit_metrics
from schoolmode.reports.export import neutralised
from schoolmode.store.frames import query_frame
from schoolmode.store.tables import RECORD_TABLES, import_log

Level = Literal["citywide", "zip", "district", "school", "classroom"]
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
"""The school and district counts of people the public release carries."""
CLASSROOM_COUNTS = ("enrolled", "students_quarantine_isolation", "positive_cases_reported")
CITY_COUNTS = ("positive_7d", "positive_14d", "cases_7d", "cases_14d")
"""Citywide counts of people (positive tests by specimen date count people once; tests do
not count people and are published as they are)."""
ZIP_COUNTS = ("cases_weekly",)
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
    return level in ("school", "classroom") or who.scope.kind.value == "district"


# ---------------------------------------------------------------------- frames


def _version(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(import_log.c.id), 0))).scalar_one())


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
    return frame.drop_nulls([c for c in CITY_COUNTS if c in frame.columns])


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


def exact_tables(engine: Engine) -> dict[str, pl.DataFrame]:
    """Every level's table, exact, over the whole history."""
    tables = _school_tables(engine)
    return {"citywide": _city_table(engine), "zip": _zip_table(engine), **tables}


def school_release(
    tables: dict[str, pl.DataFrame],
    rule: Rule,
    *,
    history: bool = True,
    earlier: dict[str, pl.DataFrame] | None = None,
) -> tuple[dict[str, pl.DataFrame], list[str]]:
    """The public school and district tables, suppressed together, and the notes of a coarser
    release. ``history``: the tables start at the store's first day (a 14-day count then sums
    the days there are); else they are a cut, and a 14-day count is related to its days only
    where all 14 are in it. ``earlier``: the school and district tables of an earlier release
    as published (hidden counts null): what they showed stays out, so it is locked.

    Never fails: when the tables cannot be protected (``DisclosureError``), the school counts
    are withheld and only the district's published (the aggregate), and if even that cannot be
    protected, no count at all; the notes say so. Classroom counts are never public.
    """
    school, district = tables["school"], tables["district"]
    if school.height == 0:
        return {"school": _no_counts(school, SCHOOL_COUNTS), "district": district}, []
    school, district = public_columns(school, district)
    try:
        return _released(school, district, rule, history, earlier, with_schools=True), []
    except DisclosureError:
        note = (
            "school counts withheld: the school table could not be protected (a complement "
            "was needed where none is left); only the district's counts are published"
        )
    try:
        out = _released(school, district, rule, history, earlier, with_schools=False)
        return {"school": _no_counts(school, SCHOOL_COUNTS), "district": out["district"]}, [note]
    except DisclosureError:
        return {
            "school": _no_counts(school, SCHOOL_COUNTS),
            "district": _no_counts(district, SCHOOL_COUNTS),
        }, [note, "all counts withheld: even the district's could not be protected"]


def public_columns(
    school: pl.DataFrame, district: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The columns of the school and district tables a public release carries."""
    pub = ["unit", "date", "in_outbreak", *SCHOOL_COUNTS]
    return school.select([*pub, "parent"]), district.select(pub)


def _released(
    school: pl.DataFrame,
    district: pl.DataFrame,
    rule: Rule,
    history: bool,
    earlier: dict[str, pl.DataFrame] | None,
    *,
    with_schools: bool,
) -> dict[str, pl.DataFrame]:
    rel = release_of(school, district, history, with_schools=with_schools)
    for name, frame in (earlier or {}).items():
        rel.lock(name, frame)
    return rel.apply(rule)


def release_of(
    school: pl.DataFrame, district: pl.DataFrame, history: bool, *, with_schools: bool = True
) -> Release:
    """The school and district counts and their relations (:func:`school_release`); the
    school counts are unpublished cells when ``with_schools`` is false, so the district's
    still protect them."""
    rel = Release()
    rel.add("school", school, ("unit", "date"), SCHOOL_COUNTS, published=with_schools)
    rel.add("district", district, ("unit", "date"), SCHOOL_COUNTS)
    for name in ("school", "district"):
        rel.across(name, "enrolled", ["students_quarantine_isolation"], rest="not_isolated")
        rel.across(name, "classroom_teachers", ["covid_absent_teachers"], rest="teachers_present")
        rel.across(name, "staff_total", ["staff_isolation_quarantine"], rest="staff_present")
        rel.across(name, "staff_total", ["classroom_teachers"], rest="other_staff")
        if history:
            rel.window(name, "school_cases", "school_cases_14d", 14)
        else:
            rel.lagged(name, "school_cases_14d", [("school_cases", k) for k in range(14)])
    rel.rollup("school", "district", SCHOOL_COUNTS)
    return rel


def _no_counts(frame: pl.DataFrame, counts: tuple[str, ...]) -> pl.DataFrame:
    return frame.select(
        *(c for c in frame.columns if c not in counts and c in ("unit", "date", "parent")),
        *(pl.lit(None, pl.Int64).alias(c) for c in counts),
        pl.lit(",".join(counts)).alias(SUPPRESSED),
    )


def _city_release(city: pl.DataFrame, rule: Rule) -> tuple[pl.DataFrame, list[str]]:
    if city.height == 0:
        return city, []
    rel = Release()
    rel.add("city", city, ("unit", "date"), CITY_COUNTS)
    for kind in ("positive", "cases"):
        rel.lagged("city", f"{kind}_14d", [(f"{kind}_7d", 0), (f"{kind}_7d", 7)])
    notes: list[str] = []
    try:
        out = rel.apply(rule)["city"]
    except DisclosureError:
        out = city.with_columns(
            *(pl.lit(None, pl.Int64).alias(c) for c in CITY_COUNTS),
            pl.lit(",".join(CITY_COUNTS)).alias(SUPPRESSED),
        )
        notes.append("citywide counts withheld: they could not be protected")
    return out.with_columns(
        pl.when(pl.any_horizontal(pl.col(c).is_null() for c in needs))
        .then(None)
        .otherwise(pl.col(rate))
        .alias(rate)
        for rate, needs in CITY_RATES.items()
    ), notes


def _zip_release(zips: pl.DataFrame, rule: Rule) -> pl.DataFrame:
    """Primary suppression of each ZIP's weekly cases (the ZIP rows of the source relate to no
    other published table)."""
    rel = Release()
    rel.add("zip", zips.drop_nulls("cases_weekly"), ("unit", "date"), ZIP_COUNTS)
    return rel.apply(rule)["zip"]


def _with_rates(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den) * 100.0).alias(rate)
        for rate, (num, den) in RATES.items()
        if num in frame.columns and den in frame.columns
    )


CLASSROOM_NOTE = "classroom counts are not public: they are for roles with decision inputs"


class PublicRelease(BaseModel):
    """Every level's public table and, per level, the notes of a coarser release."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    tables: dict[str, pl.DataFrame]
    notes: dict[str, list[str]]


def public_tables(engine: Engine, rule: Rule) -> PublicRelease:
    """The public release of every level (whole history). Classrooms: no rows (their counts
    are small by nature and are for roles only)."""
    exact = exact_tables(engine)
    school, notes = school_release(exact, rule)
    city, city_notes = _city_release(exact["citywide"], rule)
    return PublicRelease(
        tables={
            "citywide": city,
            "zip": _zip_release(exact["zip"], rule),
            "district": _with_rates(school["district"]),
            "school": _with_rates(school["school"]),
            "classroom": _no_counts(exact["classroom"], CLASSROOM_COUNTS).clear(),
        },
        notes={"school": notes, "district": notes, "citywide": city_notes},
    )


_RELEASES: dict[tuple[str, int, str], PublicRelease] = {}
_LOCK = threading.Lock()


def _public(ctx: Context, rule: Rule) -> PublicRelease:
    """The public release of the store's current version, computed once per version."""
    key = (str(ctx.engine.url), _version(ctx.engine), rule.id)
    with _LOCK:
        if key not in _RELEASES:
            _RELEASES.clear()
            _RELEASES[key] = public_tables(ctx.engine, rule)
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
        if req.level in ("school", "classroom") and who.scope.kind.value != "district":
            key = "unit" if req.level == "school" else "parent"
            allowed = [u for u in frame[key].unique().to_list() if who.scope.covers_school(u)]
            frame = frame.filter(pl.col(key).is_in(allowed))
        rule = None
    else:
        rule = rule_on(dt.date.today())
        release = _public(ctx, rule)
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


def _counts(level: Level) -> list[str]:
    return list(
        {"citywide": CITY_COUNTS, "zip": ZIP_COUNTS, "classroom": CLASSROOM_COUNTS}.get(
            level, SCHOOL_COUNTS
        )
    )


def metrics_page(ctx: Context, req: MetricsRequest, who: Principal) -> MetricsPage:
    frame, rule, notes = metrics_frame(ctx, req, who)
    page = frame.slice(req.offset, req.limit)
    return MetricsPage(
        level=req.level,
        exact=rule is None,
        rule=None if rule is None else RuleInfo.of(rule),
        counts=_counts(req.level),
        total=frame.height,
        limit=req.limit,
        offset=req.offset,
        items=page.to_dicts(),
        notes=notes,
    )


class Download(BaseModel):
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
        content = neutralised(frame).write_csv().encode()
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
