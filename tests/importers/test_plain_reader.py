"""The plain-file fast path of the strict reader (``importers._parse._plain_frame``): on every
file it accepts, polars reads exactly the cells the csv module reads (the slow path, which
names what is wrong in a file); a file it cannot vouch for goes to the csv module."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schoolmode.importers._parse import MAX_CELL, _columns, _plain_frame, read_text_csv
from schoolmode.standard.batch import FileValidationError

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _slow(path: Path, data: bytes) -> pl.DataFrame | str:
    """What the csv module reads from ``data`` (a frame of text), or its refusal's message."""
    text = data.decode("utf-8-sig")
    previous = csv.field_size_limit(MAX_CELL)
    try:
        header, columns = _columns(path, text, ",")
    except FileValidationError as exc:
        return str(exc)
    finally:
        csv.field_size_limit(previous)
    return pl.DataFrame(
        {n: pl.Series(n, c, pl.String) for n, c in zip(header, columns, strict=True)}
    )


def _fast(path: Path, data: bytes) -> pl.DataFrame | str | None:
    """What the fast path reads from ``data``, its refusal's message, or None (not plain)."""
    try:
        return _plain_frame(path, data, ",")
    except FileValidationError as exc:
        return str(exc)


CELL = st.text(alphabet='ab ,"\r\n\t', max_size=4)


@st.composite
def files(draw: st.DrawFn) -> bytes:
    width = draw(st.integers(1, 3))
    rows = draw(st.lists(st.lists(CELL, min_size=width, max_size=width), min_size=1, max_size=5))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    text = ending.join(",".join(r) for r in rows) + draw(st.sampled_from(["", ending]))
    bom = draw(st.booleans())
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


@SETTINGS
@given(data=files())
def test_a_plain_file_reads_as_the_csv_module_reads_it(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "f.csv"
    slow = _slow(path, data)
    fast = _fast(path, data)
    if isinstance(fast, str):  # the header check refuses it as the slow path does
        assert fast == slow
        return
    if fast is None:
        return
    assert isinstance(slow, pl.DataFrame), slow
    assert fast.columns == slow.columns
    assert fast.equals(slow, null_equal=True)


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("a,b\n1,2\n", True),
        ("a,b\r\n1,\r\n, x \r\n", True),
        ("a,b\n1,2", True),
        ('a,b\n"1",2\n', False),  # a quote: the csv module reads it
        ("a,b\n1,2\n\n3,4\n", False),  # a blank line
        ("a,b\n1\n", False),  # a short row
        ("a,b\n1,2,3\n", False),  # a long row
        ("a,b\n1\r2,3\n", False),  # a lone carriage return
        ("a,b\n1,2\r", False),
        ("a,b\n", False),  # no data row
        ("a,b\n1,\x002\n", False),
    ],
)
def test_what_counts_as_plain(tmp_path: Path, text: str, plain: bool) -> None:
    path = tmp_path / "f.csv"
    assert (_plain_frame(path, text.encode(), ",") is not None) is plain


def test_both_paths_refuse_a_ragged_row_alike(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(FileValidationError, match=r"data row 2.*2 cells as in the header, not 1"):
        read_text_csv(path)


def test_a_long_plain_file_reads_whole(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    rows = [f"P{i:07d},{i % 7},2021-09-{1 + i % 28:02d}," for i in range(20_000)]
    path.write_text("person_id,n,date,note\n" + "\n".join(rows) + "\n")
    frame = read_text_csv(path)
    assert frame.height == 20_000
    assert frame["note"].null_count() == 20_000
    assert frame.row(19_999) == (20_000, "P0019999", "0", "2021-09-08", None)
