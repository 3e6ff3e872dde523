"""A population from a contact network, without households, staff roster or district layer
names: its layers' roles are declared by the population (sim/network.py ``layer_roles``)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from schoolmode.pathogen import load_pathogen
from schoolmode.policy.loader import shipped_registry
from schoolmode.sim.loop import run_policy
from schoolmode.sim.network import SCHOOL_LAYERS, Population, from_sociopatterns
from schoolmode.sim.scenario import Scenario

AGREEMENT = "cps-ctu-2022-01-10"


def made_up_school(path: Path) -> Path:
    """Two days of face-to-face contacts (SocioPatterns layout ``t i j Ci Cj``) of 60 pupils in
    four classes and four teachers: mostly within a class, some across, teachers with all."""
    rnd = random.Random(7)
    classes = ["1A", "1B", "2A", "2B"]
    people = [(p, classes[(p - 1) // 15]) for p in range(1, 61)]
    people += [(61 + k, "Teachers") for k in range(4)]
    lines = []
    for day in range(2):
        for t in range(day * 86_400 + 30_000, day * 86_400 + 30_000 + 6 * 3600, 20):
            for _ in range(2):
                a, b = rnd.sample(people, 2)
                across = a[1] != b[1] and "Teachers" not in (a[1], b[1])
                if across and rnd.random() < 0.7:
                    continue
                lines.append(f"{t}\t{a[0]}\t{b[0]}\t{a[1]}\t{b[1]}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Population:
    return from_sociopatterns(made_up_school(tmp_path_factory.mktemp("sp") / "school.csv"))


def test_the_layers_roles_are_declared_not_looked_up_by_name(school: Population) -> None:
    assert "homeroom" not in school.network.layers  # named "homeroom 3-10 min" and so on
    roles = school.roles()
    assert len(roles) == len(school.network.layers)
    assert set(roles) <= set(SCHOOL_LAYERS)
    for name, role in zip(school.network.layers, roles, strict=True):
        assert name.split(" ")[0] == role
    assert school.layers_of("community").size == 0
    assert np.array_equal(school.layers_of(*SCHOOL_LAYERS), np.arange(len(roles)))


def test_a_school_without_households_runs_the_agreement_and_flips_classrooms(
    school: Population,
) -> None:
    scenario = Scenario(
        days=40, beta=0.5, initial_infections=4, seeds=1, vaccination={"initial_share": {}}
    )
    registry = shipped_registry()
    policy = registry.get(AGREEMENT).policy
    pathogen = load_pathogen(scenario.pathogen)
    runs = [run_policy(school, pathogen, scenario, policy, s, registry) for s in (1, 2, 3)]
    assert all(r.outcomes["infections_household"] == 0 for r in runs)
    reported = [r for r in runs if r.outcomes["cases_reported"] > 0]
    assert reported, "no run reported a case: the household lookup was never exercised"
    # a reported case flips its classroom to remote (the agreement's flip-to-remote rule)
    assert any(r.outcomes["classroom_days_remote"] > 0 for r in reported)


def test_undeclared_or_unknown_roles_are_an_error(school: Population) -> None:
    from dataclasses import replace

    with pytest.raises(ValueError, match="layer roles for"):
        replace(school, layer_roles=("homeroom",)).roles()
    wrong = ("canteen", *school.roles()[1:])
    with pytest.raises(ValueError, match="layer role\\(s\\) canteen"):
        replace(school, layer_roles=wrong).roles()


def test_the_cli_simulates_one_school_from_its_contact_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from schoolmode.cli.app import app

    contacts = made_up_school(tmp_path / "school.csv")
    out = tmp_path / "report"
    args = ["sim", "compare", "--policies", f"{AGREEMENT},none", "--contacts", str(contacts)]
    args += ["--days", "30", "--seeds", "2", "--out", str(out)]
    too_many = CliRunner().invoke(app, args)
    assert too_many.exit_code != 0
    assert "initial_infections 200 is more than the 64 people" in " ".join(too_many.output.split())
    ran = CliRunner().invoke(app, [*args, "--param", "initial_infections=4"])
    assert ran.exit_code == 0, ran.output
    text = (out / "report.md").read_text()
    assert "64 agents in 1 schools" in text
    assert "classroom-days remote" in text


def test_masking_and_layer_weights_name_a_layer_or_a_role(school: Population) -> None:
    from schoolmode.policy.errors import SchoolmodeError

    homerooms = school.layers_called("homeroom", "masking")
    assert homerooms.size > 1
    assert all(school.network.layers[i].startswith("homeroom ") for i in homerooms)
    first = school.network.layers[0]
    assert school.layers_called(first, "masking").tolist() == [0]
    with pytest.raises(SchoolmodeError, match="scenario masking: no layer or layer role 'canteen'"):
        school.layers_called("canteen", "masking")
    base = {"days": 40, "beta": 0.5, "initial_infections": 4, "seeds": 1}
    pathogen = load_pathogen(Scenario(**base).pathogen)
    registry = shipped_registry()

    def in_school(**extra: object) -> list[float]:
        scenario = Scenario(**base, vaccination={"initial_share": {}}, **extra)
        return [
            run_policy(school, pathogen, scenario, None, s, registry).outcomes[
                "infections_in_school"
            ]
            for s in (1, 2, 3)
        ]

    assert sum(in_school()) > 0
    masked = dict.fromkeys(SCHOOL_LAYERS, 0.0)
    assert in_school(masking=masked) == [0.0, 0.0, 0.0]
