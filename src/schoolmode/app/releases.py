"""Public releases: what anyone without a login is shown, computed once per period, stored,
and never recomputed behind the public's back (docs/disclosure.md).

A release covers one *period* and is suppressed on its own (``disclosure/``), so its cost is
bounded whatever the length of the history, and a later release of the same period (after a
correction) keeps what the earlier one published:

- ``day``: one school day's counts of people that are states of that day (enrolled, in
  quarantine or isolation, classroom teachers and those absent for COVID-19, staff and staff
  in isolation or quarantine) of every school and of the district (their sum), with the
  relations within a row (students + the rest = enrolled, ...) and schools -> district;
- ``week``: one complete calendar week's (Monday to Sunday) school cases: each school's week,
  the district's week and the district's days (both sums). Cases are published by week, not by
  day nor as rolling 14-day counts: a daily or rolling count of a school chains every day of
  the history into one table (14-day count = today's cases + the 13 days before), which cannot
  be protected in bounded time, and a week published while still running would give its last
  day away (this week so far minus yesterday's "so far");
- ``citywide`` and ``zip``: the citywide 7- and 14-day counts (with the 14 = 7 + 7 a week
  earlier relation) and the ZIP weekly cases, over their whole history (small tables). A
  citywide day carries the counts its series have: after the daily by-test series ends
  (2021-11-24) the positive tests are blanks (no figure, never "suppressed") and the
  positivity is the one derived from the ZIP weekly series (``positivity_basis``).

A period is released again only when its exact figures changed (their digest, kept in the
store and never served); the new release *locks* every cell the latest earlier release
published whose value has not changed (it is out: it can be neither hidden nor used as a
complement), so no two releases of unchanged data hide different cells. Each release is a link
of the audit hash chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import polars as pl
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, Engine, Table, func, insert, select

from schoolmode import __version__
from schoolmode.app.context import Context
from schoolmode.app.progress import Silent, Steps
from schoolmode.disclosure import SUPPRESSED, DisclosureError, Release, Rule, rule_on
from schoolmode.store.chain import append_link
from schoolmode.store.db import as_utc, whoami
from schoolmode.store.locks import writing
from schoolmode.store.tables import (
    import_log,
    public_release,
    public_release_input,
    public_release_table,
)

DAY_COUNTS = (
    "enrolled",
    "students_quarantine_isolation",
    "classroom_teachers",
    "covid_absent_teachers",
    "staff_total",
    "staff_isolation_quarantine",
)
"""The counts of people a day release carries (states of the day, no flows)."""
WEEK_COUNTS = ("school_cases",)
"""The counts of people a week release carries."""
CITY_COUNTS = ("positive_7d", "positive_14d", "cases_7d", "cases_14d")
"""Citywide counts of people (positive tests by specimen date count people once; tests do
not count people and are published as they are)."""
ZIP_COUNTS = ("cases_weekly",)
KINDS = ("day", "week", "citywide", "zip")
LOCK = "public release"


class PublishRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    first: dt.date | None = None
    """First day to release (default: the first day of the school data)."""
    last: dt.date | None = None
    """Last day to release (default: the last day of the school data)."""
    created_by: str | None = None


class Released(BaseModel):
    """One period's release: stored new, or the stored one kept (its figures unchanged)."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: str
    period_start: dt.date
    period_end: dt.date
    cells: int
    hidden: int
    notes: list[str]
    new: bool


class PublishReport(BaseModel):
    releases: list[Released]

    @property
    def new(self) -> int:
        return sum(r.new for r in self.releases)


# ---------------------------------------------------------------------- the releases


def _no_counts(frame: pl.DataFrame, counts: Iterable[str]) -> pl.DataFrame:
    counts = list(counts)
    return frame.with_columns(
        *(pl.lit(None, pl.Int64).alias(c) for c in counts),
        pl.lit(",".join(counts)).alias(SUPPRESSED),
    )


def _lockable(earlier: pl.DataFrame, exact: pl.DataFrame, counts: Iterable[str]) -> pl.DataFrame:
    """The cells of an earlier release that are still true: the earlier table with a cell
    nulled where its published value is not today's exact one (a correction changed it)."""
    counts = [c for c in counts if c in earlier.columns and c in exact.columns]
    joined = earlier.select("unit", "date", *counts).join(
        exact.select("unit", "date", *(pl.col(c).alias(f"__{c}") for c in counts)),
        on=["unit", "date"],
        how="inner",
    )
    return joined.select(
        "unit",
        "date",
        *(
            pl.when(pl.col(c) == pl.col(f"__{c}")).then(pl.col(c)).otherwise(None).alias(c)
            for c in counts
        ),
    )


