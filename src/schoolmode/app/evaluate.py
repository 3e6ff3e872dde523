"""The evaluate use case (the API's ``POST /evaluations``, like OpenFisca's ``/calculate`` and
``/trace``): a policy (a shipped id or a whole document) and metric frames as records -> the
mode of each unit on each day, and the trace of the unit-days asked for.

Pure: it reads the policies and nothing else, and stores nothing (no job, no decision). The
frames are checked before the engine runs: a column the policy does not read in that scope is
refused by name, and the sizes are bounded (units, days, rows).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import polars as pl
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from schoolmode.app.context import Context
from schoolmode.app.jobs import JobFieldError
from schoolmode.cases.runner import evaluate_case
from schoolmode.engine.trace import trace
from schoolmode.policy import model as m
from schoolmode.policy.cases import EngineCase
from schoolmode.policy.errors import PATH_MARK, SchoolmodeError, UnknownPolicyError
from schoolmode.policy.loader import policy_hash
from schoolmode.policy.needs import attributes_needed, metrics_needed

MAX_UNITS = 200
"""Units of one scope."""
MAX_DAYS = 400
"""Days from the first row to the last."""
MAX_ROWS = 20_000
"""Rows of all frames together."""
MAX_TRACES = 20

Cell = dt.date | bool | int | float | str | None
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class CalendarIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    school_days: list[dt.date] | None = Field(default=None, max_length=MAX_DAYS)
    """The instructional days (default: every weekday not a holiday)."""
    holidays: list[dt.date] = Field(default_factory=list, max_length=MAX_DAYS)


class TraceAt(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: m.Scope
    unit: Name
    date: dt.date


class EvaluationRequest(BaseModel):
    """Exactly one of ``policy_id`` and ``policy``; frames keyed by scope, one record per unit
    and day (``unit``, ``date``, the metrics and attributes the policy reads there)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy_id: Annotated[str, StringConstraints(max_length=100)] | None = None
    policy: dict[str, Any] | None = None
    """A whole policy document (the fields of a policy.yaml, as JSON)."""
    on: dt.date | None = None
    """Only this day's modes (and traces) are returned (default: every day)."""
    settings: dict[Name, Decimal | bool | str] = Field(default_factory=dict, max_length=50)
    """Interpretations and parameters set for this evaluation."""
    frames: dict[m.Scope, list[dict[Name, Cell]]]
    calendar: CalendarIn | None = None
    authorisations: list[dict[Name, Cell]] = Field(default_factory=list, max_length=1000)
    """Days a named body authorised an eligible rule (``unit``, ``date``, ``rule``)."""
    trace: list[TraceAt] | None = Field(default=None, max_length=MAX_TRACES)
    """Unit-days to trace (default: none)."""

    @model_validator(mode="after")
    def _one_policy(self) -> EvaluationRequest:
        if (self.policy_id is None) == (self.policy is None):
            raise ValueError("give exactly one of policy_id and policy")
        return self


class ModeRow(BaseModel):
    scope: str
    unit: str
    date: dt.date
    mode: str
    status: str
    rule: str | None


class EvaluationResult(BaseModel):
    policy_id: str
    policy_hash: str
    """The content hash of the policy evaluated."""
    modes: list[ModeRow]
    missing_metrics: list[str]
    """``scope.metric`` a rule reads but the frames lack (its conditions are unknown)."""
    traces: list[dict[str, Any]]


class TooLarge(SchoolmodeError):
    """The request is larger than an evaluation may be (a face answers 413)."""


def _policy(ctx: Context, req: EvaluationRequest) -> m.Policy:
    if req.policy_id is not None:
        try:
            return ctx.registry.get(req.policy_id).policy
        except UnknownPolicyError:
            raise JobFieldError(("body", "policy_id"), f"no policy {req.policy_id!r}") from None
    try:
        return m.Policy.model_validate(req.policy)
    except ValidationError as exc:
        raise _named(exc) from None


def _named(exc: ValidationError) -> JobFieldError:
    """The first error of a policy document, at its key (``body.policy.rules.0.id``)."""
    err = exc.errors(include_url=False)[0]
    loc: tuple[str | int, ...] = ("body", "policy", *err["loc"])
    text = str((err.get("ctx") or {}).get("error", ""))
    if text.startswith(PATH_MARK):
        _, raw, message = text.split("\n")[0].split(PATH_MARK, 2)
        sub = tuple(int(x) if x.isdigit() else x for x in raw.split("/") if x)
        return JobFieldError((*loc, *sub), message)
    return JobFieldError(loc, str(err["msg"]))


