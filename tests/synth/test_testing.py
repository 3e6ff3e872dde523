"""Synthetic tests and accommodation requests: determinism, consent, results that follow the
cases, and every README-facing record type filled."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import polars as pl
import pytest

from schoolmode.synth.consent import district_consent
from schoolmode.synth.district import SynthConfig, synth_district
from schoolmode.synth.observations import ObservationConfig, derive_observations, merge_into
from schoolmode.synth.testing import TestingConfig, synth_accommodation_requests, synth_tests

D = dt.date.fromisoformat

SCHOOLS = pl.DataFrame(
    {
        "school_id": ["400001", "400002", "400003"],
        "grades": ["K,1,2", "K,1,2", "3,4,5"],
        "enrolment": [66, 60, 72],
        "zip": ["60601", "60601", "60602"],
    }
)
NO_REPORTS = pl.DataFrame(schema={"school_id": pl.String, "date": pl.Date, "cases": pl.Int64})
START, END = D("2022-01-03"), D("2022-03-04")


def _zip_weekly(cases: float) -> pl.DataFrame:
    weeks = pl.date_range(D("2021-12-26"), D("2022-03-06"), interval="1w", eager=True)
    return pl.DataFrame(
        {
            "zip": ["60601"] * len(weeks) + ["60602"] * len(weeks),
            "week_start": pl.concat([weeks, weeks]),
            "cases": [cases] * (2 * len(weeks)),
            "population": [10_000.0] * (2 * len(weeks)),
        }
    )


@pytest.fixture(scope="module")
def frames() -> dict[str, pl.DataFrame]:
    district = synth_district(SCHOOLS, SynthConfig(seed=3))
    observed = derive_observations(
        district, SCHOOLS, NO_REPORTS, _zip_weekly(600.0), ObservationConfig(start=START, end=END)
    )
    out = merge_into(district, observed)
    out["testing_consent"] = district_consent(out, 0.5, 0.8, 3)
    return out


def _days(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    cal = frames["calendar_day"].filter(pl.col("instructional"))
    return cal.filter(pl.col("date").is_between(START, END)).select("date").unique().sort("date")


def _tests(frames: dict[str, pl.DataFrame], **changes: object) -> pl.DataFrame:
    config = replace(TestingConfig(seed=3, screening_start=START, end=END), **changes)
    return synth_tests(frames, _days(frames), config)


def test_same_seed_identical_rows_other_seed_different(frames: dict[str, pl.DataFrame]) -> None:
    first = _tests(frames)
    assert first.height > 0
    assert first.equals(_tests(frames))
    assert not first.equals(_tests(frames, seed=4))
    assert first["test_id"].is_unique().all()


def test_screening_tests_only_consenting_people_on_school_days(
    frames: dict[str, pl.DataFrame],
) -> None:
    tests = _tests(frames, screening_weekly_share=0.5)
    screened = tests.filter(pl.col("screening"))
    assert screened.height > 0
    consenting = set(frames["testing_consent"]["person_id"])
    assert set(screened["person_id"]) <= consenting
    negative_diagnostic = tests.filter(~pl.col("screening") & (pl.col("result") == "negative"))
    for part in (screened, negative_diagnostic):
        assert set(part["specimen_date"]) <= set(_days(frames)["date"])
    # one testing day per school and week, at most one test per person and week
    weekly = screened.with_columns(pl.col("specimen_date").dt.truncate("1w").alias("week"))
    assert weekly.select("person_id", "week").is_unique().all()
    # about half the consenting roster each week (counter-based draws: not exact)
    weeks = weekly["week"].n_unique()
    share = screened.height / (weeks * len(consenting))
    assert 0.35 < share < 0.6
    assert (tests["result_date"] == tests["specimen_date"] + dt.timedelta(days=1)).all()


def test_results_follow_the_cases(frames: dict[str, pl.DataFrame]) -> None:
    config = TestingConfig(seed=3, screening_start=START, end=END)
    tests = _tests(frames, screening_weekly_share=1.0)
    cases = frames["case"].filter(pl.col("report_date").is_between(START, END))
    assert cases.height > 0
    positive = tests.filter(pl.col("result") == "positive")
    # every positive is a case reported 0..detection_days after a screening specimen, or the
    # diagnostic test the day before its report
    joined = positive.join(cases.select("person_id", "report_date"), on="person_id")
    lag = (joined["report_date"] - joined["specimen_date"]).dt.total_days()
    assert positive["person_id"].is_in(cases["person_id"].implode()).all()
    assert ((lag >= 0) & (lag <= config.detection_days)).any()
    # every case is found once: by screening or by its diagnostic test
    assert set(cases["person_id"]) <= set(positive["person_id"])
    diag = tests.filter(~pl.col("screening"))
    negatives = diag.filter(pl.col("result") == "negative").height
    positives = diag.filter(pl.col("result") == "positive").height
    assert negatives > positives  # negative diagnostic tests around each case
    # no one has a case in a week without cases at their school: no positives without a case
    assert tests.filter(pl.col("screening") & (pl.col("result") == "positive")).height <= (
        cases.height
    )


def test_no_consent_no_screening(frames: dict[str, pl.DataFrame]) -> None:
    without = {**frames, "testing_consent": frames["testing_consent"].clear()}
    tests = _tests(without)
    assert tests.filter(pl.col("screening")).is_empty()
    assert tests.filter(~pl.col("screening")).height > 0


def test_accommodation_requests_by_basis(frames: dict[str, pl.DataFrame]) -> None:
    config = TestingConfig(
        seed=3,
        accommodation_shares=(("own_high_risk", 0.2), ("household_high_risk", 0.3)),
    )
    requests = synth_accommodation_requests(frames, config)
    staff = frames["person"].filter(pl.col("role") != "student")
    assert requests["person_id"].is_unique().all()
    assert set(requests["person_id"]) <= set(staff["person_id"])
    assert set(requests["basis"]) == {"own_high_risk", "household_high_risk"}
    assert (requests["status"] == "pending").all()
    first, last = config.accommodation_window
    assert requests["requested_date"].is_between(first, last).all()
    share = requests.height / staff.height
    assert 0.3 < share < 0.7
    assert requests.equals(synth_accommodation_requests(frames, config))
