"""The attacker of the suppression tests: from everything published, try to work out each
hidden cell (and each small unpublished one) as an integer solution of the relations.

Independent of the library's own audit: a depth-first search over integer values. A cell is
*safe* when a second integer solution of every relation (hidden cells at least 1, unpublished
ones at least 0, all at most ``ceiling``) gives it another value (its true value plus or minus
one: the relations are sums, so a cell that can move at all can move by one). A search that
runs past its budget counts as a recovery: the attacker never concedes without proof.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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

    def _value(self, x: dict[int, int], c: int) -> int | None:
        return x.get(c) if c in self.lower else int(self.values[c])

    def _check(self, x: dict[int, int]) -> dict[int, int] | None:
        """None when a relation cannot hold any more (its total outside what its parts can
        still sum to); else the values relations with one free cell force."""
        forced: dict[int, int] = {}
        for r in self.rows:
            total = self._value(x, r.total)
            parts = [self._value(x, p) for p in r.parts]
            free = [p for p, v in zip(r.parts, parts, strict=True) if v is None]
            fixed = sum(v for v in parts if v is not None)
            low = fixed + sum(self.lower[p] for p in free)
            high = fixed + self.ceiling * len(free)
            if total is not None and not low <= total <= high:
                return None
            if total is None and not free:
                if not self.lower[r.total] <= fixed <= self.ceiling:
                    return None
                forced[r.total] = fixed
            elif total is not None and len(free) == 1:
                forced[free[0]] = total - fixed
        return forced

    def solve(self, x: dict[int, int]) -> bool:
        while True:
            self.nodes += 1
            if self.nodes > BUDGET:
                raise RuntimeError("attacker out of budget")
            forced = self._check(x)
            if forced is None:
                return False
            if any(c in x and x[c] != v for c, v in forced.items()):
                return False
            new = {c: v for c, v in forced.items() if c not in x}
            if any(not self.lower[c] <= v <= self.ceiling for c, v in new.items()):
                return False
            if not new:
                break
            x = {**x, **new}
        rest = [c for c in self.unknown if c not in x]
        if not rest:
            return True
        c = min(rest, key=self._freedom(x))
        truth = int(self.values[c])
        order = sorted(range(self.lower[c], self.ceiling + 1), key=lambda v: (abs(v - truth), v))
        return any(self.solve({**x, c: v}) for v in order)

    def _freedom(self, x: dict[int, int]) -> Callable[[int], int]:
        """Most constrained first: the fewest free cells in one of its relations."""

        def free_in(c: int) -> int:
            counts = [
                sum(1 for k in r.cells if k in self.lower and k not in x)
                for r in self.rows
                if c in r.cells
            ]
            return min(counts, default=len(self.unknown))

        return free_in


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
