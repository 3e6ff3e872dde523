"""Import benchmark: the synthetic Chicago district and a school year of absences, through the
import service into SQLite and PostgreSQL, against DuckDB's own ``read_csv`` of the same files.

    uv run python bench/bench_import.py [--quick] [POSTGRESQL_URL]

The PostgreSQL URL comes from the argument or ``$SCHOOLMODE_BENCH_PG_URL``; the benchmark
starts no server: it creates a scratch database on that server (so the URL's user needs
CREATEDB) and drops it afterwards. Without a URL it reports SQLite only and says so.

Rows (markdown table):
- ``generate``: building the district and absences and writing the standard CSV files;
- ``parse + validate``: the import service's checks alone (standard-layout parser and
  ``validate_batch`` on every file, no database);
- ``duckdb read_csv``: DuckDB reading the same files into tables (in memory), the baseline;
  the ``vs DuckDB`` column is seconds / DuckDB seconds (the issue expects <= 3 for validation);
- ``import sqlite`` / ``import postgresql``: ``run_import`` of every file (parse, validate,
  diff, write, one transaction per file), and the same files again (digest check only);
- ``floor ...: write only, bare tables``: the validated frames written by the import's bulk
  path (``store.bulk.insert_rows``) into tables of the same columns with no key, no index, no
  trigger and no foreign key, one transaction; parse + validate plus this is about the least
  an import could take on that database (the gap to the import is what the key, the indexes,
  the reference check, the diff and the log cost).

Peak RSS is the process's peak so far (``resource.getrusage``), so it can only grow down the
table. ``--quick`` uses the first 30 schools (a few seconds).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as bc  # peak RSS
from schoolmode.importers.cps import SchoolProfiles
from schoolmode.importers.standard import StandardLayout
from schoolmode.settings import AppSettings
from schoolmode.standard.batch import ROW, validate_batch
from schoolmode.store.bulk import insert_rows
from schoolmode.store.db import begin_write, make_engine
from schoolmode.store.migrate import upgrade
from schoolmode.store.service import run_import
from schoolmode.store.tables import RECORD_TABLES
from schoolmode.synth.district import (
    SynthConfig,
    synth_absences,
    synth_district,
    write_standard_files,
)

PG_ENV = "SCHOOLMODE_BENCH_PG_URL"
QUICK_SCHOOLS = 30


@dataclass
class Row:
    stage: str
    rows: int
    seconds: float
    baseline: float | None = None

    def cells(self) -> list[str]:
        rate = f"{self.rows / self.seconds:,.0f}" if self.seconds > 0 else "-"
        ratio = f"{self.seconds / self.baseline:.2f}x" if self.baseline else "-"
        peak = bc.peak_rss_mib()
        return [self.stage, f"{self.rows:,}", f"{self.seconds:.2f}", rate, ratio, f"{peak:,.0f}"]


HEADER = ["stage", "rows", "seconds", "rows/s", "vs DuckDB", "peak RSS MiB"]


def _print_row(cells: list[str]) -> None:
    print("| " + " | ".join(cells) + " |", flush=True)


@contextmanager
def scratch_pg(url: str) -> Iterator[str]:
    """A new database on the server of ``url``, dropped afterwards."""
    admin = make_url(url).set(drivername="postgresql+psycopg")
    name = f"sm_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def import_all(url: str, paths: list[Path]) -> tuple[int, float, float]:
    """(rows written, seconds, seconds for the same files again)."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        parser = StandardLayout("synthetic-district")
        start = time.perf_counter()
        written = sum(run_import(engine, parser, p, imported_by="bench").added for p in paths)
        took = time.perf_counter() - start
        start = time.perf_counter()
        again = [run_import(engine, parser, p, imported_by="bench") for p in paths]
        assert all(r.status == "unchanged" for r in again)
        return written, took, time.perf_counter() - start
    finally:
        engine.dispose()


