"""Crash trials (issue 12, item 7): a real ``schoolmode`` process SIGKILLed at random moments
while it writes; the store must then be exactly as before or exactly as after, and the next
command must succeed without repair.

Scenarios (each on SQLite and on PostgreSQL):

- ``single``: ``schoolmode import cdph-daily-testing FILE`` of the CDPH daily testing file
  (default: the shipped one, 36,138 rows) over a store holding its first half (so the import
  adds rows, supersedes an import-log entry and links a new one);
- ``synth``: ``schoolmode district synth --profiles P --import`` (the district built from the
  first ``--schools`` shipped CPS profiles) into an empty store;
- ``chicago``: ``schoolmode import chicago --from DIR`` (default: the shipped snapshot) into an
  empty store.

For each scenario and database the command is first run to completion on a copy of the
"before" store: its time is the measured duration and its final store the "after" state. Each
trial then takes a fresh copy of "before", starts the command, SIGKILLs it after a delay drawn
uniformly over the measured duration (seeded), waits until the database has no other session
(PostgreSQL: the killed client's backend rolled back), and compares the store with both states.
A state is, per table: the row count and the sha256 of its rows ordered by primary key, plus
the list of tables (a leftover staging table would show), SQLite's ``PRAGMA integrity_check``
and ``audit verify`` of the hash chain. Left out, because they legitimately differ between two
runs of the same command: ``import_log.imported_at``, ``chain_link.linked_at`` and the chain
link's digests (they cover ``imported_at``; the chain is checked by ``audit verify`` instead);
ids drawn from a PostgreSQL sequence by a killed transaction are not given back, so import-log
and chain-link ids (and the ``import_id`` of records) are compared by their order. Then the
command runs again to completion: it must exit 0 (``SCHOOLMODE_LOCK_WAIT`` is 120 s, so a lock
left behind fails it) and leave the "after" state.

The tally (scenario x database: trials, before, after, other, rerun ok) is printed and written
to ``--out`` as ``crash_trials.csv`` and ``crash_trials.md`` (every "other" in
``others.txt``). Exit status 1 on any "other" or failed rerun.

    uv run python bench/crash_trials.py --trials 20 --out out/crash
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from schoolmode.decisions.verify import verify
from schoolmode.importers import IMPORTERS
from schoolmode.importers.base import source_file
from schoolmode.settings import default_data_dir
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import upgrade
from schoolmode.store.service import run_import
from schoolmode.store.tables import metadata

SCENARIOS = ("single", "synth", "chicago")
DATABASES = ("sqlite", "postgresql")
VOLATILE = {
    ("import_log", "imported_at"),
    ("chain_link", "linked_at"),
    ("chain_link", "content_sha256"),
    ("chain_link", "prev_sha256"),
    ("chain_link", "link_sha256"),
}
"""Columns that differ between two runs of one command: left out of the digests."""
SERIAL = ("import_log", "chain_link")
"""Tables whose ids come from a sequence (PostgreSQL does not give back a killed one's)."""
SETTLE_S = 120.0
"""Seconds to wait for a killed client's PostgreSQL session to end (a hang, not a measure)."""
TESTING = "cdph-daily-testing"
PROFILES = "cps-schools/Chicago_Public_Schools_-_School_Profile_Information_SY2122.csv"


# ---------------------------------------------------------------------- the store's state


@dataclass(frozen=True)
class State:
    """What a store holds, as compared across trials."""

    tables: tuple[str, ...]
    rows: dict[str, tuple[int, str]]
    """Per table: (row count, sha256 of its rows)."""
    integrity: str
    chain: str

    def differences(self, other: State) -> list[str]:
        found = []
        if self.tables != other.tables:
            found.append(f"tables {sorted(set(self.tables) ^ set(other.tables))}")
        for name in sorted(set(self.rows) | set(other.rows)):
            mine, theirs = self.rows.get(name), other.rows.get(name)
            if mine != theirs:
                found.append(f"{name}: {mine} vs {theirs}")
        if self.integrity != other.integrity:
            found.append(f"integrity {self.integrity!r} vs {other.integrity!r}")
        if self.chain != other.chain:
            found.append(f"chain {self.chain!r} vs {other.chain!r}")
        return found


def _ordinals(engine: Engine) -> dict[str, dict[int, int]]:
    """Per serial table: id -> its rank (1, 2, ...)."""
    with engine.connect() as conn:
        return {
            name: {
                int(i): n
                for n, i in enumerate(
                    conn.execute(text(f"SELECT id FROM {name} ORDER BY id")).scalars(), start=1
                )
            }
            for name in SERIAL
        }


def _table_digest(engine: Engine, name: str, ranks: dict[str, dict[int, int]]) -> tuple[int, str]:
    table = metadata.tables[name]
    columns = [c for c in table.c if (name, c.name) not in VOLATILE]
    order = list(table.primary_key.columns) or list(table.c)
    mapped: dict[int, dict[int, int]] = {}
    for i, column in enumerate(columns):
        if name in SERIAL and column.name == "id":
            mapped[i] = ranks[name]
        elif column.name in ("import_id", "supersedes_id"):
            mapped[i] = ranks["import_log"]
    names = [c.name for c in columns]
    linked = names.index("record_id") if name == "chain_link" else None
    digest = hashlib.sha256()
    count = 0
    with engine.connect() as conn:
        for row in conn.execute(select(*columns).order_by(*order)):
            values = list(row)
            for i, ids in mapped.items():
                values[i] = None if values[i] is None else ids.get(int(values[i]), -1)
            if linked is not None and values[names.index("record_table")] == "import_log":
                values[linked] = ranks["import_log"].get(int(values[linked]), -1)
            digest.update(repr(values).encode())
            digest.update(b"\n")
            count += 1
    return count, digest.hexdigest()


def snapshot(url: str) -> State:
    """The state of the store at ``url`` (see the module's docstring)."""
    engine = make_engine(url)
    try:
        tables = tuple(sorted(inspect(engine).get_table_names()))
        ranks = _ordinals(engine)
        rows = {name: _table_digest(engine, name, ranks) for name in sorted(metadata.tables)}
        found = verify(engine)
        chain = "intact" if found.intact else "; ".join(found.problems[:3])
    finally:
        engine.dispose()
    integrity = "n/a"
    if url.startswith("sqlite"):
        with sqlite3.connect(str(make_url(url).database)) as conn:
            integrity = "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
        conn.close()
    return State(tables, rows, integrity, chain)


# ---------------------------------------------------------------------- stores


class Stores:
    """Stores of one database kind: a "before" store per scenario and copies of it."""

    def __init__(self, kind: str, work: Path, pg_url: str | None) -> None:
        self.kind = kind
        self.work = work
        self.pg_admin = pg_url
        self.prefix = f"ct{os.getpid()}"
        """Names of this run's databases start with it (several runs may share a server)."""

    def url(self, name: str) -> str:
        name = f"{self.prefix}_{name}"
        if self.kind == "sqlite":
            return f"sqlite:///{self.work / (name + '.sqlite')}"
        assert self.pg_admin is not None
        admin = make_url(self.pg_admin).set(drivername="postgresql+psycopg")
        return admin.set(database=name).render_as_string(hide_password=False)

    def _server(self) -> Engine:
        assert self.pg_admin is not None
        admin = make_url(self.pg_admin).set(drivername="postgresql+psycopg")
        return create_engine(admin, isolation_level="AUTOCOMMIT")

    def create(self, name: str, template: str | None = None) -> str:
        """A new store ``name``: empty, or a copy of store ``template``."""
        self.drop(name)
        url = self.url(name)
        name = f"{self.prefix}_{name}"
        if self.kind == "sqlite":
            if template is not None:
                template = f"{self.prefix}_{template}"
                shutil.copyfile(self.work / f"{template}.sqlite", self.work / f"{name}.sqlite")
            return url
        template = None if template is None else f"{self.prefix}_{template}"
        server = self._server()
        with server.connect() as conn:
            like = f' TEMPLATE "{template}"' if template is not None else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{like}'))
        server.dispose()
        return url

    def drop(self, name: str) -> None:
        name = f"{self.prefix}_{name}"
        if self.kind == "sqlite":
            for suffix in (".sqlite", ".sqlite-wal", ".sqlite-shm", ".sqlite-journal"):
                (self.work / f"{name}{suffix}").unlink(missing_ok=True)
            return
        server = self._server()
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()

    def settle(self, name: str) -> None:
        """Wait until no session is left on database ``name`` (a killed client's backend
        notices the closed socket and rolls back)."""
        if self.kind == "sqlite":
            return
        name = f"{self.prefix}_{name}"
        server = self._server()
        deadline = time.monotonic() + SETTLE_S
        try:
            with server.connect() as conn:
                while True:
                    others = conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = :d "
                            "AND pid <> pg_backend_pid()"
                        ),
                        {"d": name},
                    ).scalar_one()
                    if not others:
                        return
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{name}: a session still open {SETTLE_S:g} s on")
                    time.sleep(0.05)
        finally:
            server.dispose()


