"""The Gemmetto et al. 2014 study (bench/validation/gemmetto2014/): its files load and its
policies' worked cases pass; bench/bench_validation.py runs every strategy on a made-up school
(never the real CC BY-NC-SA data) and writes the side-by-side table."""

from __future__ import annotations

import gzip
import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.pathogen import load_pathogen
from schoolmode.sim.population_spec import load_spec
from schoolmode.sim.scenario import load_scenario
from tests.bench import load_bench
from tests.cli.test_sim_population_cli import made_up_school

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "bench" / "validation" / "gemmetto2014"


def _data_folder(tmp_path: Path) -> Path:
    """A data folder as ``--data`` wants it: a made-up school's contacts gzipped and its
    metadata, under the SocioPatterns file names."""
    data = tmp_path / "data"
    data.mkdir()
    contacts, metadata = made_up_school(data)
    (data / "primaryschool.csv.gz").write_bytes(gzip.compress(contacts.read_bytes()))
    metadata.rename(data / "primaryschool_metadata.txt")
    return data


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
    assert "6 passed" in result.output


def test_the_script_runs_every_strategy_on_a_made_up_school(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _data_folder(tmp_path)
    out = tmp_path / "out"
    args = ["--data", str(data), "--seeds", "6", "--param", "days=40", "--out", str(out)]
    assert load_bench("bench_validation").main([*args, "--beta", "3"]) == 0
    printed = capsys.readouterr().out
    assert "4 strategies x 6 seeds, 84 agents" in printed
    table = pl.read_csv(out / "validation.csv")
    assert table.height == 4 * 7
    assert table["strategy"].unique(maintain_order=True).to_list() == [
        "no-intervention",
        "class-closure",
        "grade-closure",
        "school-closure",
    ]
    by = {(r["strategy"], r["measure"]): r for r in table.iter_rows(named=True)}
    # the baseline closes nothing; the closures lose school days and never raise the attack
    # rate on the same seeds above the baseline's by more than noise allows
    assert by[("no-intervention", "school_days_lost")]["ours"] == 0
    assert by[("class-closure", "school_days_lost")]["ours"] > 0
    assert by[("grade-closure", "school_days_lost")]["ours"] > 0
    assert by[("school-closure", "school_days_lost")]["ours"] > 0
    base = by[("no-intervention", "attack_rate")]["ours"]
    assert 0 < base <= 1
    closing = by[("school-closure", "attack_rate")]["ours"]
    reduction = by[("school-closure", "attack_rate_reduction")]["ours"]
    assert reduction == pytest.approx(1 - closing / base)
    # school infections: every infection transmitted in school, per run; with no importation
    # they are the seeded chain's, less its seed, so never above the chain's mean size
    runs = pl.read_csv(out / "beta-3" / "runs.csv")
    outcomes = pl.read_csv(out / "beta-3" / "outcomes.csv")
    for key in ("no-intervention", "school-closure"):
        pid = f"gemmetto2014-{key}"
        rows = runs.filter(pl.col("policy") == pid).join(
            outcomes.filter(pl.col("policy") == pid).select("seed", "infections_in_school"),
            on="seed",
        )
        assert rows.height == 6
        school = by[(key, "school_infections")]["ours"]
        assert school == pytest.approx(rows["infections_in_school"].mean())
        assert school <= rows["chain_size"].mean()
    base_school = by[("no-intervention", "school_infections")]["ours"]
    assert base_school > 0
    assert by[("no-intervention", "school_infections_reduction")]["ours"] == 0
    assert by[("school-closure", "school_infections_reduction")]["ours"] == pytest.approx(
        1 - by[("school-closure", "school_infections")]["ours"] / base_school
    )
    # the paper's one quantitative value is compared, the values not read say so
    row = by[("class-closure", "attack_rate_reduction")]
    assert row["paper_low"] == 0.65
    assert row["inside"] in ("yes", "no")
    assert by[("no-intervention", "attack_rate")]["inside"] == "not read"
    page = (out / "validation.md").read_text()
    assert (
        "| 3 | Class closure (2 detected, 3 days) | attack_rate_reduction | 0.650-0.700 |" in page
    )
    assert (out / "beta-3" / "runs.csv").exists()
    assert (out / "beta-3" / "final-size.png").exists()


def test_missing_data_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"primaryschool\.csv\.gz"):
        load_bench("bench_validation").main(
            ["--data", str(tmp_path), "--seeds", "2", "--out", str(tmp_path / "o")]
        )


COLOSI = ROOT / "bench" / "validation" / "colosi2025"


