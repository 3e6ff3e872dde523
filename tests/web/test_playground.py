"""The proposal playground through the pages: a value of a parameter tried beside the value in
force, as a sweep job run on the session's Dask cluster, its result table, and each tried value
downloaded as a proposal file that applies to the policy."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from schoolmode.policy.loader import read_file
from schoolmode.policy.model import Overlay
from schoolmode.policy.overlay import apply_overlay
from schoolmode.settings import AppSettings
from schoolmode.web.site import create_site
from tests.api.conftest import PASSWORD
from tests.web.conftest import DAY, FIRST, Site

if TYPE_CHECKING:
    from distributed import Client

AGREEMENT = "cps-ctu-2022-01-10"
PARAM = "teacher_absence_share_pct"


@pytest.fixture(scope="module")
def jobs_site(site: Site, dask_cluster: Client) -> Iterator[TestClient]:
    """The site on the same store, its jobs run on the session's Dask cluster."""
    settings = AppSettings.load(
        db_url=site.url,
        jobs_scheduler=dask_cluster.scheduler.address,
        api_rate_anonymous=10**6,
        api_rate_token=10**6,
    )
    with TestClient(create_site(settings), base_url="http://127.0.0.1") as client:
        yield client


def _login(client: TestClient, name: str) -> None:
    got = client.post("/login", data={"username": name, "password": PASSWORD})
    assert got.status_code == 200, got.text[:300]


def test_the_playground_needs_a_role_that_runs_jobs(jobs_site: TestClient) -> None:
    jobs_site.cookies.clear()
    assert jobs_site.get("/playground", follow_redirects=False).headers["location"] == "/login"
    _login(jobs_site, "hr")
    refused = jobs_site.get("/playground")
    assert refused.status_code == 403
    assert "jobs:run" in refused.text
    jobs_site.cookies.clear()


