"""What the public pages of the dashboard show (``web/``), as use cases: the district on a
day, a school's page, the list of schools, the change log.

Every figure here is public: modes of units and counts of units (schools, classrooms) in each
mode, the public explanation (``explain_public``: bands, never a count of people), and the
stored public releases of the metrics (``metrics_frame`` for the public principal: a count of
people is either released or ``suppressed``). Nothing here reads an exact count of people.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import polars as pl
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from schoolmode.access.roles import ANONYMOUS, Principal
from schoolmode.app.context import Context
from schoolmode.app.explain_public import PublicExplanation, public_explanation
from schoolmode.app.metrics import Level, MetricsRequest, RuleInfo, metrics_frame
from schoolmode.app.releases import ReleaseEntry, release_history
from schoolmode.decisions.answers import Answer, latest_answers
from schoolmode.decisions.record import DecisionError
from schoolmode.decisions.runs import (
    classroom_schools,
    day_decisions,
    decision_runs,
    latest_decided_day,
    latest_run_for_day,
    mode_counts,
    newest_run,
    run_policy,
    scope_history,
    unit_history,
)
from schoolmode.disclosure import SUPPRESSED, rule_on
from schoolmode.engine.trace import Node, trace
from schoolmode.store.frames import query_frame
from schoolmode.store.tables import RECORD_TABLES

HISTORY_DAYS = 120
"""How far back a school page lists the school's modes."""
FIGURE_DAYS = 28
"""How many released days (and weeks) of a school's figures a page shows."""

DAY_FIGURES = (
    ("students_quarantine_isolation", True),
    ("students_quarantine_isolation_pct", False),
    ("covid_absent_teachers", True),
    ("covid_absent_teachers_pct", False),
    ("staff_isolation_quarantine", True),
)
"""The released day figures a page shows: (column, whether it counts people)."""


class UnknownSchool(LookupError):
    """A school the store does not know."""


class Cell(BaseModel):
    """One released figure: its text, or hidden by the suppression rule."""

    model_config = ConfigDict(frozen=True)

    column: str
    value: str | None
    """None: hidden (``suppressed``) or not available (``missing``)."""
    count: bool
    """True: a count of people (0 or above the rule's small counts when shown)."""
    state: str
    """``shown``, ``suppressed`` or ``missing``."""


class FigureRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    date: dt.date
    cells: list[Cell]