def write_floor(url: str, frames: dict[str, pl.DataFrame]) -> float:
    """Seconds to write ``frames`` (record name: validated rows) into bare tables of a new
    store (same columns, ``import_id`` included; no key, index, trigger or foreign key), in one
    write transaction."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        with begin_write(engine) as conn:
            for name, frame in frames.items():
                columns = ", ".join(f'"{c}"' for c in frame.columns)
                conn.exec_driver_sql(
                    f'CREATE TABLE "bare_{name}" AS SELECT {columns} FROM "{name}" WHERE 1 = 0'
                )
        start = time.perf_counter()
        with begin_write(engine) as conn:
            for name, frame in frames.items():
                insert_rows(conn, f"bare_{name}", frame)
        return time.perf_counter() - start
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pg_url", nargs="?", help=f"PostgreSQL URL (default ${PG_ENV})")
    ap.add_argument("--quick", action="store_true", help=f"first {QUICK_SCHOOLS} schools only")
    ap.add_argument("--seed", type=int, default=SynthConfig.seed)
    args = ap.parse_args(argv)
    pg_url = args.pg_url or os.environ.get(PG_ENV)

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        profiles = SchoolProfiles().default_paths(AppSettings.load().data_dir)[0]
        schools = SchoolProfiles().parse(profiles).frame.sort("school_id")
        if args.quick:
            schools = schools.head(QUICK_SCHOOLS)
        config = SynthConfig(seed=args.seed)
        district = synth_district(schools, config)
        frames = dict(district.frames)
        frames["absence"] = synth_absences(district, config)
        paths = write_standard_files(frames, Path(tmp) / "files")
        total = sum(f.height for f in frames.values())
        generate = Row(
            "generate (district + absences, write CSV)", total, time.perf_counter() - start
        )

        print(
            f"synthetic district from {schools.height} schools (seed {args.seed}): "
            f"{district.students:,} students, {district.staff:,} staff, "
            f"{frames['absence'].height:,} absence rows; {total:,} rows in {len(paths)} files, "
            f"{sum(p.stat().st_size for p in paths) / 2**20:,.0f} MiB of CSV"
        )
        print()
        _print_row(HEADER)
        _print_row(["---", "---:", "---:", "---:", "---:", "---:"])
        _print_row(generate.cells())

        con = duckdb.connect()
        start = time.perf_counter()
        for p in paths:
            con.execute(
                f"CREATE TABLE \"{p.stem}\" AS SELECT * FROM read_csv('{p}', header = true)"
            )
        baseline = time.perf_counter() - start
        con.close()
        _print_row(Row("duckdb read_csv (baseline)", total, baseline, baseline).cells())

        start = time.perf_counter()
        valid = {}
        for p in paths:
            batch = StandardLayout("synthetic-district").parse(p)
            validate_batch(batch)
            valid[batch.model.record_name] = batch.frame
        _print_row(Row("parse + validate", total, time.perf_counter() - start, baseline).cells())
        valid = {  # as the import writes them, its log row's id in each
            name: frame.drop(ROW).with_columns(pl.lit(1, dtype=pl.Int64).alias("import_id"))
            for name, frame in valid.items()
            if name in RECORD_TABLES
        }
        bare = sum(frame.height for frame in valid.values())
        floor = write_floor(f"sqlite:///{Path(tmp) / 'floor.sqlite'}", valid)
        _print_row(Row("floor sqlite: write only, bare tables", bare, floor, baseline).cells())

        written, took, again = import_all(f"sqlite:///{Path(tmp) / 'bench.sqlite'}", paths)
        _print_row(Row("import sqlite", written, took, baseline).cells())
        _print_row(Row("import sqlite, same files again", written, again, baseline).cells())
        if pg_url:
            with scratch_pg(pg_url) as url:
                floor = write_floor(url, valid)
            _print_row(
                Row("floor postgresql: write only, bare tables", bare, floor, baseline).cells()
            )
            with scratch_pg(pg_url) as url:
                written, took, again = import_all(url, paths)
            _print_row(Row("import postgresql", written, took, baseline).cells())
            _print_row(Row("import postgresql, same files again", written, again, baseline).cells())
        print()
        if not pg_url:
            print(f"SQLite only: no PostgreSQL URL given (argument or ${PG_ENV}).")
        print(f"{sys.platform}, {os.cpu_count()} CPUs, duckdb {duckdb.__version__}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
