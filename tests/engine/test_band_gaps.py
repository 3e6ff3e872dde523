"""Band tables with gaps and a boundary convention per cut (issue 15, item 3).

A value a table leaves in no band gets the level ``unassigned`` with the table's reason, in the
frame, the trace, the explanation and the cases; the vectorised engine, the per-row reference
evaluator and a plain interval oracle agree on random tables.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schoolmode.cases.runner import check, collect, evaluate_case, execute
from schoolmode.engine.evaluate import evaluate
from schoolmode.engine.explain import explain
from schoolmode.engine.plain import summary
from schoolmode.engine.reference import evaluate_reference
from schoolmode.engine.trace import trace
from schoolmode.policy import model as m
from schoolmode.policy.cases import EngineCase, Expectation
from schoolmode.policy.loader import Registry

DAY = dt.date(2021, 1, 10)
LEVELS = ["l0", "l1", "l2", "l3", "l4", "l5", "l6"]


def _policy(registry: Registry, bands: dict[str, Any]) -> m.Policy:
    """The CDC 2020 policy reduced to one district level rule classifying ``x`` by ``bands``."""
    base = registry.get("cdc-indicators-2020-09-15").policy
    rule = next(r for r in base.rules if r.id == "cases-level")
    overall = next(r for r in base.rules if r.id == "overall-level")
    assert overall.recommend is not None
    classify = m.BandsLevel.model_validate(
        {"id": "table", "bands": {"of": {"metric": "x"}, **bands}}
    )
    levels = LEVELS[: len(bands["cuts"]) + 1 - len(bands.get("unassigned", []))]
    return base.model_copy(
        update={
            "rules": [
                rule.model_copy(
                    update={
                        "classify": classify,
                        "levels": levels,
                        "recommend": [
                            type(overall.recommend[0]).model_validate(
                                {"modes": dict.fromkeys(levels, "in_person")}
                            )
                        ],
                    }
                )
            ],
            "metrics": {"x": "a value"},
        }
    )


def _frame(values: list[Decimal | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unit": [f"u{i:02d}" for i in range(len(values))],
            "date": [DAY] * len(values),
            "x": [None if v is None else float(v) for v in values],
        }
    ).with_columns(pl.col("date").cast(pl.Date))


def _levels(policy: m.Policy, values: list[Decimal | None]) -> list[str | None]:
    out = evaluate(policy, {"district": _frame(values)}).frame("district")
    return out.sort("unit")["level.cases-level"].to_list()


def test_a_range_gap_and_per_cut_boundaries(registry: Registry) -> None:
    policy = _policy(
        registry,
        {
            # <10 | 10–<20 | gap 20–30 | >30, and 30 itself is in no band either
            "cuts": [
                10,
                {"at": 20, "boundary": "lower_inclusive"},
                {"at": 30, "boundary": "unassigned"},
            ],
            "boundary": "upper_inclusive",
            "unassigned": [2],
            "reason": "the table has no column from 20 to 30",
        },
    )
    values = [Decimal(v) for v in ("9.9", "10", "10.1", "19.99", "20", "25", "30", "30.01")]
    assert _levels(policy, values) == [
        "l0",
        "l0",  # 10 stays below (upper_inclusive, the table's convention)
        "l1",
        "l1",
        "unassigned",  # 20 goes above (its own lower_inclusive), into the gap
        "unassigned",
        "unassigned",  # exactly 30: no band
        "l2",  # above the gap the levels stay consecutive
    ]


def test_unassigned_is_not_missing_data_and_says_why(registry: Registry) -> None:
    policy = _policy(
        registry,
        {"cuts": [{"at": 5, "boundary": "unassigned"}], "reason": "the source prints <5 and >5"},
    )
    evaluation = evaluate(policy, {"district": _frame([Decimal(5), None])}, keep=True)
    frame = evaluation.frame("district").sort("unit")
    assert frame["level.cases-level"].to_list() == ["unassigned", None]
    assert frame["mode"].to_list() == ["no_data", "no_data"]
    t = trace(evaluation, "district", "u00", DAY)
    assert t.rules[0].level == "unassigned"
    assert t.rules[0].condition is not None
    assert t.rules[0].condition.args["reason"] == "the source prints <5 and >5"
    assert "the table assigns no level to this value (the source prints <5 and >5)" in (
        t.rules[0].condition.note or ""
    )
    technical = explain(t, technical=True)
    assert "level unassigned" in technical
    assert "in no band of its table" in technical
    first = summary(t)
    assert "gives no level for that value" in first
    assert "was 5" in first
    # the missing value is "unknown", not "unassigned": no reason is given for it
    t_missing = trace(evaluation, "district", "u01", DAY)
    assert t_missing.rules[0].level == "unknown"
    assert t_missing.rules[0].condition is not None
    assert "reason" not in t_missing.rules[0].condition.args


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        ({"cuts": [1, 2], "unassigned": [3], "reason": "r"}, "out of range"),
        ({"cuts": [1, 2], "unassigned": [1]}, "needs a `reason`"),
        ({"cuts": [{"at": 1, "boundary": "between"}]}, "boundary 'between' is none of"),
    ],
)
def test_a_bad_table_is_refused_with_its_reason(bands: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        m.BandsSpec.model_validate({"of": {"metric": "x"}, **bands})


def _oracle(
    value: Decimal, cuts: list[tuple[Decimal, str]], gaps: set[int], offset: int = 0
) -> int | str:
    """Interval membership written out: band i is (cut[i-1], cut[i]) with each end's owner."""
    for i, (cut, convention) in enumerate(cuts):
        if value == cut:
            if convention == "unassigned":
                return "unassigned"
            band = i + 1 if convention == "lower_inclusive" else i
            break
    else:
        band = sum(1 for cut, _ in cuts if value > cut)
    if band in gaps:
        return "unassigned"
    return offset + band - len([g for g in gaps if g < band])


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[int], list[str], list[int], list[Decimal]]:
    cuts = sorted(draw(st.sets(st.integers(0, 40), min_size=1, max_size=5)))
    conventions = [draw(st.sampled_from(m.BOUNDARIES)) for _ in cuts]
    gaps = sorted(draw(st.sets(st.integers(0, len(cuts)), max_size=len(cuts))))
    near = [Decimal(c) + d for c in cuts for d in (Decimal("-0.5"), Decimal(0), Decimal("0.5"))]
    values = draw(
        st.lists(st.sampled_from([*near, Decimal(-3), Decimal(45)]), min_size=1, max_size=12)
    )
    return cuts, conventions, gaps, values