class SchoolInfo(BaseModel):
    """A school's public profile (its latest school year's record)."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    level: str
    zip: str | None
    network: str | None
    latitude: float | None
    longitude: float | None


class SchoolMode(BaseModel):
    model_config = ConfigDict(frozen=True)

    school: SchoolInfo
    mode: str | None
    label: str | None


class ModeCount(BaseModel):
    """How many units of a scope were in a mode (schools and classrooms: never people)."""

    model_config = ConfigDict(frozen=True)

    scope: str
    mode: str
    label: str
    units: int


class Decided(BaseModel):
    """Which stored run decided a day, with which policy."""

    model_config = ConfigDict(frozen=True)

    day: dt.date
    run_id: int
    policy_id: str
    policy_title: str
    policy_hash: str
    labels: dict[str, str]
    """Mode id -> its label in the policy."""


class DistrictDay(BaseModel):
    model_config = ConfigDict(frozen=True)

    decided: Decided
    mode: str | None
    label: str | None
    counts: list[ModeCount]
    explanation: PublicExplanation | None
    figures: list[FigureRow]
    schools: list[SchoolMode]
    suppression: RuleInfo
    notes: list[str]


class HistoryRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    date: dt.date
    mode: str
    label: str
    policy_id: str
    run_id: int


class SchoolDay(BaseModel):
    model_config = ConfigDict(frozen=True)

    school: SchoolInfo
    decided: Decided
    mode: str | None
    label: str | None
    explanation: PublicExplanation | None
    history: list[HistoryRow]
    figures: list[FigureRow]
    weeks: list[FigureRow]
    suppression: RuleInfo
    notes: list[str]


def schools(ctx: Context) -> list[SchoolInfo]:
    """Every school of the store with its latest profile, by name."""
    t = RECORD_TABLES["school"]
    with ctx.engine.connect() as conn:
        frame = query_frame(
            conn,
            select(
                t.c.school_id,
                t.c.school_year,
                t.c.name,
                t.c.level,
                t.c.zip,
                t.c.network,
                t.c.latitude,
                t.c.longitude,
            ),
            {
                "id": pl.String,
                "year": pl.String,
                "name": pl.String,
                "level": pl.String,
                "zip": pl.String,
                "network": pl.String,
                "latitude": pl.Float64,
                "longitude": pl.Float64,
            },
        )
    latest = frame.sort("year").unique("id", keep="last").drop("year").sort("name", "id")
    return [SchoolInfo(**row) for row in latest.to_dicts()]


def decided(ctx: Context, day: dt.date | None) -> Decided | None:
    """The run that decided ``day`` (default: the last day decided); None: none did."""
    when = day or latest_decided_day(ctx.engine)
    run_id = None if when is None else latest_run_for_day(ctx.engine, when)
    if when is None or run_id is None:
        return None
    policy_id, policy_hash = run_policy(ctx.engine, run_id)
    title, labels = policy_id, {}
    if policy_id in ctx.registry:
        policy = ctx.registry.get(policy_id).policy
        title, labels = policy.title, {m.id: m.label for m in policy.modes}
    return Decided(
        day=when,
        run_id=run_id,
        policy_id=policy_id,
        policy_title=title,
        policy_hash=policy_hash,
        labels=labels,
    )


def _label(found: Decided, mode: str) -> str:
    return found.labels.get(mode, mode.replace("_", " "))


def _explanation(ctx: Context, scope: str, unit: str, day: dt.date) -> PublicExplanation | None:
    try:
        return public_explanation(ctx, scope, unit, day)
    except DecisionError:  # the run did not decide this unit that day
        return None


def _cells(row: dict[str, object], columns: tuple[tuple[str, bool], ...]) -> list[Cell]:
    hidden = set(str(row.get(SUPPRESSED) or "").split(","))
    cells = []
    for column, count in columns:
        value = row.get(column)
        base = column.removesuffix("_pct")
        if column in hidden or (column != base and base in hidden):
            cells.append(Cell(column=column, value=None, count=count, state="suppressed"))
        elif value is None:
            cells.append(Cell(column=column, value=None, count=count, state="missing"))
        else:
            text = f"{value:.1f}%" if isinstance(value, float) else str(value)
            cells.append(Cell(column=column, value=text, count=count, state="shown"))
    return cells


def _figures(
    ctx: Context,
    level: Level,
    units: tuple[str, ...],
    last: dt.date,
    columns: tuple[tuple[str, bool], ...],
) -> tuple[list[FigureRow], list[str]]:
    """The released rows of ``units`` at ``level`` up to ``last``, newest first."""
    start = last - dt.timedelta(days=FIGURE_DAYS - 1 if level != "school_weekly" else 7 * 8)
    req = MetricsRequest(level=level, start=start, end=last, units=units)
    frame, _, notes = metrics_frame(ctx, req, ANONYMOUS)
    rows = frame.sort("date", descending=True).to_dicts()
    return [FigureRow(date=r["date"], cells=_cells(r, columns)) for r in rows], notes


def district_day(ctx: Context, day: dt.date | None = None) -> DistrictDay | None:
    """The district on ``day`` (default: the last day decided); None: no run decided it."""
    found = decided(ctx, day)
    if found is None:
        return None
    counts = [
        ModeCount(scope=scope, mode=mode, label=_label(found, mode), units=n)
        for (scope, mode), n in sorted(mode_counts(ctx.engine, found.day, found.run_id).items())
        if scope != "district"
    ]
    modes = {(d.scope, d.unit): d.mode for d in _day_rows(ctx, found.day, found.run_id)}
    district = next((m for (s, _), m in modes.items() if s == "district"), None)
    units = tuple(u for (s, u) in modes if s == "district")
    # the public district table is the store's one district (its rows' unit: ``district``)
    figures, notes = _figures(ctx, "district", (), found.day, DAY_FIGURES)
    return DistrictDay(
        decided=found,
        mode=district,
        label=None if district is None else _label(found, district),
        counts=counts,
        explanation=None if not units else _explanation(ctx, "district", units[0], found.day),
        figures=figures,
        schools=_school_modes(ctx, found, modes),
        suppression=RuleInfo.of(rule_on(found.day)),
        notes=notes,
    )


def _school_modes(
    ctx: Context, found: Decided, modes: dict[tuple[str, str], str]
) -> list[SchoolMode]:
    out = []
    for s in schools(ctx):
        mode = modes.get(("school", s.id))
        out.append(
            SchoolMode(school=s, mode=mode, label=None if mode is None else _label(found, mode))
        )
    return out


def school_modes(
    ctx: Context, day: dt.date | None = None
) -> tuple[Decided, list[SchoolMode]] | None:
    """Every school with its mode on ``day`` (default: the last day decided), for the map;
    None: no run decided the day."""
    found = decided(ctx, day)
    if found is None:
        return None
    modes = {(d.scope, d.unit): d.mode for d in _day_rows(ctx, found.day, found.run_id)}
    return found, _school_modes(ctx, found, modes)


def _day_rows(ctx: Context, day: dt.date, run_id: int) -> list[_UnitRow]:
    rows: list[_UnitRow] = []
    for scope in ("district", "school"):
        page = day_decisions(ctx.engine, day, scope, None, 10**7, 0, run_id)
        if page is not None:
            rows += [_UnitRow(scope=r.scope, unit=r.unit, mode=r.mode) for r in page.rows]
    return rows


class _UnitRow(BaseModel):
    scope: str
    unit: str
    mode: str


def school_day(ctx: Context, school_id: str, day: dt.date | None = None) -> SchoolDay | None:
    """A school's page on ``day`` (default: the last day decided); None: no run decided it.
    Raises :class:`UnknownSchool` for a school the store does not know."""
    info = next((s for s in schools(ctx) if s.id == school_id), None)
    if info is None:
        raise UnknownSchool(school_id)
    found = decided(ctx, day)
    if found is None:
        return None
    history = [
        HistoryRow(
            date=h.day,
            mode=h.mode,
            label=_label(found, h.mode) if h.policy_id == found.policy_id else h.mode,
            policy_id=h.policy_id,
            run_id=h.run_id,
        )
        for h in unit_history(
            ctx.engine, "school", school_id, found.day - dt.timedelta(days=HISTORY_DAYS), found.day
        )
    ]
    today = next((h for h in history if h.date == found.day), None)
    figures, notes = _figures(ctx, "school", (school_id,), found.day, DAY_FIGURES)
    weeks, week_notes = _figures(
        ctx, "school_weekly", (school_id,), found.day, (("school_cases", True),)
    )
    return SchoolDay(
        school=info,
        decided=found,
        mode=None if today is None else today.mode,
        label=None if today is None else today.label,
        explanation=None if today is None else _explanation(ctx, "school", school_id, found.day),
        history=history[::-1],
        figures=figures,
        weeks=weeks,
        suppression=RuleInfo.of(rule_on(found.day)),
        notes=list(dict.fromkeys(notes + week_notes)),
    )


FEED_DAYS = 365
"""How far back a school's alert feed looks for changes of mode or eligibility."""
DISTRICT_FEED_DAYS = 120
"""How far back the district's feed (the district and every school) looks."""