@dataclass(frozen=True)
class Earlier:
    """The latest earlier release of a period: its tables as published and as they were."""

    published: dict[str, pl.DataFrame]
    exact: dict[str, pl.DataFrame]


Builder = Callable[[dict[str, pl.DataFrame], bool, Release, str], None]
"""Adds a period's tables (``prefix`` before each name) and their relations to a release;
the child table published or not."""

BEFORE = "before:"


def _kept(
    before: pl.DataFrame, was: pl.DataFrame, now: pl.DataFrame, counts: list[str]
) -> pl.DataFrame:
    """The cells hidden in ``before`` (published table) whose figure is unchanged (``was``:
    the figures then, ``now``: today's): a non-null value for each."""
    joined = (
        before.select("unit", "date", *(pl.col(c).is_null().alias(f"__h{c}") for c in counts))
        .join(
            was.select("unit", "date", *(pl.col(c).alias(f"__w{c}") for c in counts)),
            on=["unit", "date"],
        )
        .join(now.select("unit", "date", *counts), on=["unit", "date"])
    )
    return joined.select(
        "unit",
        "date",
        *(
            pl.when(pl.col(f"__h{c}") & (pl.col(f"__w{c}") == pl.col(c))).then(pl.col(c)).alias(c)
            for c in counts
        ),
    )


def _protected(
    build: Builder,
    child: str,
    counts: tuple[str, ...],
    exact: dict[str, pl.DataFrame],
    rule: Rule,
    earlier: Earlier | None,
    what: str,
) -> tuple[dict[str, pl.DataFrame], list[str]]:
    """The release ``build`` makes (with the ``child`` table published, else withheld but
    still related), protected together with the latest earlier release of the period: the
    earlier tables are in the attacker's model with the figures they had (their published
    cells locked, their hidden cells hidden), an unchanged figure is the same count in both
    (an equality), a cell published before and unchanged stays published and one hidden before
    and unchanged stays hidden. Coarser when it cannot be protected, with the notes saying
    so. Never fails."""
    notes: list[str] = []
    for with_child in (True, False):
        rel = Release()
        build(exact, with_child, rel, "")
        if earlier is not None:
            build(earlier.exact, True, rel, BEFORE)
            for name, frame in earlier.published.items():
                if name not in exact or name not in earlier.exact:
                    continue
                cols = list(rel.tables[name].counts)
                rel.lock(BEFORE + name, frame)
                hidden = frame.select(
                    "unit", "date", *(pl.when(pl.col(c).is_null()).then(1).alias(c) for c in cols)
                )
                rel.force(BEFORE + name, hidden)
                rel.equal(name, BEFORE + name, cols)
                rel.lock(name, _lockable(frame, exact[name], cols))
                rel.force(name, _kept(frame, earlier.exact[name], exact[name], cols))
        try:
            out = rel.apply(rule)
        except DisclosureError:
            notes.append(
                f"{what}: the {child.replace('_', ' ')} counts withheld: they could not be "
                "protected (a complement was needed where none is left)"
                if with_child
                else f"{what}: all counts withheld: even the totals could not be protected"
            )
            continue
        out = {name: frame for name, frame in out.items() if not name.startswith(BEFORE)}
        if not with_child:
            out[child] = _no_counts(out[child], counts)
        return out, notes
    return {name: _no_counts(frame, counts) for name, frame in exact.items()}, notes


def day_relations(
    t: dict[str, pl.DataFrame],
    with_schools: bool = True,
    rel: Release | None = None,
    prefix: str = "",
) -> Release:
    """A day's school and district counts (``t``: ``school``, ``district``) and their
    relations (the school counts unpublished cells when ``with_schools`` is false: the
    district's still protect them), added to ``rel`` with ``prefix`` before each name."""
    rel = Release() if rel is None else rel
    school, district = prefix + "school", prefix + "district"
    rel.add(school, t["school"], ("unit", "date"), DAY_COUNTS, published=with_schools)
    rel.add(district, t["district"], ("unit", "date"), DAY_COUNTS)
    for name in (school, district):
        rel.across(name, "enrolled", ["students_quarantine_isolation"], rest="not_isolated")
        rel.across(name, "classroom_teachers", ["covid_absent_teachers"], rest="present")
        rel.across(name, "staff_total", ["staff_isolation_quarantine"], rest="staff_present")
        rel.across(name, "staff_total", ["classroom_teachers"], rest="other_staff")
    rel.rollup(school, district, DAY_COUNTS)
    return rel


