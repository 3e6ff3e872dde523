"""The jobs' use cases on SQLite and PostgreSQL, run in this process (``execute`` outside a
Dask worker runs a sweep serially): a simulation job stores its report; a job that fails says
why; equal requests share a key, and the key follows the store's imports."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete, insert, update
from sqlalchemy.exc import DBAPIError

from schoolmode.access.roles import Principal, Role
from schoolmode.app.context import Context, open_context
from schoolmode.app.jobrun import execute
from schoolmode.app.jobs import (
    BacktestJob,
    SimulationJob,
    get_job,
    list_jobs,
    read_file,
    submit,
)
from schoolmode.store.tables import import_log, job_file
from tests.conftest import POLICIES, store_url

WHO = Principal("ops", Role.district_operations)
AGREEMENT = "cps-ctu-2022-01-10"
SMALL = {"seeds": 1, "days": 5, "schools": 2}


@pytest.fixture
def ctx(store: Engine) -> Iterator[Context]:
    with open_context(db_url=store_url(store), policies_dir=POLICIES) as c:
        yield c


def test_a_simulation_job_stores_its_report(ctx: Context) -> None:
    body = SimulationJob(policy_ids=[AGREEMENT, "none"], **SMALL)
    submitted = submit(ctx, "simulation", body, WHO)
    assert submitted.created
    assert execute(ctx.settings, submitted.job.id) == "done"
    view = get_job(ctx, submitted.job.id)
    assert view is not None
    assert view.status == "done"
    assert view.progress == 1.0
    assert view.started_at is not None
    assert view.finished_at is not None
    names = {f.name: f for f in view.files}
    assert {"report.md", "report.html", "outcomes.csv"} <= set(names)
    report = read_file(ctx, view.id, "report.md")
    assert report is not None
    assert report.media_type.startswith("text/markdown")
    assert hashlib.sha256(report.content).hexdigest() == names["report.md"].sha256
    assert execute(ctx.settings, view.id) == "skipped"  # run once only
    again = submit(ctx, "simulation", SimulationJob(**body.model_dump()), WHO)
    assert not again.created
    assert again.job.id == view.id
    # the stored files are append-only
    with pytest.raises(DBAPIError), ctx.engine.begin() as conn:
        conn.execute(update(job_file).values(content=b"forged"))
    with pytest.raises(DBAPIError), ctx.engine.begin() as conn:
        conn.execute(delete(job_file))


def test_a_simulation_sweep_runs_serially_outside_dask(ctx: Context) -> None:
    body = SimulationJob(policy_ids=[AGREEMENT], sweep="tracing.delay_days=1,2", **SMALL)
    job_id = submit(ctx, "simulation", body, WHO).job.id
    assert execute(ctx.settings, job_id) == "done"
    view = get_job(ctx, job_id)
    assert view is not None
    assert {f.name for f in view.files} == {
        "sweep.csv",
        "summary.csv",
        "report.md",
        "report.html",
        "sweep.png",
        "runs.csv",
        "runs.parquet",
        "outbreaks.csv",
    }


def test_a_failed_job_says_why_and_keeps_no_files(ctx: Context) -> None:
    body = SimulationJob(policy_ids=[AGREEMENT], params=["no_such_field=1"], **SMALL)
    job_id = submit(ctx, "simulation", body, WHO).job.id
    assert execute(ctx.settings, job_id) == "failed"
    view = get_job(ctx, job_id)
    assert view is not None
    assert view.status == "failed"
    assert view.message is not None
    assert "no_such_field" in view.message
    assert view.files == []
    assert list_jobs(ctx, status="failed").total == 1
    assert list_jobs(ctx, kind="backtest").total == 0


def test_the_key_follows_the_request_and_the_store(ctx: Context) -> None:
    a = BacktestJob.model_validate(
        {"policy_ids": [AGREEMENT], "start": "2022-01-03", "end": "2022-01-31"}
    )
    b = BacktestJob.model_validate(
        {"end": "2022-01-31", "start": "2022-01-03", "policy_ids": [AGREEMENT]}
    )
    first = submit(ctx, "backtest", a, WHO)
    assert not submit(ctx, "backtest", b, WHO).created  # the same request, keys in any order
    longer = b.model_copy(update={"counterfactual": True})
    assert submit(ctx, "backtest", longer, WHO).created
    with ctx.engine.begin() as conn:  # a file imported: the history read is another
        conn.execute(
            insert(import_log).values(
                source="cdph-daily-cases",
                dataset="cdph-daily-cases",
                record_type="citywide_daily",
                file_name="cases.csv",
                file_sha256="0" * 64,
                imported_by="tests",
                imported_at=dt.datetime.now(dt.UTC),
                status="current",
                rows_in_file=0,
                rows_added=0,
                rows_changed=0,
                rows_removed=0,
                rows_unchanged=0,
                rows_skipped=0,
            )
        )
    after = submit(ctx, "backtest", a, WHO)
    assert after.created
    assert after.job.inputs_sha256 != first.job.inputs_sha256
