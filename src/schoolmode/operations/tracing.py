"""Contact tracing from rosters, by the rules of the policy in force (vectorised).

From cases (person, onset or specimen date, report date) the module finds close contacts:

- **homeroom**: students enrolled in the case's homeroom and the homeroom's staff (staff
  assignments with that ``classroom_id``), on a day of the case's infectious window when both
  the case and the contact were on the roster and neither has an absence record that day
  (and, if ``school_days`` is given, only on those days);
- **household**: members of the case's household (``person.household_id``), exposed on every
  day of the window whatever the rosters say.

The **infectious window** runs from ``days_before`` days before the anchor date (onset, else
specimen date) to the report date, when the case is presumed to leave school. By default
``days_before`` is the parameter ``cps-ctu-2021-02-06.infectious_window_days_before_onset``
(the CDC convention of the time) in force on the anchor date; pass a number (for instance
:func:`days_before_onset` of a pathogen from ``pathogens/``) to trace another pathogen.

Day 0 of a contact is the last day of exposure. Orders start on the case's report date (when
the order is issued) and end by the rule in force on day 0 (for isolation, on the anchor date).
:func:`rules_in_force` cuts time at every date on which one of the parameters below takes a
new value and computes each period's offsets once, with the pure calculators of
``operations/quarantine.py``. Every number is a dated policy parameter; before a parameter's
first dated value, that first value stands for the earlier period (documented in
docs/operations.md):

- quarantine before ``cdc-quarantine-2020-12-02``: ``quarantine_days_best_practice`` (14);
- from 2020-12-02, the CDC options (``quarantine_release``): the order runs to the no-test day
  (``quarantine_days_without_test``, 10); ``test_out_may_return`` gives the earlier return with
  a negative test (``quarantine_days_with_test``);
- from 2022-01-11, ``isbe-idph-isolation-2022-01-11.quarantine_days`` (5);
- a district's own, stricter rule (``local``: policy parameters such as CPS's
  ``classroom_pause_days`` / ``classroom_remote_days``, see :data:`CPS_QUARANTINE`) replaces
  the guidance from its first dated value;
- isolation: ``cdc-quarantine-2020-12-02.isolation_days`` (10, CDC of the time), then
  ``isolation_release`` of ``isbe-idph-isolation-2022-01-11`` (5 days);
- test-to-stay (``idph-test-to-stay-2021-08``, from its ``test_days``): a homeroom contact stays
  in school, with tests due on the policy's test days, when the school enforces universal
  masking and both the contact and the case were masked; household contacts always quarantine.

**Merged orders.** One person can be named by several cases (two cases in a homeroom, a case
at school and one at home). Orders of the same person and kind that overlap or touch are merged
into one: it starts with the earliest, ends with the latest end ("latest end wins") and keeps
the id of the first; the order that sets the end gives ``case_id`` and ``classroom_id``.
Nothing is dropped: ``Tracing.issued`` keeps every order as issued with the id it was merged
into (the store keeps the issued orders and merges on reading: ``operations/tracing_store.py``;
issuing and merging: ``operations/tracing_orders.py``).

**Exceptions.** A case whose person is on no roster (``person``, ``enrolment``,
``staff_assignment``) cannot be traced: it is returned in ``Tracing.exceptions`` naming the
case and the person, and no order is issued for it; the case itself is untouched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import polars as pl
from sqlalchemy import Engine

from schoolmode.metrics.outbreak import OUTBREAK, meets_on_dates, rule_periods
from schoolmode.operations.quarantine import (
    attendance_under_test_to_stay,
    isolation_release,
    quarantine_release,
)
from schoolmode.operations.tracing_orders import ORDER_EXTRA, isolations, merge_orders, quarantines
from schoolmode.pathogen import Pathogen
from schoolmode.policy.errors import SchoolmodeError, UnknownIdError
from schoolmode.policy.loader import Registry
from schoolmode.policy.model import DatedValue, Policy
from schoolmode.policy.values import dated_value, parameter
from schoolmode.standard.batch import frame_schema
from schoolmode.standard.models import RECORD_TYPES
from schoolmode.store.frames import load_frames as load_frames  # the store edge, re-exported

FAR = dt.date(9999, 12, 31)
BEGINNING = dt.date(1900, 1, 1)

QUARANTINE = "cdc-quarantine-2020-12-02"
ISOLATION = "isbe-idph-isolation-2022-01-11"
TEST_TO_STAY = "idph-test-to-stay-2021-08"
WINDOW = ("cps-ctu-2021-02-06", "infectious_window_days_before_onset")
"""The infectious window's start, in days before onset (CDC convention of the time)."""
CPS_QUARANTINE: tuple[tuple[str, str], ...] = (
    ("cps-ctu-2021-02-06", "classroom_pause_days"),
    ("cps-ctu-2022-01-10", "classroom_remote_days"),
)
"""CPS's own quarantine of close contacts (policies.md §9: 14 days in the fall of 2021, 10 in
January 2022, 5 from 2022-02-01), stricter than the CDC/ISBE guidance; pass as ``local``."""


