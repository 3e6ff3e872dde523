"""The screening use cases (app/screening.py) on a small district in a SQLite store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from schoolmode.app import screening as uc
from schoolmode.app.context import Context, open_context
from schoolmode.operations.screening_store import load_plan
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.store.migrate import upgrade
from tests.conftest import POLICIES, import_frames, standard_frame

D = dt.date
WEEK = D(2022, 1, 24)  # cps-ctu-2022-01-10: 10% of students at resourced schools
STUDENTS = 40


def _district() -> dict[str, object]:
    start = D(2021, 9, 1)
    students = [f"S{i:03d}" for i in range(STUDENTS)]
    staff = ["T1", "T2"]
    return {
        "school": standard_frame(
            "school",
            [
                {
                    "school_id": "SCH",
                    "school_year": "2021-2022",
                    "district_id": "D",
                    "name": "School",
                    "level": "ES",
                    "grades": "3",
                    "zip": "60601",
                    "enrolment": STUDENTS,
                }
            ],
        ),
        "classroom": standard_frame(
            "classroom",
            [{"classroom_id": "3A", "school_id": "SCH", "school_year": "2021-2022", "grade": "3"}],
        ),
        "person": standard_frame(
            "person",
            [{"person_id": p, "role": "student", "age_years": 8} for p in students]
            + [{"person_id": p, "role": "classroom_teacher", "age_years": 40} for p in staff],
        ),
        "enrolment": standard_frame(
            "enrolment",
            [{"person_id": p, "classroom_id": "3A", "start_date": start} for p in students],
        ),
        "staff_assignment": standard_frame(
            "staff_assignment",
            [
                {
                    "person_id": p,
                    "school_id": "SCH",
                    "classroom_id": "3A",
                    "role": "classroom_teacher",
                    "start_date": start,
                }
                for p in staff
            ],
        ),
        "testing_consent": standard_frame(
            "testing_consent", [{"person_id": p, "start_date": start} for p in students[:30]]
        ),
    }


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    with open_context(
        db_url=f"sqlite:///{tmp_path / 'store.sqlite'}", policies_dir=POLICIES
    ) as context:
        upgrade(context.engine)
        import_frames(context.engine, _district(), tmp_path / "d")  # type: ignore[arg-type]
        yield context


def test_plan_stores_the_week_and_returns_its_figures(ctx: Context) -> None:
    steps: list[str] = []
    made = uc.plan(ctx, uc.PlanRequest(week=D(2022, 1, 26), seed=3), steps.append)
    assert steps == ["reading the store", "selecting and pooling", "storing"]
    assert (made.plan_id, made.policy_id, made.week, made.label) == (
        1,
        "cps-ctu-2022-01-10",
        WEEK,
        "2022W04",
    )
    assert made.totals["students"] == STUDENTS
    assert made.totals["student_target"] == 4  # 10% of 40
    assert made.tests == made.totals["students_selected"] == 4
    assert made.pools == 1
    assert made.shortfall_schools == 0
    assert made.schools["school_id"].to_list() == ["SCH"]
    # same seed, same selection
    again = uc.plan(ctx, uc.PlanRequest(week=WEEK, seed=3))
    assert again.plan_id == 2
    assert load_plan(ctx.engine, 1).members.equals(load_plan(ctx.engine, 2).members)


def test_plan_refuses_a_store_behind_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    with open_context(db_url=url) as empty, pytest.raises(SchoolmodeError, match="latest schema"):
        uc.plan(empty, uc.PlanRequest(week=WEEK))


def test_stored_results_exceptions_and_positivity(ctx: Context, tmp_path: Path) -> None:
    made = uc.plan(ctx, uc.PlanRequest(week=WEEK))
    pool = load_plan(ctx.engine, made.plan_id).members["pool_id"][0]
    results = tmp_path / "results.csv"
    results.write_text(
        "specimen_id,pool_id,person_id,result,specimen_date\n"
        f"X1,{pool},,negative,2022-01-24\n"
        "X2,NOPOOL,,negative,2022-01-24\n"
    )
    req = uc.StoredResultsRequest(path=results, today=D(2022, 1, 28), by="lab")
    done = uc.stored_results(ctx, req)
    assert (done.plan_id, done.policy_id, done.week) == (made.plan_id, made.policy_id, WEEK)
    assert (done.counts["rows"], done.counts["stored"], done.counts["exceptions"]) == (2, 1, 1)
    assert [(e.file_row, e.kind, e.value) for e in done.exceptions] == [
        (2, "unknown_pool", "NOPOOL")
    ]
    assert done.outcome.counts["negative"] == made.tests
    assert done.outcome.positivity["positive"] == 0
    assert done.open_exceptions == 1
    queue = uc.exceptions(ctx, uc.ExceptionsRequest()).rows
    assert queue["kind"].to_list() == ["unknown_pool"]
    uc.resolve(ctx, uc.ResolveRequest(exception_id=int(queue["id"][0]), note="typo", by="me"))
    assert uc.exceptions(ctx, uc.ExceptionsRequest()).rows.height == 0
    assert uc.exceptions(ctx, uc.ExceptionsRequest(show_all=True)).rows.height == 1
    week = uc.week_positivity(ctx, uc.PositivityRequest(week=D(2022, 1, 30)))
    assert (week.monday, week.tests) == (WEEK, 0)
    assert [(p["plan_id"], p["rule"], p["denominator"]) for p in week.plans] == [
        (made.plan_id, "by_test", 1),
        (made.plan_id, "by_person", made.tests),
    ]


def test_file_results_deconvolve_without_the_store(ctx: Context, tmp_path: Path) -> None:
    members = tmp_path / "pools.csv"
    members.write_text("person_id,pool_id\n" + "".join(f"S{i},P{i // 4 + 1}\n" for i in range(8)))
    results = tmp_path / "results.csv"
    results.write_text(
        "pool_id,result,specimen_date\nP1,negative,2021-03-01\nP2,invalid,2021-03-01\n"
    )
    got = uc.file_results(ctx, uc.FileResultsRequest(results=results, assignments=members))
    assert (got.counts["negative"], got.counts["retest_queued"]) == (4, 4)
    assert got.positivity["excluded_invalid"] == 1
    assert next((r.person_id, r.pool_id, r.reason) for r in got.retests) == (
        "S4",
        "P2",
        "pool_invalid",
    )
    with pytest.raises(SchoolmodeError, match="cannot read CSV"):
        uc.file_results(
            ctx, uc.FileResultsRequest(results=tmp_path / "none.csv", assignments=members)
        )
