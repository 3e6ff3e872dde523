"""CSV checks of fetched files: the header against the columns the importer reads (the
shipped copy's header), and every row whole."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator, Sequence
from pathlib import Path

from schoolmode.fetch.http import FetchError, IncompleteBody
from schoolmode.importers.base import source_file
from schoolmode.settings import SHIPPED_DATA


def shipped_header(relative: str) -> list[str]:
    """The header of the shipped copy of ``relative`` (a file under the data folder): the
    columns the publisher's file has and the importer reads."""
    path = source_file(SHIPPED_DATA, relative)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


def rows(path: Path) -> Iterator[list[str]]:
    """The rows of a UTF-8 CSV file, header first."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from csv.reader(handle)


def check_columns(found: Sequence[str], expected: Sequence[str], where: str) -> None:
    """Refuse a header other than ``expected``, naming each missing and each new column."""
    missing = [c for c in expected if c not in found]
    unknown = [c for c in found if c not in expected]
    repeated = sorted({c for c in found if list(found).count(c) > 1})
    if not (missing or unknown or repeated):
        return
    parts = []
    if missing:
        parts.append("missing column(s) " + ", ".join(repr(c) for c in missing))
    if unknown:
        parts.append("new column(s) " + ", ".join(repr(c) for c in unknown))
    if repeated:
        parts.append("repeated column(s) " + ", ".join(repr(c) for c in repeated))
    raise FetchError(
        f"{where}: the publisher's columns changed: {'; '.join(parts)}. The importer reads the "
        f"{len(expected)} columns of the shipped copy; nothing written, the cache is as it was."
    )


def check_complete(path: Path, *, line_ends: bool = False) -> int:
    """Raise :class:`IncompleteBody` when a row has another number of fields than the header
    (or, with ``line_ends``, the file does not end a line); the number of data rows."""
    if line_ends and path.stat().st_size:
        with path.open("rb") as handle:
            handle.seek(-1, 2)
            if handle.read(1) != b"\n":
                raise IncompleteBody("the last row has no line end")
    width = None
    count = 0
    for number, row in enumerate(rows(path)):
        if width is None:
            width = len(row)
            continue
        if len(row) != width:
            raise IncompleteBody(f"data row {number} has {len(row)} of the header's {width} fields")
        count += 1
    return count
