"""Accommodation requests: per-policy quotas with rounding, a reproducible and fair lottery,
decisions with reasons, appeals that keep history, append-only storage, role views."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from schoolmode.draws import lottery_ticket
from schoolmode.importers.staff import AccommodationRequests
from schoolmode.operations import accommodations as acc
from schoolmode.operations import accommodations_store as acc_store
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import Registry
from schoolmode.policy.model import Policy
from schoolmode.standard.batch import FileValidationError
from schoolmode.standard.fields import ACCOMMODATION_BASIS_KIND
from schoolmode.store.service import run_import
from schoolmode.store.tables import STAFF_APPEND_ONLY

D = dt.date


def _requests(kinds: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "request_id": [f"R{i:03d}" for i in range(len(kinds))],
            "person_id": [f"P{i:03d}" for i in range(len(kinds))],
            "basis": kinds,
        }
    )


@pytest.mark.parametrize(
    ("share", "n", "rounding", "want"),
    [
        (25, 18, "floor", 4),
        (25, 18, "ceil", 5),
        (25, 18, "half_up", 5),
        (20, 18, "floor", 3),
        (25, 12, "floor", 3),
        (25, 3, "floor", 0),
        (25, 3, "ceil", 1),
        (100, 7, "floor", 7),
    ],
)
def test_places(share: int, n: int, rounding: str, want: int) -> None:
    from decimal import Decimal

    assert acc.places(Decimal(share), n, rounding) == want


def test_quota_is_dated_and_per_policy(registry: Registry) -> None:
    lbfo = registry.get("cps-lbfo-2021-02-04").policy
    early = acc.kind_rules(lbfo, D(2021, 2, 1))
    late = acc.kind_rules(lbfo, D(2021, 2, 5))
    assert early["household_high_risk"].share_pct == 20  # CPS 1/29
    assert late["household_high_risk"].share_pct == 25  # the last offer
    assert late["own_high_risk"].share_pct == 100
    assert late["caregiver"].share_pct is None  # no provision in the offer
    ctu = acc.kind_rules(registry.get("ctu-demand-2021-02").policy, D(2021, 2, 5))
    assert {k: r.share_pct for k, r in ctu.items()} == {
        "own_high_risk": 100,
        "household_high_risk": 100,
        "caregiver": 100,
    }
    moa = registry.get("cps-ctu-2021-02-06").policy
    assert acc.kind_rules(moa, D(2021, 3, 1))["household_high_risk"].share_pct == 25
    chosen = acc.kind_rules(moa, D(2021, 3, 1), {"accommodation_household_high_risk_pct": "20"})
    assert chosen["household_high_risk"].share_pct == 20


def test_selection_decides_every_kind_with_reasons(registry: Registry) -> None:
    lbfo = registry.get("cps-lbfo-2021-02-04").policy
    kinds = ["household_high_risk"] * 12 + ["own_high_risk"] * 2 + ["childcare", "other_code"]
    sel = acc.select(_requests(kinds), lbfo, D(2021, 2, 5), seed=42)
    d = sel.decisions
    household = d.filter(pl.col("basis") == "household_high_risk")
    assert household.filter(pl.col("outcome") == "granted").height == 3  # 25% of 12
    assert sorted(household["lottery_rank"].to_list()) == list(range(1, 13))
    assert (household.filter(pl.col("outcome") == "granted")["lottery_rank"] <= 3).all()
    assert household["reason"].str.contains("seed 42").all()
    own = d.filter(pl.col("basis") == "own_high_risk")
    assert (own["outcome"] == "granted").all()
    assert (own["rule"] == "all_granted").all()
    care = d.filter(pl.col("basis") == "childcare").row(0, named=True)
    assert care["outcome"] == "denied"
    assert care["rule"] == "no_provision"
    assert "no provision" in care["reason"]
    assert sel.left_pending["basis"].to_list() == ["other_code"]
    pool = next(p for p in sel.pools if p["kind"] == "household_high_risk")
    assert [r["lottery_rank"] for r in pool["ranked"]] == list(range(1, 13))
    assert pool["ranked"][0]["ticket"] == lottery_ticket(42, pool["ranked"][0]["request_id"])


def test_lottery_is_reproducible_and_order_free(registry: Registry) -> None:
    lbfo = registry.get("cps-lbfo-2021-02-04").policy
    reqs = _requests(["household_high_risk"] * 40)
    one = acc.select(reqs, lbfo, D(2021, 2, 5), seed=7).decisions.sort("request_id")
    two = acc.select(reqs.reverse(), lbfo, D(2021, 2, 5), seed=7).decisions.sort("request_id")
    assert one.equals(two)
    other = acc.select(reqs, lbfo, D(2021, 2, 5), seed=8).decisions.sort("request_id")
    assert not other["outcome"].equals(one["outcome"])


def test_lottery_is_fair_over_many_seeds(registry: Registry) -> None:
    """Each of 8 requests wins 2 places in 1/4 of draws: over 1,000 seeds no request's win
    rate is far from 0.25 (binomial sd ~0.0137; 5 sd allowed)."""
    lbfo = registry.get("cps-lbfo-2021-02-04").policy
    reqs = _requests(["household_high_risk"] * 8)
    wins = dict.fromkeys(reqs["request_id"], 0)
    for seed in range(1000):
        d = acc.select(reqs, lbfo, D(2021, 2, 5), seed=seed).decisions
        for r in d.filter(pl.col("outcome") == "granted")["request_id"]:
            wins[r] += 1
    assert all(abs(w / 1000 - 0.25) < 0.07 for w in wins.values()), wins


@settings(max_examples=80, deadline=None)
@given(
    kinds=st.lists(
        st.sampled_from(["household_high_risk", "own_high_risk", "caregiver"]), max_size=60
    ),
    seed=st.integers(0, 2**40),
    granted_before=st.integers(0, 5),
    denied_before=st.integers(0, 5),
    policy_id=st.sampled_from(["cps-lbfo-2021-02-04", "cps-ctu-2021-02-06", "ctu-demand-2021-02"]),
)
def test_grants_equal_the_quota_and_go_to_eligible_requests(
    registry: Registry,
    kinds: list[str],
    seed: int,
    granted_before: int,
    denied_before: int,
    policy_id: str,
) -> None:
    policy = registry.get(policy_id).policy
    on = D(2021, 3, 1)
    before = pl.DataFrame(
        {
            "request_id": [f"OLD{i}" for i in range(granted_before + denied_before)],
            "basis": ["household_high_risk"] * (granted_before + denied_before),
            "outcome": ["granted"] * granted_before + ["denied"] * denied_before,
        },
        schema={"request_id": pl.String, "basis": pl.String, "outcome": pl.String},
    )
    sel = acc.select(_requests(kinds), policy, on, seed, before)
    d = sel.decisions
    assert d.height == len(kinds)
    rules = acc.kind_rules(policy, on)
    for kind in ("household_high_risk", "own_high_risk", "caregiver"):
        n = kinds.count(kind)
        got = d.filter((pl.col("basis") == kind) & (pl.col("outcome") == "granted")).height
        share = rules[kind].share_pct
        if share is None:
            assert got == 0
        elif share >= 100:
            assert got == n
        else:
            earlier = granted_before + denied_before if kind == "household_high_risk" else 0
            already = granted_before if kind == "household_high_risk" else 0
            total = n + earlier
            allowed = min(acc.places(share, total, acc.quota_rounding(policy)), total)
            assert got == min(n, max(0, allowed - already))
    granted = d.filter(pl.col("outcome") == "granted")
    assert all(rules[ACCOMMODATION_BASIS_KIND[b]].share_pct for b in granted["basis"])


def test_role_views_hide_personal_details(registry: Registry) -> None:
    lbfo = registry.get("cps-lbfo-2021-02-04").policy
    kinds = ["household_high_risk"] * 40 + ["own_high_risk"] * 3
    d = acc.select(_requests(kinds), lbfo, D(2021, 2, 5), seed=1).decisions
    hr = acc.role_view(d, "district-hr")
    assert "basis" in hr.columns
    assert "reason" in hr.columns
    union = acc.role_view(d, "union")
    assert set(union.columns) == {"request_id", "person_id", "outcome"}
    # nothing that maps onto the medical basis: each kind has its own rule and share, so the
    # pool, its size and places, the rule applied and the rank would each say which kind
    public = acc.role_view(d, "public", D(2021, 2, 5))
    assert public.columns == ["outcome", "count"]
    cells = dict(public.iter_rows())
    # 43 requests: 10 of 40 household requests granted (25%), the 3 own by right: 13, 30 denied
    assert cells == {"denied": "30", "granted": "13", "all": "43"}
    # 7 granted of 36: hidden, and the 29 denied with it, or the total would give it back
    mixed = acc.role_view(
        acc.select(_requests(["household_high_risk"] * 36), lbfo, D(2021, 2, 1), 1).decisions,
        "public",
        D(2021, 2, 1),
    )
    assert dict(mixed.iter_rows()) == {"denied": "suppressed", "granted": "suppressed", "all": "36"}
    # a count of 10 is small too (the 1-10 rule; the view hid only 1 to 9 before)
    ten = acc.role_view(
        acc.select(_requests(["household_high_risk"] * 40), lbfo, D(2021, 2, 1), 1).decisions,
        "public",
        D(2021, 2, 1),
    )
    assert dict(ten.iter_rows())["granted"] == "suppressed"
    with pytest.raises(Exception, match="role must be one of"):
        acc.role_view(d, "press")


# ---------------------------------------------------------------------- store


def _import(store: Engine, tmp_path: Path, rows: list[str], allow_removals: bool = False) -> None:
    path = tmp_path / "requests.csv"
    path.write_text("request_id,person_id,basis,requested_date,status\n" + "\n".join(rows) + "\n")
    run_import(
        store, AccommodationRequests(), path, imported_by="test", allow_removals=allow_removals
    )


def test_review_appeal_and_history(store: Engine, tmp_path: Path, registry: Registry) -> None:
    _import(
        store,
        tmp_path,
        [f"H{i},P{i},household_high_risk,2021-02-01,pending" for i in range(8)]
        + ["O1,Q1,own_high_risk,2021-02-01,pending", "W1,Q2,own_high_risk,2021-02-01,withdrawn"],
    )
    lbfo = registry.get("cps-lbfo-2021-02-04").policy
    with acc_store.reviewing(store) as conn:  # read and record in the review's transaction
        pending = acc_store.pending_requests(conn)
        assert pending.height == 9
        sel = acc.select(pending, lbfo, D(2021, 2, 5), 99, acc_store.prior_decisions(conn))
        review = acc_store.record_review(conn, sel, lbfo, D(2021, 2, 5), "hr")
    assert review >= 1
    current = acc_store.current_decisions(store)
    assert current.height == 9
    assert current.filter(pl.col("outcome") == "granted").height == 1 + 2  # own + 25% of 8
    assert acc_store.pending_requests(store).height == 0  # decided requests are not redrawn
    loser = current.filter((pl.col("rule") == "lottery") & (pl.col("outcome") == "denied")).row(
        0, named=True
    )
    appeal = acc_store.record_appeal(
        store, loser["decision_id"], D(2021, 2, 8), "doctor's letter", "u"
    )
    new = acc_store.record_appeal_outcome(
        store, appeal, "granted", "severe condition", D(2021, 2, 9), "hr"
    )
    with pytest.raises(Exception, match="already has its outcome"):
        acc_store.record_appeal_outcome(store, appeal, "denied", "again", D(2021, 2, 9), "hr")
    now = acc_store.current_decisions(store).filter(pl.col("request_id") == loser["request_id"])
    assert now.row(0, named=True)["decision_id"] == new
    assert now.row(0, named=True)["outcome"] == "granted"
    events = acc_store.history(store, loser["request_id"])
    assert [e["event"] for e in events] == ["decision", "appeal", "decision"]
    assert events[0]["outcome"] == "denied"
    assert events[2]["supersedes_id"] == events[0]["id"]
    # a later review counts earlier decisions towards the quota: 4 new requests, 12 in all,
    # 3 places, 2 drawn before plus 1 granted on appeal: no place left (the new list drops
    # two requests of the first: a removal the import must be allowed to make)
    _import(
        store,
        tmp_path,
        [f"H{i},P{i},household_high_risk,2021-02-01,pending" for i in range(12)],
        allow_removals=True,
    )
    later = acc.select(
        acc_store.pending_requests(store), lbfo, D(2021, 2, 10), 5, acc_store.prior_decisions(store)
    )
    assert later.decisions.height == 4
    assert later.decisions.filter(pl.col("outcome") == "granted").height == 0


def test_staff_operation_tables_are_append_only(
    store: Engine, registry: Registry, tmp_path: Path
) -> None:
    from schoolmode.operations import vaccination as v
    from schoolmode.operations import vaccination_store as v_store

    _import(store, tmp_path, ["H1,P1,household_high_risk,2021-02-01,pending"])
    lbfo = registry.get("cps-lbfo-2021-02-04").policy
    sel = acc.select(acc_store.pending_requests(store), lbfo, D(2021, 2, 5), 1)
    with acc_store.reviewing(store) as conn:
        acc_store.record_review(conn, sel, lbfo, D(2021, 2, 5), "hr")
    decision = acc_store.current_decisions(store)["decision_id"][0]
    acc_store.record_appeal(store, decision, D(2021, 2, 6), "grounds", "u")
    rules = v.vaccination_rules(registry.get("cps-ctu-2021-02-06").policy, D(2021, 2, 11))
    plan = v.schedule(
        pl.DataFrame({"person_id": ["P1"], "group": ["k5"]}), rules, D(2021, 2, 11), 6
    )
    run = v_store.record_schedule(store, plan, None, 1, "hr")
    assert run >= 1
    assert set(STAFF_APPEND_ONLY) == {
        "accommodation_review",
        "accommodation_decision",
        "accommodation_appeal",
        "vaccination_schedule_run",
        "vaccination_appointment",
    }
    for table in STAFF_APPEND_ONLY:
        column = {
            "accommodation_review": "created_by",
            "accommodation_decision": "person_id",
            "accommodation_appeal": "grounds",
            "vaccination_schedule_run": "created_by",
            "vaccination_appointment": "person_id",
        }[table]
        with store.connect() as conn:
            before = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        assert before >= 1
        for statement in (f"UPDATE {table} SET {column} = 'x'", f"DELETE FROM {table}"):
            with pytest.raises(Exception, match="append-only"), store.begin() as conn:
                conn.execute(text(statement))
        with store.connect() as conn:
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == before


def test_bad_request_file_names_row_and_field_and_imports_nothing(
    store: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "requests.csv"
    path.write_text(
        "request_id,person_id,basis,requested_date,status\n"
        "A1,P1,household_high_risk,2021-02-01,pending\n"
        "A2,P2,astrology,2021-02-01,pending\n"
        "A3,P3,own_high_risk,2021-02-30,pending\n"
    )
    with pytest.raises(FileValidationError) as err:
        run_import(store, AccommodationRequests(), path, imported_by="test")
    message = str(err.value)
    assert "requests.csv" in message
    assert "nothing imported" in message
    assert "field 'requested_date'" in message
    assert "data row 3" in message
    path.write_text(
        "request_id,person_id,basis,requested_date,status\n"
        "A1,P1,household_high_risk,2021-02-01,pending\n"
        "A2,P2,astrology,2021-02-01,pending\n"
    )
    with pytest.raises(FileValidationError, match=r"data row 2, field 'basis': value 'astrology'"):
        run_import(store, AccommodationRequests(), path, imported_by="test")
    assert acc_store.pending_requests(store).height == 0


# ---------------------------------------------------------------------- commit-reveal


def _commit(store: Engine, lbfo: Policy, on: dt.date, seed: int, nonce: str) -> int:
    with acc_store.reviewing(store) as conn:
        found = acc.quotas(acc_store.pending_requests(conn), lbfo, on)
        pool = found.eligible["request_id"].to_list()
        digest = acc.commitment_digest(seed, nonce)
        return acc_store.record_commitment(
            conn, on, lbfo, {}, acc.quota_rules(found), pool, digest, "hr"
        )


def _reveal(store: Engine, lbfo: Policy, on: dt.date, seed: int, nonce: str) -> int:
    with acc_store.reviewing(store) as conn:
        committed = acc_store.open_commitment(conn, on)
        pending = acc_store.pending_requests(conn)
        acc_store.check_reveal(committed, seed, nonce, pending["request_id"].to_list())
        sel = acc.select(pending, lbfo, on, seed, acc_store.prior_decisions(conn))
        return acc_store.record_review(conn, sel, lbfo, on, "hr", None, (committed["id"], nonce))


def test_commitment_digest_hides_a_small_seed_and_binds_the_nonce() -> None:
    one = acc.commitment_digest(6, "a" * 32)
    assert one != acc.commitment_digest(6, "b" * 32)  # no table of small seeds finds it
    assert one != acc.commitment_digest(7, "a" * 32)
    assert len({acc.draw_seed() for _ in range(20)}) == 20
    assert acc.pool_digest(["b", "a"]) == acc.pool_digest(["a", "b"])
    with pytest.raises(SchoolmodeError, match="whole number from 0"):
        acc.commitment_digest(-1, "a" * 32)


def test_a_review_reveals_its_commitment_once_and_verification_finds_forgeries(
    store: Engine, tmp_path: Path, registry: Registry
) -> None:
    lbfo = registry.get("cps-lbfo-2021-02-04").policy
    on, nonce = D(2021, 2, 5), "ab" * 16
    _import(
        store, tmp_path, [f"H{i},P{i},household_high_risk,2021-02-01,pending" for i in range(8)]
    )
    with pytest.raises(SchoolmodeError, match="no lottery commitment"):
        _reveal(store, lbfo, on, 3, nonce)
    abandoned = _commit(store, lbfo, on, 1, nonce)
    _commit(store, lbfo, on, 3, nonce)  # the latest commitment of the day is the one revealed
    with pytest.raises(SchoolmodeError, match="do not match lottery commitment"):
        _reveal(store, lbfo, on, 1, nonce)
    # a request arriving after the commitment changes the pool: commit again
    rows = [f"H{i},P{i},household_high_risk,2021-02-01,pending" for i in range(9)]
    _import(store, tmp_path, rows)
    with pytest.raises(SchoolmodeError, match="changed since lottery commitment"):
        _reveal(store, lbfo, on, 3, nonce)
    committed = _commit(store, lbfo, on, 3, "cd" * 16)
    review = _reveal(store, lbfo, on, 3, "cd" * 16)
    with pytest.raises(SchoolmodeError, match=f"was revealed by review {review}"):
        _reveal(store, lbfo, on, 3, "cd" * 16)
    audit = acc_store.verify_lotteries(store)
    assert audit["problems"] == []
    assert audit["revealed"] == [committed]
    assert abandoned in audit["unrevealed"]
    assert len(audit["unrevealed"]) == 2
    # a forged review naming the commitment with another seed, and tickets not of its seed
    pools = '[{"ranked": [{"lottery_rank": 1, "request_id": "H1", "ticket": "00"}]}]'
    with store.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO accommodation_review (policy_id, on_date, seed, settings_json, "
                "pools_json, created_at, created_by, commitment_id, seed_nonce) VALUES "
                "('x', '2021-02-05', 4, '{}', :pools, '2021-02-05 10:00:00', 'x', :c, :n)"
            ),
            {"pools": pools, "c": committed, "n": "cd" * 16},
        )
    problems = acc_store.verify_lotteries(store)["problems"]
    assert any("does not hash to its commitment" in p for p in problems)
    assert any("recorded before its commitment" in p for p in problems)
    assert any("did not decide the pool committed" in p for p in problems)
    assert any("a ticket is not drawn with its seed" in p for p in problems)