def _build_day(t: dict[str, pl.DataFrame], child: bool, rel: Release, prefix: str) -> None:
    day_relations(t, child, rel, prefix)


def day_release(
    t: dict[str, pl.DataFrame], rule: Rule, earlier: Earlier | None = None
) -> tuple[dict[str, pl.DataFrame], list[str]]:
    """One day's school (``unit``, ``date``, ``parent``, the day counts) and district rows
    (``t``: ``school``, ``district``), suppressed together."""
    day = t["district"]["date"][0] if t["district"].height else None
    return _protected(_build_day, "school", DAY_COUNTS, t, rule, earlier, f"{day}")


def week_relations(
    t: dict[str, pl.DataFrame],
    with_schools: bool = True,
    rel: Release | None = None,
    prefix: str = "",
) -> Release:
    """A week's school cases, the district's week and the district's days (``t``:
    ``school_week``, ``district_week``, ``district_day``) and their relations (schools -> the
    week, the days -> the week), added to ``rel`` with ``prefix`` before each name."""
    rel = Release() if rel is None else rel
    sw, dw, dd = (prefix + n for n in ("school_week", "district_week", "district_day"))
    rel.add(sw, t["school_week"], ("unit", "date"), WEEK_COUNTS, published=with_schools)
    rel.add(dw, t["district_week"], ("unit", "date"), WEEK_COUNTS)
    rel.add(dd, t["district_day"], ("unit", "date"), WEEK_COUNTS)
    rel.rollup(sw, dw, WEEK_COUNTS)
    rel.rollup(dd, dw, WEEK_COUNTS, on="week")
    return rel


def _build_week(t: dict[str, pl.DataFrame], child: bool, rel: Release, prefix: str) -> None:
    week_relations(t, child, rel, prefix)


def week_release(
    t: dict[str, pl.DataFrame], rule: Rule, earlier: Earlier | None = None
) -> tuple[dict[str, pl.DataFrame], list[str]]:
    """One week's school cases (``school_week``: ``unit``, ``date`` = the Monday, ``parent``),
    the district's week (their sum) and the district's days (``district_day``: ``unit``,
    ``date``, ``parent``, ``week``; their sum too), suppressed together."""
    monday = t["district_week"]["date"][0] if t["district_week"].height else None
    return _protected(
        _build_week, "school_week", WEEK_COUNTS, t, rule, earlier, f"week of {monday}"
    )


def _build_city(t: dict[str, pl.DataFrame], child: bool, rel: Release, prefix: str) -> None:
    name = prefix + "citywide"
    # blanks: the positive tests end with CDPH's daily by-test series (2021-11-24) while the
    # cases go on; a count the series does not have is a blank, not a hidden figure
    rel.add(name, t["citywide"], ("unit", "date"), CITY_COUNTS, published=child, blanks=True)
    for kind in ("positive", "cases"):
        rel.lagged(name, f"{kind}_14d", [(f"{kind}_7d", 0), (f"{kind}_7d", 7)])


def city_release(
    t: dict[str, pl.DataFrame], rule: Rule, earlier: Earlier | None = None
) -> tuple[dict[str, pl.DataFrame], list[str]]:
    """The citywide counts (``t``: ``citywide``; 7- and 14-day, the 14 = the 7 + the 7 a week
    earlier)."""
    out, notes = _protected(_build_city, "citywide", CITY_COUNTS, t, rule, earlier, "")
    return out, [n.removeprefix(": ") for n in notes]


def _build_zip(t: dict[str, pl.DataFrame], child: bool, rel: Release, prefix: str) -> None:
    rel.add(prefix + "zip", t["zip"], ("unit", "date"), ZIP_COUNTS, published=child)


