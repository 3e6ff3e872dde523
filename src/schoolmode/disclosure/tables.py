"""Suppression of polars frames: tables of counts, the relations between them, one release.

A :class:`Release` holds every table published together (e.g. the school, district and
classroom metrics by day): cells of all of them are suppressed at once, so the relations
between tables (classrooms -> school -> district) are protected too. Declared relations:

- :meth:`Release.across`: within a row, ``total`` = the sum of ``parts`` (students + staff =
  total); ``rest`` names the unpublished difference (the remote students when the enrolled and
  the in-person are published), a count of people protected like any other.
- :meth:`Release.rollup`: a parent table's row is the sum of its children's rows on the same
  day (classrooms -> school, schools -> network -> district).
- :meth:`Release.window`: a trailing sum over days (days -> weeks, 14-day counts) and, with
  ``days`` equal to the whole series, a cumulative series.

:meth:`Release.apply` returns the tables with each hidden count null and a ``suppressed``
column naming the hidden counts of the row (comma-separated), and the rule applied.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from schoolmode.disclosure.cells import Cells, Relation, suppress
from schoolmode.disclosure.rules import Rule

SUPPRESSED = "suppressed"
"""The column naming a row's hidden counts."""


@dataclass
class _Table:
    frame: pl.DataFrame
    keys: tuple[str, ...]
    counts: tuple[str, ...]
    offset: int
    rests: dict[str, int] = field(default_factory=dict)  # internal column -> its offset

    def cell(self, row: int, column: str) -> int:
        return self.offset + row * len(self.counts) + self.counts.index(column)


