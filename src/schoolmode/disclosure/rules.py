"""The small-cell rule, a dated setting: ``rules.toml`` beside this module lists each rule with
the day it takes effect and its source, so that a change of method is dated and visible."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

RULES_FILE = Path(__file__).with_name("rules.toml")


class RuleFileError(ValueError):
    """The rules file is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class Rule:
    """Counts of people from ``low`` to ``high`` are never published (nor derivable)."""

    id: str
    effective: dt.date
    low: int
    high: int
    note: str
    source: str

    def small(self, value: int) -> bool:
        return self.low <= value <= self.high


def _rule(entry: dict[str, object], n: int) -> Rule:
    fields = {"id": str, "effective": dt.date, "low": int, "high": int, "note": str, "source": str}
    for name, kind in fields.items():
        if not isinstance(entry.get(name), kind):
            raise RuleFileError(
                f"{RULES_FILE.name}: rule {n}, field {name}: expected {kind.__name__}"
            )
    rule = Rule(**{k: entry[k] for k in fields})  # type: ignore[arg-type]
    if not 1 <= rule.low <= rule.high:
        raise RuleFileError(f"{RULES_FILE.name}: rule {n}, field high: expected 1 <= low <= high")
    return rule


@cache
def load_rules(path: Path = RULES_FILE) -> tuple[Rule, ...]:
    """Every rule of the file, by date."""
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("rule", [])
    rules = sorted((_rule(e, n) for n, e in enumerate(entries, 1)), key=lambda r: r.effective)
    if not rules:
        raise RuleFileError(f"{path.name}: no [[rule]]")
    return tuple(rules)


def rule_on(day: dt.date | None = None) -> Rule:
    """The rule in force on ``day`` (default: today): the latest that took effect by then."""
    day = day or dt.date.today()
    rules = load_rules()
    in_force = [r for r in rules if r.effective <= day]
    return in_force[-1] if in_force else rules[0]