def zip_release(
    t: dict[str, pl.DataFrame], rule: Rule, earlier: Earlier | None = None
) -> tuple[dict[str, pl.DataFrame], list[str]]:
    """Each ZIP's weekly cases (``t``: ``zip``), primary suppression only (the ZIP rows of the
    source relate to no other published table)."""
    out, notes = _protected(_build_zip, "zip", ZIP_COUNTS, t, rule, earlier, "")
    return out, [n.removeprefix(": ") for n in notes]


# ---------------------------------------------------------------------- periods


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def day_tables(school: pl.DataFrame, day: dt.date) -> dict[str, pl.DataFrame]:
    """The exact school and district rows of a day release."""
    s = school.filter(pl.col("date") == day).select(
        "unit", "date", "parent", "in_outbreak", *DAY_COUNTS
    )
    d = s.group_by("date").agg(pl.col("in_outbreak").sum(), *(pl.col(c).sum() for c in DAY_COUNTS))
    d = d.with_columns(pl.lit("district").alias("unit")).select(
        "unit", "date", "in_outbreak", *DAY_COUNTS
    )
    return {"school": s.sort("unit"), "district": d}


def week_tables(school: pl.DataFrame, monday: dt.date) -> dict[str, pl.DataFrame]:
    """The exact tables of the week release of the week starting ``monday``."""
    days = school.filter(pl.col("date").is_between(monday, monday + dt.timedelta(days=6)))
    sw = (
        days.group_by("unit", "parent")
        .agg(pl.col("school_cases").sum())
        .with_columns(pl.lit(monday).alias("date"))
        .select("unit", "date", "parent", "school_cases")
        .sort("unit")
    )
    dd = (
        days.group_by("date")
        .agg(pl.col("school_cases").sum())
        .with_columns(
            pl.lit("district").alias("unit"),
            pl.lit("district").alias("parent"),
            pl.lit(monday).alias("week"),
        )
        .select("unit", "date", "parent", "week", "school_cases")
        .sort("date")
    )
    dw = pl.DataFrame(
        {"unit": ["district"], "date": [monday], "school_cases": [int(sw["school_cases"].sum())]},
        schema={"unit": pl.String, "date": pl.Date, "school_cases": pl.Int64},
    )
    return {"school_week": sw, "district_week": dw, "district_day": dd}


def _digest(tables: dict[str, pl.DataFrame]) -> str:
    h = hashlib.sha256()
    for name in sorted(tables):
        h.update(name.encode())
        h.update(tables[name].write_csv().encode())
    return h.hexdigest()


def _parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf, statistics=False)
    return buf.getvalue()


# ---------------------------------------------------------------------- the store


