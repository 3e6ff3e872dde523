"""Quarantine and isolation orders of a tracing: issued per case and contact by the rule in
force, then merged per person and kind (pure functions on frames).

:func:`isolations` and :func:`quarantines` issue the orders of :func:`schoolmode.operations.
tracing.trace`; :func:`merge_orders` merges orders of the same person and kind that overlap or
touch ("latest end wins", see the module doc of ``operations/tracing.py``), for the tracer and
for the store's reading of imported and traced orders (``operations/tracing_store.py``).
"""

from __future__ import annotations

import polars as pl

from schoolmode.standard.batch import frame_schema
from schoolmode.standard.models import RECORD_TYPES

ORDER_EXTRA = {"rule": pl.String, "policy_id": pl.String}
"""Columns an issued order carries besides the standard ``quarantine_order`` ones."""


def merge_orders(issued: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(merged, issued_with_merged_into)``: orders of the same person and kind that overlap
    or touch (next start <= running latest end + 1 day) become one order with the earliest
    start, the latest end and the first order's id; ``case_id`` and ``classroom_id`` come from
    the order that sets the end (latest end, then latest start, then highest id). Extra columns
    of ``issued`` (such as ``rule``) follow the same order. Vectorised."""
    standard = list(frame_schema(RECORD_TYPES["quarantine_order"]))
    if issued.height == 0:
        return issued.select(standard), issued.with_columns(
            pl.lit(None, dtype=pl.String).alias("merged_into")
        )
    keys = ["person_id", "kind"]
    ranked = (
        issued.sort(*keys, "start_date", "order_id")
        .with_columns(
            pl.col("end_date").cum_max().shift(1).over(keys).alias("_reach"),
        )
        .with_columns(
            (
                pl.col("_reach").is_null()
                | (pl.col("start_date") > pl.col("_reach") + pl.duration(days=1))
            )
            .cum_sum()
            .over(keys)
            .alias("_group")
        )
    )
    group = [*keys, "_group"]
    heads = ranked.group_by(group).agg(
        pl.col("order_id").first().alias("merged_id"),
        pl.col("start_date").min().alias("_start"),
        pl.col("end_date").max().alias("_end"),
    )
    setter = (
        ranked.sort("end_date", "start_date", "order_id", descending=True)
        .unique(group, keep="first")
        .drop("order_id", "start_date", "end_date", "_reach")
    )
    merged = (
        setter.join(heads, on=group)
        .select(
            pl.col("merged_id").alias("order_id"),
            *keys,
            pl.col("_start").alias("start_date"),
            pl.col("_end").alias("end_date"),
            *[c for c in issued.columns if c not in {*keys, "order_id", "start_date", "end_date"}],
        )
        .select(standard)
        .sort("person_id", "kind", "start_date")
    )
    history = (
        ranked.join(heads.select(*group, "merged_id"), on=group)
        .rename({"merged_id": "merged_into"})
        .drop("_reach", "_group")
        .sort("person_id", "kind", "start_date", "order_id")
    )
    return merged, history


def quarantines(contacts: pl.DataFrame) -> pl.DataFrame:
    """Quarantine orders of the contacts who quarantine, from the report date (none when the
    quarantine ended before the case was reported)."""
    return contacts.filter(
        (pl.col("attendance") == "quarantine") & (pl.col("quarantine_end") >= pl.col("report_date"))
    ).select(
        "case_id",
        "person_id",
        pl.lit("quarantine").alias("kind"),
        pl.col("report_date").alias("start_date"),
        pl.col("quarantine_end").alias("end_date"),
        "classroom_id",
        "rule",
        "policy_id",
    )


def isolations(
    located: pl.DataFrame, case_rooms: pl.DataFrame, rules: pl.DataFrame
) -> pl.DataFrame:
    """Each case's isolation order, by the rule in force on its anchor date, in the room it
    was last in."""
    case_room = case_rooms.sort("day").group_by("case_id").agg(pl.col("classroom_id").last())
    return (
        located.sort("anchor")
        .join_asof(
            rules.select("from", "isolation_days", "isolation_policy_id"),
            left_on="anchor",
            right_on="from",
        )
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
            pl.format(
                "{}: isolation {} days after onset", "isolation_policy_id", "isolation_days"
            ).alias("rule"),
            pl.col("isolation_policy_id").alias("policy_id"),
        )
    )
