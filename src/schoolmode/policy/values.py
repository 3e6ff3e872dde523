"""Read one parameter or interpretation of a policy, for a day, with overrides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.model import DatedValue, Policy

Value = Decimal | bool | str | list[int] | None


def dated_value(policy: Policy, name: str, on: dt.date) -> DatedValue | None:
    param = policy.parameters.get(name)
    if param is None:
        raise SchoolmodeError(
            f"policy {policy.id!r} has no parameter {name!r} "
            f"(it has: {', '.join(sorted(policy.parameters)) or 'none'})"
        )
    current = None
    for candidate in param.values:
        if candidate.from_ <= on:
            current = candidate
    return current


def parameter(
    policy: Policy, name: str, on: dt.date, overrides: Mapping[str, Value] | None = None
) -> Value:
    if overrides and name in overrides:
        return overrides[name]
    found = dated_value(policy, name, on)
    return found.value if found is not None else None


def number(
    policy: Policy, name: str, on: dt.date, overrides: Mapping[str, Value] | None = None
) -> Decimal:
    value = parameter(policy, name, on, overrides)
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise SchoolmodeError(
            f"parameter {name!r} of policy {policy.id!r} has no number in force on {on}"
        )
    return Decimal(value)


def interpretation(
    policy: Policy, name: str, overrides: Mapping[str, Value] | None = None
) -> Decimal | bool | str:
    spec = policy.interpretations.get(name)
    if spec is None:
        raise SchoolmodeError(f"policy {policy.id!r} has no interpretation parameter {name!r}")
    if overrides and name in overrides and overrides[name] is not None:
        chosen = overrides[name]
        for choice in spec.choices:
            if str(choice) == str(chosen):
                return choice
        raise SchoolmodeError(
            f"interpretation {name!r} cannot be {chosen!r}; choose one of {spec.choices}"
        )
    return spec.default
