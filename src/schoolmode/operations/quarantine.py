"""Quarantine, isolation and test-to-stay by the rules of the policy in force (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.model import Policy
from schoolmode.policy.values import Value, number, parameter

DAY = dt.timedelta(days=1)


def quarantine_release(
    policy: Policy,
    exposure_day0: dt.date,
    negative_test_day: int | None,
    settings: Mapping[str, Value] | None = None,
) -> dict[str, Any]:
    """When an asymptomatic close contact may return (CDC options of 2 December 2020).

    Day 0 is the last exposure. With a negative specimen collected no earlier than the
    test-out day, quarantine ends after the short option's last day; otherwise after the
    no-test option's last day. Symptom monitoring continues to the full period.
    """
    short = int(number(policy, "quarantine_days_with_test", exposure_day0, settings))
    earliest_specimen = int(
        number(policy, "test_out_earliest_specimen_day", exposure_day0, settings)
    )
    no_test = int(number(policy, "quarantine_days_without_test", exposure_day0, settings))
    monitor = int(number(policy, "symptom_monitoring_days", exposure_day0, settings))
    qualifies = negative_test_day is not None and negative_test_day >= earliest_specimen
    last_day = short if qualifies else no_test
    return {
        "quarantine_ends_after_day": last_day,
        "may_return": exposure_day0 + (last_day + 1) * DAY,
        "monitor_symptoms_through": exposure_day0 + monitor * DAY,
        "option": "test_out" if qualifies else "no_test",
    }


def isolation_release(
    policy: Policy,
    positive_test_date: dt.date,
    symptomatic: bool,
    settings: Mapping[str, Value] | None = None,
) -> dict[str, Any]:
    """Isolation after a positive test (ISBE/IDPH, 11 January 2022): at least N days
    counted from the day after the test (or symptom onset), then masking for M more days.
    Symptomatic people must also be improving and fever-free, which a person checks."""
    days = int(number(policy, "isolation_min_days", positive_test_date, settings))
    mask = int(number(policy, "masking_days_after_isolation", positive_test_date, settings))
    may_return = positive_test_date + (days + 1) * DAY
    return {
        "may_return": may_return,
        "mask_through": may_return + (mask - 1) * DAY,
        "needs_symptom_check": symptomatic,
    }


def attendance_under_test_to_stay(
    policy: Policy,
    exposure_day0: dt.date,
    school_universal_masking: bool,
    contact_masked: bool,
    index_masked: bool,
    tests: Mapping[str, str] | None,
    settings: Mapping[str, Value] | None = None,
) -> dict[str, Any]:
    """Whether a close contact may stay in school instead of quarantining (IDPH, August 2021)."""
    days_param = parameter(policy, "test_days", exposure_day0, settings)
    if not isinstance(days_param, list):
        raise SchoolmodeError(
            f"{policy.id}: test_days in force on {exposure_day0} is not a list of days: "
            f"{days_param!r}"
        )
    test_days = [int(x) for x in days_param]
    eligible = school_universal_masking and contact_masked and index_masked
    if not eligible:
        return {"attendance": "quarantine", "test_to_stay_eligible": False}
    results = tests or {}
    missing = [d for d in test_days if f"d{d}" not in results]
    positive = [d for d in test_days if results.get(f"d{d}") == "pos"]
    if positive:
        return {"attendance": "isolation", "test_to_stay_eligible": True}
    if missing:
        return {
            "attendance": "stays_in_school_pending_tests",
            "test_to_stay_eligible": True,
            "tests_due_on_days": missing,
        }
    return {"attendance": "stays_in_school", "test_to_stay_eligible": True}
