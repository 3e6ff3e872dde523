"""Running the API's jobs on Dask: :class:`JobRunner` (held by the server) sends each new job
to a Dask client (``parallel.dask_client``: the scheduler of the settings, or a LocalCluster
started on the first job), and :func:`execute` runs it on a worker: the existing use cases
(``app/backtests.py``, ``app/simulation.py``, ``app/fetch.py``) into a temporary folder, whose
files are then stored with the job.

A job is claimed (queued -> running) and finished (running -> done or failed, with its files)
each in one transaction, conditionally: a job marked failed meanwhile (interrupted, at a
server's start) keeps that state and its late result is dropped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import mimetypes
import tempfile
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, insert, select, update

from schoolmode.app import backtests, fetch, simulation
from schoolmode.app.context import Context
from schoolmode.app.jobs import (
    FETCH_REPORT,
    REQUESTS,
    BacktestJob,
    FetchJob,
    SimulationJob,
    SweepJob,
)
from schoolmode.parallel import dask_client
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.settings import AppSettings
from schoolmode.store.db import begin_write
from schoolmode.store.tables import job, job_file

if TYPE_CHECKING:
    from distributed import Client

MEDIA_TYPES = {
    ".md": "text/markdown; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".png": "image/png",
    ".parquet": "application/vnd.apache.parquet",
    ".json": "application/json",
}


def media_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in MEDIA_TYPES:
        return MEDIA_TYPES[suffix]
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


class Progress:
    """Tells the job's row what the use case is doing (``stage``, ``progress``): the use cases'
    stage callback, ``Steps`` and ``started`` callback in one."""

    def __init__(self, engine: Engine, job_id: int, stages: int = 1) -> None:
        self.engine, self.job_id = engine, job_id
        self.total, self.done = stages, 0

    def _write(self, stage: str | None = None) -> None:
        values: dict[str, Any] = {"progress": min(self.done / max(self.total, 1), 1.0)}
        if stage is not None:
            values["stage"] = stage[:200]
        with begin_write(self.engine) as conn:
            conn.execute(
                update(job)
                .where(job.c.id == self.job_id, job.c.status == "running")
                .values(**values)
            )

    def stage(self, description: str) -> None:
        """A backtest's next stage (of ``stages``)."""
        self._write(description)
        self.done += 1

    def start(self, description: str, total: int) -> None:
        self.total, self.done = total, 0
        self._write(description)

    def advance(self, description: str | None = None) -> None:
        self.done += 1
        self._write(description)

    def started(self, runs: int, where: str) -> None:
        self._write(f"{runs} backtests on {where}")


def _claim(engine: Engine, job_id: int) -> tuple[str, dict[str, Any], str] | None:
    """Mark a queued job running: its kind, request and who submitted it (None: not queued)."""
    with begin_write(engine) as conn:
        claimed = conn.execute(
            update(job)
            .where(job.c.id == job_id, job.c.status == "queued")
            .values(status="running", started_at=dt.datetime.now(dt.UTC), stage="started")
        ).rowcount
        if claimed != 1:
            return None
        row = conn.execute(
            select(job.c.kind, job.c.request_json, job.c.submitted_by).where(job.c.id == job_id)
        ).one()
    return str(row.kind), json.loads(row.request_json), str(row.submitted_by)


def _finish(
    engine: Engine, job_id: int, status: str, message: str | None, files: dict[str, bytes]
) -> bool:
    """Record the outcome (and the files) unless the job is no longer running."""
    with begin_write(engine) as conn:
        done = conn.execute(
            update(job)
            .where(job.c.id == job_id, job.c.status == "running")
            .values(
                status=status,
                message=message,
                progress=1.0 if status == "done" else job.c.progress,
                finished_at=dt.datetime.now(dt.UTC),
            )
        ).rowcount
        if done != 1:
            return False
        if files:
            conn.execute(
                insert(job_file),
                [
                    {
                        "job_id": job_id,
                        "name": name,
                        "media_type": media_type(name),
                        "sha256": hashlib.sha256(content).hexdigest(),
                        "size": len(content),
                        "content": content,
                    }
                    for name, content in sorted(files.items())
                ],
            )
    return True


def _scheduler_here() -> str | None:
    """The address of the scheduler of the Dask worker running this task, having left the
    worker's pool of task threads (so that the sweep's own tasks can run on it); None outside a
    worker (run serially)."""
    # optional heavy dependency: imported only when a job runs
    from distributed import get_worker, secede

    try:
        worker = get_worker()
    except ValueError:
        return None
    secede()  # type: ignore[no-untyped-call]
    return str(worker.scheduler.address)


