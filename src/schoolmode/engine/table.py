"""Evaluate large frames in chunks of units: same results as ``evaluate``, bounded memory.

A unit's mode depends only on its own rows, except where a rule aggregates over units
(``share_of_units``). When a policy has no such rule, each scope's frame is evaluated in
chunks of units: the working arrays of one chunk fit in cache and memory, and the result
is the concatenation of the chunks' outputs. A frame sorted by unit is sliced without a
copy; an unsorted one is partitioned once.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Mapping

import numpy as np
import polars as pl

from schoolmode.engine.evaluate import evaluate, series_days
from schoolmode.engine.grid import UNIT, Calendar, date_bounds
from schoolmode.engine.settings import Settings
from schoolmode.policy import model as m
from schoolmode.policy.walk import walk

DEFAULT_CHUNK_UNITS = 10_000


def aggregates_over_units(policy: m.Policy) -> bool:
    return any(isinstance(node, m.ShareOfUnitsCond) for rule in policy.rules for node in walk(rule))


def unit_chunks(frame: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    """Consecutive slices of ``frame`` holding at most ``size`` units each."""
    if frame.height == 0:
        return
    units = frame[UNIT]
    if units.is_sorted():
        # Row where each block of `size` units starts; slices share the frame's memory.
        run = units.rle_id().to_numpy()
        firsts = np.searchsorted(run, np.arange(0, int(run[-1]) + 1, size), side="left")
        bounds = [*firsts.tolist(), frame.height]
        for a, b in itertools.pairwise(bounds):
            yield frame.slice(a, b - a)
        return
    keyed = frame.with_columns(((pl.col(UNIT).rank("dense") - 1) // size).alias("_chunk"))
    for part in keyed.partition_by("_chunk", maintain_order=True):
        yield part.drop("_chunk")


def evaluate_table(
    policy: m.Policy,
    frames: Mapping[str, pl.DataFrame],
    *,
    calendar: Calendar | None = None,
    settings: Settings | None = None,
    authorisations: pl.DataFrame | None = None,
    chunk_units: int = DEFAULT_CHUNK_UNITS,
    strict: bool = False,
) -> dict[str, pl.DataFrame]:
    """Modes per unit and day for every scope with a frame, as ``evaluate(...).frame(scope)``."""
    frames = {str(k): v for k, v in frames.items()}
    span: tuple[dt.date, dt.date] = date_bounds(frames)
    if aggregates_over_units(policy):
        evaluation = evaluate(
            policy,
            frames,
            calendar=calendar,
            settings=settings,
            authorisations=authorisations,
            span=span,
            strict=strict,
        )
        return {scope: evaluation.frame(scope) for scope in evaluation.scopes}
    # a metric's series days are those of the whole frame, not of a chunk's units
    series = series_days(frames)
    out: dict[str, pl.DataFrame] = {}
    for scope, frame in frames.items():
        if not any(r.scope.value == scope for r in policy.rules):
            continue
        parts = [
            evaluate(
                policy,
                {scope: chunk},
                calendar=calendar,
                settings=settings,
                authorisations=authorisations,
                span=span,
                strict=strict,
                series=series,
            ).frame(scope)
            for chunk in unit_chunks(frame, chunk_units)
        ]
        out[scope] = pl.concat(parts, how="vertical", rechunk=False) if parts else pl.DataFrame()
    return out
