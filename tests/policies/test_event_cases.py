"""Cases written as raw events (issue 15, item 5): the runner turns rosters, absences, cases,
orders and substitutes into frames through the metrics code and the policy's counting rules,
and a bad event row is an error naming the case file, its line, the row and the field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from schoolmode.cases.events import EventProblem, expand, school_data
from schoolmode.cases.runner import case_frames, execute, frames_of, runs_for
from schoolmode.policy.case_events import CaseEvents
from schoolmode.policy.cases import EngineCase, load_case_file
from schoolmode.policy.errors import PolicyFileError
from schoolmode.policy.loader import Registry
from tests.conftest import POLICIES

D = dt.date.fromisoformat
AGREEMENT = "cps-ctu-2022-01-10"
TEACHERS = POLICIES / AGREEMENT / "cases" / "teacher-absences.yaml"
EVENTS = POLICIES / AGREEMENT / "cases" / "teacher-absences-events.yaml"


def _cases(path: Path) -> dict[str, EngineCase]:
    return {c.id: c for c in load_case_file(path).cases if isinstance(c, EngineCase)}


def test_events_give_the_precomputed_values() -> None:
    written_case = _cases(TEACHERS)["cps22-teacher-absence-brief-example"]
    events_case = _cases(EVENTS)["cps22-teacher-absence-brief-example-events"]
    policy = Registry(POLICIES).get(AGREEMENT).policy
    written = frames_of(written_case)["school"]
    counted = case_frames(events_case, policy, {})
    school = counted["school"].select(written.columns)
    assert school.sort("date").equals(written.sort("date"), null_equal=True)
    # no students in the events: the student metrics are left out, as the written case does
    assert "enrolled" not in counted["school"].columns


def test_ranges_and_lists_expand() -> None:
    assert expand("T{1..3}", ()) == ["T1", "T2", "T3"]
    assert expand("R{08..10}", ()) == ["R08", "R09", "R10"]
    assert expand("room-{a,b}", ()) == ["room-a", "room-b"]
    assert expand("T7", ()) == ["T7"]
    with pytest.raises(EventProblem, match="count up"):
        expand("T{3..1}", ("events", "staff", 0, "person"))


def test_household_ids_link_the_later_cases() -> None:
    events = CaseEvents.model_validate(
        {
            "classrooms": [{"classroom": "R", "school": "S"}],
            "students": [{"person": "s{1..5}", "classroom": "R"}],
            "cases": [
                {"person": "s1", "report": "2021-03-09", "onset": "2021-03-08", "household": "h"},
                {"person": "s2", "report": "2021-03-09", "onset": "2021-03-06", "household": "h"},
                {"person": "s3", "report": "2021-03-10", "household": "h"},
                {"person": "s4", "report": "2021-03-10", "household": "k"},
                {"person": "s5", "report": "2021-03-10", "household_linked": True},
            ],
        }
    )
    case = school_data(events, D("2021-03-01")).case.sort("person_id")
    # s2 has the earliest onset of household h: s1 and s3 are linked to it
    assert case["household_linked"].to_list() == [True, False, True, False, True]


def _write(folder: Path, events: str) -> Path:
    path = folder / "bad.yaml"
    path.write_text(
        "cases:\n"
        "  - id: bad-events-probe\n"
        "    title: probe\n"
        "    confidence: U\n"
        "    justification: a probe\n"
        "    events:\n" + events + "    expect:\n"
        "      - {unit: X, date: 2022-01-19, status: in_person}\n",
        encoding="utf-8",
    )
    return path


STAFF = '      staff:\n        - {person: "T{1..4}", school: X, classroom: "R{1..4}"}\n'


@pytest.mark.parametrize(
    ("events", "line", "words"),
    [
        (
            STAFF + "      absences:\n"
            "        - {person: T1, date: 2022-01-18, reason: documented_positive}\n"
            "        - {person: T9, date: 2022-01-19, reason: documented_positive}\n",
            11,
            ["cases[0].events.absences[1].person", "'T9' is on no roster"],
        ),
        (
            "      students:\n"
            '        - {person: "s{1..3}", classroom: R7}\n'
            "      cases:\n"
            "        - {person: s1, report: 2022-01-18}\n",
            8,
            ["cases[0].events.students[0].classroom", "'R7' is not in events.classrooms"],
        ),
        (
            '      staff:\n        - {person: "T{1..4}", school: X, classroom: "R{1..3}"}\n',
            8,
            ["cases[0].events.staff[0]", "person has 4, classroom has 3"],
        ),
    ],
)
def test_a_bad_event_names_the_file_line_row_and_field(
    tmp_path: Path, events: str, line: int, words: list[str]
) -> None:
    path = _write(tmp_path, events)
    run = next(iter(runs_for(Registry(POLICIES).get(AGREEMENT), path)))
    failures = execute(run, Registry(POLICIES)).failures
    assert len(failures) == 1
    assert f"{path}:{line}: " in failures[0], failures[0]
    for word in words:
        assert word in failures[0], failures[0]


def test_a_bad_reason_code_is_a_validation_error(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        STAFF + "      absences:\n        - {person: T1, date: 2022-01-18, reason: sick}\n",
    )
    with pytest.raises(PolicyFileError) as caught:
        load_case_file(path)
    message = str(caught.value)
    assert f"{path}:10:" in message
    assert "events.absences[0].reason" in message
    assert "'documented_positive'" in message


def test_a_case_needs_frames_or_events(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(
        "cases:\n  - {id: empty-probe, title: t, confidence: U, justification: j}\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyFileError, match="`frames` \\(metric values\\) or `events`"):
        load_case_file(path)


def test_frames_add_columns_to_the_event_frames(tmp_path: Path) -> None:
    case = EngineCase.model_validate(
        {
            "id": "mixed-probe",
            "title": "t",
            "confidence": "U",
            "justification": "j",
            "events": {
                "staff": [{"person": "T{1..4}", "school": "X", "classroom": "R{1..4}"}],
                "absences": [{"person": "T1", "date": "2022-01-18", "reason": "personal"}],
            },
            "frames": {"school": [{"unit": "X", "date": D("2022-01-18"), "enrolled": 80}]},
        }
    )
    policy = Registry(POLICIES).get(AGREEMENT).policy
    school = case_frames(case, policy, {})["school"]
    assert school.select("classroom_teachers", "covid_absent_teachers", "enrolled").rows() == [
        (4, 0, 80)
    ]
    clash = case.model_copy(
        update={
            "frames": {
                **case.frames,
                "school": [{"unit": "X", "date": D("2022-01-18"), "staff_total": 3}],
            }
        }
    )
    with pytest.raises(EventProblem, match="staff_total come from the events"):
        case_frames(clash, policy, {})
