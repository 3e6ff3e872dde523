"""The public evidence pages: finished backtest, sweep and simulation jobs published under a
title and a note by someone allowed to (``evidence:publish``), their report shown to anyone
with its plots and data files.

Publishing checks the job's data files first: a backtest or a sweep replays the district's real
history, so a column counting people (students, staff, teachers, cases, people) holding a count
from 1 to 10 refuses the publication, naming the file and the column (the public pages never
show such a count; the job stays readable by those who may read jobs). A simulation's people
are synthetic agents, so its files are published as they are. A publication is never changed;
the same job is published once."""

from __future__ import annotations

import datetime as dt
import io
import re

import polars as pl
from markdown_it import MarkdownIt
from pydantic import BaseModel, ConfigDict
from sqlalchemy import insert, select

from schoolmode.access.roles import Principal
from schoolmode.app import jobs as jobs_uc
from schoolmode.app.context import Context
from schoolmode.disclosure import rule_on
from schoolmode.policy.errors import SchoolmodeError, UnknownIdError
from schoolmode.store.db import as_utc, begin_write
from schoolmode.store.tables import evidence, job_file

PUBLISHABLE = ("backtest", "sweep", "simulation")
REAL_HISTORY = ("backtest", "sweep")
"""Job kinds whose figures come from the stored real history (checked for small counts)."""
PEOPLE = re.compile(r"student|staff|teacher|people|person|case|infect", re.IGNORECASE)
"""A column whose name says it counts people."""


class EvidenceError(SchoolmodeError):
    """A job cannot be published: the message says why."""


class UnknownEvidence(EvidenceError, UnknownIdError):
    """No such publication (or no such file of it)."""


class Evidence(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    job_id: int
    kind: str
    title: str
    note: str
    published_at: dt.datetime
    published_by: str
    request: dict[str, object]
    """What the job was asked (policies, period, values)."""
    files: list[str]


def small_counts(name: str, content: bytes) -> list[str]:
    """The columns of a CSV file counting people that hold a count the dated disclosure rule
    withholds (1 to 10): "FILE, column COL (3 rows)"."""
    rule = rule_on()
    try:
        frame = pl.read_csv(io.BytesIO(content), infer_schema_length=10_000)
    except (pl.exceptions.PolarsError, ValueError):
        return []
    out = []
    for column in frame.columns:
        if not PEOPLE.search(column) or not frame[column].dtype.is_numeric():
            continue
        values = frame[column].cast(pl.Float64, strict=False)
        small = int(((values >= rule.low) & (values <= rule.high)).sum())
        if small:
            out.append(f"{name}, column {column!r} ({small} row{'s' if small != 1 else ''})")
    return out


def publish(ctx: Context, who: Principal, job_id: int, title: str, note: str) -> Evidence:
    """Publish a finished job on the evidence pages (refused: not finished, not a report, a
    small count of people in its data, already published)."""
    if not title.strip():
        raise EvidenceError("a publication needs a title")
    found = jobs_uc.get_job(ctx, job_id)
    if found is None:
        raise UnknownEvidence(f"no job {job_id}")
    if found.kind not in PUBLISHABLE:
        raise EvidenceError(f"job {job_id} is a {found.kind} job: only reports are published")
    if found.status != "done":
        raise EvidenceError(f"job {job_id} is {found.status}: only a finished job is published")
    if found.kind in REAL_HISTORY:
        problems = []
        for f in found.files:
            if f.name.endswith(".csv"):
                content = jobs_uc.read_file(ctx, job_id, f.name)
                if content is not None:
                    problems += small_counts(f.name, content.content)
        if problems:
            rule = rule_on()
            raise EvidenceError(
                f"job {job_id} holds counts of people from {rule.low} to {rule.high}, which the "
                "public pages never show: " + "; ".join(problems)
            )
    with begin_write(ctx.engine) as conn:
        if conn.execute(select(evidence.c.id).where(evidence.c.job_id == job_id)).first():
            raise EvidenceError(f"job {job_id} is already published")
        key = conn.execute(
            insert(evidence).values(
                job_id=job_id,
                title=title.strip(),
                note=note,
                published_at=dt.datetime.now(dt.UTC),
                published_by=who.name or "unknown",
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    return get_evidence(ctx, int(key))


def list_evidence(ctx: Context) -> list[Evidence]:
    """Every publication, newest first."""
    with ctx.engine.connect() as conn:
        keys = conn.execute(select(evidence.c.id).order_by(evidence.c.id.desc())).scalars()
        ids = [int(k) for k in keys]
    return [get_evidence(ctx, k) for k in ids]


def get_evidence(ctx: Context, evidence_id: int) -> Evidence:
    with ctx.engine.connect() as conn:
        row = conn.execute(select(evidence).where(evidence.c.id == evidence_id)).first()
        if row is None:
            raise UnknownEvidence(f"no evidence {evidence_id}")
        names = conn.execute(
            select(job_file.c.name).where(job_file.c.job_id == row.job_id).order_by(job_file.c.name)
        ).scalars()
        files = [str(n) for n in names]
    found = jobs_uc.get_job(ctx, int(row.job_id))
    assert found is not None  # a foreign key
    return Evidence(
        id=int(row.id),
        job_id=int(row.job_id),
        kind=found.kind,
        title=row.title,
        note=row.note,
        published_at=as_utc(row.published_at),
        published_by=row.published_by,
        request=found.request,
        files=files,
    )


def evidence_file(ctx: Context, evidence_id: int, name: str) -> jobs_uc.FileContent:
    """A file of a published job (never one of a job not published)."""
    found = get_evidence(ctx, evidence_id)
    content = jobs_uc.read_file(ctx, found.job_id, name) if name in found.files else None
    if content is None:
        raise UnknownEvidence(f"evidence {evidence_id} has no file {name!r}")
    return content


REPORTS = ("report.md", "sweep.md")
_LINK = re.compile(r'(src|href)="(?!https?://|/|#|mailto:)([^"]+)"')


def report_html(ctx: Context, evidence_id: int) -> str | None:
    """The job's report (Markdown) as HTML, raw HTML in it escaped, its links to its own files
    pointing at the evidence's file route (None: the job wrote no report)."""
    found = get_evidence(ctx, evidence_id)
    name = next((n for n in REPORTS if n in found.files), None)
    if name is None:
        return None
    text = evidence_file(ctx, evidence_id, name).content.decode("utf-8")
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return _LINK.sub(lambda m: f'{m[1]}="/evidence/{evidence_id}/files/{m[2]}"', html)