def days_before_onset(pathogen: object, quantile: float = 0.9) -> int:
    """Days before onset a case of ``pathogen`` (``schoolmode.pathogen.Pathogen``) is infectious: the
    ``quantile`` of its presymptomatic period (whole days), for tracing other pathogens."""
    if not isinstance(pathogen, Pathogen):
        raise TypeError(f"expected a Pathogen, got {type(pathogen).__name__}")
    pmf = pathogen.presymptomatic.pmf()
    cdf = pmf.cumsum()
    return int(min(i for i, c in enumerate(cdf) if c >= quantile - 1e-12))


@dataclass(frozen=True)
class Rosters:
    """Standard-layout frames the tracer reads (``absence``, ``masked``, ``exempt`` may be
    empty)."""

    person: pl.DataFrame
    enrolment: pl.DataFrame
    staff_assignment: pl.DataFrame
    absence: pl.DataFrame | None = None
    masked: pl.DataFrame | None = None
    """``person_id``, ``masked`` (bool): masked at the time of exposure (test-to-stay)."""
    exempt: pl.DataFrame | None = None
    """``person_id``, ``from_date``: a close contact exposed on or after ``from_date`` does not
    quarantine (e.g. fully vaccinated staff): an input about the person, not a rule."""


@dataclass(frozen=True)
class Tracing:
    contacts: pl.DataFrame
    """``case_id``, ``person_id``, ``setting`` (homeroom/household), ``classroom_id``,
    ``last_exposure`` (day 0), ``attendance`` (quarantine / test_to_stay / exempt), ``rule``,
    ``policy_id``, ``quarantine_end``, ``test_out_may_return``, ``monitor_symptoms_through``,
    ``report_date``."""
    orders: pl.DataFrame
    """Standard ``quarantine_order`` rows, merged per person and kind (see the module doc)."""
    follow_up: pl.DataFrame
    """``date``, ``person_id``, ``case_id``, ``action`` (symptom_check / test_due)."""
    issued: pl.DataFrame = field(default_factory=pl.DataFrame)
    """Every order as issued (standard columns plus ``rule``, ``policy_id`` and
    ``merged_into``: the id of the merged order in ``orders``)."""
    exceptions: pl.DataFrame = field(default_factory=pl.DataFrame)
    """``case_id``, ``person_id``, ``reason``: cases that could not be traced."""


def _in_force(policy: Policy, name: str, day: dt.date) -> DatedValue | None:
    return dated_value(policy, name, day)


def _first_or_in_force(policy: Policy, name: str, day: dt.date) -> DatedValue:
    """The value in force on ``day``, else the first dated value (it stands for earlier days)."""
    found = dated_value(policy, name, day)
    if found is None:
        found = policy.parameters[name].values[0]
    return found


def _int(value: DatedValue) -> int:
    v = value.value
    if isinstance(v, bool) or not isinstance(v, int | float | Decimal):
        raise SchoolmodeError(f"parameter value from {value.from_} is not a number: {v!r}")
    return int(v)


