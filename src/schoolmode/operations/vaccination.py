"""Staff vaccination by the rules of the policy in force (pure): weekly throughput, the
priority order, a day-by-day appointment schedule per site and the projection of when each
phase-in group has had the opportunity to be fully vaccinated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import numpy as np
import polars as pl

from schoolmode.operations.screening import (
    ZIP_CASES_METRIC,
    ZIP_POPULATION_METRIC,
    top_zips,
    weeks_needed,
    zip_window,
)
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.model import Policy
from schoolmode.policy.values import Value, dated_value, interpretation, number, parameter


def weekly_first_doses(
    policy: Policy,
    on: dt.date,
    city_supply_increase_pct: Decimal,
    settings: Mapping[str, Value] | None = None,
) -> int:
    """The agreed weekly first doses; grows with city supply where the policy says so."""
    base = number(policy, "first_doses_per_week", on, settings)
    grows = str(interpretation(policy, "doses_grow_with_city_supply", settings)) == "yes"
    doses = base * (1 + Decimal(city_supply_increase_pct) / 100) if grows else base
    return int(doses.quantize(Decimal(1), rounding=ROUND_FLOOR))


def weeks_to_offer(
    policy: Policy,
    on: dt.date,
    staff_in_queue: int,
    city_supply_increase_pct: Decimal,
    settings: Mapping[str, Value] | None = None,
) -> dict[str, Any]:
    per_week = weekly_first_doses(policy, on, city_supply_increase_pct, settings)
    return {"first_doses_per_week": per_week, "weeks": weeks_needed(staff_in_queue, per_week)}


# ---------------------------------------------------------------------- staff scheduling
#
# The scheduler works on whole frames: the priority order is one polars sort, and the
# appointments are found by a loop over the *days* of the horizon (a few hundred), each day
# taking a slice of the queue with numpy; there is no loop over staff.

SINGLE_DOSE_PRODUCTS = frozenset({"janssen", "johnson & johnson", "j&j"})
"""Products whose series is one dose (a vaccine fact, not an operational number)."""

GROUP_ORDER = ("prek_cluster", "k5", "g6_8", "hs")
"""Phase-in groups of the February 2021 agreement; a policy dates them with
``staff_return_<group>`` parameters."""

STAFF_COLUMNS = {
    "person_id": pl.String,
    "group": pl.String,
    "age_years": pl.Int64,
    "own_high_risk": pl.Boolean,
    "household_high_risk_unaccommodated": pl.Boolean,
    "school_zip": pl.String,
}


@dataclass(frozen=True)
class VaccinationRules:
    """What a policy says about scheduling staff vaccination, read once for a start day."""

    policy_id: str
    first_doses_per_week: int
    dose_interval_days: int
    by_household_unaccommodated: bool
    by_return: bool
    by_risk: bool
    by_hardest_hit_zip: bool
    high_risk_age_years: int | None
    opportunity_lag_days: int
    condition_scope: str
    return_dates: dict[str, dt.date]
    sources: dict[str, str] = field(default_factory=dict)
    hardest_hit_zips: tuple[str, ...] = ()
    """The hardest-hit ZIP codes the priority uses (given, or :func:`hardest_hit_zips`)."""


def _flag(
    policy: Policy, name: str, on: dt.date, settings: Mapping[str, Value] | None
) -> tuple[bool, str]:
    """A yes/no rule: a dated parameter (``true``/``false``) where the policy states it, else
    an interpretation (``yes``/``no``), else ``False`` (the policy makes no such provision)."""
    if settings and name in settings and settings[name] is not None:
        return str(settings[name]).lower() in ("yes", "true", "1"), "setting"
    if name in policy.parameters:
        found = dated_value(policy, name, on)
        value = found.value if found is not None else None
        where = f"parameter {name} ({found.confidence.value})" if found else f"parameter {name}"
        return value is True or str(value).lower() in ("yes", "true"), where
    if name in policy.interpretations:
        chosen = interpretation(policy, name, settings)
        spec = policy.interpretations[name]
        return str(chosen).lower() in ("yes", "true"), (
            f"interpretation {name}={chosen} ({spec.confidence.value})"
        )
    return False, "no provision"


def _whole(
    policy: Policy, name: str, on: dt.date, settings: Mapping[str, Value] | None
) -> int | None:
    if settings and name in settings and settings[name] is not None:
        return int(Decimal(str(settings[name])))
    if name in policy.parameters:
        return int(number(policy, name, on, settings))
    if name in policy.interpretations:
        return int(Decimal(str(interpretation(policy, name, settings))))
    return None


def vaccination_rules(
    policy: Policy,
    on: dt.date,
    city_supply_increase_pct: Decimal = Decimal(0),
    settings: Mapping[str, Value] | None = None,
) -> VaccinationRules:
    """The scheduling rules of ``policy`` in force on ``on`` (``SchoolmodeError`` when the
    policy gives no weekly doses or no dose interval)."""
    interval = _whole(policy, "second_dose_interval_days", on, settings)
    if interval is None or interval < 1:
        raise SchoolmodeError(
            f"policy {policy.id!r} gives no second_dose_interval_days (parameter or "
            "interpretation); pass one with a setting"
        )
    flags = {
        name: _flag(policy, f"vaccination_priority_{name}", on, settings)
        for name in ("household_unaccommodated", "return", "risk", "hardest_hit_zip")
    }
    returns: dict[str, dt.date] = {}
    for group in GROUP_ORDER:
        name = f"staff_return_{group}"
        if name in policy.parameters:
            value = parameter(policy, name, on, settings)
            if value is not None:
                returns[group] = dt.date.fromisoformat(str(value))
    scope = "all_staff"
    if "vaccination_before_return_scope" in policy.interpretations:
        scope = str(interpretation(policy, "vaccination_before_return_scope", settings))
    return VaccinationRules(
        policy_id=policy.id,
        first_doses_per_week=weekly_first_doses(policy, on, city_supply_increase_pct, settings),
        dose_interval_days=interval,
        by_household_unaccommodated=flags["household_unaccommodated"][0],
        by_return=flags["return"][0],
        by_risk=flags["risk"][0],
        by_hardest_hit_zip=flags["hardest_hit_zip"][0],
        high_risk_age_years=_whole(policy, "vaccination_high_risk_age_years", on, settings),
        opportunity_lag_days=_whole(policy, "fully_vaccinated_after_days", on, settings) or 0,
        condition_scope=scope,
        return_dates=returns,
        sources={f"priority_{k}": v[1] for k, v in flags.items()},
    )


HARDEST_HIT_COUNT = "vaccination_hardest_hit_zip_count"
HARDEST_HIT_WINDOW = "vaccination_hardest_hit_zip_window"
HARDEST_HIT_MEASURE = "vaccination_hardest_hit_zip_measure"


@dataclass(frozen=True)
class HardestHit:
    """The hardest-hit ZIP codes derived from ZIP weekly cases, and how."""

    zips: pl.DataFrame
    """``rank``, ``zip``, ``daily_average_cases``, ``weeks`` (:func:`screening.top_zips`)."""
    count: int
    window: str
    measure: str
    first: dt.date
    last: dt.date
    source: str

    def codes(self) -> tuple[str, ...]:
        return tuple(sorted(self.zips["zip"].to_list()))


def hardest_hit_zips(
    policy: Policy,
    on: dt.date,
    indicators: pl.DataFrame,
    settings: Mapping[str, Value] | None = None,
) -> HardestHit:
    """The ``vaccination_hardest_hit_zip_count`` ZIP codes with the highest daily average
    weekly cases (``community_indicator`` rows, geography ``zip``, metric ``cases_weekly``) over
    the ``vaccination_hardest_hit_zip_window`` before the month of ``on``, ranked as the
    screening plan ranks its top ZIP codes (:func:`screening.top_zips`, same function), by
    count or, with ``vaccination_hardest_hit_zip_measure`` ``cases_per_100k``, per 100,000
    residents (CDPH's ZIP ``population`` rows); without that reading, by count as the testing
    clause ranks.

    Count and window come from the policy (parameter or interpretation) or a setting; a policy
    without them, or fewer ranked ZIP codes than the count, is an error."""
    count = _whole(policy, HARDEST_HIT_COUNT, on, settings)
    window = _reading(policy, HARDEST_HIT_WINDOW, settings) or ""
    measure = _reading(policy, HARDEST_HIT_MEASURE, settings) or "cases"
    if count is None or count < 1 or not window:
        raise SchoolmodeError(
            f"policy {policy.id!r} gives no {HARDEST_HIT_COUNT} and {HARDEST_HIT_WINDOW} to "
            "derive the hardest-hit ZIP codes: give them with settings, or list the ZIP codes"
        )
    month = on.replace(day=1)
    first, last = zip_window(month, window)
    zips = top_zips(indicators, month, count, window, measure)
    if zips.height < count:
        what = f"weekly cases ({ZIP_CASES_METRIC})" + (
            f" and {ZIP_POPULATION_METRIC}" if measure == "cases_per_100k" else ""
        )
        raise SchoolmodeError(
            f"only {zips.height} ZIP codes have {what} for weeks ending {first} .. {last}; the "
            f"policy ranks {count} hardest-hit ZIP codes: import the CDPH ZIP weekly data or "
            "list the ZIP codes"
        )
    per = " per 100,000 residents" if measure == "cases_per_100k" else ""
    source = (
        f"top {count} ZIP codes by daily average {ZIP_CASES_METRIC}{per}, weeks ending "
        f"{first} .. {last} ({window})"
    )
    return HardestHit(zips, count, window, measure, first, last, source)


def _reading(policy: Policy, name: str, settings: Mapping[str, Value] | None) -> str | None:
    """A setting, else the policy's interpretation, else ``None``."""
    if settings and settings.get(name) is not None:
        return str(settings[name])
    if name in policy.interpretations:
        return str(interpretation(policy, name, settings))
    return None


def _check_staff(staff: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in ("person_id", "group") if c not in staff.columns]
    if missing:
        raise SchoolmodeError(f"staff frame lacks column(s) {', '.join(missing)}")
    if staff["person_id"].is_duplicated().any():
        dup = staff.filter(pl.col("person_id").is_duplicated())["person_id"][0]
        raise SchoolmodeError(f"staff frame lists person {dup!r} more than once")
    filled = staff.with_columns(
        pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in STAFF_COLUMNS.items()
        if name not in staff.columns
    )
    return filled.select(pl.col(n).cast(t) for n, t in STAFF_COLUMNS.items())


_GRADE_GROUP = {"PE": "prek_cluster", "PK": "prek_cluster", "K": "k5"}
_GRADE_GROUP.update({str(g): "k5" for g in range(1, 6)})
_GRADE_GROUP.update({str(g): "g6_8" for g in range(6, 9)})
_GRADE_GROUP.update({str(g): "hs" for g in range(9, 13)})
_LEVEL_GROUP = {"ES": "k5", "MS": "g6_8", "HS": "hs"}


def staff_groups(
    assignments: pl.DataFrame, classrooms: pl.DataFrame, schools: pl.DataFrame, on: dt.date
) -> pl.DataFrame:
    """Each staff member's phase-in group and school ZIP on ``on``, from the standard records.

    A classroom teacher takes the group of the classroom's grade (PE/PK: ``prek_cluster``,
    K-5: ``k5``, 6-8: ``g6_8``, 9-12: ``hs``); other staff, and teachers of a ``mixed`` room,
    that of the school's level (ES: ``k5``, MS: ``g6_8``, HS: ``hs``) or, without a school
    record, the most common group of the school's classrooms. A person with several
    assignments takes the earliest-returning group. Special-education cluster programmes are
    not told apart by the standard: their staff fall in their school's group.
    """
    day = pl.lit(on)
    active = assignments.filter(
        (pl.col("start_date") <= day) & (pl.col("end_date").is_null() | (pl.col("end_date") >= day))
    )
    school = (
        schools.sort("school_year")
        .group_by("school_id")
        .last()
        .select("school_id", pl.col("level").cast(pl.String), pl.col("zip").alias("school_zip"))
    )
    rank = {g: i for i, g in enumerate(GROUP_ORDER)}
    # a school without a level record: the most common group of its classrooms
    by_rooms = (
        classrooms.select(
            "school_id", pl.col("grade").replace_strict(_GRADE_GROUP, default=None).alias("g")
        )
        .drop_nulls("g")
        .group_by("school_id", "g")
        .agg(pl.len().alias("n"))
        .with_columns(pl.col("g").replace_strict(rank, default=len(rank)).alias("r"))
        .sort("school_id", "n", "r", descending=[False, True, False])
        .group_by("school_id", maintain_order=True)
        .first()
        .select("school_id", pl.col("g").alias("rooms_group"))
    )
    return (
        active.join(classrooms.select("classroom_id", "grade"), on="classroom_id", how="left")
        .join(school, on="school_id", how="left")
        .join(by_rooms, on="school_id", how="left")
        .with_columns(
            pl.coalesce(
                pl.col("grade").replace_strict(_GRADE_GROUP, default=None),
                pl.col("level").replace_strict(_LEVEL_GROUP, default=None),
                pl.col("rooms_group"),
            ).alias("group")
        )
        .with_columns(pl.col("group").replace_strict(rank, default=len(rank)).alias("_rank"))
        .sort("person_id", "_rank", "school_id")
        .group_by("person_id", maintain_order=True)
        .first()
        .select("person_id", "group", "school_zip")
    )


STAFF_RECORDS = (
    "person",
    "staff_assignment",
    "classroom",
    "school",
    "vaccination",
    "accommodation_request",
)
"""The standard records :func:`staff_frame` reads."""


def staff_frame(
    records: Mapping[str, pl.DataFrame], decisions: pl.DataFrame, on: dt.date
) -> pl.DataFrame:
    """The staff frame for :func:`schedule` on ``on``, from the standard ``records`` (the frames
    of :data:`STAFF_RECORDS`) and the current accommodation ``decisions`` (``request_id``,
    ``outcome``).

    Risk flags come from accommodation requests: ``own_high_risk`` for any request on that
    basis (not withdrawn); ``household_high_risk_unaccommodated`` for a household request
    whose current decision (or recorded status) is not ``granted``.
    """
    f = records
    groups = staff_groups(f["staff_assignment"], f["classroom"], f["school"], on)
    requests = f["accommodation_request"].filter(pl.col("status").cast(pl.String) != "withdrawn")
    decided = decisions.select("request_id", pl.col("outcome").alias("decided"))
    requests = requests.join(decided, on="request_id", how="left").with_columns(
        pl.coalesce("decided", pl.col("status").cast(pl.String)).alias("state")
    )
    own = requests.filter(pl.col("basis") == "own_high_risk")["person_id"].unique()
    household = requests.filter(pl.col("basis") == "household_high_risk")
    accommodated = household.filter(pl.col("state") == "granted")["person_id"].unique()
    unaccommodated = (
        household["person_id"]
        .unique()
        .filter(~household["person_id"].unique().is_in(accommodated.implode()))
    )
    return (
        f["person"]
        .filter(pl.col("role").cast(pl.String) != "student")
        .select("person_id", "age_years")
        .join(groups, on="person_id", how="inner")
        .with_columns(
            pl.col("person_id").is_in(own.implode()).alias("own_high_risk"),
            pl.col("person_id")
            .is_in(unaccommodated.implode())
            .alias("household_high_risk_unaccommodated"),
        )
    )


def priority_order(
    staff: pl.DataFrame, rules: VaccinationRules, hardest_hit_zips: frozenset[str] = frozenset()
) -> pl.DataFrame:
    """``staff`` with ``return_date``, ``risk`` and ``priority`` (1 = first), sorted by it.

    Keys, in order, each only where the policy provides it: staff with a high-risk household
    member and no accommodation (CPS letter of 2021-02-07); earlier return date (phase-in
    group); higher risk (own high risk or age at or above the policy's age); school in a
    hardest-hit ZIP; then a tie-break on a hash of the person id (stable, not alphabetical).
    """
    frame = _check_staff(staff)
    age = rules.high_risk_age_years
    risk = pl.col("own_high_risk").fill_null(False)
    if age is not None:
        risk = risk | (pl.col("age_years").fill_null(0) >= age)
    far = dt.date(9999, 12, 31)
    returns = pl.DataFrame(
        {"group": list(rules.return_dates), "return_date": list(rules.return_dates.values())},
        schema={"group": pl.String, "return_date": pl.Date},
    )
    frame = frame.join(returns, on="group", how="left").with_columns(
        risk.cast(pl.Int8).alias("risk"),
        pl.col("school_zip").is_in(sorted(hardest_hit_zips)).fill_null(False).alias("hardest_hit"),
        pl.col("person_id").hash(seed=20210206).alias("_tie"),
    )
    keys: list[pl.Expr] = []
    descending: list[bool] = []
    if rules.by_household_unaccommodated:
        keys.append(pl.col("household_high_risk_unaccommodated").fill_null(False))
        descending.append(True)
    if rules.by_return:
        keys.append(pl.col("return_date").fill_null(far))
        descending.append(False)
    if rules.by_risk:
        keys.append(pl.col("risk"))
        descending.append(True)
    if rules.by_hardest_hit_zip:
        keys.append(pl.col("hardest_hit"))
        descending.append(True)
    keys += [pl.col("_tie"), pl.col("person_id")]
    descending += [False, False]
    return (
        frame.sort(keys, descending=descending)
        .with_row_index("priority", offset=1)
        .with_columns(pl.col("priority").cast(pl.Int64))
        .drop("_tie")
    )


def site_days(
    sites: pl.DataFrame, start: dt.date, days: int, weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
) -> pl.DataFrame:
    """Every open day of every site from ``start`` for ``days`` days: ``site_id``, ``date``,
    ``capacity`` (appointments that day). ``sites`` has ``site_id`` and ``daily_capacity``;
    ``weekdays`` are the open days (0 = Monday)."""
    dates = pl.date_range(start, start + dt.timedelta(days=days - 1), interval="1d", eager=True)
    open_days = pl.DataFrame({"date": dates}).filter(
        pl.col("date").dt.weekday().is_in([d + 1 for d in weekdays])
    )
    return (
        sites.select("site_id", pl.col("daily_capacity").cast(pl.Int64).alias("capacity"))
        .join(open_days, how="cross")
        .select("site_id", "date", "capacity")
        .sort("date", "site_id")
    )


@dataclass
class Schedule:
    """Appointments and, per person, the day of the opportunity to be fully vaccinated."""

    appointments: pl.DataFrame
    """``person_id``, ``dose`` (1 or 2), ``date``, ``site_id``, ``week`` (0-based from start)."""
    people: pl.DataFrame
    """Priority-ordered staff with ``doses_before``, ``first_dose``, ``second_dose`` and
    ``full_opportunity`` (date of the last dose of the series, plus the policy's lag; null
    when not within the horizon)."""
    weekly: pl.DataFrame
    """``week``, ``week_start``, ``first_doses``, ``second_doses``, ``first_dose_cap``."""
    rules: VaccinationRules
    start: dt.date
    days: int


def _doses_before(
    people: pl.DataFrame, vaccinations: pl.DataFrame | None, start: dt.date
) -> pl.DataFrame:
    """Per person: doses recorded (whatever their date: a recorded dose was given, or is
    booked outside this schedule), the last one's date, and whether the series is complete."""
    if vaccinations is None or vaccinations.height == 0:
        return people.with_columns(
            pl.lit(0, dtype=pl.Int64).alias("doses_before"),
            pl.lit(None, dtype=pl.Date).alias("last_dose"),
            pl.lit(False).alias("complete"),
        )
    given = vaccinations.group_by("person_id").agg(
        pl.len().cast(pl.Int64).alias("doses_before"),
        pl.col("date").max().alias("last_dose"),
        pl.col("product")
        .str.to_lowercase()
        .is_in(sorted(SINGLE_DOSE_PRODUCTS))
        .any()
        .alias("single"),
    )
    return (
        people.join(given, on="person_id", how="left")
        .with_columns(
            pl.col("doses_before").fill_null(0),
            ((pl.col("doses_before").fill_null(0) >= 2) | pl.col("single").fill_null(False)).alias(
                "complete"
            ),
        )
        .drop("single")
    )


def schedule(
    staff: pl.DataFrame,
    rules: VaccinationRules,
    start: dt.date,
    weeks: int,
    capacity: pl.DataFrame | None = None,
    vaccinations: pl.DataFrame | None = None,
    hardest_hit_zips: frozenset[str] | None = None,
) -> Schedule:
    """Plan first and second doses for ``staff`` from ``start`` for ``weeks`` weeks.

    Each day, second doses due (``dose_interval_days`` after the first, on or after that day,
    earliest due first) take the site slots first; first doses then fill what is left, in
    priority order, up to ``first_doses_per_week`` in each week counted from ``start``.
    ``capacity`` is the site-day frame of :func:`site_days`; ``None`` means no site limit
    (only the weekly first-dose limit). Staff with doses in ``vaccinations`` (the standard
    records, whatever their date) are not given those doses again: one dose means only the second
    is planned, a complete series means nothing is. ``hardest_hit_zips`` defaults to
    ``rules.hardest_hit_zips``. Deterministic.
    """
    if weeks < 1:
        raise SchoolmodeError("weeks must be at least 1")
    days = 7 * weeks
    zips = frozenset(rules.hardest_hit_zips) if hardest_hit_zips is None else hardest_hit_zips
    people = _doses_before(priority_order(staff, rules, zips), vaccinations, start)
    n = people.height
    site_ids, caps = _capacity_matrix(capacity, start, days, n)
    interval = rules.dose_interval_days
    doses_before = people["doses_before"].to_numpy()
    complete = people["complete"].to_numpy()
    # queue of first doses: priority order of those with no dose yet
    first_queue = np.flatnonzero((doses_before == 0) & ~complete)
    # second doses already due from records: one dose, not complete; due day relative to start
    one = np.flatnonzero((doses_before >= 1) & ~complete)
    last = people["last_dose"].to_numpy()
    old_due = (
        (
            (last[one] - np.datetime64(start, "D")).astype("timedelta64[D]").astype(np.int64)
            + interval
        )
        if one.size
        else np.zeros(0, dtype=np.int64)
    )
    order = np.lexsort((one, old_due))
    old_people, old_due = one[order], old_due[order]
    first_day = np.full(n, -1, dtype=np.int64)
    second_day = np.full(n, -1, dtype=np.int64)
    first_site = np.full(n, -1, dtype=np.int64)
    second_site = np.full(n, -1, dtype=np.int64)
    new_people = np.zeros(first_queue.size, dtype=np.int64)
    new_due = np.zeros(first_queue.size, dtype=np.int64)
    n_new = 0  # first doses given so far (= length of the new second-dose queue)
    p_first = p_old = p_new = 0
    weekly_left = np.full(weeks, rules.first_doses_per_week, dtype=np.int64)
    for day in range(days):
        cum = np.cumsum(caps[day])
        total = int(cum[-1]) if cum.size else 0
        if total == 0:
            continue
        # second doses due today or earlier, earliest due first
        upto_old = int(np.searchsorted(old_due, day, side="right"))
        upto_new = int(np.searchsorted(new_due[:n_new], day, side="right"))
        cand_people = np.concatenate((old_people[p_old:upto_old], new_people[p_new:upto_new]))
        cand_due = np.concatenate((old_due[p_old:upto_old], new_due[p_new:upto_new]))
        cand_old = np.arange(cand_people.size) < upto_old - p_old
        if cand_people.size > total:
            keep = np.argsort(cand_due, kind="stable")[:total]
            taken_mask = np.zeros(cand_people.size, dtype=bool)
            taken_mask[keep] = True
        else:
            taken_mask = np.ones(cand_people.size, dtype=bool)
        taken = cand_people[taken_mask]
        p_old += int(np.count_nonzero(taken_mask & cand_old))
        p_new += int(np.count_nonzero(taken_mask & ~cand_old))
        # firsts in what is left, within the week's limit
        week = day // 7
        firsts = min(total - taken.size, int(weekly_left[week]), first_queue.size - p_first)
        given = first_queue[p_first : p_first + firsts]
        p_first += firsts
        weekly_left[week] -= firsts
        slots = np.arange(taken.size + firsts)
        site = np.searchsorted(cum, slots, side="right")
        second_day[taken] = day
        second_site[taken] = site[: taken.size]
        first_day[given] = day
        first_site[given] = site[taken.size :]
        new_people[n_new : n_new + firsts] = given
        new_due[n_new : n_new + firsts] = day + interval
        n_new += firsts
    return _assemble(
        people, rules, start, days, site_ids, first_day, first_site, second_day, second_site
    )


def _capacity_matrix(
    capacity: pl.DataFrame | None, start: dt.date, days: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The sites (sorted ids) and the appointments of each (day, site) of the horizon; without
    ``capacity``, one site ``any`` with room for all ``n`` people every day."""
    if capacity is None:
        return np.array(["any"], dtype=object), np.full((days, 1), max(n, 1), dtype=np.int64)
    window = capacity.filter(
        (pl.col("date") >= start) & (pl.col("date") < start + dt.timedelta(days=days))
    )
    site_ids = np.array(sorted(set(window["site_id"].to_list())), dtype=object)
    caps = np.zeros((days, len(site_ids)), dtype=np.int64)
    if window.height:
        day_ix = (
            window.select((pl.col("date") - pl.lit(start)).dt.total_days()).to_series().to_numpy()
        )
        site_ix = np.searchsorted(site_ids, window["site_id"].to_numpy().astype(object))
        np.add.at(caps, (day_ix, site_ix), window["capacity"].to_numpy())
    return site_ids, caps


def _assemble(
    people: pl.DataFrame,
    rules: VaccinationRules,
    start: dt.date,
    days: int,
    site_ids: np.ndarray,
    first_day: np.ndarray,
    first_site: np.ndarray,
    second_day: np.ndarray,
    second_site: np.ndarray,
) -> Schedule:
    base = np.datetime64(start, "D")

    def dates(day: np.ndarray) -> pl.Series:
        values = np.where(day >= 0, base + day.astype("timedelta64[D]"), np.datetime64("NaT"))
        return pl.Series(values.astype("datetime64[D]")).cast(pl.Date)

    ids = people["person_id"]
    parts = []
    for dose, day, site in ((1, first_day, first_site), (2, second_day, second_site)):
        mask = day >= 0
        parts.append(
            pl.DataFrame(
                {
                    "person_id": ids.filter(pl.Series(mask)),
                    "dose": pl.Series([dose] * int(mask.sum()), dtype=pl.Int64),
                    "date": dates(day[mask]),
                    "site_id": pl.Series(site_ids[site[mask]].astype(str), dtype=pl.String),
                    "week": pl.Series(day[mask] // 7, dtype=pl.Int64),
                }
            )
        )
    appointments = pl.concat(parts).sort(
        "date", "site_id", "dose", "person_id", descending=[False, False, True, False]
    )
    lag = dt.timedelta(days=rules.opportunity_lag_days)
    single_done = pl.col("complete")
    out = people.with_columns(
        dates(first_day).alias("first_dose"), dates(second_day).alias("second_dose")
    ).with_columns(
        pl.when(single_done)
        .then(pl.col("last_dose"))
        .otherwise(pl.col("second_dose"))
        .dt.offset_by(f"{lag.days}d")
        .alias("full_opportunity")
    )
    week_starts = [start + dt.timedelta(days=7 * w) for w in range(days // 7)]
    counts = (
        appointments.group_by("week", "dose")
        .agg(pl.len().cast(pl.Int64).alias("n"))
        .pivot(on="dose", index="week", values="n")
        if appointments.height
        else pl.DataFrame(schema={"week": pl.Int64})
    )
    weekly = (
        pl.DataFrame(
            {"week": list(range(days // 7)), "week_start": week_starts},
            schema={"week": pl.Int64, "week_start": pl.Date},
        )
        .join(counts, on="week", how="left")
        .select(
            "week",
            "week_start",
            pl.col("1").fill_null(0).alias("first_doses")
            if "1" in counts.columns
            else pl.lit(0, pl.Int64).alias("first_doses"),
            pl.col("2").fill_null(0).alias("second_doses")
            if "2" in counts.columns
            else pl.lit(0, pl.Int64).alias("second_doses"),
            pl.lit(rules.first_doses_per_week, dtype=pl.Int64).alias("first_dose_cap"),
        )
    )
    return Schedule(appointments, out, weekly, rules, start, days)


def projection(result: Schedule) -> pl.DataFrame:
    """Per phase-in group: staff, how many have the opportunity to be fully vaccinated within
    the horizon, the day the last of them does (``all_by``; null if some do not within the
    horizon), the group's return date and whether the condition of return holds
    (``all_by`` on or before the return date). Under ``condition_scope`` =
    ``household_high_risk`` the condition is checked on staff with a high-risk household
    member only (``covered_*`` columns)."""
    people = result.people
    covered = (
        pl.col("household_high_risk_unaccommodated").fill_null(False)
        if result.rules.condition_scope == "household_high_risk"
        else pl.lit(True)
    )
    rows = (
        people.with_columns(covered.alias("_covered"))
        .group_by("group")
        .agg(
            pl.col("return_date").first(),
            pl.len().cast(pl.Int64).alias("staff"),
            pl.col("full_opportunity")
            .is_not_null()
            .sum()
            .cast(pl.Int64)
            .alias("opportunity_in_horizon"),
            pl.when(pl.col("full_opportunity").is_null().any())
            .then(None)
            .otherwise(pl.col("full_opportunity").max())
            .alias("all_by"),
            pl.col("_covered").sum().cast(pl.Int64).alias("covered_staff"),
            pl.when(pl.col("full_opportunity").filter(pl.col("_covered")).is_null().any())
            .then(None)
            .otherwise(pl.col("full_opportunity").filter(pl.col("_covered")).max())
            .alias("covered_all_by"),
        )
    )
    order = {g: i for i, g in enumerate(GROUP_ORDER)}
    return (
        rows.with_columns(
            pl.when(pl.col("return_date").is_null())
            .then(None)
            .when(pl.col("covered_staff") == 0)
            .then(True)
            .otherwise(
                pl.col("covered_all_by").is_not_null()
                & (pl.col("covered_all_by") <= pl.col("return_date"))
            )
            .alias("condition_met"),
            pl.when(pl.col("return_date").is_null())
            .then(None)
            .otherwise(pl.col("all_by").is_not_null() & (pl.col("all_by") <= pl.col("return_date")))
            .alias("all_staff_met"),
            pl.col("group").replace_strict(order, default=len(order)).alias("_order"),
        )
        .sort("_order", "group")
        .drop("_order")
    )