@settings(max_examples=60, deadline=None)
@given(table=tables())
def test_engine_reference_and_oracle_agree_on_random_tables(
    registry: Registry, table: tuple[list[int], list[str], list[int], list[Decimal]]
) -> None:
    cuts, conventions, gaps, values = table
    bands: dict[str, Any] = {
        "cuts": [{"at": c, "boundary": b} for c, b in zip(cuts, conventions, strict=True)],
        "unassigned": gaps,
        "reason": "random gaps",
    }
    policy = _policy(registry, bands)
    frames = {"district": _frame(list(values))}
    got = _levels(policy, list(values))
    reference = (
        evaluate_reference(policy, frames)["district"].sort("unit")["level.cases-level"].to_list()
    )
    expected = [
        str(o) if o == "unassigned" else policy.rules[0].levels[o]  # type: ignore[index]
        for o in (
            _oracle(v, [(Decimal(c), b) for c, b in zip(cuts, conventions, strict=True)], set(gaps))
            for v in values
        )
    ]
    assert (got, reference) == (expected, expected), (cuts, conventions, gaps, values)


def test_the_old_encoding_of_the_scribd_copy_fails_its_worked_case(registry: Registry) -> None:
    """The Scribd copy read as "exactly 200 is highest" (the old `lower_inclusive` reading)
    fails cdc20-scribd-gap-at-cut; read as printed (no band at the cut) it passes."""
    runs = [r for r in collect(registry) if r.case_id == "cdc20-scribd-gap-at-cut"]
    printed = next(r for r in runs if r.reading == "scribd-as-printed")
    assert execute(printed, registry).passed
    policy = registry.get("cdc-indicators-2020-09-15").policy
    interp = policy.interpretations["top_cut_boundary"]
    old_interp = interp.model_copy(update={"choices": [*interp.choices, "lower_inclusive"]})
    old = policy.model_copy(
        update={"interpretations": {**policy.interpretations, "top_cut_boundary": old_interp}}
    )

    assert isinstance(printed.case, EngineCase)
    evaluation = evaluate_case(printed.case, old, {"top_cut_boundary": "lower_inclusive"})
    failures = [
        f for raw in printed.expect for f in check(evaluation, Expectation.model_validate(raw), DAY)
    ]
    assert (
        "district at-200 on 2021-01-10: expected level of rule cases-level unassigned, got highest"
        in failures
    )
