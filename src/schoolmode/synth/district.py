"""A synthetic school district built from the real CPS school profiles.

Every assumption is documented, with its source, in ``docs/synthetic-district.md``; the
numbers live in :class:`SynthConfig`. The generator is vectorised (numpy and polars, no loop
over people) and deterministic: the same profiles and seed give identical rows.

Output frames follow the data standard (one per record type); :func:`write_standard_files`
writes them as standard-layout CSV files that ``StandardLayout`` imports through the
transactional import service.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from schoolmode.standard.batch import frame_schema
from schoolmode.standard.models import RECORD_TYPES

D = dt.date.fromisoformat

# CPS 2021-22 calendar (first and last day of school, days without school): see
# docs/synthetic-district.md for what is sourced and what is approximate.
SCHOOL_YEAR = "2021-2022"
FIRST_DAY = D("2021-08-30")
LAST_DAY = D("2022-06-14")
NO_SCHOOL: tuple[tuple[str, str, str], ...] = (
    ("2021-09-06", "2021-09-06", "Labor Day"),
    ("2021-10-11", "2021-10-11", "Indigenous Peoples' Day"),
    ("2021-11-11", "2021-11-11", "Veterans Day"),
    ("2021-11-24", "2021-11-26", "Thanksgiving break"),
    ("2021-12-20", "2021-12-31", "Winter break"),
    ("2022-01-05", "2022-01-11", "Classes cancelled (CPS-CTU dispute)"),
    ("2022-01-17", "2022-01-17", "Martin Luther King Jr. Day"),
    ("2022-02-21", "2022-02-21", "Presidents' Day"),
    ("2022-04-11", "2022-04-15", "Spring break"),
    ("2022-05-30", "2022-05-30", "Memorial Day"),
)

PRE_K = ("PE", "PK")
GRADE_ORDER = ("PE", "PK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")


@dataclass(frozen=True)
class SynthConfig:
    """Every number the generator uses (documented in docs/synthetic-district.md)."""

    seed: int = 20210830
    district_id: str = "CPS"
    calendar_id: str = "CPS-2021-2022"
    class_size: dict[str, int] = field(
        default_factory=lambda: {"pre_k": 20, "k_3": 24, "4_8": 26, "9_12": 28}
    )
    """Most students in one homeroom, by grade band."""
    pre_k_weight: float = 0.6
    """Enrolment weight of a pre-K grade relative to a K-12 grade when splitting a school's count."""
    other_staff_per_100_students: float = 8.0
    """Staff other than homeroom teachers (subject teachers, aides, clerks, ...) per 100 students."""
    min_other_staff: int = 6
    """Fewest other staff in a school with students."""
    children_per_household: tuple[float, ...] = (0.50, 0.32, 0.12, 0.06)
    """Share of households with 1, 2, 3, 4 enrolled children."""
    single_adult_share: float = 0.35
    """Share of households with one adult (else two)."""
    over_age_share: float = 0.10
    """Share of students one year older than their grade's usual age."""
    # absences (sparse: only absent person-days)
    student_absence_rate: float = 0.04
    staff_absence_rate: float = 0.03
    surge: tuple[str, str] = ("2021-12-13", "2022-01-31")
    """Omicron surge: absence rates double and the COVID-19 reasons' shares rise."""
    surge_factor: float = 2.0
    reason_shares: tuple[float, float, float, float] = (0.04, 0.08, 0.06, 0.82)
    """documented_positive, directed_quarantine_isolation, self_reported_unconfirmed, personal."""
    surge_reason_shares: tuple[float, float, float, float] = (0.25, 0.25, 0.10, 0.40)


REASONS = (
    "documented_positive",
    "directed_quarantine_isolation",
    "self_reported_unconfirmed",
    "personal",
)


@dataclass
class SyntheticDistrict:
    """Standard frames of one synthetic district (record type -> frame)."""

    frames: dict[str, pl.DataFrame]

    def counts(self) -> dict[str, int]:
        return {name: f.height for name, f in self.frames.items()}

    @property
    def students(self) -> int:
        return int((self.frames["person"]["role"] == "student").sum())

    @property
    def staff(self) -> int:
        return int((self.frames["person"]["role"] != "student").sum())


