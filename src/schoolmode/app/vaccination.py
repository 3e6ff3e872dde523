"""Use case: plan staff vaccination by the policy's priorities and weekly doses, per site and day,
and project when each phase-in group has had the opportunity to be fully vaccinated
(``schoolmode vaccination schedule``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from schoolmode.app.context import Context
from schoolmode.decisions.record import policy_in_force
from schoolmode.operations import vaccination as v
from schoolmode.operations import vaccination_store as vs
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import LoadedPolicy
from schoolmode.store.db import whoami


class Site(BaseModel):
    """A vaccination site and its appointments a day."""

    model_config = ConfigDict(frozen=True)

    site_id: str
    daily_capacity: int = Field(ge=0)


class ScheduleRequest(BaseModel):
    """What to schedule: from ``start`` for ``weeks`` weeks under ``policy_id`` (default: the
    agreement in force on ``start``)."""

    model_config = ConfigDict(frozen=True)

    start: dt.date
    weeks: int = Field(default=12, ge=1)
    policy_id: str | None = None
    sites: tuple[Site, ...] = ()
    """No sites: only the weekly first-dose limit applies."""
    open_days: int = Field(default=5, ge=1, le=7)
    """Sites open Monday to this many days a week."""
    hardest_hit_zips: tuple[str, ...] = ()
    """Given hardest-hit ZIP codes; none: derived from the store where the policy asks."""
    roster_date: dt.date | None = None
    """Day whose staff assignments to use (default ``start``)."""
    city_supply_increase_pct: Decimal = Decimal(0)
    settings: dict[str, str] = Field(default_factory=dict)
    """Interpretation or parameter settings (NAME -> VALUE)."""
    record: bool = False
    """Store the schedule and its appointments."""
    by: str | None = None
    """Who records it (default: the login)."""


class ScheduleResult(BaseModel):
    """The schedule's figures and the projection by phase-in group."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    policy_id: str
    start: dt.date
    weeks: int
    rules: v.VaccinationRules
    """The rules applied (with the hardest-hit ZIP codes used and how they were made)."""
    staff: int
    sites: int | None
    """Number of sites; None: no site limit."""
    appointments: pl.DataFrame
    """``person_id``, ``dose``, ``date``, ``site_id``, ``week``."""
    weekly: pl.DataFrame
    """``week``, ``week_start``, ``first_doses``, ``second_doses``, ``first_dose_cap``."""
    projection: pl.DataFrame
    """Per phase-in group (:func:`~schoolmode.operations.vaccination.projection`)."""
    run_id: int | None
    """The stored schedule run, where recorded."""


def _policy(ctx: Context, policy_id: str | None, day: dt.date) -> LoadedPolicy:
    return ctx.registry.get(policy_id) if policy_id else policy_in_force(ctx.registry, day)


def _sites(sites: tuple[Site, ...]) -> pl.DataFrame | None:
    if not sites:
        return None
    return pl.DataFrame(
        [{"site_id": s.site_id, "daily_capacity": s.daily_capacity} for s in sites],
        schema={"site_id": pl.String, "daily_capacity": pl.Int64},
    )


def schedule(ctx: Context, req: ScheduleRequest) -> ScheduleResult:
    """Plan first and second doses for the staff on the roster day, by the policy's rules."""
    loaded = _policy(ctx, req.policy_id, req.start)
    settings = dict(req.settings)
    rules = v.vaccination_rules(loaded.policy, req.start, req.city_supply_increase_pct, settings)
    sites = _sites(req.sites)
    capacity = (
        None
        if sites is None
        else v.site_days(sites, req.start, 7 * req.weeks, tuple(range(req.open_days)))
    )
    roster_day = req.roster_date or req.start
    staff, records = vs.staff_from_store(ctx.engine, roster_day)
    if req.hardest_hit_zips:
        zips, how = tuple(sorted(set(req.hardest_hit_zips))), "given (--hardest-hit-zip)"
    elif rules.by_hardest_hit_zip:
        derived = vs.hardest_hit_from_store(ctx.engine, loaded.policy, req.start, settings)
        zips, how = derived.codes(), derived.source
    else:
        zips, how = (), ""
    if staff.height == 0:
        raise SchoolmodeError(f"no staff with an assignment on {roster_day} in the store")
    if zips:
        rules = replace(
            rules, hardest_hit_zips=zips, sources={**rules.sources, "hardest_hit_zips": how}
        )
    result = v.schedule(staff, rules, req.start, req.weeks, capacity, records)
    groups = v.projection(result)
    run_id = (
        vs.record_schedule(ctx.engine, result, sites, staff.height, req.by or whoami())
        if req.record
        else None
    )
    return ScheduleResult(
        policy_id=loaded.id,
        start=req.start,
        weeks=req.weeks,
        rules=rules,
        staff=staff.height,
        sites=None if sites is None else sites.height,
        appointments=result.appointments,
        weekly=result.weekly,
        projection=groups,
        run_id=run_id,
    )