class ModeChange(BaseModel):
    """A unit's mode or status changed from one decided day to its next (an alert)."""

    model_config = ConfigDict(frozen=True)

    date: dt.date
    scope: str
    unit: str
    name: str
    mode: str
    label: str
    status: str
    status_label: str
    """The status in words (a mode's label when it names a mode)."""
    previous_mode: str
    previous_label: str
    previous_status: str
    previous_status_label: str
    run_id: int
    policy_id: str


class Feed(BaseModel):
    model_config = ConfigDict(frozen=True)

    decided: Decided
    school: SchoolInfo | None
    """None: the district's feed (the district and every school)."""
    changes: list[ModeChange]
    """Newest first."""


def _changes(
    ctx: Context, found: Decided, scope: str, units: list[str] | None, days: int
) -> list[ModeChange]:
    first = found.day - dt.timedelta(days=days)
    history = scope_history(ctx.engine, scope, first, found.day, units)
    changed = (
        history.with_columns(
            pl.col("mode").shift().over("unit").alias("previous_mode"),
            pl.col("status").shift().over("unit").alias("previous_status"),
        )
        .filter(
            pl.col("previous_mode").is_not_null()
            & (
                (pl.col("mode") != pl.col("previous_mode"))
                | (pl.col("status") != pl.col("previous_status"))
            )
        )
        .sort("date", "unit", descending=[True, False])
    )
    names = {s.id: s.name for s in schools(ctx)} if scope == "school" else {}
    return [
        ModeChange(
            date=row["date"],
            scope=scope,
            unit=row["unit"],
            name=names.get(row["unit"], row["unit"]),
            mode=row["mode"],
            label=_label(found, row["mode"]),
            status=row["status"],
            status_label=_label(found, row["status"]),
            previous_mode=row["previous_mode"],
            previous_label=_label(found, row["previous_mode"]),
            previous_status=row["previous_status"],
            previous_status_label=_label(found, row["previous_status"]),
            run_id=row["run_id"],
            policy_id=row["policy_id"],
        )
        for row in changed.to_dicts()
    ]


