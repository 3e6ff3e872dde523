"""Logging in through the pages and the role views: each role sees its view and nothing more,
within its scope; the mode authority records a decision from its view into the audit trail;
the form needs the session's CSRF token; failed logins are limited as the API's are."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from schoolmode.access.roles import Principal, Role, Scope
from schoolmode.app.access import AddAccountRequest, add_account
from schoolmode.app.dashboard import NEAR, watch_list
from schoolmode.store.tables import access_log, authorisation, refusal
from tests.api.conftest import ADMIN, OTHER_SCHOOL, PASSWORD
from tests.web.conftest import DAY, FIRST, SCHOOL, Site


def _client(site: Site) -> TestClient:
    """A browser of its own (its own cookies) on the site's running application."""
    return TestClient(site.client.app, base_url="http://127.0.0.1")


def _login(site: Site, name: str) -> TestClient:
    client = _client(site)
    got = client.post("/login", data={"username": name, "password": PASSWORD})
    assert got.status_code == 200, got.text[:300]
    assert got.url.path == "/me"
    return client


def test_the_role_view_needs_a_login(site: Site) -> None:
    client = _client(site)
    got = client.get("/me", follow_redirects=False)
    assert got.status_code == 303
    assert got.headers["location"] == "/login"
    assert "<h1>Log in</h1>" in client.get("/login").text


def test_a_wrong_password_is_said_and_counted(site: Site) -> None:
    client = _client(site)
    got = client.post("/login", data={"username": "mode-authority", "password": "hunter2-not-it"})
    assert got.status_code == 401
    assert "The login failed:" in got.text
    assert 'value="mode-authority"' in got.text  # the name kept, never the password
    assert "hunter2-not-it" not in got.text


def test_each_role_sees_its_view_and_nothing_more(site: Site) -> None:
    authority = _login(site, "mode-authority").get("/me").text
    assert "Logged in as mode-authority: mode-authority, scope district" in authority
    assert "Changes awaiting a decision on Thursday 10 February 2022" in authority
    assert "None in your scope on this day." in authority
    earlier = _login(site, "mode-authority").get("/me", params={"date": FIRST.isoformat()}).text
    assert "Changes awaiting a decision on Monday 7 February 2022" in earlier
    assert _eligible_units(earlier)
    union = _login(site, "union-safety-committee").get("/me").text
    assert "Changes awaiting a decision" in union
    assert 'action="/me/authorisations"' not in union  # the union sees, does not decide
    hr = _login(site, "hr").get("/me").text
    assert "Your role does not see decision inputs" in hr
    assert "Changes awaiting a decision" not in hr


def _eligible_units(page: str) -> list[str]:
    return re.findall(r'<input type="hidden" name="unit" value="([^"]+)">', page)


def test_a_scoped_view_holds_only_its_schools(site: Site) -> None:
    whole = _login(site, "mode-authority").get("/me", params={"date": FIRST.isoformat()}).text
    every = set(re.findall(r'href="/schools/([^"?]+)\?date=', whole))
    # a union member scoped to one school, with a password (the API tests' has a token only)
    add_account(
        site.ctx,
        AddAccountRequest(
            name="school-union-web",
            role=Role.union_safety_committee,
            scope=f"school:{SCHOOL}",
            password=PASSWORD,
        ),
        ADMIN,
    )
    mine = _login(site, "school-union-web").get("/me", params={"date": FIRST.isoformat()}).text
    assert "scope school:" in mine
    shown = set(re.findall(r'href="/schools/([^"?]+)\?date=', mine))
    assert shown <= {SCHOOL}
    if OTHER_SCHOOL in every:
        assert OTHER_SCHOOL not in shown


def test_the_authorisation_form_round_trips_into_the_audit_trail(site: Site) -> None:
    client = _login(site, "mode-authority")
    page = client.get("/me", params={"date": FIRST.isoformat()}).text
    units = _eligible_units(page)
    assert units, "the store has a school eligible for a change on FIRST"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    form = {
        "csrf_token": csrf.group(1),
        "policy_id": re.findall(r'name="policy_id" value="([^"]+)"', page)[0],
        "rule": re.findall(r'name="rule" value="([^"]+)"', page)[0],
        "unit": units[0],
        "day": FIRST.isoformat(),
        "by": "CPS Tactical Team",
        "reason": "Staffing cannot cover the absences (test).",
    }
    with site.ctx.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(authorisation)).scalar_one()
    # without the session's CSRF token: refused, nothing recorded
    refused = client.post("/me/authorisations", data={**form, "csrf_token": "x"})
    assert refused.status_code == 403
    done = client.post("/me/authorisations", data=form, follow_redirects=False)
    assert done.status_code == 303
    key = int(done.headers["location"].split("recorded=")[1])
    assert "Recorded in the audit trail (authorisation" in client.get(done.headers["location"]).text
    with site.ctx.engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(authorisation)).scalar_one()
        row = conn.execute(select(authorisation).where(authorisation.c.id == key)).one()
    assert after == before + 1
    assert row.recorded_by == "mode-authority"
    assert row.decided_by == "CPS Tactical Team"
    assert row.unit == units[0]
    # the hash chain links it: the audit verifies, with the new authorisation in it
    admin = _login(site, "auditor")
    verified = admin.get("/api/v1/audit/verification").json()
    assert verified["intact"] is True, verified