def test_a_tried_value_is_backtested_beside_the_value_in_force(
    jobs_site: TestClient, tmp_path: Path
) -> None:
    _login(jobs_site, "union-safety-committee")
    form = jobs_site.get("/playground", params={"policy": AGREEMENT, "param": PARAM}).text
    in_force = re.search(rf'<option value="{PARAM}" selected>{PARAM} \(in force: ([^)]+)\)', form)
    assert in_force is not None, form[:2000]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None
    posted = jobs_site.post(
        "/playground",
        data={
            "csrf_token": csrf.group(1),
            "policy_id": AGREEMENT,
            "param": PARAM,
            "values": "20, 25",
            "start": FIRST.isoformat(),
            "end": DAY.isoformat(),
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text[:500]
    url = posted.headers["location"]
    assert re.fullmatch(r"/playground/jobs/\d+", url)
    page = ""
    for _ in range(3000):  # polled; no fixed wait decides the outcome
        page = jobs_site.get(url).text
        if "Done." in page or "Failed:" in page:
            break
        assert 'http-equiv="refresh"' in page  # the page reloads itself while it runs
        time.sleep(0.1)
    assert "Done." in page, page[:3000]
    values = re.findall(r'overlay\.yaml\?value=([^"]+)"', page)
    assert values == [in_force.group(1), "20", "25"]  # the value in force first
    assert "(in force)" in page
    assert 'src="/api/v1/jobs/' in page  # the plot
    got = jobs_site.get(f"{url}/overlay.yaml", params={"value": "25"})
    assert got.status_code == 200
    path = tmp_path / "proposal.yaml"
    path.write_bytes(got.content)
    proposal = read_file(path)
    assert isinstance(proposal, Overlay)
    assert proposal.overlay_of == AGREEMENT
    base = read_file(
        Path(__file__).resolve().parents[2] / "src/schoolmode/policies" / AGREEMENT / "policy.yaml"
    )
    assert not isinstance(base, Overlay)
    applied = apply_overlay(base, proposal)
    assert [str(v.value) for v in applied.parameters[PARAM].values] == ["25"]
    assert jobs_site.get(f"{url}/overlay.yaml", params={"value": "99"}).status_code == 404


def test_a_proposal_changing_two_parameters_is_compared_with_the_policy_in_force(
    jobs_site: TestClient, tmp_path: Path
) -> None:
    _login(jobs_site, "district-operations")
    form = jobs_site.get("/playground", params={"policy": AGREEMENT, "param": PARAM}).text
    assert 'name="other"' in form
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None
    other = "substitute_uncovered_share_pct"
    data = {
        "csrf_token": csrf.group(1),
        "policy_id": AGREEMENT,
        "param": PARAM,
        "values": "25",
        "start": FIRST.isoformat(),
        "end": DAY.isoformat(),
        "other": [other, "", ""],
        "other_value": ["20", "", ""],
    }
    # the parameter tried cannot also be "another" one
    clash = jobs_site.post("/playground", data={**data, "other": [PARAM, "", ""]})
    assert clash.status_code == 422
    assert "is the parameter tried" in clash.text
    posted = jobs_site.post("/playground", data=data, follow_redirects=False)
    assert posted.status_code == 303, posted.text[:500]
    url = posted.headers["location"]
    page = ""
    for _ in range(3000):  # polled; no fixed wait decides the outcome
        page = jobs_site.get(url).text
        if "Done." in page or "Failed:" in page:
            break
        time.sleep(0.1)
    assert "Done." in page, page[:3000]
    assert f"Also changed in every value tried: {other}=20" in page
    rows = re.findall(
        r'<tr( class="in-force")?><th scope="row">[^<]+</th><td>[^<]*</td><td>[^<]*</td><td>([^<]+)</td>',
        page,
    )
    assert [value for _, value in rows] == ["in force", "25"]
    assert rows[0][0]  # the policy as in force is the marked row
    got = jobs_site.get(f"{url}/overlay.yaml", params={"value": "25"})
    path = tmp_path / "proposal.yaml"
    path.write_bytes(got.content)
    proposal = read_file(path)
    assert isinstance(proposal, Overlay)
    base = read_file(
        Path(__file__).resolve().parents[2] / "src/schoolmode/policies" / AGREEMENT / "policy.yaml"
    )
    assert not isinstance(base, Overlay)
    applied = apply_overlay(base, proposal)
    assert [str(v.value) for v in applied.parameters[PARAM].values] == ["25"]
    assert [str(v.value) for v in applied.parameters[other].values] == ["20"]


def test_the_same_values_are_simulated_when_asked(jobs_site: TestClient) -> None:
    jobs_site.cookies.clear()
    _login(jobs_site, "union-safety-committee")
    form = jobs_site.get("/playground", params={"policy": AGREEMENT, "param": PARAM}).text
    assert 'name="simulate"' in form
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None
    posted = jobs_site.post(
        "/playground",
        data={
            "csrf_token": csrf.group(1),
            "policy_id": AGREEMENT,
            "param": PARAM,
            "values": "40",
            "start": FIRST.isoformat(),
            "end": DAY.isoformat(),
            "simulate": "true",
            "seeds": "2",
            "schools": "2",
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text[:500]
    found = re.fullmatch(r"/playground/jobs/(\d+)\?simulation=(\d+)", posted.headers["location"])
    assert found is not None, posted.headers["location"]
    assert (
        f'href="/playground/jobs/{found.group(2)}"'
        in jobs_site.get(posted.headers["location"]).text
    )
    url = f"/playground/jobs/{found.group(2)}"
    page = ""
    for _ in range(6000):  # polled; no fixed wait decides the outcome
        page = jobs_site.get(url).text
        if "Done." in page or "Failed:" in page:
            break
        time.sleep(0.1)
    assert "Done." in page, page[:3000]
    assert f"policy.{PARAM}=" in page  # what was simulated
    values = re.findall(r'<tr><th scope="row">([^<]+)</th>', page)
    assert "40" in values  # the value tried, beside the value in force
    assert len(set(values)) == 2, values
    jobs_site.cookies.clear()
