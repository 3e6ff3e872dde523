"""Files in the standard layout (``docs/data-standard.md``, "File layouts").

The record type is the file's name without its suffix: ``person.csv``, ``enrolment.parquet``.
CSV columns are the record type's field names in any order; an optional field's column may be
left out (all missing). Parquet columns must have the documented types. The dataset a file
replaces is its record type, unless the importer is given one.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from schoolmode.importers._parse import Cells, Kind, read_text_csv
from schoolmode.standard.batch import ROW, Batch, FileValidationError, RowError, frame_schema
from schoolmode.standard.fields import field_specs
from schoolmode.standard.models import RECORD_TYPES, Record

_KINDS: dict[str, Kind] = {
    "str": "text",
    "int": "int",
    "float": "float",
    "date": "date",
    "bool": "bool",
}


def record_type_of(path: Path) -> type[Record]:
    """The record type a standard-layout file holds, from its name."""
    name = path.name.split(".")[0]
    model = RECORD_TYPES.get(name)
    if model is None:
        known = ", ".join(sorted(RECORD_TYPES))
        raise FileValidationError(
            str(path),
            [RowError(str(path), None, "(file name)", path.name, f"a record type name: {known}")],
        )
    return model


class StandardLayout:
    """Parses standard-layout CSV or Parquet files for the import service."""

    title = "Files in the schoolmode standard layout (person.csv, enrolment.parquet, ...)"

    def __init__(self, source: str = "standard", dataset: str | None = None) -> None:
        self._source = source
        self.dataset = dataset

    @property
    def source(self) -> str:
        return self._source

    def parse(self, path: Path) -> Batch:
        model = record_type_of(path)
        parquet = path.suffix == ".parquet"
        frame = self._parquet(path, model) if parquet else self._csv(path, model)
        return Batch(self.source, self.dataset or model.record_name, model, frame, path)

    @staticmethod
    def _csv(path: Path, model: type[Record]) -> pl.DataFrame:
        raw = read_text_csv(path)
        cells = Cells(path, raw)
        specs = field_specs(model)
        names = {s.name for s in specs}
        cells.require_columns([s.name for s in specs if s.required])
        extra = [c for c in raw.columns if c != ROW and c not in names]
        if extra:
            raise FileValidationError(
                str(path),
                [
                    RowError(str(path), None, c, None, f"a field of {model.record_name}")
                    for c in extra
                ],
            )
        columns = [raw[ROW]]
        for spec in specs:
            if spec.name not in raw.columns:
                dtype = frame_schema(model)[spec.name]
                columns.append(pl.Series(spec.name, [None] * raw.height, dtype=dtype))
                continue
            columns.append(
                cells.parse(
                    spec.name,
                    _KINDS[spec.kind],
                    required=spec.required,
                    fmt="%Y-%m-%d" if spec.kind == "date" else None,
                    choices=spec.choices,
                    ge=spec.ge,
                    le=spec.le,
                )
            )
        cells.raise_if_errors()
        return pl.DataFrame(columns)

    @staticmethod
    def _parquet(path: Path, model: type[Record]) -> pl.DataFrame:
        try:
            frame = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            error = RowError(str(path), None, "(file)", None, f"a readable Parquet file ({exc})")
            raise FileValidationError(str(path), [error]) from None
        schema = frame_schema(model)
        errors = []
        for name, dtype in schema.items():
            if name not in frame.columns:
                if not next(s for s in field_specs(model) if s.name == name).required:
                    frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(name))
                    continue
                errors.append(RowError(str(path), None, name, None, "the column to be present"))
            elif frame.schema[name] != dtype:
                errors.append(
                    RowError(str(path), None, name, str(frame.schema[name]), f"type {dtype}")
                )
        extra = [c for c in frame.columns if c not in schema]
        errors += [
            RowError(str(path), None, c, None, f"a field of {model.record_name}") for c in extra
        ]
        if errors:
            raise FileValidationError(str(path), errors)
        return (
            frame.select(*schema)
            .with_row_index(ROW, offset=1)
            .with_columns(pl.col(ROW).cast(pl.Int64))
            .select(ROW, *schema)
        )