def test_the_colosi_study_files_load_and_its_worked_cases_pass() -> None:
    scenario = load_scenario(COLOSI / "scenario.yaml")
    pathogen = load_pathogen(scenario.pathogen)
    assert pathogen.name == "omicron-colosi2025"
    assert [b.susceptibility.value for b in pathogen.age_bands] == [0.5, 1.0]
    assert scenario.immunity.prior_infection_share == {"student": 0.35, "classroom_teacher": 0.55}
    assert (scenario.days, scenario.tracing.isolation_days) == (42, 7)
    study = load_bench("bench_validation").load_study(COLOSI)
    assert [s.params for s in study.strategies] == [
        ("tracing.test_to_stay=true",),
        (
            "tracing.test_to_stay=false",
            "importation.weekly_factors=[1.883, 1.876, 2.039, 1.826, 1.131, 0.528]",
            "screening.student_weekly_factors=[0.9595, 1.0, 1.1351, 1.1081, 0.8108, 1.0]",
        ),
    ]
    # introductions fall week by week as the authors' do (fit.py)
    factors = scenario.importation.weekly_factors
    assert len(factors) == 6
    assert factors[-1] < factors[0] / 2
    result = CliRunner().invoke(app, ["policy", "test", str(COLOSI / "policies")])
    assert result.exit_code == 0, result.output
    assert "2 passed, 0 failed" in result.output


def test_the_colosi_study_runs_each_strategy_with_its_own_params(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _data_folder(tmp_path)
    out = tmp_path / "out"
    args = ["--study", str(COLOSI), "--data", str(data), "--seeds", "4", "--out", str(out)]
    assert load_bench("bench_validation").main([*args, "--param", "days=21"]) == 0
    assert "2 strategies x 4 seeds, 84 agents" in capsys.readouterr().out
    table = pl.read_csv(out / "validation.csv")
    by = {(r["strategy"], r["measure"]): r for r in table.iter_rows(named=True)}
    # each strategy ran alone with its params, on the same seeds as the baseline
    folder = out / f"beta-{load_scenario(COLOSI / 'scenario.yaml').beta}"
    reactive = pl.read_csv(folder / "reactive-screening" / "outcomes.csv")
    weekly = pl.read_csv(folder / "weekly-screening" / "outcomes.csv")
    assert reactive["seed"].to_list() == weekly["seed"].to_list() == [0, 1, 2, 3]
    # weekly screening tests three quarters of the students every week, the reactive
    # protocol only the symptomatic and their classmates
    assert weekly["tests"].sum() > reactive["tests"].sum()
    # the weekly strategy's own weekly importation factors replaced the scenario's
    runs = pl.read_csv(folder / "weekly-screening" / "runs.csv")
    assert runs["importation.weekly_factors"].unique().to_list() == [
        "[1.883, 1.876, 2.039, 1.826, 1.131, 0.528]"
    ]
    runs = pl.read_csv(folder / "reactive-screening" / "runs.csv")
    assert "importation.weekly_factors" not in runs.columns
    school = by[("weekly-screening", "school_infections")]["ours"]
    assert school == pytest.approx(weekly["infections_in_school"].mean())
    base = by[("reactive-screening", "school_infections")]["ours"]
    assert base > 0
    reduction = by[("weekly-screening", "school_infections_reduction")]["ours"]
    assert reduction == pytest.approx(1 - school / base)
    # the authors' values are compared, with where they are
    row = by[("weekly-screening", "school_infections_reduction")]
    assert (row["paper_low"], row["paper_high"]) == (0.361, 0.374)
    assert row["inside"] in ("yes", "no", "no interval")
    assert "Counterfactual" in row["where"]


def test_a_strategy_param_must_be_field_equals_value(tmp_path: Path) -> None:
    study = tmp_path / "study"
    shutil.copytree(COLOSI, study)
    text = (study / "study.yaml").read_text()
    (study / "study.yaml").write_text(text.replace('"tracing.test_to_stay=true"', "tracing"))
    with pytest.raises(SystemExit, match=r"reactive-screening.*field=value.*'tracing'"):
        load_bench("bench_validation").load_study(study)


def _colosi_fit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("colosi_fit", COLOSI / "fit.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_colosi_fit_script_checks_and_fits_on_a_made_up_school(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fit = _colosi_fit()
    data = _data_folder(tmp_path)
    assert fit.main(["--data", str(data), "--seeds", "2", "--check"]) == 0
    out = capsys.readouterr().out
    assert "reactive-screening (2 runs), weeks 1-6:" in out
    assert "school authors [16.58, 22.44, 18.15, 11.98, 7.43, 3.94] (sum 80.5)" in out
    assert fit.main(["--data", str(data), "--seeds", "2", "--rounds", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("round 1 ") == 2
    factors = {
        line.split()[0]: [float(x) for x in line.split("[")[1].rstrip("]").split(",")]
        for line in out.splitlines()
        if "weekly_factors:" in line
    }
    assert sorted(factors) == ["reactive-screening", "weekly-screening"]
    assert all(len(f) == 6 and min(f) > 0 for f in factors.values())
    assert "beta: " in out
