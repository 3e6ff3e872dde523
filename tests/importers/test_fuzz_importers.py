"""Fuzzing every importer (issue 12, item 6): random cells in well-formed rows, and random byte
corruption of a valid file (the malformed corpus's ``valid.csv`` of each source). No exception
but the project's own (``FileValidationError``, or the service's ``ImportFailed`` when the
store refuses a file) may come out, and a file imports whole or changes nothing, on SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from schoolmode.importers import IMPORTERS
from schoolmode.importers.staff import AccommodationRequests
from schoolmode.importers.standard import StandardLayout
from schoolmode.standard.batch import FileValidationError, validate_batch
from schoolmode.store.service import (
    ImportFailed,
    Parser,
    import_history,
    row_counts,
    run_import,
)
from tests.conftest import FIXTURES

CORPUS = FIXTURES / "malformed" / "imports"
SOURCES = sorted(p.parent.name for p in CORPUS.glob("*/valid.csv"))
CSV_SOURCES = [s for s in SOURCES if s != "sociopatterns"]

FUZZ = settings(
    max_examples=8,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # the store is shared by the examples on purpose
    ],
)

TRICKY = [
    "",
    " ",
    "NA",
    "-1",
    "0",
    "1e9",
    "NaN",
    "-inf",
    "2.5",
    "99999999999999999999999",
    "03/01/2020",
    "02/30/2021",
    "2020-03-01",
    "2099-12-31",
    "=1+2",
    "'; DROP TABLE import_log; --",
    "\u202e1",
    "\uff11",
    '"',
    "a,b",
    "line\nbreak",
    "School Year 2099-2100",
    "60601",
]
CELL = st.one_of(
    st.sampled_from(TRICKY),
    st.from_regex(r"-?[0-9]{1,7}", fullmatch=True),
    st.text(max_size=10),
)


def _parser(source: str) -> Parser:
    if source == "accommodation-requests":
        return AccommodationRequests()
    return IMPORTERS[source]


def _table(source: str) -> list[list[str]]:
    text = (CORPUS / source / "valid.csv").read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def _parse_or_refuse(parser: Parser, path: Path) -> int | None:
    """Rows parsed, or None when the file is refused with the project's error."""
    try:
        batch = parser.parse(path)
        validate_batch(batch)
    except FileValidationError as exc:
        message = str(exc)
    else:
        return batch.frame.height
    assert message.startswith(f"{path}: ")  # the refusal names the file
    return None


@pytest.mark.parametrize("source", CSV_SOURCES)
@FUZZ
@given(data=st.data())
def test_random_cells_in_well_formed_rows_parse_or_are_refused(
    source: str, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    table = _table(source)
    header, rows = table[0], table[1:]
    n_rows = data.draw(st.integers(0, 8), label="rows")
    changes = st.lists(st.tuples(st.integers(0, len(header) - 1), CELL), max_size=4)
    out = [header]
    for n in range(n_rows):
        row = list(rows[n % len(rows)])
        for column, value in data.draw(changes, label=f"row {n + 1}"):
            row[column] = value
        out.append(row)
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\n").writerows(out)
    path = tmp_path_factory.mktemp("rows") / "valid.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    _parse_or_refuse(_parser(source), path)


def _corrupt(data: bytes, draw: st.DataObject) -> bytes:
    """One to three random edits: change a digit, flip a byte, insert bytes, delete a span,
    cut the end."""
    edits = st.sampled_from(["digit", "flip", "insert", "delete", "truncate"])
    for _ in range(draw.draw(st.integers(1, 3), label="edits")):
        kind = draw.draw(edits, label="edit")
        at = draw.draw(st.integers(0, max(len(data) - 1, 0)), label="at")
        if kind == "digit":
            digits = [i for i, b in enumerate(data) if 48 <= b <= 57]
            if digits:
                at = digits[at % len(digits)]
                data = data[:at] + str(draw.draw(st.integers(0, 9))).encode() + data[at + 1 :]
        elif kind == "flip" and data:
            data = data[:at] + bytes([data[at] ^ draw.draw(st.integers(1, 255))]) + data[at + 1 :]
        elif kind == "insert":
            data = data[:at] + draw.draw(st.binary(min_size=1, max_size=6)) + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + draw.draw(st.integers(1, 40)) :]
        elif kind == "truncate":
            data = data[:at]
    return data


def _snapshot(store: Engine) -> tuple[dict[str, int], int]:
    return row_counts(store), len(import_history(store))


@pytest.mark.parametrize("source", SOURCES)
@FUZZ
@given(draw=st.data())
def test_a_corrupted_file_imports_whole_or_changes_nothing(
    source: str, store: Engine, tmp_path_factory: pytest.TempPathFactory, draw: st.DataObject
) -> None:
    valid = CORPUS / source / "valid.csv"
    parser = _parser(source)
    # the valid file is the stored dataset: a corrupted copy that parses is a correction of it
    run_import(store, parser, valid, allow_removals=True)
    path = tmp_path_factory.mktemp("bytes") / "valid.csv"
    path.write_bytes(_corrupt(valid.read_bytes(), draw))
    parsed = _parse_or_refuse(parser, path)
    before = _snapshot(store)
    try:
        result = run_import(store, parser, path)
    except (FileValidationError, ImportFailed):
        event("refused")
        assert _snapshot(store) == before
        return
    event("imported")
    assert parsed is not None  # the service takes only what the importer takes
    counts, imports = _snapshot(store)
    assert result.rows_in_file == parsed
    if result.status == "unchanged":
        assert (counts, imports) == before
        return
    assert imports == before[1] + 1
    assert result.added + result.changed + result.unchanged == parsed
    assert result.removed == 0
    table = parser.parse(path).model.record_name
    assert counts[table] == before[0][table] + result.added


def test_an_unreadable_parquet_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "person.parquet"
    path.write_bytes(b"PAR1 not really a parquet file")
    with pytest.raises(FileValidationError, match=r"field '\(file\)'.*a readable Parquet file"):
        StandardLayout().parse(path)
