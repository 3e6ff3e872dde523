"""The public data shipped in the package (``schoolmode/data``): intact copies of the originals,
documented, found by every importer, and imported by ``schoolmode import chicago`` with no
folder beside the project."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.importers import CHICAGO, IMPORTERS
from schoolmode.importers.base import source_file
from schoolmode.settings import SHIPPED_DATA, AppSettings

SHA_LINE = re.compile(
    r"^- `(?P<file>[^`]+\.gz)`: original `(?P<original>[^`]+)`, .*sha256 `(?P<sha>[0-9a-f]{64})`"
)

CHICAGO_ROWS = {
    "school": 1310,
    "community_indicator": 392098,
    "school_case_report": 152810,
    "population": 1802,
}
"""Rows per record type after ``import chicago`` from the development folder's original files
(measured 2026-12-02); the shipped snapshot must give the same."""

SOURCE_ROWS = {
    "cdph-daily-testing": 36138,
    "cdph-daily-cases": 78774,
    "cps-school-profiles": 1310,
    "cps-school-covid-cases": 152810,
    "cdph-zip-weekly": 86086,
    "cdph-population": 1802,
    "cdph-vaccination-zip": 191100,
}
"""Rows each source's files held (the import log's ``rows_in_file``, summed), same origin."""


def _listed() -> dict[Path, tuple[str, str]]:
    """Each shipped file named in a SOURCE.md: (original name, sha256 of the original)."""
    out = {}
    for source in SHIPPED_DATA.glob("*/SOURCE.md"):
        for line in source.read_text(encoding="utf-8").splitlines():
            match = SHA_LINE.match(line)
            if match:
                out[source.parent / match["file"]] = (match["original"], match["sha"])
    return out


def test_every_shipped_file_is_its_original_compressed_and_documented() -> None:
    listed = _listed()
    shipped = {p for p in SHIPPED_DATA.glob("*/*") if p.name != "SOURCE.md"}
    assert shipped == set(listed)
    assert len(shipped) >= 13
    for path, (original, sha) in listed.items():
        assert path.name == original + ".gz"
        assert hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest() == sha, path
        assert gzip.compress(gzip.decompress(path.read_bytes()), 9, mtime=0) == path.read_bytes()
    for folder in (p for p in SHIPPED_DATA.iterdir() if p.is_dir()):
        text = (folder / "SOURCE.md").read_text(encoding="utf-8")
        for heading in ("## This copy", "License"):
            assert heading in text, f"{folder.name}/SOURCE.md lacks {heading!r}"


def test_the_shipped_snapshot_is_the_default_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCHOOLMODE_DATA", raising=False)
    assert AppSettings.load().data_dir == SHIPPED_DATA
    monkeypatch.setenv("SCHOOLMODE_DATA", "/elsewhere")
    assert AppSettings.load().data_dir == Path("/elsewhere")


def test_every_shipped_source_is_found_compressed_and_sociopatterns_is_not_shipped() -> None:
    for importer in CHICAGO:
        for path in importer.default_paths(SHIPPED_DATA):
            assert path.suffix == ".gz", path
            assert path.is_file(), path
    assert all(p.is_file() for p in IMPORTERS["ontario-school-cases"].default_paths(SHIPPED_DATA))
    assert not any(p.exists() for p in IMPORTERS["sociopatterns"].default_paths(SHIPPED_DATA))


def test_a_plain_file_is_preferred_to_its_compressed_copy(tmp_path: Path) -> None:
    (tmp_path / "a.csv.gz").write_bytes(b"")
    assert source_file(tmp_path, "a.csv") == tmp_path / "a.csv.gz"
    (tmp_path / "a.csv").write_text("x\n")
    assert source_file(tmp_path, "a.csv") == tmp_path / "a.csv"
    assert source_file(tmp_path, "b.csv") == tmp_path / "b.csv"  # the error names the original
    assert source_file(tmp_path, "c.csv.gz") == tmp_path / "c.csv.gz"


def test_import_chicago_from_the_shipped_snapshot_stores_the_development_folders_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``import chicago`` with no folder named and none in the environment: the snapshot."""

    monkeypatch.delenv("SCHOOLMODE_DATA", raising=False)
    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", db]).exit_code == 0
    done = runner.invoke(app, ["import", "chicago", "--db", db])
    assert done.exit_code == 0, done.output
    status = runner.invoke(app, ["status", "--json", "--db", db])
    assert status.exit_code == 0, status.output
    report = json.loads(status.output)
    assert {k: v for k, v in report["rows"].items() if v} == CHICAGO_ROWS
    with create_engine(db).connect() as conn:
        rows = dict(
            conn.execute(
                text("SELECT source, sum(rows_in_file) FROM import_log GROUP BY source")
            ).all()
        )
        files = conn.execute(text("SELECT file_name FROM import_log")).scalars().all()
    assert rows == SOURCE_ROWS
    assert all(name.endswith(".csv.gz") for name in files)
