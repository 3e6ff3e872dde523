"""Overlays: a proposal written as a base policy plus a diff of parameters and rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schoolmode.policy.errors import PolicyFileError, Problem
from schoolmode.policy.model import Overlay, Policy


def apply_overlay(base: Policy, overlay: Overlay, path: Path | None = None) -> Policy:
    """The base policy with the overlay's changes; the base is not modified."""
    where = path or Path(f"<overlay {overlay.id}>")
    data: dict[str, Any] = base.model_dump(by_alias=True)
    problems: list[Problem] = []
    data.update(
        id=overlay.id,
        title=overlay.title,
        kind=overlay.kind,
        parties=overlay.parties,
        status=overlay.status,
        version=overlay.version,
        summary=overlay.summary,
    )
    if overlay.term is not None:
        data["term"] = overlay.term.model_dump(by_alias=True)
    changes = overlay.changes
    data["sources"] = {
        **data["sources"],
        **{k: v.model_dump(by_alias=True) for k, v in changes.sources.items()},
    }
    for name, values in changes.parameters.items():
        if name not in data["parameters"]:
            problems.append(
                Problem(
                    f"changes.parameters.{name}",
                    f"the base policy {base.id!r} has no parameter {name!r}",
                    None,
                    f"known parameters: {', '.join(sorted(data['parameters']))}",
                )
            )
            continue
        data["parameters"][name]["values"] = [v.model_dump(by_alias=True) for v in values]
    for name, value in changes.interpretations.items():
        spec = data["interpretations"].get(name)
        if spec is None:
            problems.append(
                Problem(
                    f"changes.interpretations.{name}",
                    f"the base policy has no interpretation {name!r}",
                )
            )
            continue
        spec["default"] = value
    data["counts"] = {
        **data.get("counts", {}),
        **{k: v.model_dump(by_alias=True, exclude_none=True) for k, v in changes.counts.items()},
    }
    rules = list(data["rules"])
    ids = [r["id"] for r in rules]
    for rid in changes.rules.remove:
        if rid not in ids:
            problems.append(
                Problem("changes.rules.remove", f"the base policy has no rule {rid!r} to remove")
            )
    rules = [r for r in rules if r["id"] not in set(changes.rules.remove)]
    for rule in changes.rules.replace:
        positions = [i for i, r in enumerate(rules) if r["id"] == rule.id]
        if not positions:
            problems.append(
                Problem(
                    "changes.rules.replace",
                    f"the base policy has no rule {rule.id!r} to replace",
                    None,
                    "use `add` for a new rule",
                )
            )
            continue
        rules[positions[0]] = rule.model_dump(by_alias=True)
    rules.extend(rule.model_dump(by_alias=True) for rule in changes.rules.add)
    data["rules"] = rules
    if problems:
        raise PolicyFileError(where, problems)
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyFileError(
            where, [Problem("changes", f"the overlay gives an invalid policy: {exc}")]
        ) from None
