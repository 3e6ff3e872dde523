"""Transactional import service: one file = one transaction, several files imported together
(``import_set``: ``import chicago``, ``district synth --import``) = one transaction.

- One writer per source: the transaction first takes the import lock of each of its sources
  (``store.locks.writing``: a PostgreSQL advisory lock, SQLite's write lock). A second import
  waits for the first to commit (told through ``on_wait``), then decides everything (is the
  file unchanged? what does it add, change, remove?) on what the first committed; after
  ``wait`` seconds it is refused (:class:`StoreBusy`), nothing written.

- A file whose sha256 digest equals the current import of its source changes nothing.
- Otherwise the file's records replace the records of the same ``(source, dataset)``: rows whose
  natural key is new are added, rows whose values differ are replaced, identical rows are left
  as they were (keeping the import that wrote them). Rows missing from the new file are removed
  only when the caller allows it (``allow_removals``, ``--allow-removals``): otherwise the file
  is refused with the number of rows it would remove (:class:`RemovalRefused`), so a short or
  truncated file never deletes a dataset. A file with no data rows is refused whenever the
  dataset holds rows (with or without ``allow_removals``).
  The earlier import is marked ``superseded``; the log keeps both (who, when, digest, counts).
- Writing is set-based (``store.bulk``): PostgreSQL ``COPY`` into a TEMP staging table and one
  merge, SQLite multi-row ``INSERT`` in large slices on the import's connection; the stored dataset
  is read back by column, not row by row.
- Every import-log entry written is linked into the audit hash chain (``store/chain.py``) in
  the same transaction, after the last file.
- A file with any validation error writes nothing (:class:`FileValidationError`), and a failure
  or a killed process mid-write leaves the store as before (the transaction never commits).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from schoolmode.standard.batch import ROW, Batch, FileValidationError, frame_schema, validate_batch
from schoolmode.store import bulk
from schoolmode.store.chain import append_link
from schoolmode.store.db import whoami
from schoolmode.store.frames import table_frame
from schoolmode.store.locks import LOCK_WAIT, StoreBusy, Waiting, writing
from schoolmode.store.log import import_history, last_imports, row_counts
from schoolmode.store.parser import Parser
from schoolmode.store.tables import RECORD_TABLES, import_log

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` while an import runs."""


@dataclass(frozen=True)
class ImportResult:
    """What one import did."""

    source: str
    dataset: str
    file: str
    sha256: str
    status: str
    """``imported`` or ``unchanged`` (same digest as the current import)."""
    import_id: int
    rows_in_file: int
    added: int
    changed: int
    removed: int
    unchanged: int
    skipped: int

    def summary(self) -> str:
        if self.status == "unchanged":
            return (
                f"{self.source}/{self.dataset}: unchanged (same file as import #{self.import_id})"
            )
        return (
            f"{self.source}/{self.dataset}: import #{self.import_id}: {self.rows_in_file} rows, "
            f"{self.added} added, {self.changed} changed, {self.removed} removed, "
            f"{self.unchanged} unchanged, {self.skipped} skipped"
        )


class ImportFailed(Exception):
    """The database refused the file (e.g. a key already owned by another dataset)."""


class RemovalRefused(ImportFailed):
    """The file would remove stored rows and the caller did not allow removals."""