def calendar(config: SynthConfig | None = None) -> pl.DataFrame:
    """``calendar_day`` rows from the first to the last day of school."""
    config = config or SynthConfig()
    return calendar_frame(FIRST_DAY, LAST_DAY, NO_SCHOOL, config.calendar_id, config.district_id)


def calendar_frame(
    first_day: dt.date,
    last_day: dt.date,
    no_school: Sequence[tuple[str, str, str]],
    calendar_id: str,
    district_id: str,
) -> pl.DataFrame:
    """``calendar_day`` rows: weekdays are instructional unless a ``no_school`` span names them."""
    days = pl.date_range(first_day, last_day, interval="1d", eager=True).alias("date")
    frame = pl.DataFrame(days).with_columns(pl.lit(None, dtype=pl.String).alias("holiday"))
    for first, last, name in no_school:
        frame = frame.with_columns(
            pl.when(pl.col("date").is_between(D(first), D(last)))
            .then(pl.lit(name))
            .otherwise(pl.col("holiday"))
            .alias("holiday")
        )
    weekend = pl.col("date").dt.weekday() >= 6
    frame = frame.with_columns(
        pl.when(weekend).then(None).otherwise(pl.col("holiday")).alias("holiday"),
        (~weekend & pl.col("holiday").is_null()).alias("instructional"),
        pl.lit(calendar_id).alias("calendar_id"),
        pl.lit(district_id).alias("district_id"),
    )
    return frame.select(*frame_schema(RECORD_TYPES["calendar_day"]))


def instructional_days(config: SynthConfig | None = None) -> list[dt.date]:
    cal = calendar(config)
    return list(cal.filter(pl.col("instructional"))["date"])


def _band(grade: pl.Expr) -> pl.Expr:
    number = grade.cast(pl.Int64, strict=False)
    return (
        pl.when(grade.is_in(PRE_K))
        .then(pl.lit("pre_k"))
        .when((grade == "K") | (number <= 3))
        .then(pl.lit("k_3"))
        .when(number <= 8)
        .then(pl.lit("4_8"))
        .otherwise(pl.lit("9_12"))
    )


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    digits = pl.Series(numbers).cast(pl.String).str.zfill(width)
    return pl.select(pl.concat_str(pl.lit(prefix), digits)).to_series()


