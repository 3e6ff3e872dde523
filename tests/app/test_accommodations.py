"""The accommodation use cases, called directly on a temporary SQLite store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from schoolmode.app import accommodations as use
from schoolmode.app.context import Context
from schoolmode.operations import accommodations as acc
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.settings import AppSettings
from schoolmode.store.migrate import upgrade
from tests.conftest import POLICIES

D = dt.date
HEADER = "request_id,person_id,basis,requested_date,status\n"


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    context = Context(
        AppSettings.load(db_url=f"sqlite:///{tmp_path / 'store.sqlite'}", policies_dir=POLICIES)
    )
    upgrade(context.engine)
    try:
        yield context
    finally:
        context.close()


def _import(ctx: Context, tmp_path: Path) -> use.ImportSummary:
    rows = [f"H{i},P{i},household_high_risk,2021-02-01,pending" for i in range(8)]
    rows += ["O1,Q1,own_high_risk,2021-02-01,pending", "C1,Q2,caregiver,2021-02-02,pending"]
    path = tmp_path / "requests.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return use.import_requests(ctx, use.ImportRequest(path=path, by="test"))


def test_import_refuses_a_bad_file_and_imports_a_good_one(ctx: Context, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "A1,P1,astrology,2021-02-01,pending\n")
    with pytest.raises(use.RequestsNotImported, match="astrology"):
        use.import_requests(ctx, use.ImportRequest(path=bad))
    with pytest.raises(use.RequestsNotImported, match="no such file"):
        use.import_requests(ctx, use.ImportRequest(path=tmp_path / "missing.csv"))
    done = _import(ctx, tmp_path)
    assert (done.status, done.added, done.rows_in_file) == ("imported", 10, 10)
    assert "10 added" in done.summary
    assert _import(ctx, tmp_path).status == "unchanged"


def test_commit_preview_review_show_appeal_and_history(ctx: Context, tmp_path: Path) -> None:
    _import(ctx, tmp_path)
    on, lbfo = D(2021, 2, 5), "cps-lbfo-2021-02-04"
    ask = use.CommitRequest(on=on, policy_id=lbfo, by="hr")
    dry = use.preview(ctx, ask)
    assert dry.eligible == 10
    assert all("ranked" not in p for p in dry.pools)  # a preview never ranks anyone
    with pytest.raises(SchoolmodeError, match="no lottery commitment for 2021-02-05"):
        use.review(ctx, use.ReviewRequest(on=on, seed=99, nonce="0" * 32))
    committed = use.commit(ctx, ask.model_copy(update={"seed": 99}))
    assert committed.seed == 99
    assert committed.commitment_sha256 == acc.commitment_digest(99, committed.nonce)
    assert (committed.eligible, committed.pools) == (dry.eligible, dry.pools)
    req = use.ReviewRequest(on=on, seed=99, nonce=committed.nonce, by="hr")
    with pytest.raises(SchoolmodeError, match="do not match lottery commitment"):
        use.review(ctx, req.model_copy(update={"seed": 98}))
    done = use.review(ctx, req.model_copy(update={"role": "union"}))
    assert (done.review_id, done.commitment_id, done.seed) == (1, committed.commitment_id, 99)
    assert "basis" not in done.rows.columns
    assert done.rows.height == 10
    assert {p["kind"]: p["rule"] for p in done.pools} == {
        "own_high_risk": "all_granted",
        "household_high_risk": "lottery",
        "caregiver": "no_provision",
    }
    with pytest.raises(SchoolmodeError, match="was revealed by review 1"):
        use.review(ctx, req)  # a commitment is revealed once
    assert use.verify_lotteries(ctx).model_dump() == {
        "commitments": 1,
        "revealed": [committed.commitment_id],
        "unrevealed": [],
        "reviews_without_commitment": [],
        "problems": [],
    }
    hr = use.show(ctx, use.ShowRequest()).rows
    assert hr.height == 10
    public = use.show(ctx, use.ShowRequest(role="public")).rows
    assert public.columns == ["outcome", "count"]  # across kinds: a kind's small cell stays hidden
    loser = hr.filter((hr["rule"] == "lottery") & (hr["outcome"] == "denied")).row(0, named=True)
    filed = use.appeal(
        ctx,
        use.AppealRequest(decision_id=loser["decision_id"], grounds="x", filed_on=D(2021, 2, 8)),
    )
    decided = use.appeal_outcome(
        ctx,
        use.AppealOutcomeRequest(
            appeal_id=filed.appeal_id, outcome="granted", reason="letter", on=D(2021, 2, 9)
        ),
    )
    events = use.history(ctx, use.HistoryRequest(request_id=loser["request_id"]))
    assert [e.event for e in events] == ["decision", "appeal", "decision"]
    assert events[1].decision_id == loser["decision_id"]
    assert events[2].id == decided.decision_id
    assert events[2].supersedes_id == loser["decision_id"]


def test_use_case_errors_are_schoolmode_errors(ctx: Context) -> None:
    with pytest.raises(SchoolmodeError, match="--role must be one of"):
        use.review(ctx, use.ReviewRequest(on=D(2021, 2, 5), seed=1, nonce="0" * 32, role="press"))
    with pytest.raises(SchoolmodeError, match="role must be one of"):
        use.show(ctx, use.ShowRequest(role="press"))
    with pytest.raises(SchoolmodeError, match="no accommodation decision 9"):
        use.appeal(ctx, use.AppealRequest(decision_id=9, grounds="x", filed_on=D(2021, 2, 8)))
    with pytest.raises(SchoolmodeError, match="district-hr only"):
        use.history(ctx, use.HistoryRequest(request_id="H1", role="union"))
    with pytest.raises(SchoolmodeError, match="no decision on request"):
        use.history(ctx, use.HistoryRequest(request_id="H1"))