def _breaks(registry: Registry, used: Sequence[tuple[str, str]]) -> list[dt.date]:
    days = {BEGINNING}
    for policy_id, name in used:
        days |= {v.from_ for v in registry.get(policy_id).policy.parameters[name].values}
    return sorted(days)


def rules_in_force(registry: Registry, local: Sequence[tuple[str, str]] = ()) -> pl.DataFrame:
    """One row per rule period: ``from`` and the day offsets the calculators give on that
    period's first day (the calculators are called once per period, never per case), with the
    ``rule`` and ``policy_id`` that set the quarantine, and ``isolation_policy_id``.

    ``local``: ``(policy_id, parameter)`` pairs of a district's own quarantine length (days
    after day 0); the last one in force on a day replaces the guidance from its first value."""
    q = registry.get(QUARANTINE).policy
    iso = registry.get(ISOLATION).policy
    tts = registry.get(TEST_TO_STAY).policy
    window = registry.get(WINDOW[0]).policy
    used = [
        (QUARANTINE, "quarantine_days_best_practice"),
        (QUARANTINE, "quarantine_days_without_test"),
        (QUARANTINE, "quarantine_days_with_test"),
        (QUARANTINE, "symptom_monitoring_days"),
        (QUARANTINE, "isolation_days"),
        (ISOLATION, "quarantine_days"),
        (ISOLATION, "isolation_min_days"),
        (TEST_TO_STAY, "test_days"),
        WINDOW,
        *local,
    ]
    rows = []
    for day in _breaks(registry, used):
        if _in_force(q, "quarantine_days_without_test", day) is not None:
            short = quarantine_release(q, day, 10**6)
            full = quarantine_release(q, day, None)
            monitor = (full["monitor_symptoms_through"] - day).days
            last = int(full["quarantine_ends_after_day"])
            test_out: int | None = (short["may_return"] - day).days
            rule = (
                f"{QUARANTINE} ({last} days; {int(short['quarantine_ends_after_day'])} with test)"
            )
        else:
            best = _int(_first_or_in_force(q, "quarantine_days_best_practice", day))
            last = monitor = best
            test_out = None
            rule = f"{QUARANTINE}.quarantine_days_best_practice ({last} days, before the options)"
        policy_id = QUARANTINE
        isbe = _in_force(iso, "quarantine_days", day)
        if isbe is not None:
            last, test_out, policy_id = _int(isbe), None, ISOLATION
            rule = f"{ISOLATION}.quarantine_days ({last} days)"
        in_force_local = [
            (v.from_, pid, name, v)
            for pid, name in local
            if (v := _in_force(registry.get(pid).policy, name, day)) is not None
        ]
        if in_force_local:
            _, pid, name, v = max(in_force_local, key=lambda t: t[0])
            last, test_out, policy_id = _int(v), None, pid
            rule = f"{pid}.{name} ({last} days)"
        if _in_force(iso, "isolation_min_days", day) is not None:
            iso_days = (isolation_release(iso, day, False)["may_return"] - day).days - 1
            iso_policy = ISOLATION
        else:
            iso_days = _int(_first_or_in_force(q, "isolation_days", day))
            iso_policy = QUARANTINE
        rows.append(
            {
                "from": day,
                "rule": rule,
                "policy_id": policy_id,
                "quarantine_days": last,
                "test_out_return_day": test_out,
                "monitor_days": max(monitor, last),
                "isolation_days": iso_days,
                "isolation_policy_id": iso_policy,
                "test_to_stay": _in_force(tts, "test_days", day) is not None,
                "window_days_before": _int(_first_or_in_force(window, WINDOW[1], day)),
            }
        )
    return pl.DataFrame(rows).sort("from")