def _rules(page: str) -> list[str]:
    return re.findall(r'<input type="hidden" name="rule" value="([^"]+)">', page)


def _awaiting(page: str) -> list[tuple[str, str]]:
    """(rule, unit) of each change the page lists as awaiting the body's decision."""
    found = []
    for article in re.findall(r'<article class="eligible">(.*?)</article>', page, re.S):
        if 'data-answer="none"' in article:
            rule = re.search(r'name="rule" value="([^"]+)"', article)
            unit = re.search(r'name="unit" value="([^"]+)"', article)
            assert rule is not None
            assert unit is not None
            found.append((rule.group(1), unit.group(1)))
    return found


def test_a_refusal_with_its_reason_round_trips_into_the_audit_trail(site: Site) -> None:
    client = _login(site, "mode-authority")
    page = client.get("/me", params={"date": FIRST.isoformat()}).text
    units = _eligible_units(page)
    assert units, "the store has a school eligible for a change on FIRST"
    # one awaiting a decision if any is left (the authorisation test may have answered one)
    rule, unit = (_awaiting(page) or [(_rules(page)[-1], units[-1])])[-1]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    form = {
        "csrf_token": csrf.group(1),
        "policy_id": re.findall(r'name="policy_id" value="([^"]+)"', page)[0],
        "rule": rule,
        "unit": unit,
        "day": FIRST.isoformat(),
        "by": "CPS Tactical Team",
        "reason": "Substitutes cover the absent teachers (test).",
    }
    # the union sees the changes but records nothing; without the CSRF token nothing either
    union = _login(site, "union-safety-committee")
    assert union.post("/me/refusals", data=form).status_code == 403
    assert client.post("/me/refusals", data={**form, "csrf_token": "x"}).status_code == 403
    with site.ctx.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(refusal)).scalar_one()
    done = client.post("/me/refusals", data=form, follow_redirects=False)
    assert done.status_code == 303
    key = int(done.headers["location"].split("refused=")[1])
    after_page = client.get(done.headers["location"]).text
    assert f"Recorded in the audit trail (refusal {key})." in after_page
    assert (rule, unit) not in _awaiting(after_page)  # answered now, listed after the others
    assert "Refused for Monday 7 February 2022 by CPS Tactical Team: Substitutes cover" in (
        after_page
    )
    with site.ctx.engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(refusal)).scalar_one()
        row = conn.execute(select(refusal).where(refusal.c.id == key)).one()
    assert after == before + 1
    assert (row.rule, row.unit, row.date) == (rule, unit, FIRST)
    assert row.recorded_by == "mode-authority"
    assert row.reason == "Substitutes cover the absent teachers (test)."
    verified = _login(site, "auditor").get("/api/v1/audit/verification").json()
    assert verified["intact"] is True, verified
    # the API records the same kind of answer, scope checked; an unknown rule is a 4xx
    api = client.post(
        "/api/v1/refusals",
        json={**{k: v for k, v in form.items() if k != "csrf_token"}, "rule": "no-such-rule"},
        headers={"X-CSRF-Token": csrf.group(1)},
    )
    assert 400 <= api.status_code < 500, api.text


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_a_concern_is_filed_answered_and_followed_up_from_the_pages(site: Site) -> None:
    union = _login(site, "union-safety-committee")
    page = union.get("/me").text
    assert "Safety concerns" in page
    assert 'action="/me/concerns"' in page  # the committee files
    form = {
        "csrf_token": _csrf(page),
        "school_id": SCHOOL,
        "subject": "Room 204 ventilation",
        "body": "The air purifier in room 204 has been off since Monday.",
    }
    assert union.post("/me/concerns", data={**form, "csrf_token": "x"}).status_code == 403
    done = union.post("/me/concerns", data=form, follow_redirects=False)
    assert done.status_code == 303
    key = int(done.headers["location"].split("concern=")[1].split("#")[0])
    shown = union.get(done.headers["location"]).text
    assert f"Recorded (concern {key})." in shown
    assert f"Concern {key}: Room 204 ventilation" in shown
    # operations answer it; the mode authority reads it without a form; HR sees no concern
    ops = _login(site, "district-operations")
    ops_page = ops.get("/me").text
    assert f'action="/me/concerns/{key}/answers"' in ops_page
    assert 'action="/me/concerns"' not in ops_page  # operations answer, they do not file
    answered = ops.post(
        f"/me/concerns/{key}/answers",
        data={"csrf_token": _csrf(ops_page), "step": "answered", "note": "Filter replaced."},
        follow_redirects=False,
    )
    assert answered.status_code == 303
    authority = _login(site, "mode-authority").get("/me").text
    assert f"Concern {key}: Room 204 ventilation" in authority
    assert f'action="/me/concerns/{key}/' not in authority
    assert "Safety concerns" not in _login(site, "hr").get("/me").text
    # the committee sees the answer and reopens it
    page = union.get("/me").text
    article = re.search(
        rf'<article class="concern" id="concern-{key}" data-status="(\w+)">(.*?)</article>',
        page,
        re.S,
    )
    assert article is not None
    assert article.group(1) == "answered"
    assert (
        "district-operations (district-operations): <strong>answered</strong>. Filter replaced."
        in article.group(2)
    )
    reopened = union.post(
        f"/me/concerns/{key}/follow-ups",
        data={"csrf_token": _csrf(page), "step": "reopened", "note": "Still off today."},
        follow_redirects=False,
    )
    assert reopened.status_code == 303
    assert f'id="concern-{key}" data-status="reopened"' in union.get("/me").text


