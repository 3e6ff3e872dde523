"""Base class of importers and helpers shared by them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import polars as pl

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
    """Files under the shared data folder, relative to it."""

    @abstractmethod
    def parse(self, path: Path) -> Batch:
        """Parse and check ``path``; raise FileValidationError naming every problem."""

    def default_paths(self, data_dir: Path) -> list[Path]:
        """The source's files under ``data_dir`` (``AppSettings.data_dir``)."""
        return [data_dir / rel for rel in self.default_files]


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