def _test_days(registry: Registry, on: dt.date) -> list[int]:
    policy = registry.get(TEST_TO_STAY).policy
    answer = attendance_under_test_to_stay(policy, on, True, True, True, None)
    days = answer.get("tests_due_on_days")
    if not isinstance(days, list):  # pragma: no cover - the policy always lists test days
        raise ValueError(f"{TEST_TO_STAY}: no test days")
    assert parameter(policy, "test_days", on) == days
    return [int(d) for d in days]


def _spans(frame: pl.DataFrame, room: str) -> pl.DataFrame:
    return frame.filter(pl.col(room).is_not_null()).select(
        "person_id",
        pl.col(room).alias("classroom_id"),
        "start_date",
        pl.col("end_date").fill_null(FAR),
    )


CONTACT_COLUMNS = [
    "case_id",
    "person_id",
    "setting",
    "classroom_id",
    "last_exposure",
    "attendance",
    "rule",
    "policy_id",
]
"""The leading columns of :attr:`Tracing.contacts`: a contact as the store records it."""


def trace(
    cases: pl.DataFrame,
    rosters: Rosters,
    registry: Registry,
    days_before: int | None = None,
    school_days: pl.Series | None = None,
    universal_masking: bool = False,
    local: Sequence[tuple[str, str]] = (),
) -> Tracing:
    """Close contacts, orders and the follow-up list for ``cases`` (standard ``case`` rows).

    ``days_before``: the infectious window's start (``None``: the policy parameter in force on
    each case's anchor date). ``local``: a district's own quarantine rule (see
    :func:`rules_in_force`)."""
    rules = rules_in_force(registry, local)
    cases, exceptions = _untraceable(cases, rosters)
    located = _windows(cases, rules, days_before)
    case_rooms, room_contacts = _room_contacts(located, rosters, school_days)
    contacts = _contacts(located, _household_contacts(located, rosters), room_contacts, rules)
    contacts = _attendance(contacts, rosters, universal_masking)
    issued = (
        pl.concat([isolations(located, case_rooms, rules), quarantines(contacts)])
        .sort("case_id", "kind", "person_id")
        .with_columns(pl.format("T-{}-{}-{}", "case_id", "kind", "person_id").alias("order_id"))
        .select(*frame_schema(RECORD_TYPES["quarantine_order"]), *ORDER_EXTRA)
    )
    orders, history = merge_orders(issued)
    follow_up = _follow_up(contacts, registry)
    return Tracing(
        contacts=contacts.select(
            *CONTACT_COLUMNS,
            "quarantine_end",
            "test_out_may_return",
            "monitor_symptoms_through",
            "report_date",
        ),
        orders=orders,
        follow_up=follow_up,
        issued=history,
        exceptions=exceptions,
    )


def _untraceable(cases: pl.DataFrame, rosters: Rosters) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(traceable cases, exceptions)``: a case whose person is on no roster is not traced."""
    known = pl.concat(
        [
            rosters.person.select("person_id"),
            rosters.enrolment.select("person_id"),
            rosters.staff_assignment.select("person_id"),
        ]
    ).unique()
    unknown = cases.join(known, on="person_id", how="anti")
    exceptions = unknown.select(
        "case_id",
        "person_id",
        pl.format(
            "case {} names person {}, who is on no roster (person, enrolment, staff_assignment): "
            "not traced; add the person to the rosters and trace again",
            "case_id",
            "person_id",
        ).alias("reason"),
    ).sort("case_id")
    return cases.join(unknown.select("case_id"), on="case_id", how="anti"), exceptions


def _windows(cases: pl.DataFrame, rules: pl.DataFrame, days_before: int | None) -> pl.DataFrame:
    """Each case's ``case_id``, ``case_person``, ``report_date``, ``anchor`` (onset, else
    specimen, else report date) and ``day``: the list of days of its infectious window."""
    anchor = pl.coalesce("onset_date", "specimen_date", "report_date")
    before = (
        pl.lit(days_before, dtype=pl.Int64)
        if days_before is not None
        else pl.col("window_days_before")
    )
    return (
        cases.select(
            "case_id",
            pl.col("person_id").alias("case_person"),
            "report_date",
            anchor.alias("anchor"),
        )
        .sort("anchor")
        .join_asof(rules.select("from", "window_days_before"), left_on="anchor", right_on="from")
        .with_columns(
            pl.date_ranges(
                pl.col("anchor") - pl.duration(days=before),
                pl.max_horizontal("anchor", "report_date"),
            ).alias("day")
        )
        .drop("from", "window_days_before")
    )


def _present(
    frame: pl.DataFrame, who: str, members: pl.DataFrame, absent: pl.DataFrame
) -> pl.DataFrame:
    """Rows of ``frame`` whose person ``who`` is on a room's roster on ``day`` and not absent."""
    on_roster = frame.join(members, left_on=who, right_on="person_id").filter(
        (pl.col("start_date") <= pl.col("day")) & (pl.col("day") <= pl.col("end_date"))
    )
    return on_roster.join(absent, left_on=[who, "day"], right_on=["person_id", "day"], how="anti")


