"""Vaccination throughput by the rules of the policy in force (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from schoolmode.operations.screening import weeks_needed
from schoolmode.policy.model import Policy
from schoolmode.policy.values import Value, interpretation, number


def weekly_first_doses(
    policy: Policy,
    on: dt.date,
    city_supply_increase_pct: Decimal,
    settings: Mapping[str, Value] | None = None,
) -> int:
    """The agreed weekly first doses; grows with city supply where the policy says so."""
    base = number(policy, "first_doses_per_week", on, settings)
    grows = str(interpretation(policy, "doses_grow_with_city_supply", settings)) == "yes"
    doses = base * (1 + Decimal(city_supply_increase_pct) / 100) if grows else base
    return int(doses.quantize(Decimal(1), rounding=ROUND_FLOOR))


def weeks_to_offer(
    policy: Policy,
    on: dt.date,
    staff_in_queue: int,
    city_supply_increase_pct: Decimal,
    settings: Mapping[str, Value] | None = None,
) -> dict[str, Any]:
    per_week = weekly_first_doses(policy, on, city_supply_increase_pct, settings)
    return {"first_doses_per_week": per_week, "weeks": weeks_needed(staff_in_queue, per_week)}
