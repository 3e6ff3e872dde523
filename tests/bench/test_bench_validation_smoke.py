"""The Gemmetto et al. 2014 study (bench/validation/gemmetto2014/): its files load and its
policies' worked cases pass; bench/bench_validation.py runs every strategy on a made-up school
(never the real CC BY-NC-SA data) and writes the side-by-side table."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.pathogen import load_pathogen
from schoolmode.sim.population_spec import load_spec
from schoolmode.sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "bench" / "validation" / "gemmetto2014"


def test_the_study_files_load_and_the_policies_worked_cases_pass() -> None:
    scenario = load_scenario(STUDY / "scenario.yaml")
    pathogen = load_pathogen(scenario.pathogen)
    assert pathogen.name == "ili-gemmetto2014"
    assert pathogen.relative_infectiousness_asymptomatic.value == 0.5
    assert scenario.initial_infections == 1
    assert scenario.seed_state == "infectious"
    spec = load_spec(STUDY / "school.yaml")
    assert spec.kind == "sociopatterns"
    result = CliRunner().invoke(app, ["policy", "test", str(STUDY / "policies")])
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output
    # every strategy's worked cases ran (the baseline has no rule and no case)
    assert "5 passed" in result.output
