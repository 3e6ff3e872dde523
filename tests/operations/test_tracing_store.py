"""Traced orders in the store: audit, idempotence, merging across runs, withdrawn orders,
queued exceptions, append-only tables, and the health department's outbreak decisions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from schoolmode.operations.tracing_store import (
    confirm_outbreak,
    effective_orders,
    order_history,
    outbreak_decisions,
    stored_outbreaks,
    trace_and_record,
    trace_exceptions,
    trace_run_count,
)
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import Registry, policy_hash
from tests.conftest import case_row, import_classroom, import_frames, standard_frame

D = dt.date
START = D(2021, 9, 1)


def test_recorded_orders_carry_rule_and_policy_hash_and_recording_is_idempotent(
    store: Engine, tmp_path: Path, registry: Registry
) -> None:
    import_classroom(store, tmp_path, [case_row("C1", "S1", D(2021, 11, 1))])
    result, recorded = trace_and_record(store, registry, ["C1"])
    assert recorded.run_id == 1
    assert recorded.orders_added == result.issued.height == 5  # 4 classmates + the case
    history = order_history(store)
    quarantine = history.filter(pl.col("kind") == "quarantine")
    assert set(quarantine["policy_id"]) == {"cdc-quarantine-2020-12-02"}
    want = policy_hash(registry.get("cdc-quarantine-2020-12-02").policy)
    assert set(quarantine["policy_hash"]) == {want}
    assert set(quarantine["rule"]) == set(result.contacts["rule"])
    with store.connect() as conn:
        run = conn.execute(text("SELECT policies_json, rules_json FROM trace_run")).one()
    assert json.loads(run.policies_json)["cdc-quarantine-2020-12-02"] == want
    assert len(json.loads(run.rules_json)) >= 4
    # the same trace again writes nothing
    _, again = trace_and_record(store, registry, ["C1"])
    assert again.run_id is None
    assert "unchanged" in again.summary()
    assert trace_run_count(store) == 1
    assert order_history(store).height == 5


def test_orders_of_two_runs_merge_and_a_removed_contact_is_withdrawn(
    store: Engine, tmp_path: Path, registry: Registry
) -> None:
    import_classroom(store, tmp_path / "a", [case_row("C1", "S1", D(2021, 11, 1))])
    trace_and_record(store, registry, ["C1"])
    # a second case in the homeroom a week later, traced in its own run
    import_classroom(
        store,
        tmp_path / "b",
        [case_row("C1", "S1", D(2021, 11, 1)), case_row("C2", "S2", D(2021, 11, 8))],
    )
    trace_and_record(store, registry, ["C2"])
    merged = effective_orders(store).filter(
        (pl.col("person_id") == "S3") & (pl.col("kind") == "quarantine")
    )
    # C1: 11-02 .. 11-12; C2: 11-09 .. 11-19 -> one order 11-02 .. 11-19 (latest end wins)
    assert merged.select("start_date", "end_date", "case_id").rows() == [
        (D(2021, 11, 2), D(2021, 11, 19), "C2")
    ]
    assert order_history(store).filter(pl.col("person_id") == "S3").height == 2  # history kept
    # S5 leaves the roster before C1's window: re-tracing C1 withdraws S5's order (appended)
    people = [f"S{i}" for i in range(1, 6)]
    enrolment = standard_frame(
        "enrolment",
        [
            {
                "person_id": p,
                "classroom_id": "3A",
                "start_date": START,
                "end_date": D(2021, 10, 1) if p == "S5" else None,
            }
            for p in people
        ],
    )
    import_frames(store, {"enrolment": enrolment}, tmp_path / "c")
    _, recorded = trace_and_record(store, registry, ["C1"])
    assert recorded.orders_withdrawn == 1
    history = order_history(store)
    s5 = history.filter((pl.col("person_id") == "S5") & (pl.col("case_id") == "C1"))
    assert s5["status"].to_list() == ["issued", "withdrawn"]
    # C2's order for S5 stands until C2 is traced again
    in_force = effective_orders(store).filter(pl.col("person_id") == "S5")
    assert in_force.select("case_id", "start_date", "end_date").rows() == [
        ("C2", D(2021, 11, 9), D(2021, 11, 19))
    ]
    trace_and_record(store, registry, ["C2"])
    assert effective_orders(store).filter(pl.col("person_id") == "S5").height == 0


def test_an_untraceable_case_is_queued_and_the_others_are_traced(
    store: Engine, tmp_path: Path, registry: Registry
) -> None:
    import_classroom(
        store,
        tmp_path,
        [case_row("C1", "S1", D(2021, 11, 1)), case_row("C2", "GHOST", D(2021, 11, 1))],
    )
    _, recorded = trace_and_record(store, registry)
    assert recorded.exceptions_added == 1
    queued = trace_exceptions(store)
    assert queued.select("case_id", "person_id").rows() == [("C2", "GHOST")]
    assert set(order_history(store)["case_id"]) == {"C1"}
    _, again = trace_and_record(store, registry)
    assert again.run_id is None  # the exception is already queued: nothing new
    with pytest.raises(SchoolmodeError, match="no case 'C9'"):
        trace_and_record(store, registry, ["C9"])


def test_tracing_tables_are_append_only(store: Engine, tmp_path: Path, registry: Registry) -> None:
    import_classroom(store, tmp_path, [case_row("C1", "S1", D(2021, 11, 1))])
    trace_and_record(store, registry, ["C1"])
    for statement in (
        "UPDATE traced_order SET end_date = start_date",
        "DELETE FROM traced_order",
        "DELETE FROM trace_run",
    ):
        with pytest.raises(DBAPIError, match="append-only"), store.begin() as conn:
            conn.execute(text(statement))
    assert order_history(store).height == 5


def test_the_health_department_confirms_a_detected_outbreak(
    store: Engine, tmp_path: Path, registry: Registry
) -> None:
    cases = [
        case_row("C1", "S1", D(2021, 11, 1)),
        case_row("C2", "S2", D(2021, 11, 5)),
        case_row("C3", "S3", D(2021, 11, 9)),
    ]
    import_classroom(store, tmp_path, cases, students=30)
    detected = stored_outbreaks(store, registry).filter(pl.col("meets_definition"))
    assert detected.select("classroom_id", "date").rows() == [("3A", D(2021, 11, 9))]
    assert detected["lhd_confirmed"].to_list() == [None]
    # not detected there that day: refused, nothing recorded
    with pytest.raises(
        SchoolmodeError, match="no outbreak detected in classroom '3A' on 2021-11-05"
    ):
        confirm_outbreak(store, registry, "3A", D(2021, 11, 5), True, "CDPH", D(2021, 11, 6))
    with pytest.raises(SchoolmodeError, match="before the detection"):
        confirm_outbreak(store, registry, "3A", D(2021, 11, 9), True, "CDPH", D(2021, 11, 8))
    assert outbreak_decisions(store).height == 0
    confirm_outbreak(store, registry, "3A", D(2021, 11, 9), False, "CDPH", D(2021, 11, 10))
    confirm_outbreak(
        store, registry, "3A", D(2021, 11, 9), True, "CDPH", D(2021, 11, 12), note="after review"
    )
    out = stored_outbreaks(store, registry).filter(pl.col("date") == D(2021, 11, 9))
    assert out["lhd_confirmed"].to_list() == [True]  # the latest decision stands
    assert outbreak_decisions(store)["confirmed"].to_list() == [False, True]  # both kept
    with pytest.raises(DBAPIError, match="append-only"), store.begin() as conn:
        conn.execute(text("UPDATE outbreak_confirmation SET confirmed = false"))
