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
    for _ in range(MAX_ROUNDS):
        _complete(cells, hidden, protect, locked, by_cell)
        exposed = exposed_cells(cells, hidden, small)
        if not exposed:
            return hidden
        touched: set[int] = set()  # one complement per relation a round: then audit again
        for c in exposed:
            mine = by_cell.get(c, [])
            if touched.isdisjoint(mine):
                _add_complement(cells, hidden, locked, [cells.relations[n] for n in mine], c)
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
    cells: Cells, hidden: Bools, locked: Bools, relations: list[Relation], cell: int
) -> None:
    known = [r for r in relations if any(not _unknown(cells, hidden)[c] for c in r.cells)]
    for r in sorted(known, key=lambda r: sum(bool(_unknown(cells, hidden)[c]) for c in r.cells)):
        chosen = _smallest(cells, hidden, locked, r.cells)
        if chosen is not None:
            hidden[chosen] = True
            return
    raise DisclosureError(f"cell {cell} is exposed and no cell of its relations can be hidden")


def exposed_cells(cells: Cells, hidden: Bools, small: Bools) -> list[int]:
    """The hidden or small cells an attacker can work out from what is published (step 3)."""
    unknown = _unknown(cells, hidden)
    guard = hidden | small
    lo, hi = bounds(cells, hidden)
    pinned = set(np.flatnonzero(guard & unknown & (lo == hi)).tolist())
    return sorted(pinned | determined(cells, unknown) & set(np.flatnonzero(guard).tolist()))


def bounds(cells: Cells, hidden: Bools) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Each cell's interval as an attacker sees it: a published cell its value; a hidden one
    at least 1, an internal one at least 0, narrowed through the relations to a fixed point."""
    unknown = _unknown(cells, hidden)
    lo = np.where(unknown, np.where(hidden, 1.0, 0.0), cells.values.astype(float))
    hi = np.where(unknown, np.inf, cells.values.astype(float))
    active = [r for r in cells.relations if any(unknown[c] for c in r.cells)]
    for _ in range(MAX_ROUNDS):
        changed = False
        for r in active:
            parts = list(r.parts)
            plo, phi = lo[parts].sum(), hi[parts].sum()
            changed |= _narrow(lo, hi, r.total, plo, phi)
            for k, p in enumerate(parts):
                others = parts[:k] + parts[k + 1 :]
                olo, ohi = lo[others].sum(), hi[others].sum()
                changed |= _narrow(lo, hi, p, lo[r.total] - ohi, hi[r.total] - olo)
        if not changed:
            return lo, hi
    return lo, hi


def _narrow(
    lo: npt.NDArray[np.float64], hi: npt.NDArray[np.float64], c: int, a: float, b: float
) -> bool:
    """Narrow cell ``c`` to ``[a, b]`` (integers: bounds rounded inward); whether it changed."""
    a = float(np.ceil(a - 1e-9)) if np.isfinite(a) else a
    b = float(np.floor(b + 1e-9)) if np.isfinite(b) else b
    changed = False
    if a > lo[c]:
        lo[c], changed = a, True
    if b < hi[c]:
        hi[c], changed = b, True
    return changed


def determined(cells: Cells, unknown: Bools) -> set[int]:
    """The unknown cells the relations fix exactly (whatever the bounds): a cell is fixed when
    every solution of the relations over the unknown cells has the same value there, i.e. the
    null space of their matrix is zero at that cell. Solved per connected group of cells."""
    index = {int(c): n for n, c in enumerate(np.flatnonzero(unknown))}
    rows = [r for r in cells.relations if any(c in index for c in r.cells)]
    parent = list(range(len(index)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r in rows:
        members = [index[c] for c in r.cells if c in index]
        for m in members[1:]:
            parent[find(m)] = find(members[0])
    groups: dict[int, list[int]] = {}
    for n in range(len(index)):
        groups.setdefault(find(n), []).append(n)
    group_rows: dict[int, list[Relation]] = {}
    for r in rows:
        first = next(index[c] for c in r.cells if c in index)
        group_rows.setdefault(find(first), []).append(r)
    cell_of = {n: c for c, n in index.items()}
    out: set[int] = set()
    for root, members in groups.items():
        out |= _fixed_in(group_rows.get(root, []), index, members, cell_of)
    return out


def _fixed_in(
    rows: list[Relation], index: dict[int, int], members: list[int], cell_of: dict[int, int]
) -> set[int]:
    column = {m: k for k, m in enumerate(members)}
    matrix = []
    for r in rows:
        row = np.zeros(len(members))
        for sign, cs in ((1.0, (r.total,)), (-1.0, r.parts)):
            for c in cs:
                if c in index and index[c] in column:
                    row[column[index[c]]] += sign
        if row.any():
            matrix.append(row)
    if not matrix:
        return set()
    a = np.array(matrix)
    _, s, vt = np.linalg.svd(a)
    rank = int((s > 1e-9 * max(1.0, s[0])).sum())
    null = vt[rank:]
    free = np.abs(null).max(axis=0) if null.size else np.zeros(len(members))
    return {cell_of[m] for m, k in column.items() if free[k] < 1e-9}
