"""Who belongs where in a simulated population: roles, schools, homerooms and households as
flat arrays, members of homerooms and households as CSR, and the counts per unit that do not
change during a run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from schoolmode.sim.network import Population
from schoolmode.sim.state import OTHER_STAFF, STUDENT, TEACHER


def groups(key: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Members of each group as CSR (indptr, agent ids), for ``key >= 0``."""
    who = np.flatnonzero(key >= 0)
    order = who[np.argsort(key[who], kind="stable")]
    indptr = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(key[who], minlength=n_groups), out=indptr[1:])
    return indptr, order


def members(
    indptr: np.ndarray, member_ids: np.ndarray, which_groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(group position, member) pairs of the given groups: returns (which, member)."""
    starts, stops = indptr[which_groups], indptr[which_groups + 1]
    counts = stops - starts
    which = np.repeat(np.arange(which_groups.size), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return which, member_ids[np.repeat(starts, counts) + offsets]


@dataclass(frozen=True)
class Groups:
    """The population's memberships (agent arrays, int64) and fixed counts per unit."""

    n: int
    role: np.ndarray
    school: np.ndarray
    room: np.ndarray
    household: np.ndarray
    is_student: np.ndarray
    is_teacher: np.ndarray
    """Classroom teachers with a homeroom."""
    is_staff: np.ndarray
    has_school: np.ndarray
    school_idx: np.ndarray
    """``school`` with -1 as 0 (for indexing under ``has_school``)."""
    room_idx: np.ndarray
    n_schools: int
    n_rooms: int
    room_school: np.ndarray
    """(homerooms,): the homeroom's school (-1: none)."""
    room_members: tuple[np.ndarray, np.ndarray]
    """Students and classroom teachers of each homeroom (CSR)."""
    hh_members: tuple[np.ndarray, np.ndarray]
    zip_of_school: np.ndarray
    """(schools,): index of the school's ZIP among ``n_zips`` (-1: unknown)."""
    n_zips: int
    enrolled_s: np.ndarray
    teachers_s: np.ndarray
    staff_s: np.ndarray
    enrolled_c: np.ndarray
    group_size_c: np.ndarray
    """(homerooms,): students and classroom teachers (the outbreak definition's core group)."""
    grade_ids: list[str]
    """The grade units (a policy's ``grade`` scope): ``<school>/<grade>`` for each (school,
    declared grade) pair of the homerooms (``Population.classroom_grades``; a homeroom with
    none is a grade of its own, ``<school>/<homeroom>``), sorted."""
    room_grade: np.ndarray
    """(homerooms,): the homeroom's grade index (-1: a homeroom without a school)."""
    grade_school: np.ndarray
    """(grades,): the grade's school."""
    enrolled_g: np.ndarray

    @property
    def n_grades(self) -> int:
        return len(self.grade_ids)

    def by_grade(self, per_room: np.ndarray) -> np.ndarray:
        """(grades,) int64: ``per_room`` (homerooms,) summed over each grade's homerooms."""
        has = self.room_grade >= 0
        sums = np.bincount(self.room_grade[has], weights=per_room[has], minlength=self.n_grades)
        return np.rint(sums).astype(np.int64)

    @classmethod
    def build(
        cls, population: Population, agents: np.ndarray, school_attributes: Mapping[str, list[str]]
    ) -> Groups:
        n = population.network.n
        role = agents["role"].astype(np.int64)
        school = agents["school"].astype(np.int64)
        room = agents["classroom"].astype(np.int64)
        household = agents["household"].astype(np.int64)
        is_student = role == STUDENT
        is_teacher = (role == TEACHER) & (room >= 0)
        is_staff = (role == TEACHER) | (role == OTHER_STAFF)
        n_schools = len(population.school_ids)
        n_rooms = len(population.classroom_ids)
        zips = list(school_attributes.get("zip", [""] * n_schools))
        zip_names = sorted({z for z in zips if z})
        zip_of_school = np.array(
            [zip_names.index(z) if z else -1 for z in zips], dtype=np.int64
        ).reshape(-1)
        if zip_of_school.size != n_schools:
            zip_of_school = np.full(n_schools, -1, dtype=np.int64)
        room_school = np.full(n_rooms, -1, dtype=np.int64)
        has_room = room >= 0
        room_school[room[has_room]] = school[has_room]
        n_hh = int(household.max()) + 1 if n else 0
        enrolled_c = np.bincount(room[is_student & (room >= 0)], minlength=n_rooms)
        grade_ids, room_grade, grade_school = _grades(population, room_school)
        has_grade = room_grade >= 0
        return cls(
            n=n,
            role=role,
            school=school,
            room=room,
            household=household,
            is_student=is_student,
            is_teacher=is_teacher,
            is_staff=is_staff,
            has_school=school >= 0,
            school_idx=np.maximum(school, 0),
            room_idx=np.maximum(room, 0),
            n_schools=n_schools,
            n_rooms=n_rooms,
            room_school=room_school,
            room_members=groups(np.where(is_student | is_teacher, room, -1), n_rooms),
            hh_members=groups(household, n_hh),
            zip_of_school=zip_of_school,
            n_zips=len(zip_names),
            enrolled_s=np.bincount(school[is_student], minlength=n_schools),
            teachers_s=np.bincount(school[is_teacher], minlength=n_schools),
            staff_s=np.bincount(school[is_staff & (school >= 0)], minlength=n_schools),
            enrolled_c=enrolled_c,
            group_size_c=enrolled_c + np.bincount(room[is_teacher], minlength=n_rooms),
            grade_ids=grade_ids,
            room_grade=room_grade,
            grade_school=grade_school,
            enrolled_g=np.bincount(
                room_grade[has_grade],
                weights=enrolled_c[has_grade],
                minlength=len(grade_ids),
            ).astype(np.int64),
        )


def _grades(
    population: Population, room_school: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The grade units of ``population``: their ids, each homeroom's grade index (-1: a
    homeroom without a school) and each grade's school."""
    rooms = population.classroom_ids
    declared = population.classroom_grades or ("",) * len(rooms)
    keys = [
        (int(s), g or room) if s >= 0 else None
        for s, g, room in zip(room_school.tolist(), declared, rooms, strict=True)
    ]
    units = sorted({k for k in keys if k is not None})
    ids = [f"{population.school_ids[s]}/{g}" for s, g in units]
    order = sorted(range(len(units)), key=ids.__getitem__)
    ids = [ids[i] for i in order]
    position = {units[i]: k for k, i in enumerate(order)}
    room_grade = np.array([-1 if k is None else position[k] for k in keys], dtype=np.int64)
    grade_school = np.array([units[i][0] for i in order], dtype=np.int64)
    return ids, room_grade, grade_school