def school_feed(ctx: Context, school_id: str) -> Feed | None:
    """The changes of a school's mode or status over the year up to the last day decided
    (None: nothing decided). Raises :class:`UnknownSchool`."""
    info = next((s for s in schools(ctx) if s.id == school_id), None)
    if info is None:
        raise UnknownSchool(school_id)
    found = decided(ctx, None)
    if found is None:
        return None
    return Feed(
        decided=found, school=info, changes=_changes(ctx, found, "school", [school_id], FEED_DAYS)
    )


def district_feed(ctx: Context) -> Feed | None:
    """The changes of the district's and every school's mode or status over the year up to
    the last day decided (None: nothing decided)."""
    found = decided(ctx, None)
    if found is None:
        return None
    changes = _changes(ctx, found, "district", None, DISTRICT_FEED_DAYS) + _changes(
        ctx, found, "school", None, DISTRICT_FEED_DAYS
    )
    changes.sort(key=lambda c: (c.date, c.scope == "district"), reverse=True)
    return Feed(decided=found, school=None, changes=changes)


ANSWER_DAYS = 14
"""A named body's answer (to act, or a refusal) recorded for one of this many days up to the
day shown answers an eligible change: the role view lists it as answered, with the answer."""


class Answered(BaseModel):
    """The named body's latest answer on an eligible change."""

    model_config = ConfigDict(frozen=True)

    kind: str
    """``authorisation`` (act) or ``refusal``."""
    key: int
    date: dt.date
    decided_by: str
    reason: str


class Eligible(BaseModel):
    """A unit made eligible for a change by a rule that a named body decides, on a day."""

    model_config = ConfigDict(frozen=True)

    scope: str
    unit: str
    school: str | None
    """The school of the unit (None: the district)."""
    name: str
    status: str
    status_label: str
    mode: str
    label: str
    rule: str
    rule_title: str
    decided_by: str | None
    answer: Answered | None = None
    """The body's answer recorded for this rule and unit in the last ``ANSWER_DAYS`` days."""


class RoleDay(BaseModel):
    """What the people who decide see on a day, within their scope."""

    model_config = ConfigDict(frozen=True)

    decided: Decided
    eligible: list[Eligible]
    """Units in scope whose decision on the day is an eligibility, those not answered yet
    first."""


