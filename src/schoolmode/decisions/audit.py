"""Reproduce a stored decision run, and say exactly what differs if anything does.

Three checks, each of which either party can run on its own copy:

1. The stored inputs still match their digest, and the engine, given the stored policy and
   the stored inputs, gives exactly the stored decisions.
2. The policy file in force now has the same content hash as the one used (if not, which
   parameters and rules changed).
3. The store's data now give the same input rows, read over the same days with the same checks
   as the run read them (if not, which values were corrected, and which decisions the corrected
   data would change).

The run is "identical" when all three hold.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy import Engine, select

from schoolmode.decisions.record import (
    DecisionError,
    UnknownDecisionId,
    authorisations,
    citywide_needed,
    decision_frame,
    evaluate_run,
    input_frames,
    inputs_digest,
    stored_start,
    unpack,
)
from schoolmode.engine.evaluate import ENGINE_VERSION, Evaluation
from schoolmode.engine.settings import Settings
from schoolmode.policy.counting import counting_rules
from schoolmode.policy.diff import policy_diff
from schoolmode.policy.loader import Registry, policy_hash
from schoolmode.policy.model import Policy
from schoolmode.store.frames import table_frame
from schoolmode.store.tables import decision, decision_run

KEY = ["scope", "unit", "date"]
COMPARED = ["mode", "status", "rule"]
DECISION_SCHEMA = {
    "scope": pl.String,
    "unit": pl.String,
    "date": pl.Date,
    "mode": pl.String,
    "status": pl.String,
    "rule": pl.String,
}


@dataclass
class AuditReport:
    run_id: int
    policy_id: str
    decisions: int
    identical: bool
    differences: list[str] = field(default_factory=list)

    def render(self) -> str:
        if self.identical:
            return (
                f"identical: run {self.run_id} ({self.policy_id}, {self.decisions} decisions) reproduces "
                "from the stored inputs, the policy file is unchanged and the store's data are unchanged"
            )
        return "\n".join(
            [
                f"run {self.run_id} ({self.policy_id}) differs:",
                *(f"- {d}" for d in self.differences),
            ]
        )


def _stored(engine: Engine, run_id: int) -> tuple[dict[str, object], pl.DataFrame]:
    with engine.connect() as conn:
        run = (
            conn.execute(select(decision_run).where(decision_run.c.id == run_id)).mappings().first()
        )
        if run is None:
            raise UnknownDecisionId(
                f"no decision run {run_id}; `schoolmode decisions list` shows the stored runs"
            )
        frame = table_frame(conn, decision, DECISION_SCHEMA, decision.c.run_id == run_id)
    return dict(run), frame


def _decided(evaluation: Evaluation, first: dt.date, last: dt.date) -> pl.DataFrame:
    """The compared columns of the decisions ``evaluation`` gives for ``first .. last``."""
    frame = decision_frame(evaluation, first, last, with_traces=False)
    return frame.select(pl.col(c).cast(t) for c, t in DECISION_SCHEMA.items())


def _compare(before: pl.DataFrame, after: pl.DataFrame, limit: int = 20) -> list[str]:
    joined = before.join(after, on=KEY, how="full", suffix="_new", coalesce=True)
    changed = joined.filter(
        pl.any_horizontal(*(pl.col(c).ne_missing(pl.col(f"{c}_new")) for c in COMPARED))
    ).sort(KEY)
    lines = [
        f"{r['scope']} {r['unit']} on {r['date']}: {r['status']} ({r['rule'] or 'no rule'}) -> "
        f"{r['status_new']} ({r['rule_new'] or 'no rule'})"
        for r in changed.head(limit).iter_rows(named=True)
    ]
    if changed.height > limit:
        lines.append(f"... and {changed.height - limit} more decisions")
    return lines


def _input_changes(
    old: dict[str, pl.DataFrame], new: dict[str, pl.DataFrame], limit: int = 20
) -> list[str]:
    lines: list[str] = []
    for scope in sorted(set(old) | set(new)):
        a, b = old.get(scope), new.get(scope)
        if a is None or b is None:
            lines.append(f"the {scope} frame is {'new' if a is None else 'gone'}")
            continue
        metrics = [c for c in a.columns if c not in ("unit", "date") and c in b.columns]
        joined = a.join(b, on=["unit", "date"], how="full", suffix="_now", coalesce=True)
        for metric in metrics:
            diff = joined.filter(pl.col(metric).ne_missing(pl.col(f"{metric}_now"))).sort(
                "unit", "date"
            )
            for r in diff.head(limit - len(lines)).iter_rows(named=True):
                lines.append(
                    f"{scope} {r['unit']} on {r['date']}: {metric} was {r[metric]}, is now {r[f'{metric}_now']}"
                )
            if len(lines) >= limit:
                return [*lines, "... and more corrected values"]
    return lines


def reproduce(engine: Engine, run_id: int, registry: Registry) -> AuditReport:
    run, stored = _stored(engine, run_id)
    policy_id = str(run["policy_id"])
    first, last = run["first_date"], run["last_date"]
    blob = run["inputs_parquet"]
    if (
        not isinstance(first, dt.date)
        or not isinstance(last, dt.date)
        or not isinstance(blob, bytes | memoryview)
    ):
        raise DecisionError(f"decision run {run_id} is incomplete in the store")
    report = AuditReport(run_id, policy_id, stored.height, identical=True)
    frames = unpack(bytes(blob))
    if inputs_digest(frames) != run["inputs_sha256"]:
        report.identical = False
        report.differences.append(
            "the stored input rows no longer match their digest: the audit record was altered"
        )
    settings_raw = json.loads(str(run["settings_json"]))
    settings = Settings(settings_raw["interpretations"], settings_raw["parameters"])
    used = Policy.model_validate_json(str(run["policy_json"]))
    made = run["created_at"]
    auth = authorisations(engine, policy_id, made if isinstance(made, dt.datetime) else None)
    again = _decided(evaluate_run(used, frames, auth, settings, first, last), first, last)
    engine_note = (
        ""
        if run["engine_version"] == ENGINE_VERSION
        else (f" (engine version {run['engine_version']} then, {ENGINE_VERSION} now)")
    )
    same = _compare(stored, again)
    if same:
        report.identical = False
        report.differences.append(
            "recomputing from the stored inputs and policy gives other decisions"
            + engine_note
            + ":"
        )
        report.differences.extend("  " + line for line in same)
    current = registry.get(policy_id).policy
    if policy_hash(current) != run["policy_hash"]:
        report.identical = False
        changes = [
            f"  {r.section} {r.item}: {r.left} -> {r.right}"
            for r in policy_diff(used, current)
            if r.differs
        ]
        report.differences.append(f"the policy file {policy_id} has changed since the run:")
        report.differences.extend(changes or ["  (identity fields only)"])
        with_new_policy = _decided(
            evaluate_run(current, frames, auth, settings, first, last), first, last
        )
        moved = _compare(stored, with_new_policy)
        report.differences.append(
            "decisions the current policy file would change on the same inputs: "
            + ("none" if not moved else "")
        )
        report.differences.extend("  " + line for line in moved)
    # the store read again as the run read it: the same days, the same checks of the data
    columns = {scope: frame.columns for scope, frame in frames.items()}
    starts = {
        scope: day
        for scope, frame in frames.items()
        if frame.height and isinstance(day := frame["date"].min(), dt.date)
    }
    now = input_frames(
        engine,
        stored_start(frames, first, used),
        last,
        citywide_needed(used),
        columns,
        starts,
        rules=counting_rules(used, settings.interpretations),
    )
    now = {s: f for s, f in now.items() if s in frames}
    if inputs_digest(now) != run["inputs_sha256"]:
        report.identical = False
        report.differences.append(
            "the store's data have changed since the run (a late correction):"
        )
        report.differences.extend("  " + line for line in _input_changes(frames, now))
        with_new_data = _decided(evaluate_run(used, now, auth, settings, first, last), first, last)
        moved = _compare(stored, with_new_data)
        report.differences.append(
            "decisions the corrected data would change: " + ("none" if not moved else "")
        )
        report.differences.extend("  " + line for line in moved)
    return report
