"""Store edges of staff vaccination: the staff frame and vaccination records of a day, the
hardest-hit ZIP codes from the stored ZIP weekly cases, and recording a schedule run with its
appointments (append-only tables). The scheduling itself is pure (``vaccination.py``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

import polars as pl
from sqlalchemy import Engine, insert

from schoolmode.operations.accommodations_store import current_decisions
from schoolmode.operations.vaccination import (
    STAFF_RECORDS,
    HardestHit,
    Schedule,
    hardest_hit_zips,
    staff_frame,
)
from schoolmode.policy.model import Policy
from schoolmode.policy.values import Value
from schoolmode.store.db import begin_write
from schoolmode.store.frames import load_frames
from schoolmode.store.tables import vaccination_appointment, vaccination_schedule_run


def staff_from_store(engine: Engine, on: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The staff frame for :func:`~schoolmode.operations.vaccination.schedule` on ``on`` (see
    :func:`~schoolmode.operations.vaccination.staff_frame`) and the vaccination records, from
    the store."""
    records = load_frames(engine, STAFF_RECORDS)
    staff = staff_frame(records, current_decisions(engine), on)
    return staff, records["vaccination"]


def hardest_hit_from_store(
    engine: Engine, policy: Policy, on: dt.date, settings: Mapping[str, Value] | None = None
) -> HardestHit:
    """:func:`~schoolmode.operations.vaccination.hardest_hit_zips` from the store's
    ``community_indicator`` rows."""
    indicators = load_frames(engine, ("community_indicator",))["community_indicator"]
    return hardest_hit_zips(policy, on, indicators, settings)


def record_schedule(
    engine: Engine, result: Schedule, sites: pl.DataFrame | None, staff: int, by: str
) -> int:
    """Append the schedule run and its appointments in one transaction; returns the run id."""
    rules = {
        k: list(val) if isinstance(val, tuple) else str(val)
        for k, val in vars(result.rules).items()
    }
    with begin_write(engine) as conn:
        run_id = conn.execute(
            insert(vaccination_schedule_run)
            .values(
                policy_id=result.rules.policy_id,
                start_date=result.start,
                weeks=result.days // 7,
                rules_json=json.dumps(rules, sort_keys=True),
                sites_json=json.dumps([] if sites is None else sites.to_dicts()),
                staff=staff,
                created_at=dt.datetime.now(dt.UTC),
                created_by=by,
            )
            .returning(vaccination_schedule_run.c.id)
        ).scalar_one()
        rows = result.appointments.select(
            pl.lit(run_id).alias("run_id"), "person_id", "dose", "date", "site_id"
        ).to_dicts()
        for i in range(0, len(rows), 5000):
            conn.execute(insert(vaccination_appointment), rows[i : i + 5000])
    return int(run_id)