def _guard_removals(
    path: Path, batch: Batch, stored: int, removed: pl.DataFrame, allow_removals: bool
) -> None:
    """Refuse a file with no data rows over ``stored`` rows (always), and a file that would
    remove stored rows (``removed``: their keys) unless removals are allowed."""
    if batch.frame.height == 0 and stored:
        raise RemovalRefused(
            f"{path}: the file has no data rows, and {stored:,} rows of {batch.source} dataset "
            f"{batch.dataset} are stored; nothing imported (an empty file never replaces a "
            "dataset, --allow-removals or not)"
        )
    if removed.height == 0 or allow_removals:
        return
    keys = list(batch.model.natural_key)
    sample = ", ".join(
        "(" + ", ".join(str(v) for v in row) + ")" for row in removed.select(keys).head(3).rows()
    )
    raise RemovalRefused(
        f"{path}: this file would remove {removed.height:,} of the {stored:,} stored rows of "
        f"{batch.source} dataset {batch.dataset} (rows of the stored import missing from the "
        f"file, e.g. {', '.join(keys)} = {sample}); nothing imported. If the publisher really "
        "dropped them, import the file again with --allow-removals."
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _current_import(conn: Connection, source: str, **where: str) -> Any:
    query = select(import_log).where(
        import_log.c.source == source, import_log.c.status == "current"
    )
    for column, value in where.items():
        query = query.where(import_log.c[column] == value)
    return conn.execute(query.order_by(import_log.c.id.desc())).first()


def _existing(conn: Connection, batch: Batch) -> pl.DataFrame:
    """The stored rows of the batch's dataset (every import of its source and dataset), read
    by column: COPY on PostgreSQL, ``store.frames.table_frame`` on SQLite."""
    table = RECORD_TABLES[batch.model.record_name]
    schema = frame_schema(batch.model)
    imports = select(import_log.c.id).where(
        import_log.c.source == batch.source, import_log.c.dataset == batch.dataset
    )
    where = table.c.import_id.in_(imports.scalar_subquery())
    if conn.dialect.name == "postgresql":
        return bulk.pg_frame(conn, table, schema, where)
    return table_frame(conn, table, schema, where)


def diff_frames(
    old: pl.DataFrame, new: pl.DataFrame, key: Sequence[str]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, int]:
    """``(added, changed, removed_keys, unchanged_count)`` between two frames keyed by ``key``
    (``old`` empty, a new dataset: every row of ``new`` is added, no join)."""
    keys = list(key)
    if old.height == 0:
        return new, new.clear(), old.select(keys), 0
    values = [c for c in new.columns if c not in key and c != ROW]
    joined = new.join(old, on=keys, how="left", suffix="__old", nulls_equal=True)
    marker = old.select(keys).with_columns(pl.lit(True).alias("__present"))
    joined = joined.join(marker, on=keys, how="left", nulls_equal=True)
    present = pl.col("__present").fill_null(False)
    differs = pl.lit(False)
    for c in values:
        differs = differs | pl.col(c).ne_missing(pl.col(f"{c}__old"))
    added = joined.filter(~present).select(new.columns)
    changed = joined.filter(present & differs).select(new.columns)
    unchanged = joined.filter(present & ~differs).height
    removed = old.select(keys).join(new.select(keys), on=keys, how="anti", nulls_equal=True)
    return added, changed, removed, unchanged


def run_import(
    engine: Engine,
    parser: Parser,
    path: Path,
    *,
    imported_by: str | None = None,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
    allow_removals: bool = False,
    wait: float = LOCK_WAIT,
    on_wait: Waiting | None = None,
) -> ImportResult:
    """Import one file in one transaction. Raises FileValidationError / ImportFailed
    (:class:`RemovalRefused` when the file would remove stored rows and ``allow_removals`` is
    false, or has no data rows) / :class:`StoreBusy` (another import of the source held the
    lock for more than ``wait`` seconds; ``on_wait`` is told when it starts waiting)."""
    return import_set(
        engine,
        [(parser, path)],
        imported_by=imported_by,
        progress=progress,
        now=now,
        allow_removals=allow_removals,
        wait=wait,
        on_wait=on_wait,
    )[0]


def import_set(
    engine: Engine,
    jobs: Sequence[tuple[Parser, Path]],
    *,
    imported_by: str | None = None,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
    allow_removals: bool = False,
    wait: float = LOCK_WAIT,
    on_wait: Waiting | None = None,
    started: Callable[[int], None] | None = None,
) -> list[ImportResult]:
    """Import several files (``(parser, path)``, in order) in ONE transaction holding the
    import lock of each of their sources: all of them are imported, or (the first error
    raised, ``started`` having been told the index of the file it came from) none. A second
    import of one of the sources waits for the first to commit and then decides on what it
    committed (an identical file is then ``unchanged``)."""
    paths = [Path(path) for _, path in jobs]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
    who = imported_by or whoami()
    digests = [file_sha256(path) for path in paths]
    sources = [parser.source for parser, _ in jobs]
    results = []
    with writing(engine, sources, "import", wait=wait, on_wait=on_wait) as conn:
        for index, ((parser, _), path, digest) in enumerate(zip(jobs, paths, digests, strict=True)):
            if started is not None:
                started(index)
            try:
                result = _import_file(
                    conn, parser, path, digest, who, progress, now, allow_removals
                )
            except IntegrityError as exc:
                raise ImportFailed(
                    f"{path}: the database refused the file, nothing imported: {exc.orig}"
                ) from exc
            results.append(result)
        for result in results:  # last: the chain's lock (PostgreSQL) is held only to commit
            if result.status == "imported":
                append_link(conn, "import_log", result.import_id)
    return results


def _import_file(
    conn: Connection,
    parser: Parser,
    path: Path,
    digest: str,
    who: str,
    progress: Progress | None,
    now: dt.datetime | None,
    allow_removals: bool,
) -> ImportResult:
    """One file inside the import transaction (its source's lock held)."""
    same = _current_import(conn, parser.source, file_sha256=digest)
    if same is not None:
        return _unchanged(same)
    batch = parser.parse(path)
    if batch.source != parser.source:
        raise ValueError(f"importer {parser.source} produced a batch for {batch.source}")
    validate_batch(batch)
    new = batch.frame
    table = RECORD_TABLES[batch.model.record_name]
    previous = _current_import(conn, batch.source, dataset=batch.dataset)
    old = _existing(conn, batch)
    added, changed, removed, unchanged = diff_frames(old, new, batch.model.natural_key)
    _guard_removals(path, batch, old.height, removed, allow_removals)
    if previous is not None:
        # first: at most one import of a dataset is current (a unique index says so)
        conn.execute(
            update(import_log).where(import_log.c.id == previous.id).values(status="superseded")
        )
    import_id = conn.execute(
        insert(import_log)
        .values(
            source=batch.source,
            dataset=batch.dataset,
            record_type=batch.model.record_name,
            file_name=path.name,
            file_sha256=digest,
            imported_by=who,
            imported_at=now or dt.datetime.now(dt.UTC),
            status="current",
            supersedes_id=previous.id if previous is not None else None,
            rows_in_file=new.height,
            rows_added=added.height,
            rows_changed=changed.height,
            rows_removed=removed.height,
            rows_unchanged=unchanged,
            rows_skipped=batch.skipped_rows,
            notes="\n".join(batch.notes) or None,
        )
        .returning(import_log.c.id)
    ).scalar_one()
    to_write = (
        pl.concat([added, changed])
        .drop(ROW)
        .with_columns(pl.lit(import_id, dtype=pl.Int64).alias("import_id"))
    )
    bulk.replace_rows(
        conn,
        table,
        batch.model.natural_key,
        pl.concat([removed, changed.select(removed.columns)]),
        to_write,
        None if progress is None else lambda done, total: progress("write", done, total),
    )
    return ImportResult(
        source=batch.source,
        dataset=batch.dataset,
        file=str(path),
        sha256=digest,
        status="imported",
        import_id=int(import_id),
        rows_in_file=new.height,
        added=added.height,
        changed=changed.height,
        removed=removed.height,
        unchanged=unchanged,
        skipped=batch.skipped_rows,
    )


def _unchanged(row: Any) -> ImportResult:
    return ImportResult(
        source=row.source,
        dataset=row.dataset,
        file=row.file_name,
        sha256=row.file_sha256,
        status="unchanged",
        import_id=row.id,
        rows_in_file=row.rows_in_file,
        added=0,
        changed=0,
        removed=0,
        unchanged=row.rows_in_file,
        skipped=row.rows_skipped,
    )


__all__ = [
    "FileValidationError",
    "ImportFailed",
    "ImportResult",
    "Parser",
    "StoreBusy",
    "diff_frames",
    "file_sha256",
    "import_history",
    "import_set",
    "last_imports",
    "row_counts",
    "run_import",
]
