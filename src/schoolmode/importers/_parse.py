"""Vectorised parsing of source files with errors that name file, row, field, value, expectation."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import re
import zlib
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Literal, NoReturn

import numpy as np
import polars as pl

from schoolmode.standard.batch import MAX_REPORTED, ROW, FileValidationError, RowError

Kind = Literal["int", "float", "date", "bool", "text"]


MAX_CELL = 131_072
"""Characters a cell may hold (the csv module's limit, set for each read): a longer one is
refused naming its row and column, its first characters and its length, the reader having
stopped at the limit."""

CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
"""Control characters refused in any cell: C0 and C1 controls other than tab, line feed and
carriage return (a quoted cell may span lines), zero-width characters, bidirectional
overrides and isolates, and a byte order mark after the file's start."""

CONTROL_EXPECTED = (
    "text without control characters (U+0000-U+001F but tab and line breaks, U+007F-U+009F, "
    "zero-width and bidirectional format characters U+200B-U+200F, U+202A-U+202E, "
    "U+2060-U+2069, U+FEFF)"
)


def _refuse(path: Path, row: int | None, field: str, value: str | None, expected: str) -> NoReturn:
    raise FileValidationError(str(path), [RowError(str(path), row, field, value, expected)])


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip-compressed (by its ``.gz`` suffix or its
    magic number); a truncated or corrupt gzip file is refused."""
    data = path.read_bytes()
    if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            _refuse(path, None, "(file)", None, f"a complete gzip file ({exc})")
    return data


def read_text(path: Path, *, header: bool = True) -> str:
    """The file as UTF-8 text (a leading byte order mark dropped); other bytes are refused
    with the data row they are on (its line, less the header line if it has one) and the bytes
    around them."""
    return _decoded(path, read_bytes(path), header=header)


def _decoded(path: Path, data: bytes, *, header: bool = True) -> str:
    """``data`` as :func:`read_text` returns it."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + (0 if header else 1)
        around = data[max(0, exc.start - 20) : exc.end + 20]
        _refuse(path, line or None, "(encoding)", repr(around), "UTF-8 text")


def read_text_csv(path: Path, *, separator: str = ",") -> pl.DataFrame:
    """Read every column as text and add ``_row``: the 1-based data row (header not counted).

    The file must be UTF-8 CSV (gzip-compressed or not, a byte order mark and CRLF line ends
    allowed) with a header of distinct, non-blank names and the same number of cells on every
    row, well-quoted, no cell over ``MAX_CELL`` characters, no control characters
    (``CONTROL``); otherwise it is refused naming the first such row. Blank cells are null.
    """
    data = read_bytes(path)
    text = _decoded(path, data)
    frame = _plain_frame(path, data, separator)
    if frame is None:
        previous = csv.field_size_limit(MAX_CELL)  # restored below: a process-wide setting
        try:
            header, columns = _columns(path, text, separator)
        finally:
            csv.field_size_limit(previous)
        frame = pl.DataFrame(
            {n: pl.Series(n, col, pl.String) for n, col in zip(header, columns, strict=True)}
        )
    frame = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    if _maybe_control(data) and re.search(CONTROL, text):  # cell by cell only when one is there
        refuse_control_characters(path, frame)
    return frame


def _maybe_control(data: bytes) -> bool:
    """Whether ``data`` may hold a ``CONTROL`` character: False only when every byte is
    printable ASCII, tab, line feed or carriage return (the common case, checked at numpy
    speed; the regular expression then has nothing to find)."""
    return bool(_SUSPECT[np.frombuffer(data, dtype=np.uint8)].any())


_SUSPECT = np.ones(256, dtype=bool)
_SUSPECT[0x20:0x7F] = False
_SUSPECT[[0x09, 0x0A, 0x0D]] = False


def _plain_frame(path: Path, data: bytes, separator: str) -> pl.DataFrame | None:
    """The cells of a plain file read by polars (every cell as text, blank: null), or None
    when the file is not plain and the csv module must read it (and name what is wrong).

    Plain: a one-byte separator, no quote character and no NUL byte anywhere, a carriage
    return only before a line feed, no blank line, no line longer than ``MAX_CELL``, a header
    and at least one data row, every line with as many separators as the header. In such a
    file each line is a record and each separator ends a cell, so polars reads exactly the
    cells the csv module would (tested against it), at column speed instead of row by row."""
    sep = separator.encode()
    body = data[3:] if data.startswith(codecs.BOM_UTF8) else data
    if len(sep) != 1 or not body or b'"' in body or b"\0" in body:
        return None
    codes = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(codes == 0x0A)
    if ends.size == 0 or ends[-1] != codes.size - 1:
        ends = np.append(ends, codes.size)  # a last line without a line feed
    returns = np.flatnonzero(codes == 0x0D)
    if returns.size and (returns[-1] + 1 == codes.size or (codes[returns + 1] != 0x0A).any()):
        return None
    starts = np.concatenate(([0], ends[:-1] + 1))
    before_end = np.where(ends > starts, codes[np.maximum(ends - 1, 0)] == 0x0D, False)
    lengths = ends - starts - before_end
    if ends.size < 2 or lengths.min() == 0 or lengths.max() > MAX_CELL:
        return None
    cuts = np.flatnonzero(codes == sep[0])
    per_line = np.bincount(np.searchsorted(ends, cuts), minlength=ends.size)
    if (per_line != per_line[0]).any():
        return None
    header = body[: lengths[0]].decode().split(separator)
    _check_header(path, header)
    try:
        frame = pl.read_csv(
            body, separator=separator, quote_char=None, has_header=True, infer_schema=False
        )
    except pl.exceptions.PolarsError:
        return None
    if frame.columns != header or frame.height != ends.size - 1:
        return None
    return frame


class _Lines:
    """The text's lines one at a time, for the csv reader (no copy of the whole text); the
    last line given is kept, to find an over-long cell in it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.start = 0
        self.line = ""

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.start >= len(self.text):
            raise StopIteration
        end = self.text.find("\n", self.start)
        end = len(self.text) if end < 0 else end + 1
        self.line, self.start = self.text[self.start : end], end
        return self.line


def _columns(path: Path, text: str, separator: str) -> tuple[list[str], list[list[str | None]]]:
    """The header and the cells of each column (blank: None), the file's rows checked."""
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=separator, strict=True)
    header = _next_record(path, reader, None, lines, [], separator)
    if not header:
        _refuse(path, None, "(header)", None, "a header row (the file is empty)")
    _check_header(path, header)
    columns: list[list[str | None]] = [[] for _ in header]
    row = 1
    while (record := _next_record(path, reader, row, lines, header, separator)) is not None:
        if len(record) != len(header):
            if not record:
                _refuse(path, row, "(row)", None, "no blank line between rows")
            expected = f"{len(header)} cells as in the header, not {len(record)}"
            _refuse(path, row, "(row)", separator.join(record), expected)
        for cells, value in zip(columns, record, strict=True):
            cells.append(value or None)
        row += 1
    return header, columns


