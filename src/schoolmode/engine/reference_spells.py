"""The reference evaluator's spells, one unit and one day at a time (``engine/reference.py``):
notice, minimum and maximum durations, the exit and the notice before a return, as
``engine/states.run_spells`` computes them over every unit at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from schoolmode.engine.states import NEVER
from schoolmode.policy import model as m

if TYPE_CHECKING:
    from schoolmode.engine.reference import _Reference, _RuleOut


def unit_spells(ref: _Reference, rule: m.Rule, out: _RuleOut, holds: Any, unit: str) -> None:
    """The spells of ``rule`` for ``unit``: in effect, start and earliest return per day."""
    assert rule.effect is not None
    timing = rule.timing
    automatic = rule.effect.action == m.Action.automatic

    def exit_ok(day: int) -> bool:
        exit_when = timing.exit_when
        if isinstance(exit_when, str):
            # "trigger_cleared" or "min_duration_elapsed"
            return exit_when == "min_duration_elapsed" or not out.trigger[(unit, day)]
        return (not ref.in_term(day)) or holds(exit_when, unit, day)

    def ends(start: int) -> tuple[int, int]:
        earliest = (
            ref.duration_end(rule, timing.min_duration, start, inclusive=True)
            if timing.min_duration is not None
            else start + 1
        )

        latest = (
            ref.duration_end(rule, timing.max_duration, start, inclusive=True)
            if timing.max_duration is not None
            else NEVER
        )
        return earliest, latest

    active = False
    pending: int | None = None
    back: int | None = None  # a return announced, taking effect that day
    start, earliest, latest = -1, NEVER, NEVER
    for day in range(ref.days):
        if back == day:
            active, back = False, None
        if pending == day:
            active, pending = True, None
        if not automatic and not active and (rule.id, unit, day) in ref.authorised:
            start = day
            earliest, latest = ends(day)
            active = True
        shown = active and ref.in_term(day)
        out.in_effect[(unit, day)] = shown
        if shown:
            out.started[(unit, day)] = start
            out.earliest[(unit, day)] = earliest
            if 0 <= earliest - 1 < ref.days and earliest < NEVER:
                # the earliest return, after its notice
                announced = ref.duration_end(
                    rule, timing.return_notice, earliest - 1, inclusive=False
                )
                out.earliest[(unit, day)] = max(earliest, announced)
        if automatic and out.trigger[(unit, day)] and not active and pending is None:
            notice = ref.duration_end(rule, timing.notice, day, inclusive=False)
            pending = notice
            start = notice
            earliest, latest = ends(notice)
        if active and day + 1 >= latest:
            active, back = False, None
        elif active and back is None and day + 1 >= earliest and exit_ok(day):
            when = ref.duration_end(rule, timing.return_notice, day, inclusive=False)
            if when <= day + 1:
                active = False
            else:
                back = when
