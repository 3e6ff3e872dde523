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
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

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
    """The hidden or small unknown cells an attacker can work out from what is published (step
    3), audited per group of unknown cells linked by relations (``memo``: the groups of an
    earlier round, unchanged since, are not audited again)."""
    unknown = _unknown(cells, hidden)
    protect = unknown & (hidden | small)
    lower = np.where(hidden, 1, 0).astype(np.int64)
    memo = {} if memo is None else memo
    out: set[int] = set()
    for members, rows in _groups(cells, unknown):
        targets = [c for c in members if protect[c]]
        if not targets:
            continue
        key = tuple(c if hidden[c] else -1 - c for c in members)
        if key not in memo:
            exact = len(members) <= EXACT_LIMIT
            memo[key] = frozenset(_pinned(cells.values, lower, members, rows, targets, exact))
        out |= memo[key]
    return sorted(out)


EXACT_LIMIT = 2_000
"""Groups of at most this many unknown cells get a solve per cell the batched search leaves
unmoved (the exact audit); a larger group calls such a cell exposed without that solve (safe:
it gets a complement it may not have needed)."""


def _groups(cells: Cells, unknown: Bools) -> list[tuple[list[int], list[Relation]]]:
    """The unknown cells in groups linked by relations, each with its relations (a relation
    with no unknown cell holds as published and is left out)."""
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
            root = find(members[0])
            for m in members[1:]:
                other = find(m)
                if other != root:
                    parent[other] = root
    groups: dict[int, tuple[list[int], list[Relation]]] = {}
    for c in parent:
        groups.setdefault(find(c), ([], []))[0].append(c)
    for r, first in rows:
        groups[find(first)][1].append(r)
    return list(groups.values())


class _Model:
    """The integer program of one group: its unknown cells are the variables (a hidden cell at
    least 1, an unpublished one at least 0, no upper bound: an attacker knows none), every
    relation an equality with the published cells as constants."""

    def __init__(
        self, values: Ints, lower: Ints, members: list[int], rows: Sequence[Relation]
    ) -> None:
        self.column = {c: k for k, c in enumerate(members)}
        self.n = n = len(members)
        data: list[float] = []
        ri: list[int] = []
        ci: list[int] = []
        for i, r in enumerate(rows):
            for c, sign in ((r.total, 1.0), *((p, -1.0) for p in r.parts)):
                if c in self.column:
                    ri.append(i)
                    ci.append(self.column[c])
                    data.append(sign)
        self.a = sparse.csr_array((data, (ri, ci)), shape=(len(rows), n))
        self.truth = values[members].astype(np.float64)
        # the truth holds: the constants are what it sums to
        self.rhs = np.asarray(self.a @ self.truth, dtype=np.float64)
        self.lower = lower[members].astype(np.float64)

    def feasible(self, k: int, value: float) -> bool:
        """Whether an integer solution has cell ``k`` (a column) at ``value``."""
        lb, ub = self.lower.copy(), np.full(self.n, np.inf)
        lb[k] = ub[k] = value
        res = milp(
            np.zeros(self.n),
            constraints=LinearConstraint(self.a, self.rhs, self.rhs),
            integrality=np.ones(self.n, dtype=np.int64),
            bounds=Bounds(lb, ub),
        )
        return res.x is not None

    def most_moved(self, batch: list[int]) -> set[int]:
        """The columns of ``batch`` moved by one (up or down) in an integer solution that moves
        as many of them as it can: ``x = truth + up - down`` for each, ``up + down <= 1``,
        ``up``, ``down`` in {0, 1} (``down`` 0 where the bound forbids it); maximise the moves.
        """
        t = len(batch)
        n = self.n
        eye = sparse.csr_array((np.ones(t), (np.arange(t), np.asarray(batch))), shape=(t, n))
        ident = sparse.identity(t, format="csr")
        zeros_nt = sparse.csr_array((self.a.shape[0], 2 * t))
        a = sparse.vstack(
            [
                sparse.hstack([self.a, zeros_nt]),
                sparse.hstack([eye, -ident, ident]),  # x - up + down = truth
                sparse.hstack([sparse.csr_array((t, n)), ident, ident]),  # up + down <= 1
            ],
            format="csr",
        )
        cols = np.asarray(batch)
        lo = np.concatenate([self.rhs, self.truth[cols], np.full(t, -np.inf)])
        hi = np.concatenate([self.rhs, self.truth[cols], np.ones(t)])
        down_ub = (self.truth[cols] - 1 >= self.lower[cols]).astype(np.float64)
        lb = np.concatenate([self.lower, np.zeros(2 * t)])
        ub = np.concatenate([np.full(n, np.inf), np.ones(t), down_ub])
        objective = np.concatenate([np.zeros(n), -np.ones(2 * t)])
        res = milp(
            objective,
            constraints=LinearConstraint(a, lo, hi),
            integrality=np.ones(n + 2 * t, dtype=np.int64),
            bounds=Bounds(lb, ub),
        )
        if res.x is None:
            return set()
        x = np.round(res.x[:n])
        return {k for k in batch if x[k] != self.truth[k]}


def _pinned(
    values: Ints,
    lower: Ints,
    members: list[int],
    rows: Sequence[Relation],
    targets: list[int],
    exact: bool,
) -> set[int]:
    """The ``targets`` of one group that no integer solution of its relations moves by one
    from the true value (up or down, within their bounds): those an attacker recovers.

    Witnesses first, in batches: a solution that moves as many targets not yet freed as it can
    by one (the other cells free); every target it moved is free. Repeat while a batch frees
    some. A target still unmoved gets its own solves (fixed at its true value + 1, then - 1,
    every other cell free) when ``exact``; otherwise it counts as exposed (a complement it may
    not need, never a recovery missed).
    """
    model = _Model(values, lower, members, rows)
    left = {model.column[t] for t in targets}
    while left:
        moved = model.most_moved(sorted(left))
        if not moved:
            break
        left -= moved
    if exact:
        for k in sorted(left):
            for step in (1.0, -1.0):
                v = model.truth[k] + step
                if v >= model.lower[k] and model.feasible(k, v):
                    left.discard(k)
                    break
    return {members[k] for k in left}
