"""Contact tracing from rosters, by the rules of the policy in force (vectorised).

From cases (person, onset or specimen date, report date) the module finds close contacts:

- **homeroom**: students enrolled in the case's homeroom and the homeroom's staff (staff
  assignments with that ``classroom_id``), on a day of the case's infectious window when both
  the case and the contact were on the roster and neither has an absence record that day
  (and, if ``school_days`` is given, only on those days);
- **household**: members of the case's household (``person.household_id``), exposed on every
  day of the window whatever the rosters say.

The **infectious window** runs from ``days_before`` days before the anchor date (onset, else
specimen date) to the report date, when the case is presumed to leave school. ``days_before``
defaults to 2 (CDC convention, ``cps-ctu-2021-02-06.infectious_window_days_before_onset``);
pass a pathogen's ``infectious_days_before_onset`` to trace another pathogen.

Day 0 of a contact is the last day of exposure. Orders start on the case's report date (when
the order is issued) and end by the rule in force on day 0 (for isolation, on the anchor date),
computed once per rule period by the pure calculators of ``operations/quarantine.py``:

- before 2020-12-02: 14 days of quarantine (``cdc-quarantine-2020-12-02.quarantine_days_best_practice``);
- from 2020-12-02: the CDC options (``quarantine_release``): the order runs to the no-test day
  (10); ``test_out_may_return`` gives the earlier return with a negative test (after day 7);
- from 2022-01-11: 5 days (ISBE/IDPH guidance; the policy file notes the cut but does not
  encode a quarantine parameter, so it is :data:`ISBE_QUARANTINE_DAYS` here until it does).
- isolation: 10 days before 2022-01-11 (CDC/IDPH of the time), then ``isolation_release`` of
  ``isbe-idph-isolation-2022-01-11`` (5 days).
- test-to-stay (``idph-test-to-stay-2021-08``, from 2021-08-04): a homeroom contact stays in
  school, with tests due on the policy's test days, when the school enforces universal masking
  and both the contact and the case were masked; household contacts always quarantine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Engine

from schoolmode.operations.quarantine import (
    attendance_under_test_to_stay,
    isolation_release,
    quarantine_release,
)
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import Registry
from schoolmode.policy.values import number, parameter
from schoolmode.standard.batch import frame_schema
from schoolmode.standard.models import RECORD_TYPES

DEFAULT_DAYS_BEFORE_ONSET = 2
"""CDC convention: a case is infectious from 2 days before symptom onset (or specimen date)."""
ISOLATION_DAYS_BEFORE_2022 = 10
"""CDC/IDPH isolation before the ISBE/IDPH guidance of 2022-01-11 (not in a policy file)."""
ISBE_QUARANTINE_DAYS = 5
"""ISBE/IDPH cut quarantine to 5 days on 2022-01-11 [S]; the policy file does not encode it."""
CDC_OPTIONS_FROM = dt.date(2020, 12, 2)
ISBE_FROM = dt.date(2022, 1, 11)
TEST_TO_STAY_FROM = dt.date(2021, 8, 4)
FAR = dt.date(9999, 12, 31)

QUARANTINE = "cdc-quarantine-2020-12-02"
ISOLATION = "isbe-idph-isolation-2022-01-11"
TEST_TO_STAY = "idph-test-to-stay-2021-08"
OUTBREAK = "idph-outbreak-2021-10-15"


@dataclass(frozen=True)
class Rosters:
    """Standard-layout frames the tracer reads (``absence`` and ``masked`` may be empty)."""

    person: pl.DataFrame
    enrolment: pl.DataFrame
    staff_assignment: pl.DataFrame
    absence: pl.DataFrame | None = None
    masked: pl.DataFrame | None = None
    """``person_id``, ``masked`` (bool): masked at the time of exposure (test-to-stay)."""


@dataclass(frozen=True)
class Tracing:
    contacts: pl.DataFrame
    """``case_id``, ``person_id``, ``setting`` (homeroom/household), ``classroom_id``,
    ``last_exposure`` (day 0), ``attendance`` (quarantine / test_to_stay), ``rule``,
    ``test_out_may_return``, ``monitor_symptoms_through``."""
    orders: pl.DataFrame
    """Standard ``quarantine_order`` rows (isolation for cases, quarantine for contacts)."""
    follow_up: pl.DataFrame
    """``date``, ``person_id``, ``case_id``, ``action`` (symptom_check / test_due)."""


def rules_in_force(registry: Registry) -> pl.DataFrame:
    """One row per rule period: ``from`` and the day offsets
    the calculators give on that period's first day (the calculators are called once per
    period, never per case)."""
    q = registry.get(QUARANTINE).policy
    iso = registry.get(ISOLATION).policy
    breaks = sorted({dt.date(1900, 1, 1), CDC_OPTIONS_FROM, TEST_TO_STAY_FROM, ISBE_FROM})
    rows = []
    for day in breaks:
        if day >= CDC_OPTIONS_FROM:
            short = quarantine_release(q, day, 10**6)
            full = quarantine_release(q, day, None)
            monitor = (full["monitor_symptoms_through"] - day).days
        else:
            best = int(number(q, "quarantine_days_best_practice", CDC_OPTIONS_FROM))
            short = full = {"may_return": day + dt.timedelta(days=best + 1)}
            monitor = best
        if day >= ISBE_FROM:
            last = ISBE_QUARANTINE_DAYS
            test_out = None
            rule = "isbe-idph-2022-01-11 (5 days)"
            iso_days = (isolation_release(iso, day, False)["may_return"] - day).days - 1
        else:
            last = (full["may_return"] - day).days - 1
            test_out = (short["may_return"] - day).days if day >= CDC_OPTIONS_FROM else None
            rule = (
                f"{QUARANTINE} ({last} days; {test_out - 1} with test)"
                if test_out is not None
                else f"before {CDC_OPTIONS_FROM} ({last} days)"
            )
            iso_days = ISOLATION_DAYS_BEFORE_2022
        rows.append(
            {
                "from": day,
                "rule": rule,
                "quarantine_days": last,
                "test_out_return_day": test_out,
                "monitor_days": max(monitor, last),
                "isolation_days": iso_days,
                "test_to_stay": day >= TEST_TO_STAY_FROM,
            }
        )
    return pl.DataFrame(rows).sort("from")


def _test_days(registry: Registry) -> list[int]:
    policy = registry.get(TEST_TO_STAY).policy
    answer = attendance_under_test_to_stay(policy, TEST_TO_STAY_FROM, True, True, True, None)
    days = answer.get("tests_due_on_days")
    if not isinstance(days, list):  # pragma: no cover - the policy always lists test days
        raise ValueError(f"{TEST_TO_STAY}: no test days")
    assert str(parameter(policy, "test_days", TEST_TO_STAY_FROM)) == ",".join(map(str, days))
    return [int(d) for d in days]


def _spans(frame: pl.DataFrame, room: str) -> pl.DataFrame:
    return frame.filter(pl.col(room).is_not_null()).select(
        "person_id",
        pl.col(room).alias("classroom_id"),
        "start_date",
        pl.col("end_date").fill_null(FAR),
    )


def trace(
    cases: pl.DataFrame,
    rosters: Rosters,
    registry: Registry,
    days_before: int = DEFAULT_DAYS_BEFORE_ONSET,
    school_days: pl.Series | None = None,
    universal_masking: bool = False,
) -> Tracing:
    """Close contacts, orders and the follow-up list for ``cases`` (standard ``case`` rows)."""
    anchor = pl.coalesce("onset_date", "specimen_date", "report_date")
    located = cases.select(
        "case_id",
        pl.col("person_id").alias("case_person"),
        "report_date",
        anchor.alias("anchor"),
    ).with_columns(
        pl.date_ranges(
            pl.col("anchor") - pl.duration(days=days_before),
            pl.max_horizontal("anchor", "report_date"),
        ).alias("day")
    )
    window = located.explode("day")
    members = pl.concat(
        [
            _spans(rosters.enrolment, "classroom_id"),
            _spans(rosters.staff_assignment, "classroom_id"),
        ]
    )
    absent = (
        rosters.absence.select("person_id", pl.col("date").alias("day"))
        if rosters.absence is not None
        else pl.DataFrame(schema={"person_id": pl.String, "day": pl.Date})
    )
    if school_days is not None:
        window_school = window.filter(pl.col("day").is_in(school_days.implode()))
    else:
        window_school = window

    def present(frame: pl.DataFrame, who: str) -> pl.DataFrame:
        on_roster = frame.join(members, left_on=who, right_on="person_id").filter(
            (pl.col("start_date") <= pl.col("day")) & (pl.col("day") <= pl.col("end_date"))
        )
        return on_roster.join(
            absent, left_on=[who, "day"], right_on=["person_id", "day"], how="anti"
        )

    case_rooms = present(window_school, "case_person").select("case_id", "day", "classroom_id")
    room_contacts = (
        present(
            case_rooms.join(members.rename({"person_id": "contact"}), on="classroom_id")
            .filter((pl.col("start_date") <= pl.col("day")) & (pl.col("day") <= pl.col("end_date")))
            .select("case_id", "day", "classroom_id", "contact"),
            "contact",
        )
        .join(located.select("case_id", "case_person"), on="case_id")
        .filter(pl.col("contact") != pl.col("case_person"))
        .group_by("case_id", "contact", "classroom_id")
        .agg(pl.col("day").max().alias("last_exposure"))
        .with_columns(pl.lit("homeroom").alias("setting"))
    )
    homes = rosters.person.filter(pl.col("household_id").is_not_null()).select(
        "person_id", "household_id"
    )
    house_contacts = (
        located.join(homes, left_on="case_person", right_on="person_id")
        .join(homes.rename({"person_id": "contact"}), on="household_id")
        .filter(pl.col("contact") != pl.col("case_person"))
        .select(
            "case_id",
            "contact",
            pl.lit(None, dtype=pl.String).alias("classroom_id"),
            pl.max_horizontal("anchor", "report_date").alias("last_exposure"),
            pl.lit("household").alias("setting"),
        )
    )
    # A person exposed at home and at school is a household contact (the stricter setting).
    contacts = (
        pl.concat([house_contacts, room_contacts.select(house_contacts.columns)])
        .sort("case_id", "contact", "setting", descending=[False, False, False])
        .unique(["case_id", "contact"], keep="first", maintain_order=True)
        .join(located.select("case_id", "case_person", "report_date"), on="case_id")
    )
    rules = rules_in_force(registry)
    contacts = contacts.sort("last_exposure").join_asof(
        rules, left_on="last_exposure", right_on="from"
    )
    masked = (
        rosters.masked.select("person_id", "masked")
        if rosters.masked is not None
        else pl.DataFrame(schema={"person_id": pl.String, "masked": pl.Boolean})
    )
    contacts = (
        contacts.join(masked, left_on="contact", right_on="person_id", how="left")
        .join(
            masked.rename({"masked": "index_masked"}),
            left_on="case_person",
            right_on="person_id",
            how="left",
        )
        .with_columns(
            pl.when(
                pl.col("test_to_stay")
                & pl.lit(universal_masking)
                & (pl.col("setting") == "homeroom")
                & pl.col("masked").fill_null(False)
                & pl.col("index_masked").fill_null(False)
            )
            .then(pl.lit("test_to_stay"))
            .otherwise(pl.lit("quarantine"))
            .alias("attendance"),
            (pl.col("last_exposure") + pl.duration(days=pl.col("quarantine_days"))).alias(
                "quarantine_end"
            ),
            (pl.col("last_exposure") + pl.duration(days=pl.col("test_out_return_day"))).alias(
                "test_out_may_return"
            ),
            (pl.col("last_exposure") + pl.duration(days=pl.col("monitor_days"))).alias(
                "monitor_symptoms_through"
            ),
        )
        .rename({"contact": "person_id"})
        .sort("case_id", "person_id")
    )
    quarantined = contacts.filter(
        (pl.col("attendance") == "quarantine") & (pl.col("quarantine_end") >= pl.col("report_date"))
    ).select(
        "case_id",
        "person_id",
        pl.lit("quarantine").alias("kind"),
        pl.col("report_date").alias("start_date"),
        pl.col("quarantine_end").alias("end_date"),
        "classroom_id",
    )
    case_room = case_rooms.sort("day").group_by("case_id").agg(pl.col("classroom_id").last())
    isolated = (
        located.sort("anchor")
        .join_asof(rules.select("from", "isolation_days"), left_on="anchor", right_on="from")
        .join(case_room, on="case_id", how="left")
        .select(
            "case_id",
            pl.col("case_person").alias("person_id"),
            pl.lit("isolation").alias("kind"),
            pl.col("report_date").alias("start_date"),
            pl.max_horizontal(
                "report_date", pl.col("anchor") + pl.duration(days=pl.col("isolation_days"))
            ).alias("end_date"),
            "classroom_id",
        )
    )
    orders = (
        pl.concat([isolated, quarantined])
        .sort("case_id", "kind", "person_id")
        .with_columns(pl.format("T-{}-{}-{}", "case_id", "kind", "person_id").alias("order_id"))
        .select(*frame_schema(RECORD_TYPES["quarantine_order"]))
    )
    follow_up = _follow_up(contacts, registry)
    return Tracing(
        contacts=contacts.select(
            "case_id",
            "person_id",
            "setting",
            "classroom_id",
            "last_exposure",
            "attendance",
            "rule",
            "quarantine_end",
            "test_out_may_return",
            "monitor_symptoms_through",
            "report_date",
        ),
        orders=orders,
        follow_up=follow_up,
    )


def _follow_up(contacts: pl.DataFrame, registry: Registry) -> pl.DataFrame:
    """One row per contact and day: daily symptom checks from the report date through the
    monitoring day; for test-to-stay contacts, ``test_due`` on the policy's test days."""
    checks = (
        contacts.with_columns(
            pl.date_ranges(
                pl.col("report_date"),
                pl.max_horizontal("report_date", "monitor_symptoms_through"),
            ).alias("date")
        )
        .explode("date")
        .select("date", "person_id", "case_id", pl.lit("symptom_check").alias("action"))
    )
    days = pl.Series("offset", _test_days(registry), dtype=pl.Int64).to_frame()
    tests = (
        contacts.filter(pl.col("attendance") == "test_to_stay")
        .join(days, how="cross")
        .select(
            (pl.col("last_exposure") + pl.duration(days=pl.col("offset"))).alias("date"),
            "person_id",
            "case_id",
            pl.lit("test_due").alias("action"),
        )
    )
    return pl.concat([checks, tests]).sort("date", "person_id", "case_id", "action")