def role_day(ctx: Context, who: Principal, day: dt.date | None = None) -> RoleDay | None:
    """The eligible changes of ``day`` (default: the last day decided) within ``who``'s scope
    (None: nothing decided). Only for principals holding ``decisions:inputs``."""
    found = decided(ctx, day)
    if found is None:
        return None
    rows = []
    for scope in ("district", "school", "classroom"):
        page = day_decisions(ctx.engine, found.day, scope, None, 10**7, 0, found.run_id)
        rows += [r for r in (page.rows if page else []) if r.status.startswith("eligible")]
    names = {s.id: s.name for s in schools(ctx)}
    rooms = classroom_schools(ctx.engine, [r.unit for r in rows if r.scope == "classroom"])
    titles = {}
    if found.policy_id in ctx.registry:
        titles = {r.id: r.title for r in ctx.registry.get(found.policy_id).policy.rules}
    since = found.day - dt.timedelta(days=ANSWER_DAYS - 1)
    answers = latest_answers(ctx.engine, found.policy_id, found.day, since) if rows else {}
    out = []
    for r in rows:
        school = r.unit if r.scope == "school" else rooms.get(r.unit)
        whole = who.scope.kind.value == "district"
        if not (whole if school is None else who.scope.covers_school(school)):
            continue
        name = names.get(school, school) if school else r.unit
        out.append(
            Eligible(
                scope=r.scope,
                unit=r.unit,
                school=school,
                name=name if r.scope != "classroom" else f"{name}, {r.unit}",
                status=r.status,
                status_label=_label(found, r.status),
                mode=r.mode,
                label=_label(found, r.mode),
                rule=r.rule or "",
                rule_title=titles.get(r.rule or "", r.rule or ""),
                decided_by=r.decided_by,
                answer=_answered(answers.get((r.rule or "", r.unit))),
            )
        )
    out.sort(key=lambda e: e.answer is not None)  # stable: the run's order within each
    return RoleDay(decided=found, eligible=out)


def _answered(found: Answer | None) -> Answered | None:
    if found is None:
        return None
    return Answered(
        kind=found.kind,
        key=found.key,
        date=found.date,
        decided_by=found.decided_by,
        reason=found.reason,
    )


NEAR = Decimal("0.75")
"""A school is on the watch list when a figure is at least this share of a threshold it has
not reached (or has reached: those are listed first)."""


class Watched(BaseModel):
    """A school's figure against a threshold of a rule, on a day: exact (decision inputs)."""

    model_config = ConfigDict(frozen=True)

    school: str
    name: str
    rule_title: str
    condition: str
    figure: str
    threshold: str
    share: float
    """The figure as a share of the threshold (1 or more: reached)."""
    met: bool


class WatchList(BaseModel):
    model_config = ConfigDict(frozen=True)

    decided: Decided
    rows: list[Watched]
    """Newest threat first: reached, then the nearest."""
    schools: int
    """Schools in scope decided on the day (how many were looked at)."""


_WATCH: dict[tuple[str, int, dt.date], list[Watched]] = {}
_WATCH_LOCK = threading.Lock()


def _thresholds(node: Node) -> list[Node]:
    if node.kind == "threshold":
        return [node]
    return [t for child in node.children for t in _thresholds(child)]


