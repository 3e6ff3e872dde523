"""The public evidence pages: a finished playground job published by district operations
(after the small-count check of its files), its report, plot and data read by anyone; the
same job published once; roles without ``evidence:publish`` refused; the check itself."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient

from schoolmode.app.evidence import small_counts
from tests.web.conftest import DAY, FIRST
from tests.web.test_playground import AGREEMENT, PARAM, _login, jobs_site  # noqa: F401


def _finished_job(client: TestClient) -> tuple[int, str]:
    form = client.get("/playground", params={"policy": AGREEMENT, "param": PARAM}).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None
    posted = client.post(
        "/playground",
        data={
            "csrf_token": csrf.group(1),
            "policy_id": AGREEMENT,
            "param": PARAM,
            "values": "35",
            "start": FIRST.isoformat(),
            "end": DAY.isoformat(),
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text[:500]
    url = posted.headers["location"]
    page = ""
    for _ in range(3000):  # polled; no fixed wait decides the outcome
        page = client.get(url).text
        if "Done." in page or "Failed:" in page:
            break
        time.sleep(0.1)
    assert "Done." in page, page[:3000]
    return int(url.rsplit("/", 1)[1]), page


def test_a_published_job_is_read_by_anyone(jobs_site: TestClient) -> None:  # noqa: F811
    jobs_site.cookies.clear()
    _login(jobs_site, "district-operations")
    job_id, page = _finished_job(jobs_site)
    assert 'action="/evidence"' in page  # the publish form
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    form = {"csrf_token": csrf.group(1), "job_id": str(job_id), "title": "35% of teachers"}
    refused = jobs_site.post("/evidence", data={**form, "csrf_token": "x"})
    assert refused.status_code == 403
    done = jobs_site.post("/evidence", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text[:500]
    url = done.headers["location"]
    again = jobs_site.post("/evidence", data=form)
    assert again.status_code == 400
    assert "already published" in again.text
    jobs_site.cookies.clear()
    # anyone: the list, the report with its plot, the files
    listed = jobs_site.get("/evidence").text
    assert "35% of teachers" in listed
    shown = jobs_site.get(url)
    assert shown.status_code == 200
    assert "<table>" in shown.text  # the report's table, rendered
    evidence_id = int(url.rsplit("/", 1)[1])
    assert f'src="/evidence/{evidence_id}/files/sweep.png"' in shown.text
    image = jobs_site.get(f"/evidence/{evidence_id}/files/sweep.png")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    data = jobs_site.get(f"/evidence/{evidence_id}/files/sweep.csv")
    assert data.status_code == 200
    assert "attachment" in data.headers["content-disposition"]
    assert jobs_site.get(f"/evidence/{evidence_id}/files/nope.csv").status_code == 404
    api = jobs_site.get("/api/v1/evidence").json()
    assert api["items"][0]["job_id"] == job_id
    assert jobs_site.get("/api/v1/evidence/999999").status_code == 404


def test_only_roles_that_publish_may_publish(jobs_site: TestClient) -> None:  # noqa: F811
    jobs_site.cookies.clear()
    _login(jobs_site, "hr")
    page = jobs_site.get("/me").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    got = jobs_site.post(
        "/evidence", data={"csrf_token": csrf.group(1), "job_id": "1", "title": "x"}
    )
    assert got.status_code == 403
    jobs_site.cookies.clear()


def test_a_count_of_people_from_1_to_10_keeps_a_file_off_the_public_pages() -> None:
    csv = b"policy,schools ever remote,student-days not in person,cases\na,3,12,40\nb,4,7,0\n"
    found = small_counts("headline.csv", csv)
    assert found == ["headline.csv, column 'student-days not in person' (1 row)"]
    assert small_counts("x.csv", b"staff,teachers\n0,11\n") == []
    assert small_counts("x.csv", b"not,a csv\n\x00\x01") == []