def tracing_indicators(
    cases: pl.DataFrame, contacts: pl.DataFrame, within_hours: int = 24
) -> dict[str, float | int | None]:
    """Tracing indicators (shares in 0..1, ``None`` when the denominator is 0).

    ``contacts`` needs ``case_id``, ``person_id``, ``identified_date`` (when the contact was
    identified; a tracer's record) and ``reached_date`` (when the contact was notified;
    null when there is no contact record). Dates are days, so "within 24 hours" is the report
    day or the next day.

    - ``identified_within_24h``: contacts identified no later than a day after their case's
      report date, over all contacts;
    - ``cases_known_as_contacts``: cases whose person was a contact of another case identified
      on or before this case's report date, over all cases;
    - ``lost_to_follow_up``: contacts with no ``reached_date``, over all contacts.
    """
    reports = cases.select("case_id", "report_date")
    c = contacts.join(reports, on="case_id", how="left")
    n = c.height
    within = c.filter(
        (pl.col("identified_date") - pl.col("report_date")).dt.total_days() * 24 <= within_hours
    ).height
    lost = c.filter(pl.col("reached_date").is_null()).height
    known = (
        cases.select("case_id", "person_id", "report_date")
        .join(
            contacts.select(pl.col("case_id").alias("source_case"), "person_id", "identified_date"),
            on="person_id",
        )
        .filter(
            (pl.col("source_case") != pl.col("case_id"))
            & (pl.col("identified_date") <= pl.col("report_date"))
        )["case_id"]
        .n_unique()
    )
    return {
        "contacts": n,
        "cases": cases.height,
        "identified_within_24h": within / n if n else None,
        "cases_known_as_contacts": known / cases.height if cases.height else None,
        "lost_to_follow_up": lost / n if n else None,
        "lost_to_follow_up_count": lost,
    }