def _run(ctx: Context, kind: str, raw: dict[str, Any], out: Path, told: Progress, by: str) -> None:
    request = REQUESTS[kind].model_validate(raw)
    if isinstance(request, BacktestJob):
        told.total = 3
        backtests.backtest(
            ctx, backtests.BacktestRequest(**request.model_dump(), out=out), told.stage
        )
    elif isinstance(request, SweepJob):
        scheduler = _scheduler_here()
        req = backtests.SweepRequest(
            **request.model_dump(), out=out, scheduler=scheduler, workers=0 if not scheduler else 1
        )
        backtests.sweep(ctx, req, told.started)
    elif isinstance(request, SimulationJob):
        _simulate(ctx, request, out, told)
    elif isinstance(request, FetchJob):
        _fetch(ctx, request, out, told, by)


def _fetch(ctx: Context, request: FetchJob, out: Path, told: Progress, by: str) -> None:
    """Fetch (and import) one source; the report is the job's file. A job whose every file
    failed to come, or whose import was refused, fails with their errors."""
    told.start(f"fetching {request.source}", 1)
    req = fetch.FetchRequest(**request.model_dump(), by=by)
    report = fetch.fetch(ctx, req)
    (out / FETCH_REPORT).write_text(report.model_dump_json(indent=2), encoding="utf-8")
    failed = [f"{o.source}: {o.error}" for o in report.fetched if o.error is not None]
    if failed and len(failed) == len(report.fetched):
        raise SchoolmodeError("the publisher could not be fetched: " + "; ".join(failed))
    if report.imports is not None and report.imports.failed:
        refused = [o.error for o in report.imports.outcomes if o.error is not None]
        raise SchoolmodeError("the fetched file was not imported: " + "; ".join(refused))


def _simulate(ctx: Context, request: SimulationJob, out: Path, told: Progress) -> None:
    common = {"policy_ids": request.policy_ids, "out": out, "seeds": request.seeds}
    common |= {"days": request.days, "schools": request.schools}
    if request.sweep is None:
        simulation.simulate(ctx, simulation.SimRequest(**common, params=request.params), told)
        return
    if request.params:
        raise SchoolmodeError("params: a simulation sweep takes no other settings")
    scheduler = _scheduler_here()
    told.start(f"sweep {request.sweep}", 1)
    simulation.sweep(
        ctx,
        simulation.SimSweepRequest(
            **common, param=request.sweep, scheduler=scheduler, workers=0 if not scheduler else 1
        ),
    )


def execute(settings: AppSettings, job_id: int) -> str:
    """Run job ``job_id`` (on a Dask worker, or anywhere with the store): claim it, run its use
    case into a temporary folder, store the files; its final status (``skipped``: not queued)."""
    ctx = Context(settings)
    try:
        claimed = _claim(ctx.engine, job_id)
        if claimed is None:
            return "skipped"
        kind, raw, by = claimed
        with tempfile.TemporaryDirectory(prefix=f"schoolmode-job-{job_id}-") as tmp:
            out = Path(tmp)
            try:
                _run(ctx, kind, raw, out, Progress(ctx.engine, job_id), by)
            except Exception as exc:  # every failure is the job's outcome, with its cause
                message = str(exc) if isinstance(exc, SchoolmodeError) else repr(exc)
                _finish(ctx.engine, job_id, "failed", message[:2000], {})
                return "failed"
            files = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}
        return "done" if _finish(ctx.engine, job_id, "done", None, files) else "interrupted"
    finally:
        ctx.close()


class JobRunner:
    """The server's way to Dask: a client made on the first job (of ``settings.jobs_scheduler``,
    or of a LocalCluster of ``settings.jobs_workers`` processes) and closed with the server."""

    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings
        self._stack = ExitStack()
        self._client: Client | None = None
        self._lock = threading.Lock()

    def start(self, job_id: int) -> None:
        """Send job ``job_id`` to the cluster; it runs even if nobody waits for it."""
        # optional heavy dependency: imported only when a job is sent
        from distributed import fire_and_forget

        with self._lock:
            if self._client is None:
                self._client = self._stack.enter_context(
                    dask_client(self.settings.jobs_workers, self.settings.jobs_scheduler)
                )
            future = self._client.submit(
                execute, self.settings, job_id, key=f"schoolmode-job-{job_id}", pure=False
            )
            fire_and_forget(future)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        """Close the client (and the LocalCluster: its running jobs stop, to be marked failed
        at the next start)."""
        with self._lock:
            self._stack.close()
            self._client = None
