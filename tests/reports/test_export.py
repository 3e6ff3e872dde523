"""CSV files for people: formula-looking text is neutralised on export, numbers are not, and
every CSV file schoolmode writes for people goes through ``reports.export``."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import polars as pl
import pytest

from schoolmode.reports.export import neutral_text, neutralised, write_csv

SRC = Path(__file__).resolve().parents[2] / "src" / "schoolmode"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('=HYPERLINK("http://x","click")', '\'=HYPERLINK("http://x","click")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-3", "-3"),
        ("+1.5", "+1.5"),
        ("-2e-3", "-2e-3"),
        ("Lincoln Elementary", "Lincoln Elementary"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutral_text(value: str, shown: str) -> None:
    assert neutral_text(value) == shown


def test_a_frame_is_neutralised_in_text_cells_and_names_only() -> None:
    frame = pl.DataFrame(
        {
            "school": ["=1+2", "Addams", None, "-4"],
            "delta": [-3, 4, 5, -6],
            "kind": pl.Series(["@x", "ES", "MS", "HS"], dtype=pl.Categorical),
            "=name": ["a", "b", "c", "d"],
        }
    )
    out = neutralised(frame)
    assert out.columns == ["school", "delta", "kind", "'=name"]
    assert out["school"].to_list() == ["'=1+2", "Addams", None, "-4"]
    assert out["delta"].to_list() == [-3, 4, 5, -6]
    assert out["kind"].to_list() == ["'@x", "ES", "MS", "HS"]
    assert frame["school"].to_list() == ["=1+2", "Addams", None, "-4"]  # the input unchanged


def test_write_csv_writes_the_neutralised_frame(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_csv(pl.DataFrame({"name": ["=cmd()", "plain"], "n": [-1, 2]}), path)
    with path.open(newline="") as fh:
        assert list(csv.reader(fh)) == [["name", "n"], ["'=cmd()", "-1"], ["plain", "2"]]


NOT_FOR_PEOPLE = {
    "synth/district.py": "standard-layout files the importer reads back",
    "decisions/record.py": "bytes hashed for the audit digest, never written",
    "store/chain.py": "a run's decisions as bytes hashed for its chain link, never written",
    "fetch/socrata.py": "a publisher's file saved as the source it is",
    "store/bulk.py": "rows sent to PostgreSQL's COPY inside an import, never a file",
    "app/releases.py": "a release's tables as bytes hashed for its digest, never written",
}


def test_every_csv_file_for_people_is_written_through_reports_export() -> None:
    writers = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel == "reports/export.py" or rel in NOT_FOR_PEOPLE:
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"\.write_csv\(|csv\.writer\(|DictWriter\(", text):
            writers.append(rel)
    assert writers == []
