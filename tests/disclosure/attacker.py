"""The attacker of the suppression tests: from everything published, try to work out each
hidden cell (and each small unpublished one) as an integer solution of the relations.

Independent of the library's own audit: a depth-first search over integer values. A cell is
*safe* when a second integer solution of every relation (hidden cells at least 1, unpublished
ones at least 0, all at most ``ceiling``) gives it another value (its true value plus or minus
one: the relations are sums, so a cell that can move at all can move by one). A search that
runs past its budget counts as a recovery: the attacker never concedes without proof.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from schoolmode.disclosure import Relation

BUDGET = 200_000


class _Search:
    def __init__(
        self,
        values: np.ndarray,
        unknown: list[int],
        lower: dict[int, int],
        relations: Sequence[Relation],
        ceiling: int,
    ) -> None:
        self.values = values
        self.unknown = unknown
        self.lower = lower
        self.ceiling = ceiling
        self.rows = [r for r in relations if any(c in lower for c in r.cells)]
        self.nodes = 0

    def _consistent(self, x: dict[int, int]) -> bool:
        """Whether every relation whose cells all have values holds."""
        for r in self.rows:
            if any(c in self.lower and c not in x for c in r.cells):
                continue
            val = {c: x.get(c, int(self.values[c])) for c in r.cells}
            if val[r.total] != sum(val[p] for p in r.parts):
                return False
        return True

    def solve(self, x: dict[int, int]) -> bool:
        self.nodes += 1
        if self.nodes > BUDGET:
            raise RuntimeError("attacker out of budget")
        if not self._consistent(x):
            return False
        forced = self._forced(x)
        if forced is False:
            return False
        assert isinstance(forced, dict)
        if forced:
            return self.solve({**x, **forced})
        rest = [c for c in self.unknown if c not in x]
        if not rest:
            return True
        c = rest[0]
        truth = int(self.values[c])
        order = sorted(range(self.lower[c], self.ceiling + 1), key=lambda v: (abs(v - truth), v))
        return any(self.solve({**x, c: v}) for v in order)

    def _forced(self, x: dict[int, int]) -> dict[int, int] | bool:
        """The values relations with one free cell force on it (False: out of bounds)."""
        out: dict[int, int] = {}
        for r in self.rows:
            free = [c for c in r.cells if c in self.lower and c not in x]
            if len(free) != 1:
                continue
            c = free[0]
            val = {k: x.get(k, int(self.values[k])) for k in r.cells if k != c}
            if c == r.total:
                v = sum(val[p] for p in r.parts)
            else:
                v = val[r.total] - sum(val[p] for p in r.parts if p != c)
            if not self.lower[c] <= v <= self.ceiling:
                return False
            out[c] = v
            return out
        return out


def recovered(
    values: np.ndarray,
    published: np.ndarray,
    hidden: np.ndarray,
    relations: Sequence[Relation],
    targets: Sequence[int],
) -> list[int]:
    """The ``targets`` (hidden or unpublished cells) the attacker pins to one value."""
    unknown = [int(c) for c in np.flatnonzero(hidden | ~published)]
    lower = {c: 1 if hidden[c] else 0 for c in unknown}
    ceiling = 2 * int(values.max(initial=0)) + 2
    out = []
    for t in targets:
        search = _Search(values, unknown, lower, relations, ceiling)
        truth = int(values[t])
        moves = [v for v in (truth + 1, truth - 1) if lower[t] <= v <= ceiling]
        if not any(search.solve({t: v}) for v in moves):
            out.append(int(t))
    return out
