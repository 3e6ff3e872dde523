"""The malformed-file corpus (``tests/fixtures/malformed/imports``, written by
``tests/fixtures/malformed/make_corpus.py``): every file is refused by its importer with the
project's error naming the file, the data row, the field and what was expected (no other
exception); one file of each kind (the index's ``cli`` column) is also imported through the CLI
on SQLite and PostgreSQL: a non-zero exit, the same message, no traceback, and
``schoolmode status --json`` exactly as before."""

from __future__ import annotations

import csv
import importlib.util
import io
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.importers import IMPORTERS
from schoolmode.importers._parse import MAX_CELL
from schoolmode.importers.staff import AccommodationRequests
from schoolmode.standard.batch import FileValidationError, validate_batch
from schoolmode.store.service import Parser, run_import
from schoolmode.store.tables import RECORD_TABLES
from tests.conftest import BACKENDS, FIXTURES, fresh_db_url

MALFORMED = FIXTURES / "malformed"
CORPUS = MALFORMED / "imports"
ACCOMMODATIONS = "accommodation-requests"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_corpus", MALFORMED / "make_corpus.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _cases() -> list[dict[str, str]]:
    with (CORPUS / "cases.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


CASES = _cases()


def _import_args(source: str, path: Path, db_url: str) -> list[str]:
    if source == ACCOMMODATIONS:
        return ["accommodations", "import", str(path), "--db", db_url, "--by", "t"]
    return ["import", source, str(path), "--db", db_url, "--by", "t"]


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args)
    # a command that fails must fail by its exit, never by an exception escaping it
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def _status(db_url: str) -> str:
    code, out = _run(["status", "--db", db_url, "--json"])
    assert code == 0, out
    return out


@pytest.fixture(scope="module", params=BACKENDS)
def corpus_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """A store holding every source's valid corpus file: ``(url, status --json)``."""
    with fresh_db_url(request.param, tmp_path_factory.mktemp("corpus")) as url:
        assert _run(["init", "--db", url])[0] == 0
        for valid in sorted(CORPUS.glob("*/valid.csv")):
            code, out = _run(_import_args(valid.parent.name, valid, url))
            assert code == 0, out
            assert "added" in out, out
        yield url, _status(url)


def test_the_corpus_is_the_generators_output() -> None:
    expected = _generator().all_files()
    on_disk = {
        p.relative_to(CORPUS).as_posix(): p.read_bytes() for p in CORPUS.rglob("*") if p.is_file()
    }
    assert sorted(on_disk) == sorted(expected)
    stale = [rel for rel, data in expected.items() if on_disk[rel] != data]
    assert stale == [], "run: uv run python tests/fixtures/malformed/make_corpus.py"


def test_the_corpus_covers_every_importer_and_kind() -> None:
    sources = {c["source"] for c in CASES}
    assert sources == {*IMPORTERS, ACCOMMODATIONS}
    assert len(CASES) >= 100
    assert {c["source"] for c in THROUGH_CLI} == sources
    assert {c["kind"] for c in THROUGH_CLI} == {c["kind"] for c in CASES}
    kinds = {c["kind"] for c in CASES}
    for kind in (
        "empty",
        "non-utf8",
        "ragged-short",
        "unescaped-quote",
        "header-only",
        "truncated-gz",
        "bom-and-bad-cell",
        "crlf-ragged",
        "duplicate-key",
        "future-date",
        "negative-count",
        "nan",
        "inf",
        "sql-text",
        "fullwidth-digits",
        "long-value",
        "unknown-column",
        "duplicate-column",
        "control-character",
        "positives-above-tests",
        "cumulative-falls",
        "school-year-2099",
    ):
        assert kind in kinds


def _parser(source: str) -> Parser:
    return AccommodationRequests() if source == ACCOMMODATIONS else IMPORTERS[source]


def _assert_names_where(case: dict[str, str], message: str) -> None:
    path = CORPUS / case["file"]
    where = f"data row {case['row']}" if case["row"] else "header"
    field = f"{case['field']!r}" if case["field"] or case["kind"] == "blank-column-name" else ""
    assert f"{path}: {where}, field {field}" in message, message
    assert case["expected"] in message, message
    assert "nothing imported" in message
    assert len(message) < 20_000  # values cut, at most 50 errors listed


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_a_malformed_file_is_refused_naming_where(case: dict[str, str]) -> None:
    parser = _parser(case["source"])
    with pytest.raises(FileValidationError) as refused:
        validate_batch(parser.parse(CORPUS / case["file"]))
    _assert_names_where(case, str(refused.value))


THROUGH_CLI = [c for c in CASES if c["cli"]]


