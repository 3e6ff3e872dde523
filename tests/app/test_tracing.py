"""The tracing use cases (app/tracing.py) on one classroom in a SQLite store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from schoolmode.app import tracing as uc
from schoolmode.app.context import Context, open_context
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.store.migrate import upgrade
from tests.conftest import POLICIES, case_row, import_classroom

D = dt.date


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    """Classroom 3A of school SCH with 30 students and three cases four days apart (an
    outbreak on 2021-11-09)."""
    with open_context(
        db_url=f"sqlite:///{tmp_path / 'store.sqlite'}", policies_dir=POLICIES
    ) as context:
        upgrade(context.engine)
        cases = [case_row(f"C{i}", f"S{i + 1}", D(2021, 11, 1 + 4 * i)) for i in range(3)]
        import_classroom(context.engine, tmp_path, cases, students=30)
        yield context


def test_trace_then_record_once(ctx: Context) -> None:
    looked = uc.trace(ctx, uc.TraceRequest(case_id="C0", store=False))
    assert looked.recorded is None
    assert len(looked.contacts) == 29
    assert {c.setting for c in looked.contacts} == {"homeroom"}
    assert {c.classroom_id for c in looked.contacts} == {"3A"}
    kinds = sorted(o.kind for o in looked.orders)
    assert kinds.count("isolation") == 1
    assert kinds.count("quarantine") == 29
    isolation = next(o for o in looked.orders if o.kind == "isolation")
    assert (isolation.person_id, isolation.case_id, isolation.start_date) == (
        "S1",
        "C0",
        D(2021, 11, 2),
    )
    # nothing stored yet
    listed = uc.quarantine_list(ctx, uc.QuarantineListRequest(school_id="SCH", day=D(2021, 11, 3)))
    assert listed.orders == []
    stored = uc.trace(ctx, uc.TraceRequest(case_id="C0"))
    assert stored.recorded is not None
    assert stored.recorded.run_id == 1
    assert stored.recorded.orders_added == 30
    assert stored.recorded.contacts_added == 29
    assert stored.contacts == looked.contacts
    assert stored.orders == looked.orders
    again = uc.trace(ctx, uc.TraceRequest(case_id="C0"))
    assert again.recorded is not None
    assert again.recorded.run_id is None
    listed = uc.quarantine_list(ctx, uc.QuarantineListRequest(school_id="SCH", day=D(2021, 11, 3)))
    assert len(listed.orders) == 30
    assert {o.case_id for o in listed.orders} == {"C0"}


def test_trace_refuses_an_unknown_case(ctx: Context) -> None:
    with pytest.raises(SchoolmodeError, match="no case 'C9'"):
        uc.trace(ctx, uc.TraceRequest(case_id="C9"))


def test_outbreak_list_and_confirm(ctx: Context) -> None:
    found = uc.outbreak_list(ctx).outbreaks
    assert [(o.classroom_id, o.date, o.cases_in_window, o.group_size) for o in found] == [
        ("3A", D(2021, 11, 9), 3, 30)
    ]
    assert found[0].lhd_confirmed is None
    with pytest.raises(SchoolmodeError, match="no outbreak detected in classroom '3A'"):
        uc.confirm_outbreak(
            ctx,
            uc.ConfirmOutbreakRequest(
                classroom_id="3A", detected_on=D(2021, 11, 5), confirmed=True, decided_by="CDPH"
            ),
        )
    req = uc.ConfirmOutbreakRequest(
        classroom_id="3A",
        detected_on=D(2021, 11, 9),
        confirmed=False,
        decided_by="CDPH",
        note="one household",
    )
    assert uc.confirm_outbreak(ctx, req).decision_id == 1
    assert [o.lhd_confirmed for o in uc.outbreak_list(ctx).outbreaks] == [False]