def _room_contacts(
    located: pl.DataFrame, rosters: Rosters, school_days: pl.Series | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(case_rooms, room_contacts)``: the rooms a case was in on each (school) day of its
    window, and the persons in the same room that day (last exposure per case, contact and
    room; setting ``homeroom``)."""
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
    case_rooms = _present(window_school, "case_person", members, absent).select(
        "case_id", "day", "classroom_id"
    )
    room_contacts = (
        _present(
            case_rooms.join(members.rename({"person_id": "contact"}), on="classroom_id")
            .filter((pl.col("start_date") <= pl.col("day")) & (pl.col("day") <= pl.col("end_date")))
            .select("case_id", "day", "classroom_id", "contact"),
            "contact",
            members,
            absent,
        )
        .join(located.select("case_id", "case_person"), on="case_id")
        .filter(pl.col("contact") != pl.col("case_person"))
        .group_by("case_id", "contact", "classroom_id")
        .agg(pl.col("day").max().alias("last_exposure"))
        .with_columns(pl.lit("homeroom").alias("setting"))
    )
    return case_rooms, room_contacts


def _household_contacts(located: pl.DataFrame, rosters: Rosters) -> pl.DataFrame:
    """Members of each case's household, exposed through the end of its window."""
    homes = rosters.person.filter(pl.col("household_id").is_not_null()).select(
        "person_id", "household_id"
    )
    return (
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


def _contacts(
    located: pl.DataFrame,
    house_contacts: pl.DataFrame,
    room_contacts: pl.DataFrame,
    rules: pl.DataFrame,
) -> pl.DataFrame:
    """One row per case and contact, with the case's person and report date and the
    quarantine rule in force on the day of last exposure."""
    # A person exposed at home and at school is a household contact (the stricter setting);
    # one exposed in two rooms (staff) keeps the latest exposure.
    contacts = (
        pl.concat([house_contacts, room_contacts.select(house_contacts.columns)])
        .sort(
            "case_id",
            "contact",
            pl.col("setting") != "household",
            "last_exposure",
            descending=[False, False, False, True],
        )
        .unique(["case_id", "contact"], keep="first", maintain_order=True)
        .join(located.select("case_id", "case_person", "report_date"), on="case_id")
    )
    return contacts.sort("last_exposure").join_asof(
        rules.drop("isolation_days", "isolation_policy_id", "window_days_before"),
        left_on="last_exposure",
        right_on="from",
    )


def _attendance(contacts: pl.DataFrame, rosters: Rosters, universal_masking: bool) -> pl.DataFrame:
    """Each contact's ``attendance`` (exempt / test_to_stay / quarantine) and the days its
    quarantine ends, test-out return is allowed and symptom monitoring runs through."""
    masked = (
        rosters.masked.select("person_id", "masked")
        if rosters.masked is not None
        else pl.DataFrame(schema={"person_id": pl.String, "masked": pl.Boolean})
    )
    exempt = (
        rosters.exempt.select("person_id", "from_date")
        .group_by("person_id")
        .agg(pl.min("from_date"))
        if rosters.exempt is not None
        else pl.DataFrame(schema={"person_id": pl.String, "from_date": pl.Date})
    )
    return (
        contacts.join(masked, left_on="contact", right_on="person_id", how="left")
        .join(
            masked.rename({"masked": "index_masked"}),
            left_on="case_person",
            right_on="person_id",
            how="left",
        )
        .join(exempt, left_on="contact", right_on="person_id", how="left")
        .with_columns(
            pl.when(
                pl.col("from_date").is_not_null() & (pl.col("last_exposure") >= pl.col("from_date"))
            )
            .then(pl.lit("exempt"))
            .when(
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
    first = registry.get(TEST_TO_STAY).policy.parameters["test_days"].values[0].from_
    days = pl.Series("offset", _test_days(registry, first), dtype=pl.Int64).to_frame()
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


def outbreaks(
    cases: pl.DataFrame,
    rosters: Rosters,
    registry: Registry,
    confirmations: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """IDPH/CSTE outbreak status of each homeroom (core group) on each of its case dates.

    Qualifying cases are the group's cases that are not household-linked, dated by onset,
    else specimen, else report date, and counted when a member of the group (enrolled student
    or assigned staff) on that date. On each date ``d`` with a case, ``cases_in_window`` counts
    qualifying cases in days ``d - window_days .. d`` (the policy's default reading, as
    ``metrics/school.py``'s ``in_outbreak``); an outbreak when it reaches
    ``outbreak_min_cases``, or (from 2021-10-15) at least ``prong1_min_cases`` and
    ``prong1_share_pct`` % of the group. Parameters are read from ``idph-outbreak-2021-10-15``
    for the date (``metrics/outbreak.py``: one definition for this, the ``in_outbreak`` metric
    and the simulator). The local health department decides: ``lhd_confirmed`` is the latest of
    its recorded decisions (``confirmations``: ``id`` or row order, ``classroom_id``,
    ``detected_on``, ``confirmed``) for the classroom and day, else null.
    """
    periods = rule_periods(registry.get(OUTBREAK).policy)
    rule = pl.DataFrame(
        {"from": [day for day, _ in periods], "window_days": [r.window_days for _, r in periods]}
    ).sort("from")
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
    meets = meets_on_dates(
        out["date"].to_numpy(),
        out["cases_in_window"].to_numpy(),
        out["group_size"].to_numpy(),
        periods,
    )
    out = out.with_columns(pl.Series("meets_definition", meets))
    if confirmations is not None and confirmations.height:
        order = "id" if "id" in confirmations.columns else None
        latest = (
            (confirmations.sort(order) if order else confirmations)
            .unique(["classroom_id", "detected_on"], keep="last", maintain_order=True)
            .select("classroom_id", pl.col("detected_on").alias("date"), "confirmed")
        )
    else:
        latest = pl.DataFrame(
            schema={"classroom_id": pl.String, "date": pl.Date, "confirmed": pl.Boolean}
        )
    return (
        out.join(latest, on=["classroom_id", "date"], how="left")
        .with_columns(pl.col("confirmed").alias("lhd_confirmed"))
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


def trace_stored_case(
    engine: Engine, case_id: str, registry: Registry, local: Sequence[tuple[str, str]] = ()
) -> Tracing:
    """Trace one stored case from the store's rosters (``SchoolmodeError`` if the case is
    unknown or its person is on no roster; nothing is written)."""
    frames = load_frames(engine, ("case", "person", "enrolment", "staff_assignment", "absence"))
    case = frames["case"].filter(pl.col("case_id") == case_id)
    if case.height == 0:
        raise UnknownIdError(f"no case {case_id!r} in the store")
    rosters = Rosters(
        frames["person"], frames["enrolment"], frames["staff_assignment"], frames["absence"]
    )
    result = trace(case, rosters, registry, local=local)
    if result.exceptions.height:
        raise SchoolmodeError(str(result.exceptions["reason"][0]))
    return result