class StoredRelease(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    kind: str
    period_start: dt.date
    period_end: dt.date
    rule_id: str
    published_sha256: str
    cells: int
    hidden: int
    notes: list[str]
    created_at: dt.datetime
    created_by: str


def latest_releases(engine: Engine, kinds: Iterable[str] = KINDS) -> list[StoredRelease]:
    """The latest release of each period of ``kinds``, by kind and period."""
    r = public_release
    newest = (
        select(func.max(r.c.id))
        .where(r.c.kind.in_(list(kinds)))
        .group_by(r.c.kind, r.c.period_start)
        .scalar_subquery()
    )
    cols = [c for c in r.c if c.name not in ("inputs_sha256", "data_version", "software_version")]
    with engine.connect() as conn:
        rows = conn.execute(
            select(*cols).where(r.c.id.in_(newest)).order_by(r.c.kind, r.c.period_start)
        ).all()
    return [
        StoredRelease(
            **{
                **row._mapping,
                "notes": json.loads(row._mapping["notes"]),
                "created_at": as_utc(row._mapping["created_at"]),
            }
        )
        for row in rows
    ]


def release_frames(engine: Engine, ids: Iterable[int]) -> dict[str, pl.DataFrame]:
    """The published tables of the releases ``ids``, each name's tables concatenated."""
    ids = list(ids)
    found: dict[str, list[pl.DataFrame]] = {}
    t = public_release_table
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            rows = conn.execute(
                select(t.c.name, t.c.content).where(t.c.release_id.in_(ids[start : start + 500]))
            ).all()
            for name, blob in rows:
                found.setdefault(name, []).append(pl.read_parquet(io.BytesIO(bytes(blob))))
    return {name: pl.concat(frames, how="diagonal_relaxed") for name, frames in found.items()}


def _stored(conn: Connection, kind: str, start: dt.date) -> tuple[int, str] | None:
    """The latest release of a period: a day or a week by its first day; the citywide and ZIP
    tables (whole history, whose first day may move) by their kind."""
    r = public_release
    where = [r.c.kind == kind]
    if kind in ("day", "week"):
        where.append(r.c.period_start == start)
    row = conn.execute(
        select(r.c.id, r.c.inputs_sha256).where(*where).order_by(r.c.id.desc()).limit(1)
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def _tables_of(conn: Connection, table: Table, release_id: int) -> dict[str, pl.DataFrame]:
    """A stored release's tables as published (``public_release_table``) or its exact figures
    (``public_release_input``)."""
    rows = conn.execute(
        select(table.c.name, table.c.content).where(table.c.release_id == release_id)
    ).all()
    return {name: pl.read_parquet(io.BytesIO(bytes(blob))) for name, blob in rows}


def _store(
    conn: Connection,
    kind: str,
    start: dt.date,
    end: dt.date,
    rule: Rule,
    version: int,
    inputs: str,
    tables: dict[str, pl.DataFrame],
    exact: dict[str, pl.DataFrame],
    counts: tuple[str, ...],
    notes: list[str],
    created_by: str,
) -> Released:
    blobs = {name: _parquet(frame) for name, frame in sorted(tables.items())}
    shas = {name: hashlib.sha256(blob).hexdigest() for name, blob in blobs.items()}
    published = hashlib.sha256(
        "|".join(f"{n}:{s}" for n, s in sorted(shas.items())).encode()
    ).hexdigest()
    cells = hidden = 0
    for frame in tables.values():
        named = (
            frame[SUPPRESSED].fill_null("").str.split(",")
            if SUPPRESSED in frame.columns
            else pl.Series([[]] * frame.height, dtype=pl.List(pl.String))
        )
        for c in counts:
            if c in frame.columns:
                # a cell is a figure the release has; hidden: named in ``suppressed`` (a blank,
                # a figure its series does not have, is neither)
                blank = frame[c].is_null() & ~named.list.contains(c)
                cells += frame.height - int(blank.sum())
                hidden += int(named.list.contains(c).sum())
    release_id = conn.execute(
        insert(public_release)
        .values(
            kind=kind,
            period_start=start,
            period_end=end,
            rule_id=rule.id,
            data_version=version,
            inputs_sha256=inputs,
            published_sha256=published,
            cells=cells,
            hidden=hidden,
            notes=json.dumps(notes),
            software_version=__version__,
            created_at=dt.datetime.now(dt.UTC),
            created_by=created_by,
        )
        .returning(public_release.c.id)
    ).scalar_one()
    for name, blob in blobs.items():
        conn.execute(
            insert(public_release_table).values(
                release_id=release_id,
                name=name,
                rows=tables[name].height,
                sha256=shas[name],
                content=blob,
            )
        )
    for name, frame in sorted(exact.items()):
        conn.execute(
            insert(public_release_input).values(
                release_id=release_id, name=name, content=_parquet(frame)
            )
        )
    append_link(conn, "public_release", int(release_id))
    return Released(
        id=int(release_id),
        kind=kind,
        period_start=start,
        period_end=end,
        cells=cells,
        hidden=hidden,
        notes=notes,
        new=True,
    )


def _version(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(import_log.c.id), 0))).scalar_one())


Tables = dict[str, pl.DataFrame]
Maker = Callable[[Tables, Rule, Earlier | None], tuple[Tables, list[str]]]
"""A period's release from its exact tables, the rule, and the latest earlier release."""


def _release_period(
    ctx: Context,
    kind: str,
    start: dt.date,
    end: dt.date,
    exact: dict[str, pl.DataFrame],
    make: Maker,
    counts: tuple[str, ...],
    created_by: str,
) -> Released:
    """Release one period unless its latest release read the same exact figures; one write
    transaction (the period's release and its link, or nothing)."""
    inputs = _digest(exact)
    rule = rule_on(start)
    with writing(ctx.engine, [LOCK], "public release") as conn:
        stored = _stored(conn, kind, start)
        if stored is not None and stored[1] == inputs:
            row = (
                conn.execute(select(public_release).where(public_release.c.id == stored[0]))
                .one()
                ._mapping
            )
            return Released(
                id=stored[0],
                kind=kind,
                period_start=start,
                period_end=end,
                cells=int(row["cells"]),
                hidden=int(row["hidden"]),
                notes=json.loads(row["notes"]),
                new=False,
            )
        earlier = None
        if stored is not None:
            earlier = Earlier(
                published=_tables_of(conn, public_release_table, stored[0]),
                exact=_tables_of(conn, public_release_input, stored[0]),
            )
        tables, notes = make(exact, rule, earlier)
        return _store(
            conn,
            kind,
            start,
            end,
            rule,
            _version(conn),
            inputs,
            tables,
            exact,
            counts,
            notes,
            created_by,
        )


