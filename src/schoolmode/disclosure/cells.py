"""Primary and complementary suppression on a table of cells linked by additive relations.

A *cell* is a count of people. Published cells go out unless suppressed; *internal* cells are
never published but are counts of people all the same (the remote students when the enrolled
and the in-person students are published): the rule protects them too. A *relation* says a
total cell is the sum of its part cells (students + staff = total; classrooms -> school; the
days of a window). Cells published in an earlier release are *locked*: they are out, so they
can be neither hidden now nor chosen as complements.

The method (docs/disclosure.md), deterministic:

1. Primary: every cell whose count is small under the rule (1 to 10) is protected; a published
   one is hidden.
2. Complementary, to a fixed point: a relation with exactly one unknown cell (hidden or
   internal) that is protected, or hidden, would give it away as the difference: hide the
   smallest non-zero published cell of that relation (ties: the first cell).
3. Audit: from everything published, an attacker knows each unknown cell's bounds (a hidden
   cell is at least 1, an internal one at least 0) and every relation. A protected or hidden
   cell is *exposed* when the relations determine it (a null-space test on the unknown cells)
   or when the bounds propagated through the relations pin it to one value. Each exposed cell
   gets one more complement (step 2's choice, in the relation with the fewest unknowns), and
   steps 2 and 3 run again until nothing is exposed.

Zeros are never hidden (a zero is no person) and never chosen as complements, so every hidden
cell is at least 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from schoolmode.disclosure.rules import Rule

Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]

MAX_ROUNDS = 10_000


class DisclosureError(ValueError):
    """A table cannot be protected (every candidate complement is locked or zero)."""


@dataclass(frozen=True)
class Relation:
    """``total`` = the sum of ``parts`` (cell indexes)."""

    total: int
    parts: tuple[int, ...]

    @property
    def cells(self) -> tuple[int, ...]:
        return (self.total, *self.parts)


@dataclass
class Cells:
    """The values of a table's cells, which are published, which were published before, and
    the relations between them."""

    values: Ints
    published: Bools
    relations: Sequence[Relation]
    locked: Bools | None = None

    def __post_init__(self) -> None:
        n = len(self.values)
        if self.locked is None:
            self.locked = np.zeros(n, dtype=bool)
        if len(self.published) != n or len(self.locked) != n:
            raise ValueError("values, published and locked differ in length")
        if (self.values < 0).any():
            raise ValueError(f"cell {int(np.argmax(self.values < 0))}: a count below zero")
        for r in self.relations:
            if self.values[r.total] != sum(int(self.values[p]) for p in r.parts):
                raise ValueError(f"relation {r}: the total is not the sum of its parts")


def suppress(cells: Cells, rule: Rule) -> Bools:
    """Which cells to hide (a published cell's mask; internal cells are never in it)."""
    values, published = cells.values, cells.published
    locked = cells.locked if cells.locked is not None else np.zeros(len(values), dtype=bool)
    small = (values >= rule.low) & (values <= rule.high)
    hidden = small & published & ~locked
    if (small & published & locked).any():
        bad = int(np.argmax(small & published & locked))
        raise DisclosureError(f"cell {bad}: a small count was published in an earlier release")
    by_cell: dict[int, list[int]] = {}
    for n, r in enumerate(cells.relations):
        for c in r.cells:
            by_cell.setdefault(c, []).append(n)
    protect = small | hidden
    memo: dict[tuple[int, ...], frozenset[int]] = {}
    for _ in range(MAX_ROUNDS):
        _complete(cells, hidden, protect, locked, by_cell)
        exposed = exposed_cells(cells, hidden, small, memo)
        if not exposed:
            return hidden
        touched: set[int] = set()  # one complement per relation a round: then audit again
        for c in exposed:
            mine = by_cell.get(c, [])
            if touched.isdisjoint(mine):
                _add_complement(cells, hidden, locked, by_cell, c)
                touched.update(mine)
    raise DisclosureError(f"no fixed point after {MAX_ROUNDS} rounds")


def _unknown(cells: Cells, hidden: Bools) -> Bools:
    return hidden | ~cells.published


def _complete(
    cells: Cells, hidden: Bools, protect: Bools, locked: Bools, by_cell: dict[int, list[int]]
) -> None:
    """Step 2 to its fixed point (``hidden`` updated in place)."""
    pending = list(range(len(cells.relations)))
    while pending:
        r = cells.relations[pending.pop()]
        unknown = [c for c in r.cells if hidden[c] or not cells.published[c]]
        if len(unknown) != 1 or not (protect[unknown[0]] or hidden[unknown[0]]):
            continue
        chosen = _smallest(cells, hidden, locked, r.cells)
        if chosen is None:
            raise DisclosureError(f"relation {r}: no cell left to hide beside cell {unknown[0]}")
        hidden[chosen] = True
        pending.extend(by_cell[chosen])


def _smallest(cells: Cells, hidden: Bools, locked: Bools, among: Iterable[int]) -> int | None:
    """The smallest non-zero published cell still shown and not locked (ties: the first)."""
    free = [
        c
        for c in among
        if cells.published[c] and not hidden[c] and not locked[c] and cells.values[c] > 0
    ]
    return min(free, key=lambda c: (int(cells.values[c]), c)) if free else None


def _add_complement(
    cells: Cells, hidden: Bools, locked: Bools, by_cell: dict[int, list[int]], cell: int
) -> None:
    """Hide one more cell for an exposed ``cell``: the smallest candidate of its relations
    (the one with the fewest unknowns first); when they have none (every other cell hidden,
    locked or zero), of the relations of the unknown cells linked to it, nearest first."""
    unknown = _unknown(cells, hidden)
    frontier, seen_cells = [cell], {cell}
    seen_rel: set[int] = set()
    while frontier:
        rels = sorted(
            {n for c in frontier for n in by_cell.get(c, [])} - seen_rel,
            key=lambda n: (sum(bool(unknown[c]) for c in cells.relations[n].cells), n),
        )
        seen_rel.update(rels)
        for n in rels:
            chosen = _smallest(cells, hidden, locked, cells.relations[n].cells)
            if chosen is not None:
                hidden[chosen] = True
                return
        nxt = {c for n in rels for c in cells.relations[n].cells if unknown[c]} - seen_cells
        seen_cells |= nxt
        frontier = sorted(nxt)
    raise DisclosureError(f"cell {cell} is exposed and no cell linked to it can be hidden")


def exposed_cells(
    cells: Cells,
    hidden: Bools,
    small: Bools,
    memo: dict[tuple[int, ...], frozenset[int]] | None = None,
) -> list[int]:
    """The hidden or small cells an attacker can work out from what is published (step 3),
    found per group of unknown cells linked by relations (``memo``: the groups of an earlier
    round, unchanged since, are not solved again)."""
    unknown = _unknown(cells, hidden)
    memo = {} if memo is None else memo
    out: set[int] = set()
    for members, rows in _groups(cells, unknown):
        key = tuple(members)
        if key not in memo:
            memo[key] = frozenset(_pinned(cells, hidden, members, rows))
        out |= memo[key]
    return sorted(c for c in out if hidden[c] or small[c])


def _groups(cells: Cells, unknown: Bools) -> list[tuple[list[int], list[Relation]]]:
    """The unknown cells in groups linked by relations, each with its relations."""
    parent: dict[int, int] = {int(c): int(c) for c in np.flatnonzero(unknown)}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    rows = []
    for r in cells.relations:
        members = [c for c in r.cells if c in parent]
        if members:
            rows.append((r, members[0]))
            for m in members[1:]:
                parent[find(m)] = find(members[0])
    groups: dict[int, tuple[list[int], list[Relation]]] = {}
    for c in parent:
        groups.setdefault(find(c), ([], []))[0].append(c)
    for r, first in rows:
        groups[find(first)][1].append(r)
    return list(groups.values())


def _pinned(cells: Cells, hidden: Bools, members: list[int], rows: list[Relation]) -> set[int]:
    """Of one group's cells, those the relations fix (:func:`determined_in`) or the bounds
    pin to one value (:func:`bounds_in`)."""
    if not rows:
        return set()
    lo, hi = bounds_in(cells, hidden, members, rows)
    return {c for c in members if lo[c] == hi[c]} | determined_in(members, rows)


def bounds_in(
    cells: Cells, hidden: Bools, members: list[int], rows: list[Relation]
) -> tuple[dict[int, float], dict[int, float]]:
    """Each cell's interval as an attacker sees it: a published cell its value; a hidden one
    at least 1, an internal one at least 0 (no upper bound), narrowed through the relations to
    a fixed point (integers: bounds rounded inward)."""
    inf = float("inf")
    lo: dict[int, float] = {}
    hi: dict[int, float] = {}
    for r in rows:
        for c in r.cells:
            if c not in lo:
                known = bool(cells.published[c]) and not hidden[c]
                lo[c] = float(cells.values[c]) if known else (1.0 if hidden[c] else 0.0)
                hi[c] = float(cells.values[c]) if known else inf
    for _ in range(MAX_ROUNDS):
        changed = False
        for r in rows:
            parts = r.parts
            plo = sum(lo[p] for p in parts)
            unbounded = sum(hi[p] == inf for p in parts)
            finite = sum(hi[p] for p in parts if hi[p] != inf)
            changed |= _narrow(lo, hi, r.total, plo, inf if unbounded else finite)
            tlo, thi = lo[r.total], hi[r.total]
            for p in parts:
                mine = hi[p] == inf
                ohi = inf if unbounded - mine else finite - (0.0 if mine else hi[p])
                changed |= _narrow(lo, hi, p, tlo - ohi, thi - (plo - lo[p]))
        if not changed:
            break
    return lo, hi


def _narrow(lo: dict[int, float], hi: dict[int, float], c: int, a: float, b: float) -> bool:
    """Narrow cell ``c`` to ``[a, b]`` (rounded inward); whether it changed."""
    if a != float("-inf") and a != float("inf"):
        a = float(math.ceil(a - 1e-9))
    if b != float("inf") and b != float("-inf"):
        b = float(math.floor(b + 1e-9))
    changed = False
    if a > lo[c]:
        lo[c], changed = a, True
    if b < hi[c]:
        hi[c], changed = b, True
    return changed


def determined_in(members: list[int], rows: list[Relation]) -> set[int]:
    """The cells of one group the relations fix exactly (whatever the bounds): every solution
    has the same value there, i.e. the null space of the relations over the group's unknown
    cells (the eigenvectors of AᵀA with eigenvalue zero) is zero at that cell."""
    column = {c: k for k, c in enumerate(members)}
    a = np.zeros((len(rows), len(members)))
    for i, r in enumerate(rows):
        if r.total in column:
            a[i, column[r.total]] += 1.0
        for p in r.parts:
            if p in column:
                a[i, column[p]] -= 1.0
    gram = a.T @ a
    eigenvalues, vectors = np.linalg.eigh(gram)
    null = vectors[:, eigenvalues < 1e-9 * max(1.0, float(eigenvalues.max(initial=0.0)))]
    free = np.abs(null).max(axis=1) if null.size else np.zeros(len(members))
    return {c for c, k in column.items() if free[k] < 1e-7}