def _check_frames(policy: m.Policy, req: EvaluationRequest) -> None:
    """Each column read by the policy in its scope; sizes within the limits."""
    reads: dict[str, set[str]] = {}
    for needs in metrics_needed(policy).values():
        for scope, names in needs.items():
            reads.setdefault(scope, set()).update(names)
    for scope, names in attributes_needed(policy).items():
        reads.setdefault(scope, set()).update(names)
    rows = sum(len(records) for records in req.frames.values())
    if rows > MAX_ROWS:
        raise TooLarge(f"{rows} rows: at most {MAX_ROWS} in all frames")
    for scope, records in req.frames.items():
        known = {"unit", "date"} | reads.get(scope.value, set())
        for i, record in enumerate(records):
            for column in record:
                if column not in known:
                    raise JobFieldError(
                        ("body", "frames", scope.value, i, column),
                        f"policy {policy.id!r} reads no {scope.value} metric {column!r} "
                        f"(it reads {', '.join(sorted(known - {'unit', 'date'})) or 'none'})",
                    )
            _check_record(record, ("body", "frames", scope.value, i), reads.get(scope.value))
        units = {str(r["unit"]) for r in records}
        if len(units) > MAX_UNITS:
            raise TooLarge(f"{len(units)} {scope.value} units: at most {MAX_UNITS}")
        days = [dt.date.fromisoformat(str(r["date"])) for r in records]
        if days and (max(days) - min(days)).days + 1 > MAX_DAYS:
            raise TooLarge(f"{scope.value} frame spans more than {MAX_DAYS} days")


def _check_record(
    record: dict[str, Cell], at: tuple[str | int, ...], reads: set[str] | None
) -> None:
    """``unit`` a name, ``date`` a day (YYYY-MM-DD), each metric a number or null."""
    unit, day = record.get("unit"), record.get("date")
    if not isinstance(unit, str | int) or isinstance(unit, bool) or str(unit) == "":
        raise JobFieldError((*at, "unit"), "required: the unit's id (text)")
    if isinstance(day, str):
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            raise JobFieldError((*at, "date"), f"{day!r} is not a day (YYYY-MM-DD)") from None
    elif not isinstance(day, dt.date):
        raise JobFieldError((*at, "date"), "required: a day (YYYY-MM-DD)")
    for column, value in record.items():
        if column in ("unit", "date") or value is None:
            continue
        if isinstance(value, dt.date):
            raise JobFieldError((*at, column), "a number or text, not a day")


def evaluate_policy(ctx: Context, req: EvaluationRequest) -> EvaluationResult:
    """Evaluate the policy on the frames: the modes per unit and day, and the traces asked."""
    policy = _policy(ctx, req)
    _check_frames(policy, req)
    frames = {
        scope: [{**r, "date": dt.date.fromisoformat(str(r["date"]))} for r in records]
        for scope, records in req.frames.items()
    }
    try:
        case = EngineCase.model_validate(
            {
                "id": "api-evaluation",
                "title": "POST /api/v1/evaluations",
                "confidence": "V",
                "justification": "the caller's frames",
                "frames": frames,
                "calendar": req.calendar.model_dump() if req.calendar is not None else None,
                "authorisations": req.authorisations,
            }
        )
    except ValidationError as exc:  # an authorisation's fields: the rest is checked already
        err = exc.errors(include_url=False)[0]
        raise JobFieldError(("body", *err["loc"]), str(err["msg"])) from None
    evaluation = evaluate_case(case, policy, dict(req.settings))
    modes: list[ModeRow] = []
    for scope in evaluation.scopes:
        frame = evaluation.frame(scope)
        if req.on is not None:
            frame = frame.filter(pl.col("date") == req.on)
        modes.extend(
            ModeRow(scope=scope, **row)
            for row in frame.select("unit", "date", "mode", "status", "rule")
            .cast({"mode": pl.String, "status": pl.String, "rule": pl.String})
            .iter_rows(named=True)
        )
    for i, t in enumerate(req.trace or []):
        units = {str(r["unit"]) for r in req.frames.get(t.scope, [])}
        if t.unit not in units:
            raise JobFieldError(("body", "trace", i, "unit"), f"no {t.scope.value} {t.unit!r}")
    traces = [
        trace(evaluation, t.scope.value, t.unit, t.date).to_dict()
        for t in req.trace or []
        if req.on is None or t.date == req.on
    ]
    return EvaluationResult(
        policy_id=policy.id,
        policy_hash=policy_hash(policy),
        modes=modes,
        missing_metrics=sorted(f"{s}.{n}" for s, n in evaluation.missing_metrics),
        traces=traces,
    )
