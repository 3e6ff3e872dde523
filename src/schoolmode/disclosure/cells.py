"""Primary and complementary suppression on a table of cells linked by additive relations.

A *cell* is a count of people. Published cells go out unless suppressed; *internal* cells are
never published but are counts of people all the same (the remote students when the enrolled
and the in-person students are published): the rule protects them too. A *relation* says a
total cell is the sum of its part cells (students + staff = total; schools -> district; the
days of a window). Cells published in an earlier release are *locked*: they are out, so they
can be neither hidden now nor chosen as complements.

The method (docs/disclosure.md), deterministic:

1. Primary: every cell whose count is small under the rule (1 to 10) is protected; a published
   one is hidden.
2. Complementary, to a fixed point: a relation with exactly one unknown cell (hidden or
   internal) that is protected, or hidden, would give it away as the difference: hide the
   smallest non-zero published cell of that relation (ties: the first cell).
3. Audit, exact: from everything published, an attacker knows each unknown cell's lower
   bound (a hidden cell is at least 1, an internal one at least 0; no upper bound) and every
   relation, all at once. A protected unknown cell is *safe* only if an integer solution of
   all the relations has it at its true value + 1 or - 1 (found with HiGHS through
   ``scipy.optimize.milp``: batched witnesses, then each cell left alone); otherwise it is
   *exposed*. Each exposed cell gets one more complement (step 2's choice, in the relation
   with the fewest unknowns), and steps 2 and 3 run again until nothing is exposed.

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
    forced: Bools | None = None
    """Cells hidden in an earlier release: they stay hidden (published cells, never locked)."""

    def __post_init__(self) -> None:
        n = len(self.values)
        if self.locked is None:
            self.locked = np.zeros(n, dtype=bool)
        if self.forced is None:
            self.forced = np.zeros(n, dtype=bool)
        if len(self.published) != n or len(self.locked) != n or len(self.forced) != n:
            raise ValueError("values, published, locked and forced differ in length")
        if (self.forced & (self.locked | ~self.published)).any():
            bad = int(np.argmax(self.forced & (self.locked | ~self.published)))
            raise ValueError(f"cell {bad}: hidden before, but locked or not published")
        if (self.forced & (self.values < 1)).any():
            raise ValueError(
                f"cell {int(np.argmax(self.forced & (self.values < 1)))}: a zero hidden"
            )
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
    forced = cells.forced if cells.forced is not None else np.zeros(len(values), dtype=bool)
    hidden = (small & published & ~locked) | forced
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
    pending: list[_Group] = []
    for members, rows in _groups(cells, unknown):
        targets = [c for c in members if protect[c]]
        if not targets:
            continue
        key = tuple(c if hidden[c] else -1 - c for c in members)
        if key in memo:
            out |= memo[key]
        else:
            pending.append(_Group(key, members, rows, targets))
    batch: list[_Group] = []
    for g in sorted(pending, key=lambda g: len(g.members)):
        if len(g.members) > EXACT_LIMIT:
            (memo[g.key],) = _pinned(cells.values, lower, [g], exact=False)
            continue
        batch.append(g)
        if sum(len(b.members) for b in batch) >= BATCH:
            for b, found in zip(
                batch, _pinned(cells.values, lower, batch, exact=True), strict=True
            ):
                memo[b.key] = found
            batch = []
    if batch:
        for b, found in zip(batch, _pinned(cells.values, lower, batch, exact=True), strict=True):
            memo[b.key] = found
    for g in pending:
        out |= memo[g.key]
    return sorted(out)


@dataclass(frozen=True)
class _Group:
    key: tuple[int, ...]
    members: list[int]
    rows: list[Relation]
    targets: list[int]


EXACT_LIMIT = 2_000
"""Groups of at most this many unknown cells get the exact audit: every cell the batched
witnesses leave unmoved is tried alone; a larger group calls such a cell exposed without that
(safe: it gets a complement it may not have needed)."""

BATCH = 300
"""Small groups are audited together, up to about this many unknown cells in one program (the
program is block-diagonal: each group's solutions are its own; one solver call for many
groups instead of one each)."""


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

    def pushed(self, batch: list[int], signs: npt.NDArray[np.float64]) -> set[int]:
        """The columns of ``batch`` moved in an integer solution that pushes each by one in
        the direction of its sign (each kept within its true value +- 1 and its bound, the
        other cells free): the columns that moved are free."""
        cols = np.asarray(batch)
        lb, ub = self.lower.copy(), np.full(self.n, np.inf)
        lb[cols] = np.maximum(self.lower[cols], self.truth[cols] - 1)
        ub[cols] = self.truth[cols] + 1
        objective = np.zeros(self.n)
        objective[cols] = -signs
        res = milp(
            objective,
            constraints=LinearConstraint(self.a, self.rhs, self.rhs),
            integrality=np.ones(self.n, dtype=np.int64),
            bounds=Bounds(lb, ub),
        )
        if res.x is None:
            return set()
        x = np.round(res.x)
        return {k for k in batch if x[k] != self.truth[k]}


def _pinned(
    values: Ints, lower: Ints, groups: Sequence[_Group], exact: bool
) -> list[frozenset[int]]:
    """For each group, its targets that no integer solution of its relations moves by one from
    the true value (up or down, within their bounds): those an attacker recovers. The groups
    are solved together (block-diagonal: a solution of the union is one of each group).

    Witnesses first, in batches: a solution that pushes every target not yet freed one up or
    down (alternate signs; then the signs flipped; then all up; then all down), the other cells
    free; every target it moved is free. Repeat while a round of the four frees some. Then, when
    ``exact``, each target still unmoved is tried alone (one per group in a solve: pushed up,
    then down, every other cell free): unmoved, it is exposed. Otherwise every target left
    counts as exposed (a complement it may not need, never a recovery missed).
    """
    members = [c for g in groups for c in g.members]
    rows = [r for g in groups for r in g.rows]
    model = _Model(values, lower, members, rows)
    group_of = {model.column[c]: i for i, g in enumerate(groups) for c in g.members}
    left = {model.column[t] for g in groups for t in g.targets}
    progress = True
    while left and progress:
        progress = False
        for pattern in range(4):
            if not left:
                break
            batch = sorted(left)
            alternate = np.where(np.arange(len(batch)) % 2 == 0, 1.0, -1.0)
            signs = {0: alternate, 1: -alternate, 2: np.ones(len(batch))}.get(
                pattern, -np.ones(len(batch))
            )
            moved = model.pushed(batch, signs)
            left -= moved
            progress |= bool(moved)
    exposed: set[int] = set()
    if not exact:
        exposed, left = left, set()
    while left:
        alone: dict[int, int] = {}
        for k in sorted(left):
            alone.setdefault(group_of[k], k)
        tried = sorted(alone.values())
        up = model.pushed(tried, np.ones(len(tried)))
        rest = [k for k in tried if k not in up]
        down = model.pushed(rest, -np.ones(len(rest))) if rest else set()
        exposed |= set(rest) - down
        left -= set(tried)
    found: list[set[int]] = [set() for _ in groups]
    for k in exposed:
        found[group_of[k]].add(members[k])
    return [frozenset(f) for f in found]
