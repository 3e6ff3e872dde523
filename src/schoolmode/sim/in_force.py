"""The operational numbers in force for a simulated run (``Operations``): from the policy where
it states them, else the rules in force (``operations.tracing.rules_in_force``), else the
scenario."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from schoolmode.engine.settings import Settings
from schoolmode.metrics.outbreak import CSTE_FROM, OUTBREAK, OutbreakRule, rule_in_force
from schoolmode.operations.tracing import TEST_TO_STAY, rules_in_force
from schoolmode.policy import model as m
from schoolmode.policy.loader import Registry
from schoolmode.policy.values import interpretation, parameter
from schoolmode.sim.scenario import Scenario


def _param_number(
    policy: m.Policy | None, name: str, on: dt.date, settings: Settings | None = None
) -> Decimal | None:
    if policy is None or name not in policy.parameters:
        return None
    value = parameter(policy, name, on, settings.parameters if settings else None)
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        return None
    return Decimal(value)


@dataclass(frozen=True)
class Operations:
    """Operational numbers in force for a run: from the policy where it states them, else the
    rules in force (``operations.tracing.rules_in_force``), else the scenario."""

    quarantine_days: int
    isolation_days: int
    test_to_stay: bool
    test_days: tuple[int, ...]
    staff_share_pct: float
    student_share_pct: float
    top_zip_count: int
    top_zip_student_share_pct: float
    top_zip_staff_share_pct: float
    rounding: str
    weekly_doses: int
    outbreak: OutbreakRule
    """The outbreak definition of the ``in_outbreak`` metric (``metrics/outbreak.py``)."""
    window_days_before: int
    """A case's infectious window for tracing starts this many days before its specimen (the
    tracing rule in force, ``operations.tracing.WINDOW``)."""

    @classmethod
    def resolve(
        cls,
        scenario: Scenario,
        policy: m.Policy | None,
        registry: Registry,
        settings: Settings | None = None,
    ) -> Operations:
        # the values in force on the first simulated day of the policy's term
        on = max(scenario.start, policy.term.from_) if policy is not None else scenario.start
        rules = rules_in_force(registry).filter(pl.col("from") <= on).tail(1).row(0, named=True)
        tts_policy = registry.get(TEST_TO_STAY).policy
        days = parameter(tts_policy, "test_days", on)
        test_days = tuple(days) if isinstance(days, list) else ()
        tr = scenario.tracing
        if tr.test_to_stay_days is not None:
            test_days = tuple(tr.test_to_stay_days)

        def pick(name: str, given: float | None, fallback: float) -> float:
            if given is not None:
                return given
            found = _param_number(policy, name, on, settings)
            return float(found) if found is not None else fallback

        rounding = "ceil"
        if policy is not None and "rounding" in policy.interpretations:
            rounding = str(
                interpretation(policy, "rounding", settings.interpretations if settings else None)
            )
        sc = scenario.screening
        return cls(
            quarantine_days=int(
                pick("quarantine_days", tr.quarantine_days, rules["quarantine_days"])
            ),
            isolation_days=int(pick("isolation_days", tr.isolation_days, rules["isolation_days"])),
            test_to_stay=bool(rules["test_to_stay"])
            if tr.test_to_stay is None
            else tr.test_to_stay,
            test_days=test_days,
            staff_share_pct=pick("staff_tested_share_other_pct", sc.staff_weekly_share_pct, 0.0),
            top_zip_count=int(pick("student_testing_top_zip_count", sc.top_zip_count, 0)),
            top_zip_student_share_pct=pick(
                "student_tested_share_top_zip_pct", sc.top_zip_student_share_pct, 0.0
            ),
            top_zip_staff_share_pct=pick(
                "staff_tested_share_priority_pct", sc.top_zip_staff_share_pct, 0.0
            ),
            student_share_pct=pick(
                "student_random_testing_share_pct", sc.student_weekly_share_pct, 0.0
            ),
            rounding=rounding,
            weekly_doses=int(pick("first_doses_per_week", scenario.vaccination.weekly_doses, 0)),
            outbreak=rule_in_force(registry.get(OUTBREAK).policy, CSTE_FROM),
            window_days_before=int(rules["window_days_before"]),
        )