def outbreaks(cases: pl.DataFrame, rosters: Rosters, registry: Registry) -> pl.DataFrame:
    """IDPH/CSTE outbreak status of each homeroom (core group) on each of its case dates.

    Qualifying cases are the group's cases that are not household-linked, dated by onset,
    else specimen, else report date, and counted when a member of the group (enrolled student
    or assigned staff) on that date. On each date ``d`` with a case, ``cases_in_window`` counts
    qualifying cases in days ``d - window_days .. d`` (the policy's default reading, as
    ``metrics/school.py``'s ``in_outbreak``); an outbreak when it reaches
    ``outbreak_min_cases``, or (from 2021-10-15) at least ``prong1_min_cases`` and
    ``prong1_share_pct`` % of the group. Parameters are read from ``idph-outbreak-2021-10-15``
    for the date. ``lhd_confirmed`` is null: the local health department decides.
    """
    policy = registry.get(OUTBREAK).policy
    breaks = sorted({v.from_ for p in policy.parameters.values() for v in p.values})
    params = []
    for day in breaks:
        share = parameter(policy, "prong1_share_pct", day)
        params.append(
            {
                "from": day,
                "min_cases": int(number(policy, "outbreak_min_cases", day)),
                "window_days": int(number(policy, "window_days", day)),
                "share_pct": None if share is None else float(str(share)),
                "share_min_cases": (
                    None if share is None else int(number(policy, "prong1_min_cases", day))
                ),
            }
        )
    rule = pl.DataFrame(params).sort("from")
    members = pl.concat(
        [
            _spans(rosters.enrolment, "classroom_id"),
            _spans(rosters.staff_assignment, "classroom_id"),
        ]
    )
    dated = (
        cases.filter(~pl.col("household_linked").fill_null(False))
        .select(
            "case_id",
            "person_id",
            pl.coalesce("onset_date", "specimen_date", "report_date").alias("date"),
        )
        .join(members, on="person_id")
        .filter((pl.col("start_date") <= pl.col("date")) & (pl.col("date") <= pl.col("end_date")))
        .select("classroom_id", "case_id", "date")
        .unique()
    )
    days = dated.select("classroom_id", "date").unique().sort("date")
    days = days.join_asof(rule, left_on="date", right_on="from")
    counted = (
        days.join(dated.rename({"date": "case_date", "case_id": "c"}), on="classroom_id")
        .filter(
            (pl.col("case_date") <= pl.col("date"))
            & (pl.col("case_date") >= pl.col("date") - pl.duration(days=pl.col("window_days")))
        )
        .group_by("classroom_id", "date")
        .agg(pl.col("c").n_unique().alias("cases_in_window"))
    )
    size = (
        days.select("classroom_id", "date")
        .join(members, on="classroom_id")
        .filter((pl.col("start_date") <= pl.col("date")) & (pl.col("date") <= pl.col("end_date")))
        .group_by("classroom_id", "date")
        .agg(pl.col("person_id").n_unique().alias("group_size"))
    )
    out = days.join(counted, on=["classroom_id", "date"]).join(
        size, on=["classroom_id", "date"], how="left"
    )
    prong2 = pl.col("cases_in_window") >= pl.col("min_cases")
    prong1 = (
        pl.col("share_pct").is_not_null()
        & (pl.col("cases_in_window") >= pl.col("share_min_cases"))
        & (pl.col("cases_in_window") * 100 >= pl.col("group_size") * pl.col("share_pct"))
    )
    return (
        out.with_columns(
            (prong2 | prong1.fill_null(False)).alias("meets_definition"),
            pl.lit(None, dtype=pl.Boolean).alias("lhd_confirmed"),
        )
        .select(
            "classroom_id",
            "date",
            "cases_in_window",
            "group_size",
            "meets_definition",
            "lhd_confirmed",
        )
        .sort("classroom_id", "date")
    )


