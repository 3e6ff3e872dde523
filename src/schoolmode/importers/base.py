"""Base class of importers and helpers shared by them."""

from __future__ import annotations

import csv
import gzip
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import polars as pl

from schoolmode.settings import SHIPPED_DATA
from schoolmode.standard.batch import ROW, Batch, frame_schema
from schoolmode.standard.models import CommunityIndicator, Record


class Importer(ABC):
    """Reads one real source's file into a batch of standard records."""

    source: ClassVar[str]
    title: ClassVar[str]
    model: ClassVar[type[Record]]
    chicago: ClassVar[bool] = False
    """Part of ``schoolmode import chicago``."""
    default_files: ClassVar[tuple[str, ...]]
    """Files under the data folder, relative to it (each may be there as is or gzip-compressed
    with ``.gz`` added, as in the shipped snapshot: :func:`source_file`)."""

    @abstractmethod
    def parse(self, path: Path) -> Batch:
        """Parse and check ``path``; raise FileValidationError naming every problem."""

    def default_paths(self, data_dir: Path) -> list[Path]:
        """The source's files under ``data_dir`` (``AppSettings.data_dir``)."""
        return [source_file(data_dir, rel) for rel in self.default_files]


def published_columns(importer: Importer) -> frozenset[str]:
    """The header columns of ``importer``'s files in the shipped snapshot
    (``settings.SHIPPED_DATA``): the columns its publisher's files have."""
    columns: set[str] = set()
    for path in importer.default_paths(SHIPPED_DATA):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            columns.update(next(csv.reader(handle), []))
    return frozenset(columns)


def source_file(data_dir: Path, relative: str) -> Path:
    """``data_dir / relative``, or its gzip-compressed copy (``relative`` + ``.gz``, as the
    shipped snapshot holds it) when only that is there; the plain path when neither is (the
    error then names the file expected)."""
    plain = data_dir / relative
    if plain.exists() or relative.endswith(".gz"):
        return plain
    packed = plain.with_name(plain.name + ".gz")
    return packed if packed.exists() else plain


def long_indicators(
    wide: pl.DataFrame,
    *,
    source: str,
    geography_type: str,
    geography: pl.Expr,
    period_days: int,
    metrics: Sequence[str],
) -> pl.DataFrame:
    """Unpivot parsed metric columns (already named by metric) into community_indicator rows."""
    long = (
        wide.with_columns(geography.alias("geography"))
        .unpivot(on=list(metrics), index=[ROW, "date", "geography"], variable_name="metric")
        .with_columns(
            pl.lit(source).alias("source"),
            pl.lit(geography_type).alias("geography_type"),
            pl.lit(period_days, dtype=pl.Int64).alias("period_days"),
            pl.col("value").cast(pl.Float64),
        )
    )
    return long.select(ROW, *frame_schema(CommunityIndicator))
