"""Calibration: SocioPatterns contact summaries and layer weights, empirical-network schools,
beta from R0 (next-generation on a random graph, early growth on a clustered network), and
the Starsim-like hybrid population of the benchmark."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from schoolmode.importers._parse import FileValidationError
from schoolmode.pathogen import Duration, Pathogen, load_pathogen, pathogen_names
from schoolmode.sim import calibrate, sociopatterns
from schoolmode.sim.network import HybridConfig, NetworkConfig, from_hybrid, from_sociopatterns
from tests.conftest import FIXTURES
from tests.sim.test_sim import per_day_hazard, random_graph, simple_pathogen

SCHOOL = FIXTURES / "sociopatterns" / "school.csv"


def row(summary: object, role: str, category: str) -> dict[str, float]:
    import polars as pl

    assert isinstance(summary, pl.DataFrame)
    rows = summary.filter((pl.col("role") == role) & (pl.col("category") == category))
    assert rows.height == 1
    return rows.row(0, named=True)


def test_roster_grades_and_teachers_own_class() -> None:
    school = sociopatterns.read_school(SCHOOL)
    roster = {r["person"]: r for r in school.roster.iter_rows(named=True)}
    assert len(roster) == 9  # person 9 has no contacts but is in the metadata
    assert roster[3]["grade"] == "1"
    assert roster[9]["grade"] == "2"
    assert roster[7]["teacher"]
    assert roster[7]["grade"] is None
    # teacher 7: 40 s with 1A, 20 s with 1B; teacher 8: 60 s with 2A
    assert roster[7]["own_class"] == "1A"
    assert roster[8]["own_class"] == "2A"
    # pair-days: "2 1" on day 1 is the same pair as "1 2" on day 0
    pairs = school.pairs.filter((school.pairs["a"] == 1) & (school.pairs["b"] == 2))
    assert pairs.select("day", "seconds").rows() == [(0, 60), (1, 60)]


def test_high_school_class_labels_group_into_tracks() -> None:
    import polars as pl

    labels = pl.Series(["2BIO1", "2BIO3", "MP*1", "MP", "PC*", "PSI*", "3B", "Teachers"])
    grades = pl.DataFrame({"c": labels}).select(sociopatterns.grade_of(pl.col("c")).alias("g"))["g"]
    assert grades.to_list() == ["BIO", "BIO", "MP", "MP", "PC", "PSI", "3", None]


def test_contact_summary_of_the_fixture() -> None:
    summary = calibrate.summarise(sociopatterns.read_school(SCHOOL))
    # student person-days with a contact: day 0 {1, 2, 3, 5}, day 1 {1, ..., 6}
    classmate = row(summary, "student", "classmate")
    assert classmate["person_days"] == 10
    # directed classmate contacts: 1-2 twice, 3-4, 5-6: 8, over 600 s
    assert classmate["contacts_per_day"] == pytest.approx(0.8)
    assert classmate["minutes_per_day"] == pytest.approx(1.0)
    assert classmate["minutes_per_contact"] == pytest.approx(1.25)
    # classmates possible: 1, 1, 1, 1, 2, 2, 2 over the seven students
    assert classmate["possible_partners"] == pytest.approx(10 / 7)
    assert classmate["minutes_per_possible_partner"] == pytest.approx(0.7)
    same_grade = row(summary, "student", "same grade")
    assert same_grade["contacts_per_day"] == pytest.approx(0.2)
    assert same_grade["minutes_per_contact"] == pytest.approx(1 / 3)
    assert same_grade["possible_partners"] == pytest.approx(8 / 7)
    other = row(summary, "student", "other grade")
    assert other["minutes_per_day"] == pytest.approx(40 / 60 / 10)
    teacher = row(summary, "student", "teacher")
    assert teacher["contacts_per_day"] == pytest.approx(0.3)
    assert teacher["minutes_per_day"] == pytest.approx(0.2)
    # teachers: person-days 7, 8 on day 0 and 7 on day 1
    own = row(summary, "teacher", "own class")
    assert own["person_days"] == 3
    assert own["minutes_per_day"] == pytest.approx(100 / 60 / 3)
    assert own["possible_partners"] == pytest.approx(2.5)
    assert row(summary, "teacher", "other class")["contacts_per_day"] == pytest.approx(1 / 3)
    staff = row(summary, "teacher", "teacher")
    assert staff["minutes_per_possible_partner"] == pytest.approx(40 / 60 / 3)


def test_layer_calibration_of_the_fixture() -> None:
    cal = calibrate.layer_calibration(calibrate.summarise(sociopatterns.read_school(SCHOOL)))
    unit = 0.7 / 0.3  # classmates' minutes per possible partner at the homeroom weight
    assert cal.minutes_per_unit == pytest.approx(unit)
    assert cal.weights["homeroom"] == 0.3
    assert cal.weights["grade"] == pytest.approx((1 / 3) / unit, abs=1e-3)
    assert cal.weights["school"] == pytest.approx((1 / 3) / unit, abs=1e-3)
    assert cal.weights["staff"] == pytest.approx((40 / 60 / 3) / unit, abs=1e-3)
    assert (cal.grade_contacts, cal.school_contacts) == (0, 0)


def test_default_network_config_is_the_primary_school_calibration() -> None:
    config = NetworkConfig()
    assert config.weights["homeroom"] == calibrate.HOMEROOM_WEIGHT
    assert config.source.startswith("SocioPatterns primary school")
    # grade and school contacts are rounded halves of observed daily contacts (degree ~ 2k)
    assert config.grade_contacts >= 1
    assert config.school_contacts >= 1


def test_a_school_from_the_empirical_network() -> None:
    pop = from_sociopatterns(SCHOOL)
    net = pop.network
    assert net.n == 9
    assert pop.person_ids[:3] == ["1", "2", "3"]
    assert net.layers == (
        "homeroom 0-1 min",
        "homeroom 1-3 min",
        "grade 0-1 min",
        "school 0-1 min",
        "staff 0-1 min",
    )
    # mean daily minutes over the file's two days / 20 minutes per unit weight
    expected = [(20 / 60 + 0.5 + 0.5) / 3, 1.0, 1 / 6, 1 / 6, 1 / 6]
    assert net.weights == pytest.approx([m / 20 for m in expected])
    edges = {name: net.edges(name) for name in net.layers}
    assert edges == {
        "homeroom 0-1 min": 3,  # 1-7 (teacher 7's class), 5-8, 3-4
        "homeroom 1-3 min": 2,  # 1-2, 5-6
        "grade 0-1 min": 1,  # 1-3
        "school 0-1 min": 2,  # 1-5, and 3-7 (a teacher and another class)
        "staff 0-1 min": 1,  # 7-8
    }
    layer = net.layers.index("homeroom 1-3 min")
    neighbours = net.indices[net.indptr[layer, 0] : net.indptr[layer, 1]]
    assert neighbours.tolist() == [1]  # agent 0 (person 1) with agent 1 (person 2)
    assert pop.agents["age"][[0, 4, 6]].tolist() == [6, 7, 40]  # grades 1, 2, teacher
    assert pop.classroom_ids == ["1A", "1B", "2A"]
    assert pop.agents["classroom"][6] == 0  # teacher 7 teaches 1A
    assert net.degree("homeroom 0-1 min")[8] == 0  # person 9: no contacts at all


def test_a_malformed_contact_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv.gz"
    with gzip.open(bad, "wt") as fh:
        fh.write("31220 1558 1567 3B 3B\n31240 x 1570 3B 3B\n")
    with pytest.raises(FileValidationError, match=r"data row 2, field 'i': value 'x'"):
        sociopatterns.read_school(bad)


def test_next_generation_beta_on_a_random_graph_is_the_analytic_one() -> None:
    # Erdős–Rényi, mean degree 20, fixed 4 infectious days: R0 = k T exactly
    population = random_graph(5_000, 20.0, seed=1)
    pathogen = simple_pathogen(latent=2, infectious=4)
    beta = calibrate.next_generation_beta(population, pathogen, 2.0)
    assert beta == pytest.approx(per_day_hazard(2.0, 20.0, 4), rel=0.02)


def test_generation_interval_and_growth_rate() -> None:
    pathogen = simple_pathogen(latent=2, infectious=4)
    g = calibrate.generation_interval(pathogen)
    assert g[:7] == pytest.approx([0, 0, 0.25, 0.25, 0.25, 0.25, 0])
    r = calibrate.growth_rate_for_r0(pathogen, 2.0)
    assert 2.0 * float((g * np.exp(-r * np.arange(g.size))).sum()) == pytest.approx(1.0)
    assert calibrate.growth_rate_for_r0(pathogen, 1.0) == pytest.approx(0.0, abs=1e-9)


def test_beta_for_r0_gives_the_growth_rate_r0_implies_on_a_clustered_network() -> None:
    # households (cliques) + random layers: calibrated on some seeds, checked on others
    population = from_hybrid(20_000, HybridConfig(seed=3))
    pathogen = load_pathogen("covid-ancestral")
    beta = calibrate.beta_for_r0(population, pathogen)
    expected = calibrate.growth_rate_for_r0(pathogen, pathogen.r0.value)
    simulated = calibrate.simulated_growth_rate(population, pathogen, beta, seeds=(1, 2, 3, 4))
    assert simulated == pytest.approx(expected, rel=0.12)
    # and a beta 30% lower grows clearly slower: the check can fail
    slower = calibrate.simulated_growth_rate(population, pathogen, 0.7 * beta, (1, 2, 3, 4))
    assert slower < 0.85 * expected


def test_hybrid_population_has_starsims_structure() -> None:
    config = HybridConfig(seed=2)
    pop = from_hybrid(30_000, config)
    net, ages = pop.network, pop.agents["age"]
    assert net.layers == ("household", "school", "work", "community")
    school = net.degree("school") > 0
    work = net.degree("work") > 0
    assert ((ages[school] >= 6) & (ages[school] < 22)).all()
    assert ((ages[work] >= 22) & (ages[work] < 65)).all()
    in_school = (ages >= 6) & (ages < 22)
    assert net.degree("school")[in_school].mean() == pytest.approx(20, rel=0.03)
    assert net.degree("work")[(ages >= 22)].mean() == pytest.approx(16, rel=0.03)
    assert net.degree("community").mean() == pytest.approx(20, rel=0.03)
    # households: Poisson(2) sizes without zeros, cliques
    sizes = np.bincount(pop.agents["household"])
    assert sizes.min() >= 1
    assert sizes.mean() == pytest.approx(2 / (1 - math.exp(-2)), rel=0.03)
    assert net.edges("household") == int((sizes * (sizes - 1) // 2).sum())
    assert net.weights.tolist() == pytest.approx(
        [-math.log1p(-p) for p in (0.048, 0.0096, 0.0096, 0.0048)]
    )


def test_lognormal_durations_rounded_up_or_to_the_nearest_day() -> None:
    up = Duration(distribution="lognormal", mean=4.5, sd=1.5, rounding="up", source="x")
    nearest = Duration(distribution="lognormal", mean=4.5, sd=1.5, source="x")
    days = np.arange(up.pmf().size)
    # rounding up adds half a day on average; to the nearest day keeps the mean
    assert float((up.pmf() * days).sum()) == pytest.approx(5.0, abs=0.02)
    assert float((nearest.pmf() * days).sum()) == pytest.approx(4.5, abs=0.02)
    assert up.pmf()[0] == 0


def test_every_shipped_pathogen_value_has_an_honest_confidence() -> None:
    for name in pathogen_names():
        pathogen = load_pathogen(name)
        for field, value in pathogen.values().items():
            assert value.confidence in ("V", "S", "U"), (name, field)
            if value.source.lower().startswith("assumption"):
                assert value.confidence == "U", (name, field)
    bad = load_pathogen("covid-delta").model_dump()
    bad["latent"]["confidence"] = "V"  # an assumption cannot be verified
    with pytest.raises(ValueError, match="assumption cannot have confidence V"):
        Pathogen.model_validate(bad)