@pytest.mark.parametrize("case", THROUGH_CLI, ids=[c["file"] for c in THROUGH_CLI])
def test_through_the_cli_a_malformed_file_fails_and_changes_nothing(
    case: dict[str, str], corpus_store: tuple[str, str]
) -> None:
    url, before = corpus_store
    code, out = _run(_import_args(case["source"], CORPUS / case["file"], url))
    assert code != 0, out
    _assert_names_where(case, out)
    assert "Traceback" not in out
    assert _status(url) == before


@pytest.mark.parametrize("source", sorted({c["source"] for c in CASES} - {"sociopatterns"}))
def test_a_valid_file_with_a_bom_or_crlf_line_ends_reads_the_same(
    source: str, tmp_path: Path
) -> None:
    parser = _parser(source)
    plain = CORPUS / source / "valid.csv"
    data = plain.read_bytes()
    expected = parser.parse(plain).frame
    for name, variant in (("bom", b"\xef\xbb\xbf" + data), ("crlf", data.replace(b"\n", b"\r\n"))):
        path = tmp_path / name / "valid.csv"
        path.parent.mkdir()
        path.write_bytes(variant)
        batch = parser.parse(path)
        validate_batch(batch)
        assert batch.frame.equals(expected), name


def test_a_huge_field_is_refused_without_echoing_it(
    corpus_store: tuple[str, str], tmp_path: Path
) -> None:
    url, before = corpus_store
    lines = (CORPUS / "cdph-daily-cases" / "valid.csv").read_text().splitlines()
    path = tmp_path / "huge.csv"
    cells = lines[2].split(",")
    cells[1] = "7" * 10_000_000  # a 10 MB count
    path.write_text("\n".join([*lines[:2], ",".join(cells), *lines[3:]]) + "\n")
    code, out = _run(["import", "cdph-daily-cases", str(path), "--db", url])
    assert code == 1
    assert f"{path}: data row 2, field 'Cases - Total': value '777" in out
    assert f"(10,000,000 characters); expected a cell of at most {MAX_CELL:,} characters" in out
    assert len(out) < 2_000
    assert _status(url) == before


def test_five_thousand_extra_columns_are_refused_in_a_short_message(
    corpus_store: tuple[str, str], tmp_path: Path
) -> None:
    url, before = corpus_store
    lines = (CORPUS / "idph-illinois-statewide" / "valid.csv").read_text().splitlines()
    extra = [f"metric_{n}" for n in range(5000)]
    path = tmp_path / "wide.csv"
    rows = [",".join([lines[0], *extra])]
    rows += [",".join([line, *("1" for _ in extra)]) for line in lines[1:]]
    path.write_text("\n".join(rows) + "\n")
    code, out = _run(["import", "idph-illinois-statewide", str(path), "--db", url])
    assert code == 1
    assert f"{path}: 5000 error(s), nothing imported" in out
    assert f"{path}: header, field 'metric_0': value <blank>; expected one of the" in out
    assert "... and 4950 more" in out
    assert _status(url) == before


def test_a_huge_field_costs_a_few_times_its_size_in_memory(tmp_path: Path) -> None:
    """The reader stops at the cell limit: a 10 MB cell costs the file's text, its line and
    the cell named in the error (it used to take about 9 times the field, then 14)."""
    lines = (CORPUS / "cdph-daily-cases" / "valid.csv").read_text().splitlines()
    cells = lines[2].split(",")
    cells[1] = "7" * 10_000_000
    path = tmp_path / "huge.csv"
    path.write_text("\n".join([*lines[:2], ",".join(cells), *lines[3:]]) + "\n")
    parser = IMPORTERS["cdph-daily-cases"]
    parser.parse(CORPUS / "cdph-daily-cases" / "valid.csv")  # imports and caches warmed up
    tracemalloc.start()
    try:
        with pytest.raises(FileValidationError, match="'Cases - Total'"):
            parser.parse(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * 10_000_000


def test_formula_and_sql_looking_text_is_stored_as_given(store: Engine, tmp_path: Path) -> None:
    """Text is data: stored exactly as the file has it (exports neutralise it, the store
    does not)."""
    text = (CORPUS / "cps-school-profiles" / "valid.csv").read_text()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    names = ['=HYPERLINK("http://example.com","x")', "Robert'); DROP TABLE school;--"]
    for row, name in zip(rows[1:3], names, strict=True):
        row[rows[0].index("Long_Name")] = name
    path = tmp_path / "profiles.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    run_import(store, IMPORTERS["cps-school-profiles"], path)
    with store.connect() as conn:
        stored = set(conn.execute(select(RECORD_TABLES["school"].c.name)).scalars())
    assert set(names) <= stored
