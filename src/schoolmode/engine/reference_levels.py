"""The reference evaluator's levels, one value at a time (``engine/reference.py``): where a
value falls in a band table, written as interval membership with no numpy."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from schoolmode.engine.nodes import UNASSIGNED


def band_level(
    value: Fraction, cuts: Sequence[tuple[Fraction, str]], unassigned: Sequence[int], offset: int
) -> int:
    """The level of ``value`` in a table of ascending ``(cut, boundary)`` pairs: the first
    band from the bottom whose upper end holds the value (a cut's own band ends at it when a
    value there stays below, ``upper_inclusive``, or is in no band, ``unassigned``).
    ``UNASSIGNED`` for a value exactly at an ``unassigned`` cut or in a band the table leaves
    out; the other bands take consecutive levels from ``offset``."""
    ends = [
        i
        for i, (cut, boundary) in enumerate(cuts)
        if value < cut or (value == cut and boundary != "lower_inclusive")
    ]
    band = ends[0] if ends else len(cuts)
    if ends and value == cuts[band][0] and cuts[band][1] == "unassigned":
        return UNASSIGNED
    if band in unassigned:
        return UNASSIGNED
    return offset + band - sum(1 for gap in unassigned if gap < band)


def most_severe(parts: Sequence[int | None]) -> int | None:
    """Unknown if any part is unknown, else ``UNASSIGNED`` if any part is, else the highest."""
    if None in parts:
        return None
    return UNASSIGNED if UNASSIGNED in parts else max(p for p in parts if p is not None)


def level_name(levels: Sequence[str], level: int | None) -> str | None:
    """A level's name in the result frame: None when unknown."""
    if level is None:
        return None
    return "unassigned" if level == UNASSIGNED else levels[level]
