"""Jobs through the API on SQLite and PostgreSQL, run by a real Dask cluster (the session's
LocalCluster of two worker processes, given as the scheduler): 202, polled to done, the report
downloaded; an identical request gets the same job; bad requests 422 naming the field; a fetch
of a source from the local publisher (tests/fetch/publisher.py: nothing leaves the machine)."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import time
import urllib.error
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from schoolmode.access.roles import Principal, Role
from schoolmode.api.app import create_app
from schoolmode.app.context import open_context
from schoolmode.app.jobrun import _claim, _finish
from schoolmode.app.jobs import (
    INTERRUPTED,
    BacktestJob,
    FetchJob,
    get_fetch,
    get_job,
    submit,
)
from schoolmode.settings import AppSettings
from schoolmode.store.migrate import upgrade
from tests.api.conftest import DAY, Api
from tests.api.test_serve import SCHOOLMODE, STARTUP_DEADLINE_S, _free_port, _get
from tests.fetch.conftest import publisher_settings
from tests.fetch.publisher import Publisher, Serving

if TYPE_CHECKING:
    from distributed import Client

AGREEMENT = "cps-ctu-2022-01-10"
BACKTEST = {
    "policy_ids": [AGREEMENT],
    "start": (DAY - dt.timedelta(days=9)).isoformat(),
    "end": DAY.isoformat(),
}
OPS = "district-operations"


@pytest.fixture(scope="module")
def served() -> Iterator[Publisher]:
    """The publishers, served from the test fixtures on 127.0.0.1."""
    serving = Serving(Publisher.from_fixtures())
    try:
        yield serving.publisher
    finally:
        serving.close()


@pytest.fixture(scope="module")
def jobs(
    api: Api,
    dask_cluster: Client,
    served: Publisher,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestClient]:
    """A second server on the same store whose jobs run on the session's Dask cluster, and
    whose fetches go to ``served``."""
    settings = AppSettings.load(
        db_url=api.ctx.settings.db_url,
        jobs_scheduler=dask_cluster.scheduler.address,
        api_rate_anonymous=10**6,
        api_rate_token=10**6,
        **publisher_settings(served.base, tmp_path_factory.mktemp("jobs-cache")),
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _finished(client: TestClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    """The job at ``url`` once done or failed (polled; no fixed wait decides the outcome)."""
    for _ in range(3000):
        view = client.get(url, headers=headers).json()
        if view["status"] in ("done", "failed"):
            return dict(view)
        time.sleep(0.1)
    raise AssertionError(f"the job did not finish: {view}")


def test_a_backtest_runs_to_done_and_its_report_downloads(api: Api, jobs: TestClient) -> None:
    headers = api.as_(OPS)
    posted = jobs.post("/api/v1/backtests", json=BACKTEST, headers=headers)
    assert posted.status_code == 202, posted.text
    accepted = posted.json()
    assert accepted["created"] is True
    assert posted.headers["Location"] == accepted["status_url"]
    view = _finished(jobs, accepted["status_url"], headers)
    assert view["status"] == "done", view["message"]
    assert view["submitted_by"] == OPS
    assert view["progress"] == 1.0
    names = {f["name"]: f for f in view["files"]}
    assert {"report.md", "report.html", "headline.csv"} <= set(names)
    report = jobs.get(f"{accepted['status_url']}/files/report.md", headers=headers)
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/markdown")
    assert "attachment" in report.headers["content-disposition"]
    assert hashlib.sha256(report.content).hexdigest() == names["report.md"]["sha256"]
    assert AGREEMENT in report.text
    png = [n for n in names if n.endswith(".png")]
    assert png
    plot = jobs.get(f"{accepted['status_url']}/files/{png[0]}", headers=headers)
    assert plot.headers["content-type"] == "image/png"

    # the same inputs (another role, keys in another order): the stored job, not a new run
    again = jobs.post(
        "/api/v1/backtests", json=dict(reversed(BACKTEST.items())), headers=api.as_("hr")
    )
    assert again.status_code == 403  # HR neither reads nor runs jobs
    again = jobs.post(
        "/api/v1/backtests", json=dict(reversed(BACKTEST.items())), headers=api.as_("auditor")
    )
    assert again.status_code == 200  # an observer tries proposals: the stored job comes back
    assert again.json()["id"] == accepted["id"]
    again = jobs.post(
        "/api/v1/backtests",
        json=dict(reversed(BACKTEST.items())),
        headers=api.as_("mode-authority"),
    )
    assert again.status_code == 200
    assert again.json()["id"] == accepted["id"]
    assert again.json()["created"] is False
    listed = jobs.get("/api/v1/jobs", params={"kind": "backtest"}, headers=api.as_("auditor"))
    assert [j["id"] for j in listed.json()["items"]] == [accepted["id"]]
    missing = jobs.get(f"{accepted['status_url']}/files/nothing.md", headers=headers)
    assert missing.status_code == 404


def test_a_sweep_runs_its_backtests_on_the_cluster(api: Api, jobs: TestClient) -> None:
    headers = api.as_("health-department")
    body = {**BACKTEST, "param": "teacher_absence_share_pct", "values": ["20", "30"]}
    posted = jobs.post("/api/v1/sweeps", json=body, headers=headers)
    assert posted.status_code == 202, posted.text
    view = _finished(jobs, posted.json()["status_url"], headers)
    assert view["status"] == "done", view["message"]
    assert "2 backtests on tcp://" in view["stage"]
    table = jobs.get(f"{posted.json()['status_url']}/files/sweep.csv", headers=headers)
    assert table.headers["content-type"].startswith("text/csv")
    assert table.text.count("\n") >= 3  # a header and one row per value


def test_a_failed_job_says_why(api: Api, jobs: TestClient) -> None:
    headers = api.as_(OPS)
    body = {**BACKTEST, "school_year": "1999-2000"}
    view = _finished(
        jobs,
        jobs.post("/api/v1/backtests", json=body, headers=headers).json()["status_url"],
        headers,
    )
    assert view["status"] == "failed"
    assert view["message"]
    assert view["files"] == []


def _invalid(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [p["name"] for p in response.json()["invalid_params"]]


def test_bad_requests_name_the_field(api: Api, jobs: TestClient) -> None:
    headers = api.as_(OPS)
    post = jobs.post
    assert _invalid(
        post("/api/v1/backtests", json={**BACKTEST, "end": "2020-01-01"}, headers=headers)
    ) == ["body.end"]
    too_long = {**BACKTEST, "start": "2019-01-01"}
    assert _invalid(post("/api/v1/backtests", json=too_long, headers=headers)) == ["body.end"]
    unknown = {**BACKTEST, "policy_ids": [AGREEMENT, "no-such-policy"]}
    assert _invalid(post("/api/v1/backtests", json=unknown, headers=headers)) == [
        "body.policy_ids.1"
    ]
    grid = {**BACKTEST, "param": "x", "values": [str(v) for v in range(50)]}
    grid["policy_ids"] = [AGREEMENT] * 3
    assert _invalid(post("/api/v1/sweeps", json=grid, headers=headers)) == ["body.values"]
    runs = {"policy_ids": ["none", AGREEMENT], "seeds": 200, "sweep": "beta=1,2"}
    assert _invalid(post("/api/v1/simulations", json=runs, headers=headers)) == ["body.sweep"]
    extra = {**BACKTEST, "out": "/etc"}
    assert _invalid(post("/api/v1/backtests", json=extra, headers=headers)) == ["body.out"]
    assert jobs.get("/api/v1/jobs/999999", headers=headers).status_code == 404


def test_a_fetch_runs_as_a_job_and_its_report_is_kept(
    api: Api, jobs: TestClient, served: Publisher
) -> None:
    steward = api.as_("data-steward")
    posted = jobs.post("/api/v1/fetch/cdph-daily-testing", json={}, headers=steward)
    assert posted.status_code == 202, posted.text
    accepted = posted.json()
    assert accepted["status_url"] == f"/api/v1/fetches/{accepted['id']}"
    assert posted.headers["Location"] == accepted["status_url"]
    view = _finished(jobs, accepted["status_url"], steward)
    assert view["status"] == "done", view["message"]
    assert (view["kind"], view["submitted_by"]) == ("fetch", "data-steward")
    fetched = view["report"]["fetched"]
    assert [(o["source"], o["error"]) for o in fetched] == [("cdph-daily-testing", None)]
    assert fetched[0]["url"].startswith(served.base)
    outcomes = view["report"]["imports"]["outcomes"]
    assert [o["error"] for o in outcomes] == [None]
    assert outcomes[0]["summary"]
    log = jobs.get(
        "/api/v1/imports/log", params={"source": "cdph-daily-testing"}, headers=steward
    ).json()["items"]
    assert log[0]["file_sha256"] == fetched[0]["sha256"]  # the store holds what was fetched
    # the steward reads the fetch, not the other jobs (jobs:read)
    assert jobs.get(f"/api/v1/jobs/{accepted['id']}", headers=steward).status_code == 403
    assert jobs.get(accepted["status_url"], headers=api.as_("auditor")).status_code == 200
    # a finished fetch is fetched anew (the publisher may have published since): here it fails
    served.fail("/resource/gkdw-2tgv.csv", times=4)  # every try (fetch_retries=3) fails
    again = jobs.post("/api/v1/fetch/cdph-daily-testing", json={}, headers=steward)
    assert again.status_code == 202, again.text
    assert again.json()["id"] != accepted["id"]
    failed = _finished(jobs, again.json()["status_url"], steward)
    assert failed["status"] == "failed"
    assert failed["message"].startswith("the publisher could not be fetched: cdph-daily-testing")
    assert "HTTP 503" in failed["message"]
    assert failed["report"] is None
    unknown = jobs.post("/api/v1/fetch/no-such-source", json={}, headers=steward)
    assert unknown.status_code == 404
    assert jobs.get("/api/v1/fetches/999999", headers=steward).status_code == 404


def test_an_identical_fetch_is_one_job_only_while_it_is_queued_or_running(api: Api) -> None:
    steward = Principal("data-steward", Role.data_steward)
    body = FetchJob(source="cdph-daily-cases", load=False)
    first = submit(api.ctx, "fetch", body, steward)
    assert first.created
    assert first.job.status == "queued"
    queued = submit(api.ctx, "fetch", body, steward)
    assert (queued.created, queued.job.id) == (False, first.job.id)
    assert _claim(api.ctx.engine, first.job.id) is not None
    assert submit(api.ctx, "fetch", body, steward).job.id == first.job.id  # running
    assert _finish(api.ctx.engine, first.job.id, "done", None, {})
    anew = submit(api.ctx, "fetch", body, steward)
    assert anew.created
    assert anew.job.id != first.job.id
    assert _claim(api.ctx.engine, anew.job.id) is not None  # left finished, as the first
    assert _finish(api.ctx.engine, anew.job.id, "done", None, {})
    # a job of another kind is no fetch (never run here: its period is no other test's)
    other = BacktestJob.model_validate({**BACKTEST, "start": DAY.isoformat()})
    backtest = submit(api.ctx, "backtest", other, Principal("ops", Role.district_operations))
    assert get_fetch(api.ctx, backtest.job.id) is None
    assert get_fetch(api.ctx, first.job.id) is not None


def test_a_job_left_running_is_marked_failed_when_the_server_starts(db_url: str) -> None:
    """A server stopped with a job running: `schoolmode serve` marks it failed (interrupted)
    before it answers, never leaves it running."""
    with open_context(db_url=db_url) as ctx:
        upgrade(ctx.engine)
        body = BacktestJob.model_validate(BACKTEST)
        submitted = submit(ctx, "backtest", body, Principal("ops", Role.district_operations))
        job_id = submitted.job.id
        assert _claim(ctx.engine, job_id) is not None  # running, as a worker left it
        port = _free_port()
        server = subprocess.Popen(
            [str(SCHOOLMODE), "serve", "--db", db_url, "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            # polled until the server answers or exits; the deadline only stops a hung start
            # (a loaded machine takes tens of seconds to start a CLI)
            deadline = time.monotonic() + STARTUP_DEADLINE_S
            while time.monotonic() < deadline:
                try:
                    _get(f"http://127.0.0.1:{port}/api/v1")
                    break
                except (urllib.error.URLError, ConnectionError):
                    assert server.poll() is None, server.stdout.read() if server.stdout else ""
                    time.sleep(0.1)
            else:
                raise AssertionError("the server did not answer")
        finally:
            server.terminate()
            output = server.communicate(timeout=30)[0]
        assert "1 jobs of the last server marked failed" in output
        view = get_job(ctx, job_id)
        assert view is not None
        assert view.status == "failed"
        assert view.message == INTERRUPTED
        # a late result of the lost run is dropped, the job stays failed
        assert not _finish(ctx.engine, job_id, "done", None, {"report.md": b"late"})
        again = submit(ctx, "backtest", body, Principal("ops", Role.district_operations))
        assert again.created  # a failed job is run again
        assert again.job.id != job_id