def _next_record(
    path: Path,
    reader: Iterator[list[str]],
    row: int | None,
    lines: _Lines,
    header: list[str],
    separator: str,
) -> list[str] | None:
    """The reader's next record (None at the end); a CSV syntax error refused at ``row``."""
    try:
        return next(reader, None)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            field, value = _long_cell(lines.line, header, separator)
            _refuse(path, row, field, value, f"a cell of at most {MAX_CELL:,} characters")
        expected = f"well-formed CSV, quotes doubled inside quoted cells ({exc})"
        _refuse(path, row, "(row)", None, expected)


def _long_cell(line: str, header: list[str], separator: str) -> tuple[str, str | None]:
    """The column and the text of the first over-long cell of ``line`` (cells before it
    counted by the csv module); ``("(row)", None)`` when it is not found in the line (a quoted
    cell over several lines)."""
    sep = re.escape(separator)
    found = re.search(f"[^{sep}\n]{{{MAX_CELL + 1}}}", line)
    if found is None:
        return "(row)", None
    start = line.rfind(separator, 0, found.start()) + 1
    end = line.find(separator, start)
    prefix = line[: max(start - 1, 0)]
    try:
        before = len(next(csv.reader([prefix], delimiter=separator), [])) if prefix else 0
    except csv.Error:
        return "(row)", None
    before += 1 if start and not prefix else 0
    field = header[before] if before < len(header) else "(row)"
    return field, line[start : end if end >= 0 else len(line)].rstrip("\r\n")


