"""Screening-test allocation by the rules of the policy in force (pure functions).

Each function reads its shares and rounding from the policy file, so a proposal that
changes them is an overlay, not code.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from schoolmode.policy.model import Policy
from schoolmode.policy.values import Value, interpretation, number

_ROUNDING = {"ceil": ROUND_CEILING, "floor": ROUND_FLOOR, "half_up": ROUND_HALF_UP}


def share_of(count: int, percent: Decimal, rounding: str) -> int:
    """``percent`` % of ``count``, rounded by the named rule, exactly."""
    return int((Decimal(count) * percent / 100).quantize(Decimal(1), rounding=_ROUNDING[rounding]))


def staff_tests(
    policy: Policy,
    on: dt.date,
    staff: int,
    on_priority_list: bool,
    settings: Mapping[str, Value] | None = None,
) -> dict[str, Any]:
    """Weekly staff screening tests for one school (MOA 2021: all staff at listed schools, 50% elsewhere)."""
    key = "staff_tested_share_priority_pct" if on_priority_list else "staff_tested_share_other_pct"
    share = number(policy, key, on, settings)
    rounding = str(interpretation(policy, "rounding", settings))
    return {"weekly_staff_tests": share_of(staff, share, rounding), "share_pct": share}


def zip_student_tests(
    policy: Policy,
    on: dt.date,
    eligible_students: int,
    zip_rank: int,
    settings: Mapping[str, Value] | None = None,
) -> dict[str, Any]:
    """Weekly student surveillance tests at a school whose ZIP has the given case rank."""
    top = int(number(policy, "student_testing_top_zip_count", on, settings))
    share = number(policy, "student_tested_share_top_zip_pct", on, settings)
    rounding = str(interpretation(policy, "rounding", settings))
    tests = share_of(eligible_students, share, rounding) if zip_rank <= top else 0
    return {"weekly_student_tests": tests, "in_top_zips": zip_rank <= top}


def random_student_tests(
    policy: Policy,
    on: dt.date,
    enrolled: int,
    consented: int,
    december_tested_share_pct: Decimal,
    settings: Mapping[str, Value] | None = None,
) -> dict[str, Any]:
    """Weekly random student testing resourced for a school (Jan 2022 agreement).

    Schools that tested under the floor in December get resources for the target share
    of students, drawn at random from consented students; a consent shortfall is flagged,
    never hidden.
    """
    floor = number(policy, "student_random_testing_share_pct", on, settings)
    rounding = str(interpretation(policy, "rounding", settings))
    resourced = share_of(enrolled, floor, rounding) if december_tested_share_pct < floor else 0
    tests = min(resourced, consented)
    flag = "below_10pct_target_consent_limited" if consented < resourced else None
    return {
        "weekly_student_tests_resourced": resourced,
        "weekly_student_tests": tests,
        "sample": "random_from_consented",
        "flag": flag,
    }


def weeks_needed(count: int, per_week: int) -> int:
    return math.ceil(count / per_week) if count else 0
