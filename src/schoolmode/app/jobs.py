"""Use cases of the API's jobs: backtests, sweeps, simulations and fetches of a source submitted
as requests, run on Dask (``app/jobrun.py``), their state and report files kept in the store
(tables ``job`` and ``job_file``).

A job is known by its key: the sha256 of its kind, its canonical request (sorted JSON), the
software version and the digest of what it reads (the policies' content hashes and, for a
backtest, a sweep or a fetch, the store's current imports). A request whose key matches a job
that has not failed gets that job back: the same inputs are never run twice. A fetch is the
exception: it reads a publisher, which may publish again at any time, so only an identical
fetch still queued or running is given back; once it has finished, the same request fetches
anew. The report files are kept
in the database (with their sha256), so that they survive a restart and travel with the
store's backups, and so that a Dask worker on another machine needs nothing but the store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from sqlalchemy import Engine, func, insert, select, update

from schoolmode import __version__
from schoolmode.access.roles import Principal
from schoolmode.app.context import Context
from schoolmode.app.fetch import FetchReport
from schoolmode.policy.errors import SchoolmodeError, UnknownPolicyError
from schoolmode.store.db import as_utc, begin_write
from schoolmode.store.tables import import_log, job, job_file

Kind = Literal["backtest", "sweep", "simulation", "fetch"]
Status = Literal["queued", "running", "done", "failed"]

MAX_POLICIES = 10
MAX_DAYS = 800
"""Days of history one backtest or sweep may replay (two school years and a summer)."""
MAX_SWEEP_POINTS = 100
"""Policies x values of one sweep."""
MAX_SIM_RUNS = 400
"""Policies x seeds (x values of a sweep) of one simulation."""
INTERRUPTED = "interrupted: the server stopped while the job was queued or running"

PolicyId = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
]
Value = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[^\x00-\x1f,]*$")]
Setting = Annotated[
    str,
    StringConstraints(max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*=[^\x00-\x1f]+$"),
]


class JobFieldError(SchoolmodeError):
    """A request's field names something that does not exist (a face answers 422 naming it)."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(f"{'.'.join(map(str, loc))}: {message}")
        self.loc, self.message = loc, message