def publish(ctx: Context, req: PublishRequest, steps: Steps | None = None) -> PublishReport:
    """Release every school day and every complete week of ``req``'s range, and the citywide
    and ZIP tables (each period only where its figures changed since its last release)."""
    from schoolmode.app.metrics import exact_tables

    steps = steps or Silent()
    who = req.created_by or whoami()
    exact = exact_tables(ctx.engine)
    school = exact["school"]
    if req.first:
        school = school.filter(pl.col("date") >= req.first)
    if req.last:
        school = school.filter(pl.col("date") <= req.last)
    days = sorted(school["date"].unique().to_list()) if school.height else []
    mondays = sorted({_monday(d) for d in days})
    today = dt.date.today()

    def complete(monday: dt.date) -> bool:
        """A week is released once it has ended: by ``req.last`` when given; else by the
        calendar (its Sunday is past), the data's last week included."""
        sunday = monday + dt.timedelta(days=6)
        return sunday <= req.last if req.last else sunday < today

    weeks = [m for m in mondays if complete(m) and (req.first is None or m >= req.first)]
    out: list[Released] = []
    steps.start("releasing school days", len(days) + len(weeks) + 2)
    by_day = school.partition_by("date", as_dict=True) if school.height else {}
    for day in days:
        t = day_tables(by_day[(day,)], day)
        out.append(
            _release_period(
                ctx,
                "day",
                day,
                day,
                t,
                day_release,
                DAY_COUNTS,
                who,
            )
        )
        steps.advance(f"released {day}")
    whole = exact["school"]
    for monday in weeks:
        w = week_tables(whole, monday)
        out.append(
            _release_period(
                ctx,
                "week",
                monday,
                monday + dt.timedelta(days=6),
                w,
                week_release,
                WEEK_COUNTS,
                who,
            )
        )
        steps.advance(f"released the week of {monday}")
    city = exact["citywide"]
    if city.height:
        out.append(
            _release_period(
                ctx,
                "citywide",
                city["date"].min(),  # type: ignore[arg-type]
                city["date"].max(),  # type: ignore[arg-type]
                {"citywide": city},
                city_release,
                CITY_COUNTS,
                who,
            )
        )
    steps.advance("released the citywide counts")
    zips = exact["zip"].select("unit", "date", *ZIP_COUNTS).drop_nulls("cases_weekly")
    if zips.height:
        out.append(
            _release_period(
                ctx,
                "zip",
                zips["date"].min(),  # type: ignore[arg-type]
                zips["date"].max(),  # type: ignore[arg-type]
                {"zip": zips},
                zip_release,
                ZIP_COUNTS,
                who,
            )
        )
    steps.advance("released the ZIP counts")
    return PublishReport(releases=out)


class ReleaseEntry(BaseModel):
    """A stored release in the public change log: a first release of its period, or a
    correction (a re-release after its figures changed) naming the release it replaced."""

    model_config = ConfigDict(frozen=True)

    release: StoredRelease
    replaces: int | None
    """The id of the earlier release of the same period (None: the period's first)."""


def release_history(engine: Engine) -> list[ReleaseEntry]:
    """Every stored release, newest first, each correction naming the release it replaced."""
    r = public_release
    cols = [c for c in r.c if c.name not in ("inputs_sha256", "data_version", "software_version")]
    with engine.connect() as conn:
        rows = conn.execute(select(*cols).order_by(r.c.id)).all()
    last: dict[tuple[str, dt.date], int] = {}
    out: list[ReleaseEntry] = []
    for row in rows:
        m = row._mapping
        stored = StoredRelease(
            **{**m, "notes": json.loads(m["notes"]), "created_at": as_utc(m["created_at"])}
        )
        key = (stored.kind, stored.period_start)
        out.append(ReleaseEntry(release=stored, replaces=last.get(key)))
        last[key] = stored.id
    return out[::-1]