def _watched(ctx: Context, found: Decided) -> list[Watched]:
    """Every school's figures at NEAR of a threshold or above, on the day (traces of the run's
    evaluation, computed once per run and day)."""
    key = (str(ctx.engine.url), found.run_id, found.day)
    with _WATCH_LOCK:
        if key in _WATCH:
            return _WATCH[key]
        evaluation = ctx.evaluations.get(ctx.engine, found.run_id)
        names = {s.id: s.name for s in schools(ctx)}
        frame = evaluation.frame("school", only_present=False).filter(pl.col("date") == found.day)
        out = []
        for row in frame.to_dicts():
            unit = str(row["unit"])
            seen = trace(evaluation, "school", unit, found.day, row=row)
            for rule in seen.rules:
                if rule.condition is None:
                    continue
                for t in _thresholds(rule.condition):
                    figure = t.children[0].raw if t.children else t.raw
                    if t.op not in (">=", ">") or figure is None or not t.limit:
                        continue
                    limit = Decimal(t.limit)
                    share = Decimal(figure) / limit if limit > 0 else None
                    if share is None or share < NEAR:
                        continue
                    out.append(
                        Watched(
                            school=unit,
                            name=names.get(unit, unit),
                            rule_title=rule.title,
                            condition=t.label,
                            figure=t.children[0].value if t.children else figure,
                            threshold=t.limit_text or t.limit,
                            share=float(share),
                            met=bool(t.met),
                        )
                    )
        out.sort(key=lambda w: (not w.met, -w.share, w.name))
        _WATCH.clear()
        _WATCH[key] = out
        return out


def watch_list(ctx: Context, who: Principal, day: dt.date | None = None) -> WatchList | None:
    """The schools in ``who``'s scope whose figures are near a threshold of the policy in
    force (at least ``NEAR`` of it) or past it, on ``day`` (default: the last day decided);
    None: nothing decided. For principals holding ``decisions:inputs`` (exact figures)."""
    found = decided(ctx, day)
    if found is None:
        return None
    rows = [w for w in _watched(ctx, found) if who.scope.covers_school(w.school)]
    page = day_decisions(ctx.engine, found.day, "school", None, 10**7, 0, found.run_id)
    decided_schools = [r.unit for r in (page.rows if page else [])]
    return WatchList(
        decided=found,
        rows=rows,
        schools=sum(1 for u in decided_schools if who.scope.covers_school(u)),
    )


class ChangeEntry(BaseModel):
    """One dated entry of the public change log."""

    model_config = ConfigDict(frozen=True)

    at: dt.datetime
    kind: str
    """``decisions`` (a run deciding days), ``redecision`` (a run deciding days decided before),
    ``release`` (a period's public figures) or ``correction`` (a period released again)."""
    ref: int
    """The run's or the release's id."""
    first: dt.date
    last: dt.date
    what: str
    """The policy id of a run, the kind of period of a release (day, week, citywide, zip)."""
    replaces: list[int]
    """The earlier runs (of days decided again) or release (of the period) this replaces."""


def newest(ctx: Context) -> int:
    """The newest stored run's id (0: none): the feeds are the same while it is."""
    return newest_run(ctx.engine)


def change_log(ctx: Context) -> list[ChangeEntry]:
    """Every decision run and public release, newest first: a run that decides days decided
    before, and a release that replaces an earlier one, are marked as changes."""
    entries: list[ChangeEntry] = []
    covered: list[tuple[dt.date, dt.date, int]] = []
    for run in decision_runs(ctx.engine):
        again = [rid for first, last, rid in covered if first <= run.last and run.first <= last]
        entries.append(
            ChangeEntry(
                at=run.created_at,
                kind="redecision" if again else "decisions",
                ref=run.run_id,
                first=run.first,
                last=run.last,
                what=run.policy_id,
                replaces=again,
            )
        )
        covered.append((run.first, run.last, run.run_id))
    for entry in release_history(ctx.engine):
        r = entry.release
        entries.append(
            ChangeEntry(
                at=r.created_at,
                kind="release" if entry.replaces is None else "correction",
                ref=r.id,
                first=r.period_start,
                last=r.period_end,
                what=r.kind,
                replaces=[] if entry.replaces is None else [entry.replaces],
            )
        )
    return sorted(entries, key=lambda e: (e.at, e.ref), reverse=True)


__all__ = [
    "ChangeEntry",
    "DistrictDay",
    "ReleaseEntry",
    "SchoolDay",
    "SchoolInfo",
    "UnknownSchool",
    "change_log",
    "decided",
    "district_day",
    "district_feed",
    "newest",
    "role_day",
    "school_day",
    "school_feed",
    "school_modes",
    "schools",
    "watch_list",
]