# ---------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Inputs:
    """What the scenarios read: the CDPH daily testing file, the CPS profiles file and a
    Chicago data folder."""

    testing: Path
    testing_half: Path
    profiles: Path
    chicago: Path


def _records(path: Path) -> list[list[str]]:
    """The CSV records of ``path`` (gzip-compressed or not): a quoted cell may hold newlines."""
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def _write_cut(source: Path, target: Path, rows: int) -> Path:
    """``source``'s header and first ``rows`` records, as plain CSV at ``target``."""
    records = _records(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(records[: 1 + rows])
    return target


def _cut_chicago(data: Path, folder: Path, rows: int) -> Path:
    """A Chicago data folder of ``data``'s files (as ``import chicago`` reads them), each cut
    to its first ``rows`` data rows."""
    for importer in IMPORTERS.values():
        if not importer.chicago:
            continue
        for relative in importer.default_files:
            _write_cut(source_file(data, relative), folder / relative, rows)
    return folder


def prepare_inputs(work: Path, data: Path, schools: int, chicago_rows: int) -> Inputs:
    """The testing file as is and cut to its first half; the profiles cut to ``schools``; the
    Chicago folder as is or cut to ``chicago_rows`` rows a file."""
    testing = IMPORTERS[TESTING].default_paths(data)[0]
    half = _write_cut(testing, work / "testing-first-half.csv", (len(_records(testing)) - 1) // 2)
    profiles = _write_cut(source_file(data, PROFILES), work / "profiles.csv", schools)
    chicago = _cut_chicago(data, work / "chicago", chicago_rows) if chicago_rows else data
    return Inputs(testing, half, profiles, chicago)


def command(scenario: str, url: str, inputs: Inputs, work: Path) -> list[str]:
    exe = Path(sys.executable).with_name("schoolmode")
    program = [str(exe)] if exe.exists() else [sys.executable, "-m", "schoolmode.cli.app"]
    if scenario == "single":
        return [*program, "import", TESTING, str(inputs.testing), "--db", url]
    if scenario == "synth":
        out = str(work / "synth")
        synth = ["district", "synth", "--out", out, "--profiles", str(inputs.profiles)]
        return [*program, *synth, "--import", "--db", url]
    return [*program, "import", "chicago", "--from", str(inputs.chicago), "--db", url]


def fill_before(scenario: str, url: str, inputs: Inputs) -> None:
    """The known state the scenario starts from."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        if scenario == "single":
            run_import(engine, IMPORTERS[TESTING], inputs.testing_half, imported_by="crash")
    finally:
        engine.dispose()


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["SCHOOLMODE_LOCK_WAIT"] = "120"
    env.pop("SCHOOLMODE_DB", None)
    return env


def run_to_end(argv: Sequence[str]) -> tuple[int, float, str]:
    """(exit status, seconds, stderr's tail) of ``argv`` run to its end."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=child_env(), check=False)
    return proc.returncode, time.perf_counter() - t0, proc.stderr[-2000:]


def kill_after(argv: Sequence[str], delay: float) -> bool:
    """Start ``argv``, SIGKILL it ``delay`` seconds later; True if it had ended by then."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env()
    )
    try:
        proc.wait(timeout=delay)
        return True
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return False


# ---------------------------------------------------------------------- trials


@dataclass
class Tally:
    scenario: str
    database: str
    seconds: float = 0.0
    trials: int = 0
    before: int = 0
    after: int = 0
    other: int = 0
    finished_first: int = 0
    rerun_ok: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.other > 0 or self.rerun_ok < self.trials


def trial(
    stores: Stores,
    scenario: str,
    inputs: Inputs,
    work: Path,
    states: tuple[State, State],
    delay: float,
    tally: Tally,
) -> None:
    """One kill, its classification and the rerun."""
    name = f"{scenario}_trial"
    url = stores.create(name, f"{scenario}_before")
    try:
        finished = kill_after(command(scenario, url, inputs, work), delay)
        stores.settle(name)
        state = snapshot(url)
        before, after = states
        tally.trials += 1
        tally.finished_first += finished
        where = f"trial {tally.trials} (kill at {delay:.2f} s)"
        if state == before:
            tally.before += 1
        elif state == after:
            tally.after += 1
        else:
            tally.other += 1
            tally.notes.append(f"{where}: neither before nor after: {state.differences(after)}")
        rc, _, err = run_to_end(command(scenario, url, inputs, work))
        again = snapshot(url)
        if rc == 0 and again == after:
            tally.rerun_ok += 1
        else:
            tally.notes.append(
                f"{where}: the next run exited {rc}, store {again.differences(after)}: {err}"
            )
    finally:
        stores.drop(name)


@contextmanager
def bars(console: Console) -> Iterator[Progress]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        yield progress


def run_scenario(
    stores: Stores,
    scenario: str,
    inputs: Inputs,
    trials: int,
    rng: random.Random,
    progress: Progress,
    tally: Tally,
    report: Callable[[], object],
) -> None:
    """The reference run, then ``trials`` trials counted in ``tally`` (``report`` called
    after each)."""
    work = stores.work / scenario
    work.mkdir(parents=True, exist_ok=True)
    before_url = stores.create(f"{scenario}_before")
    fill_before(scenario, before_url, inputs)
    before = snapshot(before_url)
    reference = stores.create(f"{scenario}_after", f"{scenario}_before")
    rc, seconds, err = run_to_end(command(scenario, reference, inputs, work))
    if rc != 0:
        raise RuntimeError(f"{scenario} on {stores.kind} exited {rc} on the reference run:\n{err}")
    after = snapshot(reference)
    stores.drop(f"{scenario}_after")
    if before == after or after.chain != "intact":
        raise RuntimeError(f"{scenario}: the reference run changed nothing or broke the chain")
    tally.seconds = seconds
    task = progress.add_task(f"{scenario} on {stores.kind} ({seconds:.1f} s a run)", total=trials)
    for _ in range(trials):
        delay = rng.uniform(0.0, seconds)
        trial(stores, scenario, inputs, work, (before, after), delay, tally)
        progress.advance(task)
        report()
    stores.drop(f"{scenario}_before")


HEADER = (
    "scenario",
    "database",
    "run s",
    "trials",
    "before",
    "after",
    "other",
    "ended before the kill",
    "rerun ok",
)


def rows(tallies: Sequence[Tally]) -> list[list[str]]:
    return [
        [
            t.scenario,
            t.database,
            f"{t.seconds:.1f}",
            str(t.trials),
            str(t.before),
            str(t.after),
            str(t.other),
            str(t.finished_first),
            str(t.rerun_ok),
        ]
        for t in tallies
    ]


def write_results(out: Path, tallies: Sequence[Tally]) -> str:
    out.mkdir(parents=True, exist_ok=True)
    table = rows(tallies)
    with (out / "crash_trials.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(table)
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in table]
    markdown = "\n".join(lines) + "\n"
    (out / "crash_trials.md").write_text(markdown, encoding="utf-8")
    notes = [f"{t.scenario} on {t.database}: {n}" for t in tallies for n in t.notes]
    (out / "others.txt").write_text("".join(n + "\n" for n in notes), encoding="utf-8")
    return markdown


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="kills per scenario and database")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    parser.add_argument("--databases", default=",".join(DATABASES), help="comma-separated")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("SCHOOLMODE_TEST_PG_URL"),
        help="a PostgreSQL URL whose role may create databases (default $SCHOOLMODE_TEST_PG_URL)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="Chicago data folder read by every scenario (default: the shipped snapshot)",
    )
    parser.add_argument("--schools", type=int, default=60, help="CPS profiles for `synth`")
    parser.add_argument(
        "--chicago-rows",
        type=int,
        default=0,
        help="cut each file of `import chicago` to its first N rows (default 0: whole files)",
    )
    parser.add_argument("--seed", type=int, default=20261202, help="seed of the kill moments")
    parser.add_argument("--out", type=Path, default=Path("out/crash"), help="results folder")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    console = Console(stderr=True)
    databases = [d for d in args.databases.split(",") if d]
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = (set(databases) - set(DATABASES)) | (set(scenarios) - set(SCENARIOS))
    if unknown:
        console.print(f"unknown scenario or database: {', '.join(sorted(unknown))}")
        return 2
    if "postgresql" in databases and not args.pg_url:
        console.print("PostgreSQL needs --pg-url (or $SCHOOLMODE_TEST_PG_URL)")
        return 2
    work = args.out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    data = args.data or default_data_dir()
    inputs = prepare_inputs(work, data, args.schools, args.chicago_rows)
    rng = random.Random(args.seed)
    tallies = []
    with bars(console) as progress:
        for database in databases:
            stores = Stores(database, work, args.pg_url)
            for scenario in scenarios:
                tallies.append(Tally(scenario, database))
                run_scenario(
                    stores,
                    scenario,
                    inputs,
                    args.trials,
                    rng,
                    progress,
                    tallies[-1],
                    # so far: a long run's tallies as they come
                    lambda: write_results(args.out, tallies),
                )
    shutil.rmtree(work, ignore_errors=True)
    markdown = write_results(args.out, tallies)
    shown = RichTable(title="crash trials")
    for column in HEADER:
        shown.add_column(column)
    for row in rows(tallies):
        shown.add_row(*row)
    Console().print(shown)
    print(markdown)
    for tally in tallies:
        for note in tally.notes:
            console.print(f"{tally.scenario} on {tally.database}: {note}", markup=False)
    return 1 if any(t.failed for t in tallies) else 0


if __name__ == "__main__":
    sys.exit(main())