def load_frames(engine: Engine, names: tuple[str, ...]) -> dict[str, pl.DataFrame]:
    """Whole store tables as standard-typed frames (fine for one district; a large store would
    filter by school first)."""
    from sqlalchemy import select

    from schoolmode.store.tables import RECORD_TABLES

    frames = {}
    with engine.connect() as conn:
        for name in names:
            table = RECORD_TABLES[name]
            schema = frame_schema(RECORD_TYPES[name])
            rows = conn.execute(select(*(table.c[c] for c in schema))).all()
            frames[name] = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
    return frames


def trace_stored_case(engine: Engine, case_id: str, registry: Registry) -> Tracing:
    """Trace one stored case from the store's rosters (``SchoolmodeError`` if unknown)."""
    frames = load_frames(engine, ("case", "person", "enrolment", "staff_assignment", "absence"))
    case = frames["case"].filter(pl.col("case_id") == case_id)
    if case.height == 0:
        raise SchoolmodeError(f"no case {case_id!r} in the store")
    rosters = Rosters(
        frames["person"], frames["enrolment"], frames["staff_assignment"], frames["absence"]
    )
    return trace(case, rosters, registry)


def quarantine_list(engine: Engine, school_id: str, on: dt.date) -> pl.DataFrame:
    """Stored orders active on ``on`` for people at ``school_id`` that day (students enrolled
    in one of its classrooms, staff assigned to it)."""
    frames = load_frames(engine, ("quarantine_order", "enrolment", "staff_assignment", "classroom"))
    day = pl.lit(on)
    active = (pl.col("start_date") <= day) & (pl.col("end_date").fill_null(FAR) >= day)
    rooms = frames["classroom"].filter(pl.col("school_id") == school_id)["classroom_id"]
    students = frames["enrolment"].filter(active & pl.col("classroom_id").is_in(rooms.implode()))
    staff = frames["staff_assignment"].filter(active & (pl.col("school_id") == school_id))
    people = pl.concat([students.select("person_id"), staff.select("person_id")]).unique()
    return (
        frames["quarantine_order"]
        .filter(active)
        .join(people, on="person_id")
        .sort("kind", "person_id", "start_date")
    )
