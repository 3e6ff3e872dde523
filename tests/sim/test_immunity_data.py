"""Immunity before day 0 from Chicago's data (``immunity.source: data``, issue 16 item 5):
vaccinated shares from CDPH's vaccinations by age, previously infected shares from CDPH's
cases by age over the ACS population and an ascertainment, on the shipped snapshot."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.sim.immunity_data import (
    VACCINATION_FILE,
    immunity_on,
    shipped,
    with_data_immunity,
)
from schoolmode.sim.scenario import INITIAL_VACCINATION_2022_01_10, Scenario
from tests.sim.test_outbreaks import AGREEMENT, made_up_school

START = dt.date(2022, 1, 11)


def test_the_vaccinated_shares_are_the_documented_ones_of_january_2022() -> None:
    # INITIAL_VACCINATION_2022_01_10 was worked out by hand from the same files
    found = immunity_on(START, 0.4, 0.9)
    assert found.day == dt.date(2022, 1, 10)
    for role, share in INITIAL_VACCINATION_2022_01_10.items():
        assert found.vaccinated[role] == pytest.approx(share, abs=0.01)


def test_prior_infection_is_reported_cases_over_ascertainment_capped() -> None:
    exact = immunity_on(START, 1.0, 1.0)
    assert exact.prior_infection == exact.reported_cases_share
    # about 1 in 7 children and 1 in 5 adults of Chicago had a reported case by 10 January 2022
    assert 0.10 < exact.reported_cases_share["student"] < 0.17
    assert 0.17 < exact.reported_cases_share["household_adult"] < 0.24
    half = immunity_on(START, 0.5, 1.0)
    for role, share in exact.prior_infection.items():
        assert half.prior_infection[role] == pytest.approx(2 * share)
    capped = immunity_on(START, 0.1, 0.6)
    assert max(capped.prior_infection.values()) == pytest.approx(0.6)


def test_shares_never_fall_as_the_start_moves_later() -> None:
    days = [dt.date(2020, 9, 1), dt.date(2021, 1, 4), dt.date(2021, 8, 30), START]
    found = [immunity_on(d, 0.4, 0.9) for d in days]
    assert found[0].vaccinated["student"] == 0.0  # before any vaccine
    for a, b in itertools.pairwise(found):
        for role in a.vaccinated:
            assert b.vaccinated[role] >= a.vaccinated[role]
            assert b.prior_infection[role] >= a.prior_infection[role]


def test_a_scenario_from_data_gets_the_shares_of_its_start() -> None:
    given = Scenario()
    assert with_data_immunity(given) == given  # source: given leaves it as it is
    data = given.with_param("immunity.source", "data").with_param("start", "2021-08-30")
    got = with_data_immunity(data)
    found = immunity_on(dt.date(2021, 8, 30), 0.4, 0.9)
    assert got.vaccination.initial_share == found.vaccinated
    assert got.immunity.prior_infection_share == found.prior_infection
    assert got.immunity.source == "data"


def test_a_bad_vaccination_file_names_its_row_and_field(tmp_path: Path) -> None:
    with gzip.open(shipped(VACCINATION_FILE), "rt") as text:
        lines = [next(text).rstrip("\n") for _ in range(4)]
    header = lines[0].split(",")
    bad = lines[2].split(",")
    column = header.index("Vaccine Series Completed - Daily - Age 5+")
    bad[column] = "many"
    path = tmp_path / "vaccinations.csv"
    path.write_text("\n".join([lines[0], lines[1], ",".join(bad), lines[3]]) + "\n")
    with pytest.raises(SchoolmodeError) as caught:
        immunity_on(START, 0.4, 0.9, vaccination=path)
    text = str(caught.value)
    assert "vaccinations.csv" in text
    assert "Vaccine Series Completed - Daily - Age 5+" in text
    assert "many" in text


def test_sim_run_with_immunity_from_data_reports_the_shares(tmp_path: Path) -> None:
    contacts = made_up_school(tmp_path / "school.csv")
    out = tmp_path / "out"
    args = ["sim", "run", "--policy", AGREEMENT, "--contacts", str(contacts), "--seeds", "2"]
    args += ["--param", "immunity.source=data", "--param", "initial_infections=2"]
    args += ["--days", "10", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    page = (out / "report.md").read_text()
    start = page.index("{", page.index("## Scenario"))
    scenario = json.JSONDecoder().raw_decode(page[start:])[0]
    found = immunity_on(START, 0.4, 0.9)
    assert scenario["immunity"]["source"] == "data"
    assert scenario["immunity"]["prior_infection_share"] == pytest.approx(found.prior_infection)
    assert scenario["vaccination"]["initial_share"] == pytest.approx(found.vaccinated)