def test_logging_out_ends_the_session(site: Site) -> None:
    client = _login(site, "district-operations")
    page = client.get("/me").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    out = client.post("/logout", data={"csrf_token": csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/me", follow_redirects=False).status_code == 303


def test_the_health_department_confirms_an_outbreak_from_its_view(site: Site) -> None:
    client = _login(site, "health-department")
    page = client.get("/me", params={"date": DAY.isoformat()}).text
    assert "Outbreaks awaiting the health department&#39;s decision" in page
    # the tracing indicators: the weeks up to the day, newest first, the same as the API's
    assert "Contact tracing, week by week" in page
    first = DAY - dt.timedelta(days=8 * 7 - 1)
    api = client.get(
        "/api/v1/tracing/indicators", params={"from": first.isoformat(), "to": DAY.isoformat()}
    ).json()["items"]
    table = page.split('<table class="indicators">')[1].split("</table>")[0]
    shown = re.findall(r"<tr><th scope=\"row\">[^<]+</th><td>(\d+)</td><td>(\d+)</td>", table)
    assert [(int(c), int(t)) for c, t in shown] == [(w["cases"], w["traced"]) for w in api]
    assert shown, "the store has cases in the eight weeks up to DAY"
    rooms = re.findall(r'name="classroom_id" value="([^"]+)"', page)
    days = re.findall(r'name="detected_on" value="([^"]+)"', page)
    assert rooms, "the store has an outbreak awaiting a decision"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    form = {
        "csrf_token": csrf.group(1),
        "classroom_id": rooms[0],
        "detected_on": days[0],
        "confirmed": "true",
        "decided_by": "Chicago Department of Public Health",
        "note": "Case review 2022-01-19 (test)",
    }
    assert client.post("/me/outbreaks", data={**form, "csrf_token": "x"}).status_code == 403
    done = client.post("/me/outbreaks", data=form, follow_redirects=False)
    assert done.status_code == 303
    assert "outbreak=" in done.headers["location"]
    after = client.get("/me", params={"date": DAY.isoformat()}).text
    assert (rooms[0], days[0]) not in set(
        zip(
            re.findall(r'name="classroom_id" value="([^"]+)"', after),
            re.findall(r'name="detected_on" value="([^"]+)"', after),
            strict=True,
        )
    )
    listed = client.get("/api/v1/outbreaks").json()["items"]
    mine = [o for o in listed if o["classroom_id"] == rooms[0] and o["date"] == days[0]]
    assert [o["lhd_confirmed"] for o in mine] == [True]
    # the mode authority reads no outbreaks and has no such form
    authority = _login(site, "mode-authority").get("/me", params={"date": DAY.isoformat()}).text
    assert 'action="/me/outbreaks"' not in authority


def _access(site: Site, route: str) -> list[tuple[str | None, str, int]]:
    with site.ctx.engine.connect() as conn:
        rows = conn.execute(
            select(access_log.c.principal, access_log.c.action, access_log.c.status).where(
                access_log.c.route == route
            )
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def test_hr_sees_the_requests_and_each_view_is_in_the_access_log(site: Site) -> None:
    hr = _login(site, "hr")
    assert 'href="/me/accommodations"' in hr.get("/me").text
    before = len(_access(site, "/me/accommodations"))
    page = hr.get("/me/accommodations")
    assert page.status_code == 200
    assert "<h1>Accommodation requests</h1>" in page.text
    assert page.headers["cache-control"] == "no-store"
    logged = _access(site, "/me/accommodations")
    assert len(logged) == before + 1
    assert logged[-1] == ("hr", "read", 200)
    # the union and the mode authority may not see them (the medical basis)
    for name in ("union-safety-committee", "mode-authority"):
        refused = _login(site, name).get("/me/accommodations")
        assert refused.status_code == 403, name
    # a write from a page is logged under the page's route, not the API's
    routes = _routes(site)
    assert "/login" in routes  # the login form's post
    assert not {r for r in routes if r.startswith(("/api/v1/me", "/api/v1/login"))}, routes


REQUESTS = "request_id,person_id,basis,requested_date,status\n" + "".join(
    [f"H{i:02d},P{i:02d},household_high_risk,2021-02-01,pending\n" for i in range(12)]
    + ["O1,Q1,own_high_risk,2021-02-01,pending\n"]
)


def test_hr_commits_the_seed_and_reviews_from_the_page(site: Site) -> None:
    hr = _login(site, "hr")
    csrf = _csrf(hr.get("/me").text)
    files = {"file": ("requests.csv", REQUESTS.encode())}
    uploaded = hr.post(
        "/api/v1/accommodations/requests",
        files=files,
        data={"allow_removals": "true"},
        headers={"X-CSRF-Token": csrf},
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    day = {"on": "2021-02-05", "policy_id": "cps-lbfo-2021-02-04"}
    page = hr.get("/me/accommodations", params=day).text
    assert "13 pending requests of a known kind in the pool" in page
    assert 'action="/me/accommodations/commitments"' in page
    assert (
        "lottery_rank"
        not in page.split('<section aria-labelledby="lottery">')[1].split("</section>")[0]
    )  # a pool and its places, never a draw
    # others may not commit; without the CSRF token nothing is committed
    union = _login(site, "union-safety-committee")
    form = {"csrf_token": csrf, **day}
    assert union.post("/me/accommodations/commitments", data=form).status_code == 403
    assert (
        hr.post("/me/accommodations/commitments", data={**form, "csrf_token": "x"}).status_code
        == 403
    )
    committed = hr.post("/me/accommodations/commitments", data=form)
    assert committed.status_code == 200
    assert committed.headers["cache-control"] == "no-store"
    seed = re.search(r'<code id="seed">(\d+)</code>', committed.text)
    nonce = re.search(r'<code id="nonce">([0-9a-f]{32})</code>', committed.text)
    assert seed is not None
    assert nonce is not None
    # a wrong seed reveals nothing and decides nothing
    wrong = {
        "csrf_token": csrf,
        "on": day["on"],
        "seed": str(int(seed.group(1)) + 1),
        "nonce": nonce.group(1),
    }
    assert hr.post("/me/accommodations/reviews", data=wrong).status_code == 400
    right = {**wrong, "seed": seed.group(1)}
    before = len(_access(site, "/me/accommodations/reviews"))
    done = hr.post("/me/accommodations/reviews", data=right, follow_redirects=False)
    assert done.status_code == 303
    shown = hr.get(done.headers["location"]).text
    assert "recorded: every pending request of its pool decided" in shown
    assert shown.count("household_high_risk") >= 12  # the decisions, with their basis
    logged = _access(site, "/me/accommodations/reviews")
    assert len(logged) == before + 1
    assert logged[-1] == ("hr", "write", 303)
    audit = _login(site, "auditor").get("/api/v1/accommodations/lotteries").json()
    assert audit["problems"] == [], audit
    assert audit["revealed"], audit


def _routes(site: Site) -> set[str]:
    with site.ctx.engine.connect() as conn:
        return {r[0] for r in conn.execute(select(access_log.c.route).distinct()).all()}


def test_the_watch_list_is_the_schools_near_or_past_a_threshold_in_scope(site: Site) -> None:
    ops = Principal("ops", Role.district_operations)
    found = watch_list(site.ctx, ops, FIRST)
    assert found is not None
    assert found.schools == 3
    assert found.rows, "the store has a school near or past a threshold on FIRST"
    for row in found.rows:
        assert row.share >= float(NEAR)
        assert row.met == (row.share >= 1)  # the rules of the day are "at least" thresholds
    shares = [(not r.met, -r.share) for r in found.rows]
    assert shares == sorted(shares)  # past first, then the nearest
    one = Principal("one", Role.union_safety_committee, Scope.parse(f"school:{SCHOOL}"))
    mine = watch_list(site.ctx, one, FIRST)
    assert mine is not None
    assert {r.school for r in mine.rows} <= {SCHOOL}
    assert mine.schools == 1
    page = _login(site, "district-operations").get("/me", params={"date": FIRST.isoformat()})
    assert "Watch list: schools near a threshold on Monday 7 February 2022" in page.text
    assert page.text.count('<tr class="differs">') + page.text.count("% of the threshold") >= 1
