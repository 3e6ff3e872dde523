"""The gates' one pass over the agents (``gates._agents``) against the array expressions it
replaced, on random agents, orders, closures and symptoms."""

from __future__ import annotations

import numpy as np
import pytest

from schoolmode.sim.gates import _agents


def _reference(d: int, school_day: bool, a: dict[str, np.ndarray]) -> dict[str, object]:
    isolated = a["iso_until"] > d
    quarantined = a["quar_until"] > d
    ill = a["sym"] & a["stay_home"]
    going = a["going"]
    unit_closed = a["has_school"] & (
        a["s_closed"][a["school_idx"]] | ((a["room"] >= 0) & a["r_closed"][a["room_idx"]])
    )
    away = ill | isolated | quarantined
    present = (
        a["has_school"] & school_day & ~unit_closed & ~(isolated | quarantined | (ill & ~going))
    )
    attends = present & ~going
    student, staff = a["is_student"], a["is_staff"]
    last = a["last_attended"].copy()
    last[present] = d
    counts = [
        int((attends & student).sum()),
        int((attends & staff).sum()),
        int((unit_closed & student).sum()),
        int((a["has_school"] & student & away).sum()),
        int((staff & away).sum()),
        int((quarantined & ~isolated).sum()),
        int(isolated.sum()),
    ]
    return {
        "isolated": isolated,
        "quarantined": quarantined,
        "present": present,
        "last_attended": last,
        "counts": counts,
    }


@pytest.mark.parametrize("seed", range(12))
def test_one_pass_equals_the_array_expressions(seed: int) -> None:
    rnd = np.random.default_rng(seed)
    n, schools, rooms, d = int(rnd.integers(1, 400)), 5, 12, int(rnd.integers(0, 30))
    school = rnd.integers(-1, schools, n)
    room = np.where(school >= 0, rnd.integers(-1, rooms, n), -1)
    a = {
        "has_school": school >= 0,
        "school_idx": np.maximum(school, 0),
        "room": room,
        "room_idx": np.maximum(room, 0),
        "s_closed": rnd.random(schools) < 0.3,
        "r_closed": rnd.random(rooms) < 0.3,
        "sym": rnd.random(n) < 0.3,
        "stay_home": rnd.random(n) < 0.6,
        "going": rnd.random(n) < 0.2,
        "iso_until": rnd.integers(0, 40, n),
        "quar_until": rnd.integers(0, 40, n),
        "is_student": rnd.random(n) < 0.5,
        "is_staff": rnd.random(n) < 0.2,
        "last_attended": rnd.integers(-5, 30, n),
    }
    for school_day in (True, False):
        want = _reference(d, school_day, a)
        last = a["last_attended"].copy()
        isolated, quarantined, present = (np.empty(n, dtype=bool) for _ in range(3))
        counts = np.zeros(7, dtype=np.int64)
        _agents(
            d,
            school_day,
            *(a[k] for k in ("has_school", "school_idx", "room", "room_idx", "s_closed")),
            *(a[k] for k in ("r_closed", "sym", "stay_home", "going", "iso_until", "quar_until")),
            a["is_student"],
            a["is_staff"],
            last,
            isolated,
            quarantined,
            present,
            counts,
        )
        assert (isolated == want["isolated"]).all()
        assert (quarantined == want["quarantined"]).all()
        assert (present == want["present"]).all()
        assert (last == want["last_attended"]).all()
        assert counts.tolist() == want["counts"]