def _check_header(path: Path, header: list[str]) -> None:
    errors = []
    seen: set[str] = set()
    for name in header:
        if not name.strip():
            errors.append(RowError(str(path), None, name, name, "a column name (not blank)"))
        elif name in seen:
            errors.append(RowError(str(path), None, name, name, "a column named once"))
        elif re.search(CONTROL, name):
            errors.append(RowError(str(path), None, name, name, CONTROL_EXPECTED))
        seen.add(name)
    if errors:
        raise FileValidationError(str(path), errors)


def refuse_control_characters(path: Path, frame: pl.DataFrame) -> None:
    """Refuse a cell holding a control character (``CONTROL``), naming each one."""
    errors: list[RowError] = []
    total = 0
    for name in frame.columns[1:]:
        bad = frame.filter(pl.col(name).str.contains(CONTROL).fill_null(False))
        total += bad.height
        for row, value in bad.select(ROW, name).head(MAX_REPORTED).iter_rows():
            errors.append(RowError(str(path), row, name, value, CONTROL_EXPECTED))
    if errors:
        raise FileValidationError(str(path), errors[:MAX_REPORTED], total)


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
        if kind == "float":
            bad = bad | (parsed.is_nan() | parsed.is_infinite()).fill_null(False)
            expected = "a finite number"
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

    def within_dates(self, column: str, dates: pl.Series, first: dt.date) -> None:
        """Plausibility: each date of ``column`` (parsed) from ``first`` to today."""
        today = dt.date.today()
        bad = ((dates < first) | (dates > today)).fill_null(False)
        self._record(column, bad, f"a date from {first.isoformat()} to today ({today.isoformat()})")

    def at_most(self, column: str, values: pl.Series, limit_column: str, limit: pl.Series) -> None:
        """Plausibility: ``column`` <= ``limit_column`` on every row where both are given."""
        bad = (values > limit).fill_null(False)
        self._record(column, bad, f"at most {limit_column} of the same row")

    def non_decreasing(
        self, column: str, values: pl.Series, order: pl.Series, by: pl.Series | None = None
    ) -> None:
        """Plausibility of a cumulative series: ``column`` never below its value at an earlier
        ``order`` (date) of the same ``by`` (geography); blank cells are skipped."""
        groups = by if by is not None else pl.Series("by", [""] * len(values), pl.String)
        frame = pl.DataFrame({ROW: self.frame[ROW], "v": values, "o": order, "g": groups}).filter(
            pl.col("v").is_not_null() & pl.col("o").is_not_null()
        )
        earlier = pl.col("v").cum_max().shift(1).over("g", order_by="o")
        bad_rows = frame.filter((pl.col("v") < earlier).fill_null(False))[ROW]
        bad = self.frame[ROW].is_in(bad_rows)
        self._record(column, bad, "a cumulative count not below its value on an earlier date")

    def fail(self, row: int | None, column: str, value: str | None, expected: str) -> None:
        """Record one error found by a check outside :meth:`parse`."""
        self.total += 1
        self.errors.append(RowError(str(self.path), row, column, value, expected))

    def raise_if_errors(self) -> None:
        if self.errors:
            errors = sorted(self.errors, key=lambda e: (e.row or 0, e.field))
            raise FileValidationError(str(self.path), errors, self.total)