def homerooms(schools: pl.DataFrame, config: SynthConfig) -> pl.DataFrame:
    """One row per homeroom: school, grade, homeroom number, students, capacity.

    ``schools`` has ``school_id``, ``grades`` (comma-separated), ``enrolment``. A school's
    enrolment is split across its grades by weight (largest remainders), then each grade into
    as few homerooms as its band's class size allows, as evenly as possible.
    """
    sizes = pl.DataFrame(
        {"band": list(config.class_size), "capacity": list(config.class_size.values())}
    )
    order = pl.DataFrame({"grade": GRADE_ORDER, "grade_rank": range(len(GRADE_ORDER))})
    grades = (
        schools.select("school_id", "enrolment", pl.col("grades").str.split(","))
        .explode("grades")
        .rename({"grades": "grade"})
        .join(order, on="grade", how="inner")
        .with_columns(
            pl.when(pl.col("grade").is_in(PRE_K))
            .then(config.pre_k_weight)
            .otherwise(1.0)
            .alias("w")
        )
        .with_columns(
            (pl.col("enrolment") * pl.col("w") / pl.col("w").sum().over("school_id")).alias("exact")
        )
        .with_columns(pl.col("exact").floor().cast(pl.Int64).alias("base"))
        .with_columns(
            (pl.col("enrolment") - pl.col("base").sum().over("school_id")).alias("left"),
            (pl.col("exact") - pl.col("base")).alias("frac"),
        )
        .sort("school_id", "frac", "grade_rank", descending=[False, True, False])
        .with_columns(pl.int_range(pl.len()).over("school_id").alias("frac_rank"))
        .with_columns(
            (pl.col("base") + (pl.col("frac_rank") < pl.col("left")).cast(pl.Int64)).alias("n")
        )
        .filter(pl.col("n") > 0)
        .with_columns(_band(pl.col("grade")).alias("band"))
        .join(sizes, on="band", how="left")
        .with_columns(((pl.col("n") + pl.col("capacity") - 1) // pl.col("capacity")).alias("rooms"))
        .sort("school_id", "grade_rank")
    )
    rooms = (
        grades.with_columns(pl.int_ranges(0, pl.col("rooms")).alias("room"))
        .explode("room")
        .with_columns(
            (
                pl.col("n") // pl.col("rooms")
                + (pl.col("room") < pl.col("n") % pl.col("rooms")).cast(pl.Int64)
            ).alias("students")
        )
        .with_columns(
            pl.concat_str(
                "school_id",
                pl.lit("-"),
                "grade",
                pl.lit("-"),
                (pl.col("room") + 1).cast(pl.String).str.zfill(2),
            ).alias("classroom_id")
        )
    )
    return rooms.select("classroom_id", "school_id", "grade", "grade_rank", "students", "capacity")


def _other_staff(schools: pl.DataFrame, rooms: pl.DataFrame, config: SynthConfig) -> pl.DataFrame:
    """Staff other than classroom teachers per school (``school_id``, ``other``): a share of the
    students, at least ``min_other_staff``."""
    return (
        schools.join(
            rooms.group_by("school_id").agg(pl.col("students").sum().alias("n")),
            on="school_id",
            how="inner",
        )
        .select(
            "school_id",
            pl.max_horizontal(
                (pl.col("n") * config.other_staff_per_100_students / 100).round(0).cast(pl.Int64),
                pl.lit(config.min_other_staff),
            ).alias("other"),
        )
        .sort("school_id")
    )


def _students(
    schools: pl.DataFrame,
    rooms: pl.DataFrame,
    student_ids: pl.Series,
    rng: np.random.Generator,
    config: SynthConfig,
) -> pl.DataFrame:
    """One row per student: homeroom (by ``np.repeat`` over homeroom sizes), school ZIP, age."""
    sizes = rooms["students"].to_numpy()
    room_of = np.repeat(np.arange(rooms.height), sizes)
    room_cols = rooms.select("classroom_id", "school_id", "grade", "grade_rank")
    students = room_cols[room_of].with_columns(student_ids.alias("person_id"))
    students = students.join(schools.select("school_id", "zip"), on="school_id", how="left")
    # usual age at the start of the year: PE 3, PK 4, K 5, grade g 5 + g (= grade rank + 3)
    base_age = students["grade_rank"].to_numpy() + 3
    ages = base_age + (rng.random(len(student_ids)) < config.over_age_share)
    return students.with_columns(pl.Series("age_years", ages, dtype=pl.Int64))


def _households(
    students: pl.DataFrame, rng: np.random.Generator, config: SynthConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(students with ``household_id``, the household frame).

    Students ordered by ZIP (of their school) then at random, cut into runs of sizes drawn from
    the distribution; a run never crosses a ZIP.
    """
    n_students = students.height
    shuffle = rng.random(n_students)
    students = students.with_columns(pl.Series("shuffle", shuffle)).sort(
        "zip", "shuffle", nulls_last=True
    )
    p = np.asarray(config.children_per_household, dtype=float)
    kids = rng.choice(np.arange(1, len(p) + 1), size=n_students, p=p / p.sum())
    kids = kids[: int(np.searchsorted(np.cumsum(kids), n_students)) + 1]
    position = np.arange(n_students) - np.repeat(np.cumsum(kids) - kids, kids)[:n_students]
    zips = students["zip"].fill_null("").to_numpy()
    new_zip = np.r_[True, zips[1:] != zips[:-1]]
    household_no = np.cumsum((position == 0) | new_zip) - 1
    n_households = int(household_no[-1]) + 1 if n_students else 0
    hh_numbers = rng.permutation(n_households) + 1
    hh_ids = _ids("H", hh_numbers, 6)
    students = students.with_columns(hh_ids[household_no].alias("household_id"))
    adults = np.where(rng.random(n_households) < config.single_adult_share, 1, 2)
    households = (
        students.group_by("household_id", maintain_order=True)
        .agg(pl.col("zip").first(), pl.len().alias("children"))
        .with_columns(
            (pl.col("children") + pl.Series(adults[:n_households])).cast(pl.Int64).alias("size")
        )
        .select(*frame_schema(RECORD_TYPES["household"]))
        .sort("household_id")
    )
    return students, households


def _people(
    students: pl.DataFrame,
    teacher_ids: pl.Series,
    other_ids: pl.Series,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """The person frame: students, then classroom teachers and other staff (ages 23 to 65)."""
    n_rooms, n_other = len(teacher_ids), len(other_ids)
    n_staff = n_rooms + n_other
    staff_ages = rng.integers(23, 66, size=n_staff)
    person_schema = frame_schema(RECORD_TYPES["person"])
    return pl.concat(
        [
            students.select(
                "person_id",
                pl.lit("student").alias("role"),
                "age_years",
                "household_id",
            ),
            pl.DataFrame(
                {
                    "person_id": pl.concat([teacher_ids, other_ids]),
                    "role": ["classroom_teacher"] * n_rooms + ["other_staff"] * n_other,
                    "age_years": staff_ages,
                    "household_id": pl.Series([None] * n_staff, dtype=pl.String),
                }
            ),
        ],
        how="vertical_relaxed",
    ).select(*(pl.col(c).cast(t) for c, t in person_schema.items()))


def _assignments(
    rooms: pl.DataFrame, other: pl.DataFrame, teacher_ids: pl.Series, other_ids: pl.Series
) -> pl.DataFrame:
    """Staff assignments for the year: one teacher per homeroom, other staff per school."""
    teachers = rooms.select("classroom_id", "school_id").with_columns(
        teacher_ids.alias("person_id")
    )
    others = (
        other.select(pl.col("school_id").repeat_by("other"))
        .explode("school_id")
        .with_columns(other_ids.alias("person_id"))
    )
    assignment_schema = frame_schema(RECORD_TYPES["staff_assignment"])
    return (
        pl.concat(
            [
                teachers.with_columns(pl.lit("classroom_teacher").alias("role")),
                others.with_columns(
                    pl.lit(None, dtype=pl.String).alias("classroom_id"),
                    pl.lit("other_staff").alias("role"),
                ),
            ],
            how="diagonal",
        )
        .with_columns(
            pl.lit(FIRST_DAY).alias("start_date"),
            pl.lit(LAST_DAY).alias("end_date"),
            pl.lit(1.0).alias("fte"),
        )
        .select(*(pl.col(c).cast(t) for c, t in assignment_schema.items()))
    )


def _district_row(config: SynthConfig) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "district_id": [config.district_id],
            "name": ["Synthetic district from the CPS SY2021-22 school profiles"],
            "state": ["IL"],
            "nces_id": [None],
        },
        schema=frame_schema(RECORD_TYPES["district"]),
    )


def synth_district(schools: pl.DataFrame, config: SynthConfig | None = None) -> SyntheticDistrict:
    """Build the district from ``schools`` (``school_id``, ``grades``, ``enrolment``, ``zip``).

    Steps, in the order they draw from the seeded generator: pseudonymous ids, students (ages),
    households, people (staff ages); then classrooms, enrolments and staff assignments.
    """
    config = config or SynthConfig()
    rng = np.random.default_rng(config.seed)
    schools = schools.select("school_id", "grades", "enrolment", "zip").sort("school_id")
    rooms = homerooms(schools, config)
    n_rooms = rooms.height
    n_students = int(rooms["students"].sum())
    other = _other_staff(schools, rooms, config)
    n_other = int(other["other"].sum())
    n_people = n_students + n_rooms + n_other

    # pseudonymous ids: a random permutation of 1..n_people, so ids carry no order or meaning
    numbers = rng.permutation(n_people) + 1
    ids = _ids("P", numbers, 7)
    student_ids = ids[:n_students]
    teacher_ids = ids[n_students : n_students + n_rooms]
    other_ids = ids[n_students + n_rooms :]

    students = _students(schools, rooms, student_ids, rng, config)
    students, households = _households(students, rng, config)
    people = _people(students, teacher_ids, other_ids, rng)
    classrooms = rooms.select(
        "classroom_id",
        "school_id",
        pl.lit(SCHOOL_YEAR).alias("school_year"),
        "grade",
        "capacity",
    )
    enrolments = students.select(
        "person_id",
        "classroom_id",
        pl.lit(FIRST_DAY).alias("start_date"),
        pl.lit(LAST_DAY).alias("end_date"),
        pl.lit("in_person").alias("learning_choice"),
    )
    frames = {
        "district": _district_row(config),
        "calendar_day": calendar(config),
        "classroom": classrooms.sort("classroom_id"),
        "household": households,
        "person": people.sort("person_id"),
        "enrolment": enrolments.sort("person_id"),
        "staff_assignment": _assignments(rooms, other, teacher_ids, other_ids).sort("person_id"),
    }
    return SyntheticDistrict(frames)


def synth_absences(district: SyntheticDistrict, config: SynthConfig | None = None) -> pl.DataFrame:
    """Sparse ``absence`` rows (only absent person-days) over the instructional days.

    Each person is absent on a day with the student or staff rate (times the surge factor
    during the surge), independently; each absence gets a reason drawn with the day's shares.
    The loop is over days (about 176), vectorised over people.
    """
    config = config or SynthConfig()
    rng = np.random.default_rng(config.seed + 1)
    frames = district.frames
    school_of = pl.concat(
        [
            frames["enrolment"]
            .join(frames["classroom"], on="classroom_id")
            .select("person_id", "school_id"),
            frames["staff_assignment"].select("person_id", "school_id"),
        ]
    ).unique("person_id", keep="first", maintain_order=True)
    people = (
        frames["person"]
        .select("person_id", "role")
        .join(school_of, on="person_id")
        .sort("person_id")
    )
    rate = np.where(
        people["role"].to_numpy() == "student",
        config.student_absence_rate,
        config.staff_absence_rate,
    ).astype(np.float32)
    surge_lo, surge_hi = D(config.surge[0]), D(config.surge[1])
    picks: list[np.ndarray] = []
    days: list[np.ndarray] = []
    reasons: list[np.ndarray] = []
    for day in instructional_days(config):
        in_surge = surge_lo <= day <= surge_hi
        factor = np.float32(config.surge_factor if in_surge else 1.0)
        absent = np.flatnonzero(rng.random(rate.shape[0], dtype=np.float32) < rate * factor)
        shares = np.asarray(config.surge_reason_shares if in_surge else config.reason_shares)
        picks.append(absent)
        days.append(np.full(absent.shape[0], (day - FIRST_DAY).days, dtype=np.int32))
        reasons.append(
            rng.choice(len(REASONS), size=absent.shape[0], p=shares / shares.sum()).astype(np.int8)
        )
    index = np.concatenate(picks)
    out = (
        people[index]
        .select("person_id", "school_id")
        .with_columns(
            pl.Series("date", np.datetime64(FIRST_DAY, "D") + np.concatenate(days), dtype=pl.Date),
            pl.Series("reason", np.asarray(REASONS)[np.concatenate(reasons)], dtype=pl.String),
        )
    )
    return out.select(*frame_schema(RECORD_TYPES["absence"])).sort("person_id", "date")


def write_standard_files(frames: dict[str, pl.DataFrame], directory: Path) -> list[Path]:
    """Write each frame as ``<record type>.csv`` in the standard layout; returns the paths in
    import order (organisation first)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in frames.items():
        path = directory / f"{name}.csv"
        frame.write_csv(path, date_format="%Y-%m-%d")
        paths.append(path)
    return paths