class _Period(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    policy_ids: list[PolicyId] = Field(min_length=1, max_length=MAX_POLICIES)
    start: dt.date
    end: dt.date
    counterfactual: bool = False
    """Apply each policy over the whole period, whatever its own term (default: each only
    within its term)."""
    school_year: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{4}$")] | None = None
    """The school profiles to use (default: the earliest stored)."""

    @field_validator("end")
    @classmethod
    def _period(cls, end: dt.date, info: ValidationInfo) -> dt.date:
        start = info.data.get("start")
        if start is None:
            return end
        if end < start:
            raise ValueError(f"{end} is before start {start}")
        if (end - start).days + 1 > MAX_DAYS:
            raise ValueError(f"at most {MAX_DAYS} days from start; {start} to {end} is longer")
        return end


class BacktestJob(_Period):
    """Replay ``start``..``end`` of the stored history through ``policy_ids``; the report as
    ``report.md``, ``report.html``, plots (PNG) and data (CSV, Parquet)."""


class SweepJob(_Period):
    """Backtest ``policy_ids`` once per value of ``param`` (a parameter or interpretation they
    share); ``sweep.md``, ``sweep.csv``, ``sweep.png``. With ``fixed`` (other parameters or
    readings, ``name=value``, set in every backtest: a proposal changing several at once), one
    more row per policy first: the policy as in force (value ``in force``)."""

    param: Name
    values: list[Value] = Field(min_length=1, max_length=50)
    fixed: list[Setting] = Field(default_factory=list, max_length=10)

    @field_validator("values")
    @classmethod
    def _points(cls, values: list[str], info: ValidationInfo) -> list[str]:
        policies = len(info.data.get("policy_ids") or [])
        if policies * len(values) > MAX_SWEEP_POINTS:
            raise ValueError(
                f"{policies} policies x {len(values)} values: at most {MAX_SWEEP_POINTS} backtests"
            )
        return values


class SimulationJob(BaseModel):
    """Simulate ``policy_ids`` (``none``: no policy) on the same seeds of the synthetic district
    (the report: ``report.md``, ``report.html``, plots, ``outcomes.csv``); with ``sweep``
    (``name=v1,v2,...``) every value x policy x seed instead (``sweep.csv``, ``summary.csv``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy_ids: list[PolicyId] = Field(min_length=1, max_length=MAX_POLICIES)
    seeds: int = Field(default=10, ge=1, le=200)
    days: int | None = Field(default=None, ge=1, le=366)
    """Days simulated (default: the scenario's)."""
    schools: int | None = Field(default=None, ge=1, le=1000)
    """Only the first N schools by id (default: the whole district)."""
    params: list[Setting] = Field(default_factory=list, max_length=20)
    """Scenario ``field=value`` settings (dotted names), applied in order."""
    sweep: Setting | None = None

    @field_validator("sweep")
    @classmethod
    def _runs(cls, sweep: str | None, info: ValidationInfo) -> str | None:
        values = len(sweep.partition("=")[2].split(",")) if sweep else 1
        runs = len(info.data.get("policy_ids") or []) * info.data.get("seeds", 10) * values
        if runs > MAX_SIM_RUNS:
            raise ValueError(f"{runs} runs (policies x seeds x values): at most {MAX_SIM_RUNS}")
        return sweep


class FetchJob(BaseModel):
    """Fetch one source from its publisher (``since``: only the rows from that day, merged into
    the cached file) and, with ``load``, import it; the report (``report.json``: each file
    fetched, its digest, rows and status, and each import's outcome) is the job's result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    since: dt.date | None = None
    load: bool = True
    allow_removals: bool = False


REQUESTS: dict[str, type[BaseModel]] = {
    "backtest": BacktestJob,
    "sweep": SweepJob,
    "simulation": SimulationJob,
    "fetch": FetchJob,
}


class JobFile(BaseModel):
    name: str
    media_type: str
    sha256: str
    size: int


class JobView(BaseModel):
    """A job: what was asked, by whom, and where it stands."""

    id: int
    kind: Kind
    status: Status
    message: str | None
    """Why it failed."""
    stage: str | None
    """What it is doing now (or did last)."""
    progress: float
    request: dict[str, Any]
    software_version: str
    inputs_sha256: str
    submitted_at: dt.datetime
    submitted_by: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    files: list[JobFile]


class Submitted(BaseModel):
    job: JobView
    created: bool
    """False: an identical request's job was returned, nothing new runs."""


class JobPage(BaseModel):
    items: list[JobView]
    total: int


class FileContent(BaseModel):
    name: str
    media_type: str
    sha256: str
    content: bytes


def canonical(request: BaseModel) -> str:
    """The request as sorted, compact JSON: equal requests give equal text."""
    return json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def _store_digest(engine: Engine) -> str:
    """sha256 of the store's current imports (source, dataset, file digest): what a backtest
    reads changes only with them."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(import_log.c.source, import_log.c.dataset, import_log.c.file_sha256)
            .where(import_log.c.status == "current")
            .order_by(import_log.c.source, import_log.c.dataset)
        ).all()
    return hashlib.sha256(json.dumps([list(r) for r in rows]).encode()).hexdigest()


def _inputs_digest(ctx: Context, kind: str, request: BaseModel) -> str:
    """The policies' content hashes (each id checked: an unknown one names its field) and, for
    a backtest or sweep, the store's current imports; for a simulation the data folder."""
    hashes = []
    for i, pid in enumerate(getattr(request, "policy_ids", [])):
        if kind == "simulation" and pid == "none":
            hashes.append("none")
            continue
        try:
            hashes.append(ctx.registry.get(pid).content_hash)
        except UnknownPolicyError:
            raise JobFieldError(("body", "policy_ids", i), f"no policy {pid!r}") from None
    reads = str(ctx.settings.data_dir) if kind == "simulation" else _store_digest(ctx.engine)
    text = json.dumps({"policies": hashes, "reads": reads})
    return hashlib.sha256(text.encode()).hexdigest()


def job_key(kind: str, request_json: str, inputs: str) -> str:
    text = json.dumps([kind, request_json, __version__, inputs])
    return hashlib.sha256(text.encode()).hexdigest()


def submit(ctx: Context, kind: Kind, request: BaseModel, who: Principal) -> Submitted:
    """A new queued job for ``request``, or the job of an identical one (same request, software
    version and inputs) that has not failed (a fetch: that is still queued or running)."""
    text = canonical(request)
    inputs = _inputs_digest(ctx, kind, request)
    key = job_key(kind, text, inputs)
    reusable = (
        job.c.status.in_(("queued", "running")) if kind == "fetch" else job.c.status != "failed"
    )
    with begin_write(ctx.engine) as conn:
        found = conn.execute(
            select(job.c.id)
            .where(job.c.key_sha256 == key, reusable)
            .order_by(job.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if found is None:
            inserted = conn.execute(
                insert(job).values(
                    kind=kind,
                    request_json=text,
                    key_sha256=key,
                    software_version=__version__,
                    inputs_sha256=inputs,
                    status="queued",
                    progress=0.0,
                    submitted_at=dt.datetime.now(dt.UTC),
                    submitted_by=who.name or "anonymous",
                )
            ).inserted_primary_key
            assert inserted is not None
            found = inserted[0]
            created = True
        else:
            created = False
    view = get_job(ctx, int(found))
    assert view is not None
    return Submitted(job=view, created=created)


def _views(engine: Engine, rows: list[Any]) -> list[JobView]:
    ids = [r.id for r in rows]
    files: dict[int, list[JobFile]] = {i: [] for i in ids}
    if ids:
        with engine.connect() as conn:
            for f in conn.execute(
                select(
                    job_file.c.job_id,
                    job_file.c.name,
                    job_file.c.media_type,
                    job_file.c.sha256,
                    job_file.c.size,
                )
                .where(job_file.c.job_id.in_(ids))
                .order_by(job_file.c.job_id, job_file.c.name)
            ):
                files[f.job_id].append(
                    JobFile(name=f.name, media_type=f.media_type, sha256=f.sha256, size=f.size)
                )

    def when(value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else as_utc(value)

    return [
        JobView(
            id=r.id,
            kind=r.kind,
            status=r.status,
            message=r.message,
            stage=r.stage,
            progress=r.progress,
            request=json.loads(r.request_json),
            software_version=r.software_version,
            inputs_sha256=r.inputs_sha256,
            submitted_at=as_utc(r.submitted_at),
            submitted_by=r.submitted_by,
            started_at=when(r.started_at),
            finished_at=when(r.finished_at),
            files=files[r.id],
        )
        for r in rows
    ]


def get_job(ctx: Context, job_id: int) -> JobView | None:
    with ctx.engine.connect() as conn:
        row = conn.execute(select(job).where(job.c.id == job_id)).one_or_none()
    return _views(ctx.engine, [row])[0] if row is not None else None


def list_jobs(
    ctx: Context,
    kind: Kind | None = None,
    status: Status | None = None,
    submitted_from: dt.date | None = None,
    submitted_to: dt.date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> JobPage:
    """The jobs, newest first (of a kind, in a status, submitted between two days, UTC)."""
    where = []
    if kind is not None:
        where.append(job.c.kind == kind)
    if status is not None:
        where.append(job.c.status == status)
    if submitted_from is not None:
        first = dt.datetime.combine(submitted_from, dt.time(), dt.UTC)
        where.append(job.c.submitted_at >= first)
    if submitted_to is not None:
        after = dt.datetime.combine(submitted_to + dt.timedelta(days=1), dt.time(), dt.UTC)
        where.append(job.c.submitted_at < after)
    with ctx.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(job).where(*where)).scalar_one()
        rows = conn.execute(
            select(job).where(*where).order_by(job.c.id.desc()).limit(limit).offset(offset)
        ).all()
    return JobPage(items=_views(ctx.engine, list(rows)), total=int(total))


def read_file(ctx: Context, job_id: int, name: str) -> FileContent | None:
    """One report file of a job (None: no such job or file)."""
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(job_file.c.media_type, job_file.c.sha256, job_file.c.content).where(
                job_file.c.job_id == job_id, job_file.c.name == name
            )
        ).one_or_none()
    if row is None:
        return None
    return FileContent(
        name=name, media_type=row.media_type, sha256=row.sha256, content=bytes(row.content)
    )


def mark_interrupted(ctx: Context) -> int:
    """At a server's start: every job still queued or running was lost with the server that
    ran it: marked failed (``INTERRUPTED``), never left running. How many."""
    with begin_write(ctx.engine) as conn:
        result = conn.execute(
            update(job)
            .where(job.c.status.in_(("queued", "running")))
            .values(status="failed", message=INTERRUPTED, finished_at=dt.datetime.now(dt.UTC))
        )
    return int(result.rowcount)


FETCH_REPORT = "report.json"
"""The file a finished fetch job stores its report in."""


class FetchJobView(JobView):
    """A fetch job, with its report once done."""

    report: FetchReport | None
    """Each file fetched and each import's outcome (None until the job is done)."""


def get_fetch(ctx: Context, job_id: int) -> FetchJobView | None:
    """Fetch job ``job_id`` with its report; None when there is no such job or it is not a
    fetch."""
    found = get_job(ctx, job_id)
    if found is None or found.kind != "fetch":
        return None
    stored = read_file(ctx, job_id, FETCH_REPORT)
    report = None if stored is None else FetchReport.model_validate_json(stored.content)
    return FetchJobView(**found.model_dump(), report=report)
