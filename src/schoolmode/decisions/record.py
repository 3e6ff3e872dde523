"""Daily decisions: evaluate the policy in force on the store's data and keep an audit record.

A *run* is one evaluation of one policy over stored inputs: it keeps the policy's id, content
hash and canonical JSON, the engine version, the settings, the exact input rows (Parquet) and
their digest. Each *decision* is one unit's mode on one day under a run, with the responsible
rule, whether the rule acts automatically or makes the unit eligible for a named body's
decision, and (for unit-days where a rule fired or the mode is not the default) the trace and
the plain-language explanation. All three tables are append-only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Connection, Engine, insert, select

from schoolmode.decisions.nodata import NO_DATA, NoData, no_data_report, with_no_data_explanations
from schoolmode.engine.evaluate import ENGINE_VERSION, Evaluation, evaluate
from schoolmode.engine.explain import explain
from schoolmode.engine.grid import Calendar
from schoolmode.engine.settings import Settings
from schoolmode.engine.table import aggregates_over_units
from schoolmode.engine.trace import Trace, trace
from schoolmode.engine.window import policy_window, school_day_slack
from schoolmode.i18n import DEFAULT, Language
from schoolmode.metrics.coverage import coverage, metric_ends, records_span, without_records_outside
from schoolmode.metrics.frames import (
    DISTRICT_COLUMNS,
    district_frame,
    keep_columns,
    school_records,
    schools,
    unit_frames,
)
from schoolmode.policy import model as m
from schoolmode.policy.counting import DEFAULTS, CountingRules, counting_rules
from schoolmode.policy.errors import SchoolmodeError, UnknownIdError
from schoolmode.policy.loader import LoadedPolicy, Registry, policy_hash
from schoolmode.policy.needs import attributes_needed, metrics_needed
from schoolmode.store.chain import append_link, decisions_digest, row_digest, stored_row
from schoolmode.store.db import begin_write, whoami
from schoolmode.store.frames import table_frame
from schoolmode.store.tables import (
    RECORD_TABLES,
    authorisation,
    decision,
    decision_run,
)

LOOKBACK_DAYS = 35
"""Fewest days of history read before the first day decided (the metrics' own lookbacks: 14-day
sums, outbreak windows, trends against a week earlier); a policy that looks back further gets
its own window (:func:`decision_window`)."""


class DecisionError(SchoolmodeError):
    """A decision cannot be made: the message says what is missing and how to load it."""


class UnknownDecisionId(DecisionError, UnknownIdError):
    """A rule, school or classroom a decision names that the policy or the store lacks."""


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    policy_id: str
    first: dt.date
    last: dt.date
    decisions: int
    not_default: int
    missing_metrics: list[str]
    no_data: int = 0
    """Unit-days stored as ``no_data`` (a rule lacked its inputs and no rule applied)."""
    no_data_rules: list[NoData] | None = None
    """Per rule and day, the units without its data."""


def policy_in_force(
    registry: Registry, day: dt.date, jurisdiction: str = "Chicago"
) -> LoadedPolicy:
    """The ratified agreement of ``jurisdiction`` in force on ``day`` (the latest term start wins)."""
    candidates = [
        loaded
        for loaded in registry.all()
        if loaded.policy.kind == "agreement"
        and loaded.policy.status in ("ratified", "adopted")
        and jurisdiction.lower() in loaded.policy.jurisdiction.lower()
        and loaded.policy.term.from_ <= day
        and (loaded.policy.term.to is None or day <= loaded.policy.term.to)
    ]
    if not candidates:
        terms = "; ".join(
            f"{lp.id} ({lp.policy.term.from_} to {lp.policy.term.to or 'open'})"
            for lp in registry.all()
            if lp.policy.kind == "agreement"
            and jurisdiction.lower() in lp.policy.jurisdiction.lower()
        )
        raise DecisionError(
            f"no ratified agreement of {jurisdiction} is in force on {day} (agreements: {terms}). Name the "
            "policy to apply with --policy ID."
        )
    return max(candidates, key=lambda lp: lp.policy.term.from_)


def decision_window(policy: m.Policy, calendar: Calendar | None = None) -> int:
    """Calendar days of inputs read before the first day decided: the policy's own window
    (``engine.window.policy_window``: its lookbacks and durations, school days counted under
    ``calendar``, by default the engine's, of every weekday, as a run decides), and at least
    ``LOOKBACK_DAYS`` (the metrics' own lookbacks)."""
    slack = school_day_slack(calendar or Calendar())
    return max(LOOKBACK_DAYS, policy_window(policy, slack))


def scope_starts(policy: m.Policy, first: dt.date) -> dict[str, dt.date]:
    """The first day of the school and classroom frames of a decision on ``first``: each scope
    evaluates alone (no rule aggregates over units), so its frame needs only its own rules'
    window (at least ``LOOKBACK_DAYS``); the district frame, which the others are built on,
    keeps the policy's whole window. With a rule over units, every frame keeps it."""
    whole = first - dt.timedelta(days=decision_window(policy))
    out = {}
    for scope in (m.Scope.school, m.Scope.classroom):
        rules = [r for r in policy.rules if r.scope == scope]
        own = decision_window(policy.model_copy(update={"rules": rules}))
        out[scope.value] = (
            whole if aggregates_over_units(policy) else first - dt.timedelta(days=own)
        )
    return out


def citywide_needed(policy: m.Policy) -> set[str]:
    """The citywide metrics ``policy`` reads: each must have a value on the last day decided."""
    names = {
        name
        for need in metrics_needed(policy).values()
        for names in need.values()
        for name in names
    }
    return names & set(DISTRICT_COLUMNS.values())


def frame_columns(policy: m.Policy) -> dict[str, set[str]]:
    """What ``policy`` reads, by scope: its metrics and the unit attributes it tests or groups
    by (``parent``); a run's input frames keep only these columns besides unit and date."""
    out = attributes_needed(policy)
    for need in metrics_needed(policy).values():
        for scope, names in need.items():
            out.setdefault(scope, set()).update(names)
    return out


def input_frames(
    engine: Engine,
    start: dt.date,
    last: dt.date,
    needed: set[str],
    wanted: Mapping[str, Collection[str]] | None = None,
    starts: Mapping[str, dt.date] | None = None,
    found: pl.DataFrame | None = None,
    rules: CountingRules = DEFAULTS,
) -> dict[str, pl.DataFrame]:
    """The metric frames a decision reads from the store: days ``start .. last``, the
    school-record metrics blank outside the records' days (``found``: the store's coverage,
    :func:`~schoolmode.metrics.coverage.coverage`, read here when not given).

    ``needed`` names the citywide metrics the policy reads (:func:`citywide_needed`); each must
    have a value on ``last``. ``wanted``: the columns to keep, by scope (a decision keeps
    what its policy reads, :func:`frame_columns`; default: all). A decision reads from ``first -
    decision_window(policy)``; its audit reads again from the first day of the stored inputs,
    with the same check and the stored frames' columns. ``starts``: a later first day for some
    scopes' frames (:func:`scope_starts`; the audit: each stored frame's first day).
    ``rules``: what the event-derived metrics count (the policy's ``counts:`` under the run's
    readings, :func:`~schoolmode.policy.counting.counting_rules`).
    """
    # the school records are read (SQLite works off the GIL: store/packed.py) while the
    # citywide series are computed; they cover days start .. last, which hold the district's
    with ThreadPoolExecutor(max_workers=1) as pool:
        records = pool.submit(school_records, engine, start, last)
        try:
            district = district_frame(engine, start, last)
        except LookupError as exc:
            raise DecisionError(str(exc)) from None
        for metric in sorted(needed):
            if metric not in district.columns:
                continue
            through = _last_known(district, metric)
            if through is None:  # nothing in the window: say where the series ends
                through = _last_known(district_frame(engine, dt.date(1900, 1, 1), last), metric)
            if through is None or through < last:
                raise DecisionError(
                    f"the store has no citywide data for {last}: {metric} runs through {through}. "
                    "Import newer CDPH files with `schoolmode import cdph-daily-testing PATH` and "
                    "`schoolmode import cdph-daily-cases PATH`, then decide again."
                )
        district = district.filter(pl.col("date") >= start)
        frames = {"district": district}
        with contextlib.suppress(LookupError):  # without schools in the store: district rules only
            frames.update(
                unit_frames(
                    engine,
                    district,
                    schools(engine),
                    records.result(),
                    wanted,
                    (starts or {}).get("classroom"),
                    rules,
                )
            )
    span = records_span(engine, found) if set(frames) - {"district"} else None
    return {
        scope: without_records_outside(
            frame.filter(pl.col("date") >= starts[scope]) if starts and scope in starts else frame,
            span,
        )
        for scope, frame in keep_columns(frames, wanted).items()
    }


def stored_start(frames: Mapping[str, pl.DataFrame], first: dt.date, policy: m.Policy) -> dt.date:
    """The first day a run's stored inputs read (its district frame's first day; from the
    policy's window when the run stored no district rows)."""
    district = frames.get("district")
    day = district["date"].min() if district is not None and district.height else None
    if isinstance(day, dt.date):
        return day
    return first - dt.timedelta(days=decision_window(policy))


def _last_known(frame: pl.DataFrame, metric: str) -> dt.date | None:
    known = frame.filter(pl.col(metric).is_not_null())
    day = known["date"].max() if known.height else None
    return day if isinstance(day, dt.date) else None


def _first_day(frames: Mapping[str, pl.DataFrame]) -> dt.date:
    days = [
        d for f in frames.values() if f.height for d in [f["date"].min()] if isinstance(d, dt.date)
    ]
    if not days:
        raise DecisionError("the input frames are empty: there is nothing to decide on")
    return min(days)


def inputs_digest(frames: Mapping[str, pl.DataFrame]) -> str:
    """sha256 over a canonical rendering of the input rows (sorted, CSV, by scope), hashed a
    slice of rows at a time (the same bytes as the whole CSV at once, without holding it)."""
    digest = hashlib.sha256()
    for scope in sorted(frames):
        frame = frames[scope]
        ordered = frame.select(sorted(frame.columns)).sort("unit", "date")
        digest.update(f"[{scope}]\n".encode())
        if ordered.height == 0:
            digest.update(ordered.write_csv().encode())
        for index, part in enumerate(ordered.iter_slices(DIGEST_ROWS)):
            digest.update(part.write_csv(include_header=index == 0).encode())
    return digest.hexdigest()


DIGEST_ROWS = 100_000
"""Rows rendered at a time by :func:`inputs_digest`."""


def pack(frames: Mapping[str, pl.DataFrame]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for scope, frame in sorted(frames.items()):
            part = io.BytesIO()
            frame.write_parquet(part, compression="zstd")
            archive.writestr(f"{scope}.parquet", part.getvalue())
    return buffer.getvalue()


def unpack(blob: bytes) -> dict[str, pl.DataFrame]:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {
            name.removesuffix(".parquet"): pl.read_parquet(io.BytesIO(archive.read(name)))
            for name in archive.namelist()
        }


def authorisations(
    engine: Engine, policy_id: str, as_of: dt.datetime | None = None
) -> pl.DataFrame:
    """A policy's recorded authorisations; ``as_of``: only those recorded by then (a run's
    creation: what the run decided with, not what was recorded after it)."""
    schema = {"unit": pl.String, "date": pl.Date, "rule": pl.String}
    where = authorisation.c.policy_id == policy_id
    if as_of is not None:
        where = where & (authorisation.c.recorded_at <= as_of)
    with engine.connect() as conn:
        return table_frame(conn, authorisation, schema, where)


def settings_json(settings: Settings) -> str:
    return json.dumps(
        {
            "interpretations": {k: str(v) for k, v in settings.interpretations.items()},
            "parameters": {
                k: None if v is None else str(v) for k, v in settings.parameters.items()
            },
        },
        sort_keys=True,
    )


def evaluate_run(
    policy: m.Policy,
    frames: Mapping[str, pl.DataFrame],
    auth: pl.DataFrame,
    settings: Settings,
    first: dt.date,
    last: dt.date,
    calendar: Calendar | None = None,
) -> Evaluation:
    return evaluate(
        policy,
        frames,
        calendar=calendar,
        settings=settings,
        authorisations=auth,
        keep=True,
        span=(_first_day(frames), last),
    )


DECISION_COLUMNS = ("scope", "unit", "date", "mode", "status", "rule", "action", "decided_by")


def _acting(policy: m.Policy, trigger_cols: list[str]) -> pl.Expr:
    """The rule acting on a unit-day: the responsible rule, else (for a unit that is only
    eligible) the first eligible rule whose trigger held."""
    eligible = [
        c
        for c in trigger_cols
        for r in policy.rules
        if f"trigger.{r.id}" == c and r.effect is not None and r.effect.action == m.Action.eligible
    ]
    fallback: pl.Expr = pl.lit(None, dtype=pl.String)
    for column in reversed(eligible):
        fallback = (
            pl.when(pl.col(column))
            .then(pl.lit(column.removeprefix("trigger.")))
            .otherwise(fallback)
        )
    only_eligible = pl.col("status").str.starts_with("eligible_for_")
    return pl.coalesce(
        pl.col("rule"), pl.when(only_eligible).then(fallback).otherwise(pl.lit(None))
    ).alias("rule")


def _scope_decisions(
    evaluation: Evaluation, scope: str, first: dt.date, last: dt.date
) -> pl.DataFrame:
    policy = evaluation.policy
    frame = evaluation.frame(scope, only_present=False, days=(first, last))
    trigger_cols = [c for c in frame.columns if c.startswith("trigger.")]
    actions = {r.id: r.effect.action.value for r in policy.rules if r.effect is not None}
    bodies = {r.id: r.decided_by for r in policy.rules if r.decided_by is not None}
    fired = pl.any_horizontal(trigger_cols) if trigger_cols else pl.lit(False)
    return (
        frame.with_columns(pl.col("mode", "status", "rule").cast(pl.String))
        .with_columns(
            _acting(policy, trigger_cols),
            # a no_data unit-day is explained from the data missing (:func:`no_data_report`),
            # without a trace each
            (
                fired | ((pl.col("status") != policy.modes[0].id) & (pl.col("status") != "no_data"))
            ).alias("_interesting"),
        )
        .select(
            pl.lit(scope).alias("scope"),
            "unit",
            "date",
            "mode",
            "status",
            "rule",
            pl.col("rule")
            .replace_strict(actions, default=None, return_dtype=pl.String)
            .alias("action"),
            pl.col("rule")
            .replace_strict(bodies, default=None, return_dtype=pl.String)
            .alias("decided_by"),
            "_interesting",
        )
    )


def decision_frame(
    evaluation: Evaluation, first: dt.date, last: dt.date, *, with_traces: bool = True
) -> pl.DataFrame:
    """One row per unit-day decided, scope by scope: ``DECISION_COLUMNS`` and (``with_traces``)
    ``trace_json`` and ``explanation`` for the unit-days where something happened (a rule's
    trigger held, or the status is not the default mode), blank elsewhere. The columns are
    computed for all unit-days at once; only the traces are made one by one."""
    parts = []
    for scope in evaluation.scopes:
        decided = _scope_decisions(evaluation, scope, first, last)
        if with_traces:
            decided = decided.with_columns(_traces(evaluation, scope, first, last, decided))
        parts.append(decided.drop("_interesting"))
    if parts:
        return pl.concat(parts, how="vertical")
    schema = {c: pl.Date if c == "date" else pl.String for c in DECISION_COLUMNS}
    if with_traces:
        schema |= {"trace_json": pl.String, "explanation": pl.String}
    return pl.DataFrame(schema=schema)


def _traces(
    evaluation: Evaluation, scope: str, first: dt.date, last: dt.date, decided: pl.DataFrame
) -> list[pl.Series]:
    """``trace_json`` and ``explanation`` of the interesting unit-days of ``decided``."""
    rows = decided.get_column("_interesting").arg_true().to_list()
    traces: list[str | None] = [None] * decided.height
    texts: list[str | None] = [None] * decided.height
    if rows:
        full = evaluation.frame(scope, only_present=False, days=(first, last))
        for index in rows:
            row = full.row(index, named=True)
            t = trace(evaluation, scope, row["unit"], row["date"], row=row)
            traces[index] = t.to_json()
            texts[index] = explain(t)
    return [
        pl.Series("trace_json", traces, dtype=pl.String),
        pl.Series("explanation", texts, dtype=pl.String),
    ]


def decision_rows(
    evaluation: Evaluation, first: dt.date, last: dt.date, *, with_traces: bool = True
) -> list[dict[str, object]]:
    """:func:`decision_frame` as one dict per unit-day."""
    return decision_frame(evaluation, first, last, with_traces=with_traces).to_dicts()


def insert_decisions(conn: Connection, run_id: int, rows: pl.DataFrame) -> None:
    """Append ``rows`` (:func:`decision_frame`) to the decisions of run ``run_id``.

    On SQLite the rows go to the driver as tuples with the dates as the ISO text SQLAlchemy's
    ``Date`` stores there (its per-value conversion of 15,000 dicts cost more than the insert
    itself); elsewhere through SQLAlchemy's insert."""
    if rows.height == 0:
        return
    if conn.dialect.name == "sqlite":
        columns = ["run_id", *rows.columns]
        text = rows.with_columns(pl.col("date").dt.to_string("%Y-%m-%d"))
        conn.exec_driver_sql(
            f"INSERT INTO {decision.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})",
            [(run_id, *row) for row in text.iter_rows()],
        )
        return
    conn.execute(
        insert(decision), [{**row, "run_id": run_id} for row in rows.iter_rows(named=True)]
    )


def decide(
    engine: Engine,
    loaded: LoadedPolicy,
    first: dt.date,
    last: dt.date | None = None,
    *,
    settings: Settings | None = None,
    created_by: str | None = None,
    stage: Callable[[str], None] | None = None,
) -> RunSummary:
    """Decide every unit's mode for ``first``..``last`` under ``loaded`` and store the run
    (``stage``: told each stage as it begins: reading the metrics, deciding, storing)."""
    tell = stage or (lambda _: None)
    last = last or first
    if last < first:
        raise DecisionError(f"the last day {last} is before the first day {first}")
    policy = loaded.policy
    term = policy.term
    if first < term.from_ or (term.to is not None and last > term.to):
        raise DecisionError(
            f"policy {policy.id!r} is in force from {term.from_} to {term.to or 'open'}, not on "
            f"{first}{'' if last == first else f' to {last}'}; choose another policy with --policy"
        )
    settings = settings or Settings()
    start = first - dt.timedelta(days=decision_window(policy))
    tell(f"reading the metrics from {start} to {last} from the store")
    found = coverage(engine)
    frames = input_frames(
        engine,
        start,
        last,
        citywide_needed(policy),
        frame_columns(policy),
        scope_starts(policy, first),
        found,
        counting_rules(policy, settings.interpretations),
    )
    auth = authorisations(engine, policy.id)
    days = (last - first).days + 1
    tell(f"deciding {days} day{'' if days == 1 else 's'} under {policy.id}")
    # the inputs' digest and archive (polars, off the GIL) are made while the engine decides
    with ThreadPoolExecutor(max_workers=1) as pool:
        stored = pool.submit(lambda: (inputs_digest(frames), pack(frames)))
        evaluation = evaluate_run(policy, frames, auth, settings, first, last)
        rows = decision_frame(evaluation, first, last)
        explained, no_data = no_data_report(evaluation, frames, rows, metric_ends(engine, found))
        rows = with_no_data_explanations(rows, explained)
        digest, archive = stored.result()
    tell(f"storing {rows.height:,} decisions with their audit record")
    now = dt.datetime.now(dt.UTC)
    with begin_write(engine) as conn:
        run_id = conn.execute(
            insert(decision_run).values(
                policy_id=policy.id,
                policy_hash=policy_hash(policy),
                policy_json=policy.model_dump_json(by_alias=True),
                engine_version=ENGINE_VERSION,
                settings_json=settings_json(settings),
                first_date=first,
                last_date=last,
                inputs_sha256=digest,
                inputs_parquet=archive,
                created_at=now,
                created_by=created_by or whoami(),
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        insert_decisions(conn, int(run_id), rows)
        run_row = stored_row(conn, "decision_run", int(run_id))
        assert run_row is not None
        append_link(
            conn,
            "decision_run",
            int(run_id),
            row_digest(run_row, {"decisions": decisions_digest(rows)}),
        )
    default = policy.modes[0].id
    return RunSummary(
        int(run_id),
        policy.id,
        first,
        last,
        rows.height,
        int((rows.get_column("status") != default).sum()),
        sorted(f"{s}.{n}" for s, n in evaluation.missing_metrics),
        int((rows.get_column("mode") == NO_DATA).sum()),
        no_data,
    )


class RunEvaluations:
    """Recomputed evaluations of stored runs, the ``size`` most recent kept: a run is
    immutable, so its evaluation (every unit's trace) is made once for all the explanations
    asked of it; one run is recomputed by one thread at a time."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._kept: OrderedDict[int, Evaluation] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, engine: Engine, run_id: int) -> Evaluation:
        with self._lock:
            if run_id in self._kept:
                self._kept.move_to_end(run_id)
                return self._kept[run_id]
            found = _recompute(engine, run_id)
            self._kept[run_id] = found
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
            return found


def _recompute(engine: Engine, run_id: int) -> Evaluation:
    """A stored run evaluated again from its record: policy, settings, inputs, and the
    authorisations recorded by the time it was made."""
    with engine.connect() as conn:
        run = conn.execute(
            select(
                decision_run.c.policy_json,
                decision_run.c.settings_json,
                decision_run.c.inputs_parquet,
                decision_run.c.first_date,
                decision_run.c.last_date,
                decision_run.c.created_at,
            ).where(decision_run.c.id == run_id)
        ).one()
    policy_json, raw_settings, blob, first, last, created = run
    policy = m.Policy.model_validate_json(policy_json)
    loaded = json.loads(raw_settings)
    return evaluate_run(
        policy,
        unpack(bytes(blob)),
        authorisations(engine, policy.id, created),
        Settings(loaded["interpretations"], loaded["parameters"]),
        first,
        last,
    )


def _unit_known(conn: Connection, scope: str, unit: str) -> bool:
    """Whether the store knows ``unit`` of ``scope``: a decision on some day, or (a school or
    a classroom) its school records; the district is taken as known."""
    if conn.execute(
        select(decision.c.unit).where(decision.c.scope == scope, decision.c.unit == unit).limit(1)
    ).first():
        return True
    table, column = {
        "school": ("school", "school_id"),
        "classroom": ("classroom", "classroom_id"),
    }.get(scope, (None, None))
    if table is None or column is None:
        return True  # the district: its id is the store's, nothing to look up
    records = RECORD_TABLES[table]
    return (
        conn.execute(select(records.c[column]).where(records.c[column] == unit).limit(1)).first()
        is not None
    )


def _stored_decision(engine: Engine, scope: str, unit: str, day: dt.date) -> tuple[int, str]:
    """The latest run that decided a unit on a day, and the explanation it kept ("" if none)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(decision.c.run_id, decision.c.explanation)
            .where(decision.c.scope == scope, decision.c.unit == unit, decision.c.date == day)
            .order_by(decision.c.run_id.desc())
            .limit(1)
        ).first()
        if row is None:
            known = conn.execute(
                select(decision.c.unit).where(decision.c.scope == scope).distinct().limit(5)
            ).all()
            exists = _unit_known(conn, scope, unit)
    if row is None:
        hint = (
            f" Known {scope} ids include: {', '.join(k[0] for k in known)}."
            if known
            else f" No {scope} decisions are stored yet."
        )
        if not exists:
            raise UnknownDecisionId(f"no {scope} {unit!r} in the store.{hint}")
        raise DecisionError(
            f"no stored decision for {scope} {unit!r} on {day}: run `schoolmode decide --date "
            f"{day}` first, or check the id.{hint}"
        )
    return int(row[0]), str(row[1] or "")


def stored_explanation(
    engine: Engine,
    scope: str,
    unit: str,
    day: dt.date,
    evaluations: RunEvaluations | None = None,
    lang: Language | None = None,
    *,
    technical: bool = False,
) -> tuple[int, str]:
    """The explanation of the latest stored decision for a unit and day, in ``lang`` (default
    English); with ``technical``, the whole trace in words (always rendered again).

    The stored explanation is English text: in English it is returned as stored; in another
    language, and when the run kept no trace for the unit-day, it is rendered again from the
    trace of the run recomputed from its stored record (policy, settings, inputs and the
    authorisations of its time: the decision ``audit reproduce`` checks), through
    ``evaluations`` when given, so a run is recomputed once for many units. (Traces stored by
    earlier versions lack the figures the notes are translated from, so the stored trace is
    not rendered itself.)"""
    run_id, text = _stored_decision(engine, scope, unit, day)
    if text and (lang is None or lang.code == DEFAULT) and not technical:
        return run_id, text
    evaluation = (evaluations or RunEvaluations()).get(engine, run_id)
    return run_id, explain(trace(evaluation, scope, unit, day), lang=lang, technical=technical)


def stored_trace(
    engine: Engine,
    scope: str,
    unit: str,
    day: dt.date,
    evaluations: RunEvaluations | None = None,
) -> tuple[int, Trace]:
    """The trace of the latest stored decision for a unit and day, recomputed from the run's
    record (the public explanation is written from it)."""
    run_id, _ = _stored_decision(engine, scope, unit, day)
    evaluation = (evaluations or RunEvaluations()).get(engine, run_id)
    return run_id, trace(evaluation, scope, unit, day)