@dataclass
class Release:
    """Tables published together and the relations between their counts."""

    tables: dict[str, _Table] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)
    _values: list[np.ndarray] = field(default_factory=list)
    _published: list[np.ndarray] = field(default_factory=list)
    _locked: set[int] = field(default_factory=set)
    _forced: set[int] = field(default_factory=set)
    _absent: set[int] = field(default_factory=set)
    _size: int = 0

    def add(
        self,
        name: str,
        frame: pl.DataFrame,
        keys: Sequence[str],
        counts: Sequence[str],
        *,
        published: bool = True,
        blanks: bool = False,
    ) -> None:
        """A table: its rows (``keys`` identify one) and its columns that are counts of people
        (integers; no blanks unless ``blanks``). ``published=False``: a table withheld whose
        counts still relate to the published ones (protected like any unpublished count).

        ``blanks``: a null count is a figure that does not exist (a series that has ended, a
        window not yet full), not a hidden one: it is published as a blank, is never named as
        suppressed, and every relation that involves it is dropped (no sum can be stated with
        a figure nobody has)."""
        if not blanks:
            for c in counts:
                if frame[c].null_count():
                    raise ValueError(f"table {name}, column {c}: a blank count")
        cast = frame.select(pl.col(c).cast(pl.Int64) for c in counts)
        blank = cast.select(pl.col(c).is_null() for c in counts).to_numpy().reshape(-1)
        values = cast.fill_null(0).to_numpy().reshape(-1)
        self.tables[name] = _Table(frame, tuple(keys), tuple(counts), self._size)
        start = self._extend(values.astype(np.int64), published=published)
        if blank.any():
            self._published[-1] = self._published[-1] & ~blank
            self._absent.update((start + np.flatnonzero(blank)).tolist())

    def _extend(self, values: np.ndarray, *, published: bool) -> int:
        start = self._size
        self._values.append(values)
        self._published.append(np.full(len(values), published))
        self._size += len(values)
        return start

    def across(self, name: str, total: str, parts: Sequence[str], rest: str | None = None) -> None:
        """In each row of ``name``: ``total`` = the sum of ``parts`` (+ ``rest``, the
        unpublished difference, when given)."""
        t = self.tables[name]
        cells: list[list[int]] = [[t.cell(r, p) for p in parts] for r in range(t.frame.height)]
        if rest is not None:
            diff = t.frame[total].cast(pl.Int64) - sum(t.frame[p].cast(pl.Int64) for p in parts)
            if (diff < 0).any():
                raise ValueError(f"table {name}: {total} below the sum of {', '.join(parts)}")
            start = self._extend(diff.fill_null(0).to_numpy().astype(np.int64), published=False)
            self._absent.update((start + np.flatnonzero(diff.is_null().to_numpy())).tolist())
            t.rests[rest] = start
            for r in range(t.frame.height):
                cells[r].append(start + r)
        for r in range(t.frame.height):
            self.relations.append(Relation(t.cell(r, total), tuple(cells[r])))

    def rollup(
        self,
        child: str,
        parent: str,
        columns: Sequence[str],
        by: str = "parent",
        on: str = "date",
    ) -> None:
        """Each row of ``parent`` (``unit``, ``date``) is the sum of the rows of ``child``
        whose ``by`` is that unit and whose ``on`` is that date (the same day; or, with
        ``on="week"``, a week's days summed into the week), for each of ``columns``."""
        c, p = self.tables[child], self.tables[parent]
        rows: dict[tuple[object, object], list[int]] = {}
        for r, (unit, day) in enumerate(zip(c.frame[by], c.frame[on], strict=True)):
            rows.setdefault((unit, day), []).append(r)
        for r, (unit, day) in enumerate(zip(p.frame["unit"], p.frame["date"], strict=True)):
            kids = rows.get((unit, day), [])
            for col in columns:
                self.relations.append(Relation(p.cell(r, col), tuple(c.cell(k, col) for k in kids)))

    def window(self, name: str, daily: str, total: str, days: int) -> None:
        """In ``name`` (``unit``, ``date``): ``total`` on day d is the sum of ``daily`` over
        days d-(days-1) .. d of the same unit (days before the table's first count as none)."""
        self.lagged(name, total, [(daily, k) for k in range(days)], partial=True)

    def lagged(
        self, name: str, total: str, parts: Sequence[tuple[str, int]], *, partial: bool = False
    ) -> None:
        """In ``name`` (``unit``, ``date``): ``total`` on day d is the sum of each part's
        column on day d - its lag, same unit (e.g. a 14-day count = the 7-day count + the
        7-day count a week earlier). A day whose part days are not all in the table gets no
        relation, unless ``partial`` (the missing days count as none)."""
        t = self.tables[name]
        at = {
            (u, d): r for r, (u, d) in enumerate(zip(t.frame["unit"], t.frame["date"], strict=True))
        }
        for (unit, day), r in at.items():
            assert isinstance(day, dt.date)
            keys = [(col, (unit, day - dt.timedelta(days=lag))) for col, lag in parts]
            found = tuple(t.cell(at[k], col) for col, k in keys if k in at)
            if partial or len(found) == len(keys):
                self.relations.append(Relation(t.cell(r, total), found))

    def lock(self, name: str, earlier: pl.DataFrame) -> None:
        """The counts of ``name`` an earlier release published (``earlier``: that release's
        table, a hidden count null): they are out, so they are published now whatever this
        release does (an attacker has them), and can be neither hidden nor complements."""
        t = self.tables[name]
        at = {k: r for r, k in enumerate(t.frame.select(t.keys).iter_rows())}
        cols = [c for c in t.counts if c in earlier.columns]
        for row in earlier.select([*t.keys, *cols]).iter_rows():
            r = at.get(tuple(row[: len(t.keys)]))
            if r is not None:
                self._locked.update(
                    t.cell(r, c)
                    for c, v in zip(cols, row[len(t.keys) :], strict=True)
                    if v is not None
                )

    def force(self, name: str, earlier: pl.DataFrame) -> None:
        """The counts of ``name`` hidden in an earlier release that must stay hidden
        (``earlier``: the table's keys and a non-null value for each such cell)."""
        t = self.tables[name]
        at = {k: r for r, k in enumerate(t.frame.select(t.keys).iter_rows())}
        cols = [c for c in t.counts if c in earlier.columns]
        for row in earlier.select([*t.keys, *cols]).iter_rows():
            r = at.get(tuple(row[: len(t.keys)]))
            if r is not None:
                self._forced.update(
                    t.cell(r, c)
                    for c, v in zip(cols, row[len(t.keys) :], strict=True)
                    if v is not None
                )

    def equal(self, name: str, other: str, columns: Sequence[str]) -> None:
        """Each count of ``name`` whose value is that of the same row and column of ``other``
        is the same count (an earlier release's table of the same period, its figures
        unchanged): one relation each, ``name``'s cell = ``other``'s."""
        a, b = self.tables[name], self.tables[other]
        at = {k: r for r, k in enumerate(b.frame.select(b.keys).iter_rows())}
        values = np.concatenate(self._values)
        for r, key in enumerate(a.frame.select(a.keys).iter_rows()):
            o = at.get(key)
            if o is None:
                continue
            for c in columns:
                if c in a.counts and c in b.counts:
                    mine, theirs = a.cell(r, c), b.cell(o, c)
                    if values[mine] == values[theirs]:
                        self.relations.append(Relation(mine, (theirs,)))

    def cells(self, locked: np.ndarray | None = None) -> Cells:
        """Every count of the release (published or not) and the relations between them;
        ``locked``: more cells published before, beside those of :meth:`lock`."""
        values = np.concatenate(self._values) if self._values else np.zeros(0, np.int64)
        published = np.concatenate(self._published) if self._published else np.zeros(0, bool)
        mask = np.zeros(len(values), bool) if locked is None else locked.copy()
        mask[sorted(self._locked)] = True
        absent = np.zeros(len(values), bool)
        absent[sorted(self._absent)] = True
        mask &= ~absent
        published = (published | mask) & ~absent
        forced = np.zeros(len(values), bool)
        forced[sorted(self._forced)] = True
        relations = (
            [r for r in self.relations if not any(absent[c] for c in r.cells)]
            if self._absent
            else self.relations
        )
        return Cells(values, published, relations, mask, forced & published & ~mask)

    def apply(self, rule: Rule, locked: np.ndarray | None = None) -> dict[str, pl.DataFrame]:
        """Every table with its hidden counts null and the ``suppressed`` column."""
        hidden = suppress(self.cells(locked), rule)
        return {name: _masked(t, hidden) for name, t in self.tables.items()}


def _masked(t: _Table, hidden: np.ndarray) -> pl.DataFrame:
    n = len(t.counts)
    mask = hidden[t.offset : t.offset + t.frame.height * n].reshape(t.frame.height, n)
    flags = pl.DataFrame(
        {f"__{c}": mask[:, k] if t.frame.height else [] for k, c in enumerate(t.counts)},
        schema={f"__{c}": pl.Boolean for c in t.counts},
    )
    out = pl.concat([t.frame, flags], how="horizontal")
    named = [pl.when(pl.col(f"__{c}")).then(pl.lit(c)) for c in t.counts]
    return (
        out.with_columns(
            *(pl.when(pl.col(f"__{c}")).then(None).otherwise(pl.col(c)).alias(c) for c in t.counts),
            pl.concat_str(named, separator=",", ignore_nulls=True).alias(SUPPRESSED)
            if named
            else pl.lit(None, pl.String).alias(SUPPRESSED),
        )
        .with_columns(
            pl.when(pl.col(SUPPRESSED) == "")
            .then(None)
            .otherwise(pl.col(SUPPRESSED))
            .alias(SUPPRESSED)
        )
        .drop(f"__{c}" for c in t.counts)
    )
