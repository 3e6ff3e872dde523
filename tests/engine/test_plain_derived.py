"""An explanation that reads citywide positivity on a day whose positivity is derived from the
ZIP weekly series (after CDPH's daily by-test series ends on 24 November 2021) says so, in
English and Spanish; a day of the by-test series does not (issue 15, items 7 and 9)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from schoolmode.engine.evaluate import Evaluation, evaluate
from schoolmode.engine.explain import explain
from schoolmode.engine.trace import DERIVED_SUFFIX, trace
from schoolmode.i18n import language
from schoolmode.importers.cdph import DailyCases, DailyTesting, ZipWeekly
from schoolmode.metrics.frames import DERIVED_COLUMNS, district_frame
from schoolmode.policy.loader import shipped_registry
from schoolmode.settings import SHIPPED_DATA
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import upgrade
from schoolmode.store.service import run_import

D = dt.date.fromisoformat
SAID = "is derived from the weekly ZIP-code tests"
DICHO = "se deriva de las pruebas semanales por código postal"


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    """The CDC indicators (14-day positivity) over the shipped CDPH series, March 2021 to
    January 2022."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('derived') / 'store.sqlite'}")
    try:
        upgrade(engine)
        for importer in (DailyTesting(), DailyCases(), ZipWeekly()):
            run_import(engine, importer, Path(f"{SHIPPED_DATA / importer.default_files[0]}.gz"))
        district = district_frame(engine, D("2021-03-01"), D("2022-01-31"))
    finally:
        engine.dispose()
    assert {f"{name}{DERIVED_SUFFIX}" for name in DERIVED_COLUMNS} <= set(district.columns)
    policy = shipped_registry().get("cdc-indicators-2020-09-15").policy
    return evaluate(policy, {"district": district}, keep=True)


def test_a_derived_positivity_is_said_to_be_derived(evaluation: Evaluation) -> None:
    day = trace(evaluation, "district", "chicago", D("2022-01-10"))
    english = explain(day, all_rules=True)
    assert f"On this day, RT-PCR positivity in the last 14 days {SAID}." in english
    assert english.count(SAID) == 1  # once, however many rules read it
    assert DICHO in explain(day, all_rules=True, lang=language("es"))


def test_a_positivity_by_test_is_not(evaluation: Evaluation) -> None:
    day = trace(evaluation, "district", "chicago", D("2021-03-26"))
    assert SAID not in explain(day, all_rules=True)
    assert DICHO not in explain(day, all_rules=True, lang=language("es"))
