"""Vectorised parsing of source files with errors that name file, row, field, value, expectation."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Literal

import polars as pl

from schoolmode.standard.batch import MAX_REPORTED, ROW, FileValidationError, RowError

Kind = Literal["int", "float", "date", "bool", "text"]


def read_text_csv(path: Path, *, separator: str = ",", has_header: bool = True) -> pl.DataFrame:
    """Read every column as text and add ``_row``: the 1-based data row (header not counted)."""
    df = pl.read_csv(
        path,
        separator=separator,
        has_header=has_header,
        infer_schema=False,
    )
    return df.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def slug(column: str) -> str:
    """``'Cases -  Age 80+'`` -> ``'cases_age_80plus'``."""
    text = column.lower().replace("+", "plus")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


class Cells:
    """Parses columns of one text frame, collecting every error before raising."""

    def __init__(self, path: Path, frame: pl.DataFrame) -> None:
        self.path = path
        self.frame = frame
        self.errors: list[RowError] = []
        self.total = 0

    def require_columns(self, columns: Sequence[str]) -> None:
        """Raise at once when the header lacks a column (nothing else can be checked)."""
        missing = [c for c in columns if c not in self.frame.columns]
        if missing:
            raise FileValidationError(
                str(self.path),
                [
                    RowError(str(self.path), None, c, None, "this column in the header")
                    for c in missing
                ],
            )

    def refuse_unknown_columns(self, known: Collection[str], source: str) -> None:
        """Raise at once when the header has a column not in ``known`` (the columns the
        publisher's file has): an unknown or repeated column never becomes data."""
        unknown = [c for c in self.frame.columns if c != ROW and c not in known]
        if unknown:
            expected = (
                f"one of the {len(known)} columns of {source}'s published file (the shipped "
                "copy's header; a renamed or repeated column is refused)"
            )
            raise FileValidationError(
                str(self.path),
                [RowError(str(self.path), None, c, None, expected) for c in unknown],
            )

    def parse(
        self,
        column: str,
        kind: Kind,
        *,
        required: bool = True,
        fmt: str | None = None,
        blank: Sequence[str] = (),
        ge: float | None = None,
        le: float | None = None,
        choices: Sequence[str] | None = None,
    ) -> pl.Series:
        """Parse ``column`` as ``kind``; blank cells (and any of ``blank``) become null."""
        raw = self.frame[column].str.strip_chars()
        is_blank = raw.is_null() | (raw == "") | raw.is_in(list(blank))
        text = pl.when(is_blank).then(None).otherwise(raw)
        clean = self.frame.select(text.alias(column)).to_series()
        if kind == "int":
            parsed = clean.cast(pl.Int64, strict=False)
            expected = "a whole number"
        elif kind == "float":
            parsed = clean.cast(pl.Float64, strict=False)
            expected = "a number"
        elif kind == "date":
            if fmt is None:
                raise ValueError("a date column needs fmt")
            parsed = clean.str.strptime(pl.Date, fmt, strict=False)
            expected = f"a date {fmt.replace('%m', 'MM').replace('%d', 'DD').replace('%Y', 'YYYY')}"
        elif kind == "bool":
            lowered = clean.str.to_lowercase()
            truth = (
                pl.when(lowered == "true")
                .then(True)
                .when(lowered == "false")
                .then(False)
                .otherwise(None)
            )
            parsed = pl.select(truth.alias(column)).to_series()
            expected = "true or false"
        else:
            parsed = clean
            expected = "text"
        bad = clean.is_not_null() & parsed.is_null()
        if choices is not None:
            bad = bad | (parsed.is_not_null() & ~parsed.is_in(list(choices)))
            expected = "one of " + ", ".join(choices)
        if ge is not None:
            bad = bad | (parsed < ge).fill_null(False)
            expected += f" >= {ge:g}"
        if le is not None:
            bad = bad | (parsed > le).fill_null(False)
            expected += f" <= {le:g}"
        if required:
            bad = bad | clean.is_null()
        else:
            expected += " (or blank)"
        self._record(column, bad, expected)
        return parsed.alias(column)

    def _record(self, column: str, bad: pl.Series, expected: str) -> None:
        count = int(bad.sum())
        if not count:
            return
        self.total += count
        rows = self.frame.filter(bad).select(ROW, column).head(MAX_REPORTED)
        for row, value in rows.iter_rows():
            self.errors.append(RowError(str(self.path), row, column, value, expected))

    def fail(self, row: int | None, column: str, value: str | None, expected: str) -> None:
        """Record one error found by a check outside :meth:`parse`."""
        self.total += 1
        self.errors.append(RowError(str(self.path), row, column, value, expected))

    def raise_if_errors(self) -> None:
        if self.errors:
            errors = sorted(self.errors, key=lambda e: (e.row or 0, e.field))
            raise FileValidationError(str(self.path), errors, self.total)
