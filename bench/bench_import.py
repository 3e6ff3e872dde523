"""Time the import service on the real Chicago files (SQLite, or a URL given as argument).

    uv run python bench/bench_import.py [DB_URL]

Prints, per file, the records written and the seconds taken, then a re-import of the same
files (the digest check: should take milliseconds). Data come from ``$SCHOOLMODE_SHARED/data``
or ``../shared/data``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from schoolmode.importers import CHICAGO, shared_data_dir
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import upgrade
from schoolmode.store.service import run_import


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        engine = make_engine(url)
        upgrade(engine)
        jobs = [(imp, p) for imp in CHICAGO for p in imp.default_paths(shared_data_dir())]
        for label in ("first import", "same files again"):
            total_rows = 0
            start_all = time.perf_counter()
            print(f"== {label}")
            for importer, path in jobs:
                start = time.perf_counter()
                result = run_import(engine, importer, path, imported_by="bench")
                took = time.perf_counter() - start
                total_rows += result.added + result.changed
                print(
                    f"{importer.source:26} {path.name[:44]:44} {result.added:>8} rows {took:7.3f} s"
                )
            took_all = time.perf_counter() - start_all
            print(f"total: {total_rows} rows written in {took_all:.2f} s")
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
