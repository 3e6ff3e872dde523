"""``schoolmode trace`` and ``schoolmode quarantine list`` over a stored district."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.operations.tracing import load_frames, trace_stored_case
from schoolmode.operations.tracing_store import order_history, trace_run_count
from schoolmode.policy.loader import Registry
from tests.conftest import case_row, import_classroom, import_frames, standard_frame, store_url

D = dt.date


def test_trace_and_quarantine_list(store: Engine, tmp_path: Path, registry: Registry) -> None:
    start = D(2020, 9, 1)
    frames = {
        "person": standard_frame(
            "person",
            [
                {"person_id": p, "role": r}
                for p, r in [("A", "student"), ("B", "student"), ("T", "classroom_teacher")]
            ],
        ),
        "classroom": standard_frame(
            "classroom",
            [{"classroom_id": "3A", "school_id": "SCH", "school_year": "2020-2021", "grade": "3"}],
        ),
        "enrolment": standard_frame(
            "enrolment",
            [{"person_id": p, "classroom_id": "3A", "start_date": start} for p in ("A", "B")],
        ),
        "staff_assignment": standard_frame(
            "staff_assignment",
            [
                {
                    "person_id": "T",
                    "school_id": "SCH",
                    "classroom_id": "3A",
                    "role": "classroom_teacher",
                    "start_date": start,
                }
            ],
        ),
        "case": standard_frame("case", [case_row("C1", "A", D(2020, 12, 9))]),
    }
    import_frames(store, frames, tmp_path)
    url = store_url(store)
    out = CliRunner().invoke(app, ["trace", "C1", "--no-store", "--db", url])
    assert out.exit_code == 0, out.output
    assert "case C1: 2 close contact(s)" in out.output
    assert "order quarantine B: 2020-12-10 to 2020-12-20" in out.output
    assert "order isolation A: 2020-12-10 to 2020-12-19" in out.output
    missing = CliRunner().invoke(app, ["trace", "C9", "--db", url])
    assert missing.exit_code == 4  # an unknown id (docs/exit-codes.md)
    assert "no case 'C9'" in missing.output
    # --no-store wrote nothing: the list is empty
    out = CliRunner().invoke(
        app, ["quarantine", "list", "--school", "SCH", "--date", "2020-12-12", "--db", url]
    )
    assert out.exit_code == 0, out.output
    assert "SCH on 2020-12-12: 0 active order(s)" in out.output
    # trace and store (the default), then list them
    out = CliRunner().invoke(app, ["trace", "C1", "--db", url])
    assert out.exit_code == 0, out.output
    assert "trace run #1: 3 order row(s) added, 0 withdrawn, 2 contact(s)" in out.output
    out = CliRunner().invoke(
        app, ["quarantine", "list", "--school", "SCH", "--date", "2020-12-12", "--db", url]
    )
    assert "SCH on 2020-12-12: 3 active order(s)" in out.output
    assert "isolation A: 2020-12-10 to 2020-12-19 (case C1)" in out.output
    # tracing again changes nothing (idempotent)
    again = CliRunner().invoke(app, ["trace", "C1", "--db", url])
    assert "unchanged" in again.output
    assert trace_run_count(store) == 1
    # the same orders imported as well: merged per person and kind, still three
    orders = trace_stored_case(store, "C1", registry).orders
    import_frames(store, {"quarantine_order": orders}, tmp_path / "orders")
    out = CliRunner().invoke(
        app, ["quarantine", "list", "--school", "SCH", "--date", "2020-12-12", "--db", url]
    )
    assert "SCH on 2020-12-12: 3 active order(s)" in out.output
    out = CliRunner().invoke(
        app, ["quarantine", "list", "--school", "SCH", "--date", "2020-12-21", "--db", url]
    )
    assert "0 active order(s)" in out.output


def test_case_of_a_person_on_no_roster_is_refused_by_name(
    store: Engine, tmp_path: Path, registry: Registry
) -> None:
    """A case whose person is on no roster: a clear error naming the case and the person, and
    nothing written (the case stays in the store, no run, no order)."""
    frames = {
        "person": standard_frame("person", [{"person_id": "A", "role": "student"}]),
        "case": standard_frame("case", [case_row("C7", "GHOST", None, D(2022, 1, 13))]),
    }
    import_frames(store, frames, tmp_path)
    url = store_url(store)
    out = CliRunner().invoke(app, ["trace", "C7", "--db", url])
    assert out.exit_code == 2
    assert "case C7 names person GHOST, who is on no roster" in out.output
    assert trace_run_count(store) == 0
    assert order_history(store).height == 0
    # the case itself is still stored
    assert load_frames(store, ("case",))["case"]["case_id"].to_list() == ["C7"]


def test_outbreak_list_and_confirm(store: Engine, tmp_path: Path) -> None:
    cases = [case_row(f"C{i}", f"S{i + 1}", D(2021, 11, 1 + 4 * i)) for i in range(3)]
    import_classroom(store, tmp_path, cases, students=30)
    url = store_url(store)
    listed = CliRunner().invoke(app, ["outbreak", "list", "--db", url])
    assert listed.exit_code == 0, listed.output
    assert "3A 2021-11-09: 3 case(s) of 30, awaiting the health department" in listed.output
    args = ["outbreak", "confirm", "--classroom", "3A", "--by", "CDPH", "--db", url]
    refused = CliRunner().invoke(app, [*args, "--date", "2021-11-05"])
    assert refused.exit_code == 2
    assert "no outbreak detected in classroom '3A' on 2021-11-05" in refused.output
    bad_date = CliRunner().invoke(app, [*args, "--date", "9 Nov 2021"])
    assert bad_date.exit_code == 2
    assert "--date '9 Nov 2021' is not a date written YYYY-MM-DD" in bad_date.output
    confirmed = CliRunner().invoke(
        app, [*args, "--date", "2021-11-09", "--decided-on", "2021-11-10"]
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert "outbreak in 3A on 2021-11-09 confirmed by CDPH" in confirmed.output
    listed = CliRunner().invoke(app, ["outbreak", "list", "--db", url])
    assert "3A 2021-11-09: 3 case(s) of 30, confirmed" in listed.output
