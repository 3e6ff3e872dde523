"""The public releases of a period (``app.releases``): a day's school and district counts, a
week's cases; what they hide, what an attacker can work out from them (nothing), what an
earlier release of the same period fixes, and a period that cannot be protected published
coarser with a note, never refused."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schoolmode.app.releases import (
    BEFORE,
    DAY_COUNTS,
    WEEK_COUNTS,
    Earlier,
    day_relations,
    day_release,
    day_tables,
    week_relations,
    week_release,
    week_tables,
)
from schoolmode.disclosure import Release, rule_on
from tests.disclosure.attacker import recovered

MONDAY = dt.date(2022, 1, 10)
RULE = rule_on(MONDAY)
BASE = {
    "enrolled": 300,
    "students_quarantine_isolation": 20,
    "classroom_teachers": 30,
    "covid_absent_teachers": 12,
    "staff_total": 50,
    "staff_isolation_quarantine": 15,
}


def _school(cases: dict[str, list[int]], **over: dict[str, int]) -> pl.DataFrame:
    """Schools' rows by day from MONDAY (``cases``: each school's cases per day; ``over``: a
    school's day counts other than ``BASE``)."""
    return pl.DataFrame(
        [
            {
                "unit": unit,
                "date": MONDAY + dt.timedelta(days=k),
                "parent": "district",
                "in_outbreak": 0,
                **(BASE | over.get(unit, {})),
                "school_cases": n,
            }
            for unit, days in cases.items()
            for k, n in enumerate(days)
        ]
    )


def _attack(rel: Release, out: dict[str, pl.DataFrame]) -> list[int]:
    """The cells the attacker pins from what ``out`` publishes (the tables of ``rel``)."""
    cells = rel.cells()
    hidden = np.zeros(len(cells.values), dtype=bool)
    for name, table in rel.tables.items():
        flags = out[name].select(pl.col(c).is_null() for c in table.counts).to_numpy()
        hidden[table.offset : table.offset + flags.size] = flags.reshape(-1)
    small = (cells.values >= RULE.low) & (cells.values <= RULE.high)
    assert not (small & cells.published & ~hidden).any(), "a small count is shown"
    assert (cells.values[hidden] >= 1).all(), "a zero was hidden"
    targets = np.flatnonzero(hidden | (small & ~cells.published)).tolist()
    return recovered(cells.values, cells.published, hidden, cells.relations, targets)


def test_a_day_hides_its_small_counts_and_nothing_can_be_worked_out() -> None:
    school = _school(
        {"A": [0], "B": [0], "C": [0]},
        A={"covid_absent_teachers": 3, "staff_isolation_quarantine": 4},
        B={"students_quarantine_isolation": 7},
    )
    t = day_tables(school, MONDAY)
    out, notes = day_release(t, RULE)
    assert notes == []
    a = out["school"].filter(pl.col("unit") == "A").row(0, named=True)
    assert a["covid_absent_teachers"] is None
    assert "covid_absent_teachers" in a["suppressed"]
    assert out["district"]["enrolled"].to_list() == [900]
    assert _attack(day_relations(t), out) == []


def test_a_week_publishes_cases_by_school_and_by_district_day_with_none_recoverable() -> None:
    school = _school({"A": [3, 2, 0, 0, 0], "B": [0] * 5, "C": [9, 4, 5, 2, 20]})
    t = week_tables(school, MONDAY)
    assert t["school_week"]["school_cases"].to_list() == [5, 0, 40]
    assert t["district_week"]["school_cases"].to_list() == [45]
    assert t["district_day"]["school_cases"].to_list() == [12, 6, 5, 2, 20]
    out, notes = week_release(t, RULE)
    assert notes == []
    shown = out["school_week"].select("unit", "school_cases").rows()
    assert ("A", None) in shown, "A's 5 cases are hidden"
    assert ("C", None) in shown, "and C's 40 with them: B's zero cannot protect them"
    assert ("B", 0) in shown
    assert out["district_week"]["school_cases"].to_list() == [45]
    rel = week_relations(t)
    assert _attack(rel, out) == []


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(
        st.lists(st.integers(0, 14), min_size=5, max_size=5),
        min_size=2,
        max_size=4,
    )
)
def test_an_attacker_recovers_no_cell_of_a_week(days: list[list[int]]) -> None:
    school = _school({f"S{k}": d for k, d in enumerate(days)})
    t = week_tables(school, MONDAY)
    out, notes = week_release(t, RULE)
    rel = week_relations(t, with_schools=not notes)
    assert _attack(rel, out) == []


def _attack_both(
    before: dict[str, pl.DataFrame],
    first: dict[str, pl.DataFrame],
    now: dict[str, pl.DataFrame],
    out: dict[str, pl.DataFrame],
) -> list[int]:
    """The cells an attacker holding both releases of a week pins: the first (``first``, made
    from ``before``) and the second (``out``, from ``now``), a figure unchanged between them
    taken as the same count (the worst case: the attacker guesses right)."""
    rel = week_relations(now)
    week_relations(before, rel=rel, prefix=BEFORE)
    for name in ("school_week", "district_week", "district_day"):
        rel.equal(name, BEFORE + name, WEEK_COUNTS)
    return _attack(rel, {**out, **{BEFORE + k: v for k, v in first.items()}})


