"""Evaluation settings: the choices one evaluation runs under, and how a swept value is read.

``Settings`` holds interpretation readings and parameter overrides (an override replaces a
parameter's dated values by one value for every day). The engine, the backtest, the daily
decision run and the simulator all take one. ``parse_value``/``sweep_points`` turn values
written on a command line into the settings of a sweep (the backtest's and the simulator's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Literal

from schoolmode.policy import model as m
from schoolmode.policy.errors import SchoolmodeError

Value = Decimal | bool | str | list[int] | None
"""A parameter's or interpretation's value as the engine uses it."""

Kind = Literal["parameter", "interpretation"]


@dataclass(frozen=True)
class Settings:
    """Choices for one evaluation: interpretation readings and parameter overrides.

    An override replaces a parameter's dated values by one value for every day.
    """

    interpretations: Mapping[str, Decimal | bool | str] = field(default_factory=dict)
    parameters: Mapping[str, Value] = field(default_factory=dict)


def kind_of(policy: m.Policy, name: str) -> Kind:
    if name in policy.parameters:
        return "parameter"
    if name in policy.interpretations:
        return "interpretation"
    raise SchoolmodeError(
        f"policy {policy.id!r} has no parameter or interpretation {name!r}; parameters: "
        f"{', '.join(sorted(policy.parameters)) or 'none'}; interpretations: "
        f"{', '.join(sorted(policy.interpretations)) or 'none'}"
    )


def parse_value(policy: m.Policy, name: str, text: str) -> Value:
    """A command-line value as the engine wants it for ``name`` of ``policy``."""
    text = text.strip()
    if kind_of(policy, name) == "interpretation":
        spec = policy.interpretations[name]
        matches = [c for c in spec.choices if str(c) == text]
        if not matches:
            raise SchoolmodeError(
                f"interpretation {name!r} of policy {policy.id!r} cannot be {text!r}; "
                f"choose from {', '.join(map(str, spec.choices))}"
            )
        return matches[0]
    current = [v.value for v in policy.parameters[name].values if v.value is not None]
    if current and isinstance(current[0], bool):
        if text.lower() not in ("true", "false"):
            raise SchoolmodeError(
                f"parameter {name!r} of {policy.id!r} is true or false, not {text!r}"
            )
        return text.lower() == "true"
    if current and isinstance(current[0], str):
        return text
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise SchoolmodeError(
            f"parameter {name!r} of {policy.id!r} is a number, not {text!r}"
        ) from None
    if not value.is_finite():
        raise SchoolmodeError(f"parameter {name!r} of {policy.id!r} must be finite, not {text!r}")
    return value


@dataclass(frozen=True)
class SweepPoint:
    """One backtest of a sweep: a policy with one value of the swept name."""

    policy_id: str
    name: str
    kind: Kind
    label: str  # the value as written on the command line
    settings: Settings


def sweep_points(
    policies: Sequence[m.Policy], name: str, values: Sequence[str], base: Settings | None = None
) -> list[SweepPoint]:
    """Every (policy, value) pair, in order: policies outer, values inner."""
    if not values:
        raise SchoolmodeError("give at least one value to sweep")
    base = base or Settings()
    points = []
    for policy in policies:
        kind = kind_of(policy, name)
        for text in values:
            value = parse_value(policy, name, text)
            if kind == "parameter":
                settings = Settings(
                    interpretations=dict(base.interpretations),
                    parameters={**base.parameters, name: value},
                )
            else:
                if value is None or isinstance(value, list):  # pragma: no cover - a choice
                    raise SchoolmodeError(f"interpretation {name!r} needs a value")
                settings = Settings(
                    interpretations={**base.interpretations, name: value},
                    parameters=dict(base.parameters),
                )
            points.append(SweepPoint(policy.id, name, kind, text.strip(), settings))
    return points
