"""A batch of records parsed from one file, and the errors that can stop it.

Row numbers: **data rows are counted from 1 and the header is not counted**, so data row 1 is
line 2 of a CSV file with one header line (unless a quoted cell spans lines). Every error names
the file, that row number, the field (as the file names it), the value and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from schoolmode.standard.fields import FieldSpec, field_specs
from schoolmode.standard.models import Record

ROW = "_row"
"""Column holding the 1-based data row of the source file a record came from."""

MAX_REPORTED = 50

POLARS_TYPES: dict[str, type[pl.DataType]] = {
    "str": pl.String,
    "int": pl.Int64,
    "float": pl.Float64,
    "date": pl.Date,
    "bool": pl.Boolean,
}


@dataclass(frozen=True)
class RowError:
    """One thing wrong in one cell (or row) of a file."""

    file: str
    row: int | None
    field: str
    value: str | None
    expected: str

    def __str__(self) -> str:
        where = f"data row {self.row}" if self.row is not None else "header"
        shown = "<blank>" if self.value is None or self.value == "" else _shown(self.value)
        return (
            f"{self.file}: {where}, field {self.field!r}: value {shown}; expected {self.expected}"
        )


SHOWN_CHARACTERS = 120
"""Characters of a bad value an error message shows (a 10 MB field is cut, its length said)."""


def _shown(value: str) -> str:
    if len(value) <= SHOWN_CHARACTERS:
        return repr(value)
    return f"{value[:SHOWN_CHARACTERS]!r}... ({len(value):,} characters)"


class FileValidationError(Exception):
    """A file that cannot be imported; nothing from it was written."""

    def __init__(self, file: str, errors: list[RowError], total: int | None = None) -> None:
        self.file = file
        self.errors = errors
        self.total = total if total is not None else len(errors)
        shown = "\n".join(f"  {e}" for e in errors[:MAX_REPORTED])
        more = f"\n  ... and {self.total - MAX_REPORTED} more" if self.total > MAX_REPORTED else ""
        super().__init__(
            f"{file}: {self.total} error(s), nothing imported "
            f"(rows are 1-based data rows, header not counted):\n{shown}{more}"
        )


@dataclass
class Batch:
    """Records of one record type parsed from one file, ready for the import service."""

    source: str
    dataset: str
    model: type[Record]
    frame: pl.DataFrame
    path: Path
    skipped_rows: int = 0
    notes: list[str] = field(default_factory=list)
    source_fields: dict[str, str] = field(default_factory=dict)
    """Standard field -> column name in the file, for error messages."""


def frame_schema(model: type[Record]) -> dict[str, pl.DataType]:
    """Polars schema of a record type's columns (without the row column)."""
    return {s.name: POLARS_TYPES[s.kind]() for s in field_specs(model)}


def _bad_rows(
    batch: Batch, spec: FieldSpec, mask: pl.Expr, expected: str, errors: list[RowError]
) -> int:
    bad = batch.frame.filter(mask).select(ROW, pl.col(spec.name).cast(pl.String))
    name = batch.source_fields.get(spec.name, spec.name)
    for row, value in bad.head(MAX_REPORTED).iter_rows():
        errors.append(RowError(str(batch.path), row, name, value, expected))
    return bad.height


def validate_batch(batch: Batch) -> None:
    """Check a batch against its record type, vectorised per column.

    Checks column presence and types, required values, allowed choices, bounds and
    natural-key uniqueness. Raises :class:`FileValidationError` listing every problem found.
    """
    model = batch.model
    errors: list[RowError] = []
    total = 0
    schema = frame_schema(model)
    cols = set(batch.frame.columns)
    if ROW not in cols:
        raise ValueError("batch frame lacks the _row column")
    for name, dtype in schema.items():
        if name not in cols:
            errors.append(RowError(str(batch.path), None, name, None, "the column to be present"))
        elif batch.frame.schema[name] != dtype:
            raise TypeError(
                f"importer bug: column {name} is {batch.frame.schema[name]}, not {dtype}"
            )
    extra = cols - set(schema) - {ROW}
    if extra:
        raise TypeError(f"importer bug: unexpected columns {sorted(extra)}")
    if errors:
        raise FileValidationError(str(batch.path), errors)
    for spec in field_specs(model):
        col = pl.col(spec.name)
        if spec.required:
            total += _bad_rows(batch, spec, col.is_null(), spec.expectation(), errors)
        if spec.choices is not None:
            total += _bad_rows(
                batch,
                spec,
                col.is_not_null() & ~col.is_in(spec.choices),
                spec.expectation(),
                errors,
            )
        if spec.ge is not None:
            total += _bad_rows(batch, spec, col < spec.ge, spec.expectation(), errors)
        if spec.le is not None:
            total += _bad_rows(batch, spec, col > spec.le, spec.expectation(), errors)
    specs = {spec.name: spec for spec in field_specs(model)}
    for earlier, later in model.date_order:
        expected = f"a date not before {batch.source_fields.get(earlier, earlier)}"
        mask = (pl.col(later) < pl.col(earlier)).fill_null(False)
        total += _bad_rows(batch, specs[later], mask, expected, errors)
    key = list(model.natural_key)
    dup = batch.frame.filter(pl.struct(key).is_duplicated())
    if dup.height:
        # one error per repeated source row, not per record derived from it
        groups = (
            dup.group_by(key)
            .agg(pl.col(ROW).sort().alias("rows"))
            .with_columns(pl.col("rows").list.first().alias("first"))
            .explode("rows")
            .filter(pl.col("rows") != pl.col("first"))
            .unique("rows", keep="first")
            .sort("rows")
        )
        total += groups.height
        keyname = "+".join(batch.source_fields.get(k, k) for k in key)
        for rec in groups.head(MAX_REPORTED).iter_rows(named=True):
            value = "|".join(str(rec[k]) for k in key)
            expected = f"a key not repeated in the file (first at data row {rec['first']})"
            errors.append(RowError(str(batch.path), rec["rows"], keyname, value, expected))
    if errors:
        errors.sort(key=lambda e: (e.row or 0, e.field))
        raise FileValidationError(str(batch.path), errors, total)