def test_an_earlier_release_of_the_period_stays_as_published() -> None:
    # the first release hid A's 5 and C's 40 (A's complement); data unchanged, a second
    # release may not show C's 40 and hide another school instead
    school = _school({"A": [5, 0, 0, 0, 0], "B": [0, 30, 0, 0, 0], "C": [40, 0, 0, 0, 0]})
    t = week_tables(school, MONDAY)
    first, _ = week_release(t, RULE)
    again, notes = week_release(t, RULE, earlier=Earlier(published=first, exact=t))
    assert notes == []
    for name in ("school_week", "district_week", "district_day"):
        assert again[name].equals(first[name]), name


def test_a_corrected_count_is_released_again_and_what_stays_true_stays_shown() -> None:
    school = _school({"A": [0] * 5, "B": [30, 0, 0, 0, 0], "C": [40, 0, 0, 0, 0]})
    t = week_tables(school, MONDAY)
    first, _ = week_release(t, RULE)
    assert first["school_week"]["school_cases"].to_list() == [0, 30, 40]
    # a correction: A had 4 cases on Monday; A's 4 needs a complement, B's 30 and C's 40 went
    # out unchanged and are locked: the district's week and Monday (changed) are hidden instead
    fixed = _school({"A": [4, 0, 0, 0, 0], "B": [30, 0, 0, 0, 0], "C": [40, 0, 0, 0, 0]})
    u = week_tables(fixed, MONDAY)
    out, notes = week_release(u, RULE, earlier=Earlier(published=first, exact=t))
    assert notes == []
    assert out["school_week"]["school_cases"].to_list() == [None, 30, 40]
    assert out["district_week"]["school_cases"].to_list() == [None]
    assert _attack_both(t, first, u, out) == []


def test_a_correction_is_protected_with_the_earlier_release_in_view() -> None:
    # first release: Y's 5 hidden with Z's 12 as its complement, A's 40 and the district's 57
    # shown (so Y + Z = 17). A is corrected to 8: on its own the second release would hide A
    # (and keep Y and Z hidden) and show the district's 25, and A = 25 - 17 = 8 would follow
    # from the two together. Protected together, the district's week and Monday are hidden too.
    before = week_tables(
        _school({"A": [40, 0, 0, 0, 0], "W": [0] * 5, "Y": [5, 0, 0, 0, 0], "Z": [12] + [0] * 4}),
        MONDAY,
    )
    first, _ = week_release(before, RULE)
    assert first["school_week"]["school_cases"].to_list() == [40, 0, None, None]
    now = week_tables(
        _school({"A": [8, 0, 0, 0, 0], "W": [0] * 5, "Y": [5, 0, 0, 0, 0], "Z": [12] + [0] * 4}),
        MONDAY,
    )
    alone, _ = week_release(now, RULE)
    assert alone["district_week"]["school_cases"].to_list() == [25], "the trap is real"
    assert _attack_both(before, first, now, alone) != [], "and the attacker finds A in it"
    out, notes = week_release(now, RULE, earlier=Earlier(published=first, exact=before))
    assert notes == []
    assert out["school_week"]["school_cases"].to_list() == [None, 0, None, None]
    assert out["district_week"]["school_cases"].to_list() == [None]
    assert _attack_both(before, first, now, out) == []


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(st.lists(st.integers(0, 14), min_size=3, max_size=3), min_size=2, max_size=4),
    st.data(),
)
def test_an_attacker_with_both_releases_recovers_nothing(
    days: list[list[int]], data: st.DataObject
) -> None:
    before = week_tables(_school({f"S{k}": d for k, d in enumerate(days)}), MONDAY)
    first, first_notes = week_release(before, RULE)
    school = data.draw(st.integers(0, len(days) - 1))
    day = data.draw(st.integers(0, 2))
    value = data.draw(st.integers(0, 14))
    fixed = [list(d) for d in days]
    fixed[school][day] = value
    now = week_tables(_school({f"S{k}": d for k, d in enumerate(fixed)}), MONDAY)
    out, notes = week_release(now, RULE, earlier=Earlier(published=first, exact=before))
    if notes or first_notes:
        return  # withheld coarser: what is left is checked by the unit tests above
    assert _attack_both(before, first, now, out) == []


def test_a_period_whose_earlier_release_gave_a_cell_away_is_withheld_whole() -> None:
    # an earlier release (made by hand here) showed C's 20, B's zero and the district's 25:
    # A's 5 follows from it, and nothing released now can take that back: every count of the
    # period is withheld, with notes, never refused
    school = _school({"A": [5, 0, 0, 0, 0], "B": [0] * 5, "C": [20, 0, 0, 0, 0]})
    t = week_tables(school, MONDAY)
    leaky = {
        "school_week": t["school_week"].with_columns(
            pl.when(pl.col("unit") != "A").then(pl.col("school_cases")).alias("school_cases")
        ),
        "district_week": t["district_week"],
        "district_day": t["district_day"],
    }
    out, notes = week_release(t, RULE, earlier=Earlier(published=leaky, exact=t))
    assert len(notes) == 2
    assert "school week counts withheld" in notes[0], notes
    assert "all counts withheld" in notes[1], notes
    assert all(out[n]["school_cases"].null_count() == out[n].height for n in out)


def test_the_releases_carry_only_their_counts() -> None:
    school = _school({"A": [1, 2, 3, 4, 5]})
    t = day_tables(school, MONDAY)
    assert set(t["school"].columns) == {"unit", "date", "parent", "in_outbreak", *DAY_COUNTS}
    w = week_tables(school, MONDAY)
    assert set(w["school_week"].columns) == {"unit", "date", "parent", *WEEK_COUNTS}
