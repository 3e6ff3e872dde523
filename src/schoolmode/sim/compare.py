"""Runs over seeds: every policy on the same seeds, the simulated district they run on.

Every policy runs on the same seeds (common random numbers: each random decision is keyed by
what it decides, ``rng.py``), so a difference between two policies on one seed is the effect of
their rules. ``Comparison`` holds the runs; its summaries and paired differences are
``stats.py``'s, its report ``report.py``'s.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from schoolmode.importers.cps import SchoolProfiles
from schoolmode.pathogen import load_pathogen
from schoolmode.policy import model as m
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import Registry, shipped_registry
from schoolmode.settings import default_data_dir
from schoolmode.sim.community import load_zip_population, zip_population_path
from schoolmode.sim.loop import run_policy
from schoolmode.sim.network import Population, from_district
from schoolmode.sim.outbreaks import RUN_FIELDS, outbreak_summary
from schoolmode.sim.outcomes import OUTCOMES, LoopResult
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.setup import run_calendar
from schoolmode.sim.stats import paired_difference, summarise
from schoolmode.synth.district import synth_district

NO_POLICY = "none"


@lru_cache(maxsize=2)
def _profiles(
    profiles: str | None, schools: int | None, data_dir: str | None = None
) -> pl.DataFrame:
    data = Path(data_dir) if data_dir else default_data_dir()
    path = Path(profiles) if profiles else SchoolProfiles().default_paths(data)[0]
    if not path.exists():
        raise SchoolmodeError(
            f"{path}: no CPS school profiles (pass --profiles or set SCHOOLMODE_DATA)"
        )
    frame = SchoolProfiles().parse(path).frame.sort("school_id")
    return frame.head(schools) if schools is not None else frame


@lru_cache(maxsize=2)
def load_population(
    profiles: str | None = None, schools: int | None = None, data_dir: str | None = None
) -> Population:
    """The synthetic district of the CPS school profiles (``schools``: only the first N by
    school id), cached per process. Cross-ZIP community contacts are weighted by the real
    population of each ZIP and age band (ACS, ``community.load_zip_population``) when the
    data folder has it, else by the district's own agents. ``data_dir``: the data folder
    (``AppSettings.data_dir``; default ``settings.default_data_dir()``)."""
    data = Path(data_dir) if data_dir else None
    path = zip_population_path(data)
    zip_population = load_zip_population(path) if path.exists() else None
    frame = _profiles(profiles, schools, data_dir)
    return from_district(synth_district(frame).frames, None, zip_population)


def school_attributes(
    population: Population,
    profiles: str | None = None,
    schools: int | None = None,
    data_dir: str | None = None,
) -> dict[str, list[str]]:
    """``grade_band`` (the profile's level: ES, MS, HS) and ``zip`` of each school of the
    population."""
    frame = _profiles(profiles, schools, data_dir)
    level = dict(zip(frame["school_id"], frame["level"].fill_null(""), strict=True))
    zips = dict(zip(frame["school_id"], frame["zip"].cast(pl.String).fill_null(""), strict=True))
    return {
        "grade_band": [level.get(s, "") for s in population.school_ids],
        "zip": [zips.get(s, "") for s in population.school_ids],
    }


SCENARIO_COLUMNS = (
    "pathogen",
    "days",
    "start",
    "initial_infections",
    "seed_state",
    "seed_weekday",
    "onset_day_fraction",
    "importation_per_100k_per_day",
)
"""Scenario fields every row of ``runs.csv`` carries (with ``importation.source`` and the
``--param`` fields)."""


def scenario_params(scenario: Scenario, names: Sequence[str] = ()) -> dict[str, object]:
    """The scenario's ``SCENARIO_COLUMNS``, its importation source and the dotted ``names``
    (``--param`` fields), as they were validated; a list or mapping as its JSON text."""
    data = scenario.model_dump(mode="json")
    out: dict[str, object] = {c: data[c] for c in SCENARIO_COLUMNS}
    out["importation.source"] = data["importation"]["source"]
    for name in names:
        node: object = data
        for part in name.split("."):
            node = node[part] if isinstance(node, dict) else None
        out[name] = node if isinstance(node, (int, float, str, bool)) else json.dumps(node)
    return out


def resolve_policies(ids: Sequence[str], registry: Registry) -> list[m.Policy | None]:
    return [None if i == NO_POLICY else registry.get(i).policy for i in ids]


@dataclass
class Comparison:
    scenario: Scenario
    policy_ids: list[str]
    seeds: list[int]
    results: dict[tuple[str, int], LoopResult]
    agents: int
    schools: int
    wall_s: float
    param_names: list[str] = field(default_factory=list)
    """Scenario fields set on the command line (``--param``, dotted): columns of ``runs()``."""
    school_day: np.ndarray | None = None
    """(days,) bool: the school days the runs used (``setup.run_calendar``); None: the
    synthetic district's (``calendar.school_calendar`` of the scenario)."""

    @property
    def betas(self) -> list[float]:
        """The distinct transmission hazards used (one unless the scenario changes)."""
        return sorted({r.beta for r in self.results.values()})

    def outcomes(self) -> pl.DataFrame:
        """One row per policy and seed with every outcome."""
        rows = [
            {"policy": p, "seed": s, **self.results[(p, s)].outcomes}
            for p in self.policy_ids
            for s in self.seeds
        ]
        return pl.DataFrame(rows).with_columns(pl.col(c).cast(pl.Float64) for c in OUTCOMES)

    def summary(self) -> pl.DataFrame:
        return summarise(self.outcomes())

    def runs(self) -> pl.DataFrame:
        """One row per run (policy and seed): the scenario's parameters, then the outbreak
        outcomes (``outbreaks.RUN_FIELDS``; ``runs.csv``)."""
        params = scenario_params(self.scenario, self.param_names)
        rows = [
            {
                "policy": p,
                "seed": s,
                **params,
                "beta": self.results[(p, s)].beta,
                **self.results[(p, s)].outbreak,
            }
            for p in self.policy_ids
            for s in self.seeds
        ]
        return pl.DataFrame(rows, infer_schema_length=None).with_columns(
            pl.col(c).cast(pl.Float64) for c in RUN_FIELDS
        )

    def outbreaks(self) -> pl.DataFrame:
        """Per policy: the probability of a large outbreak and the sizes
        (``outbreaks.outbreak_summary``; ``outbreaks.csv``)."""
        return outbreak_summary(self.runs(), self.scenario.large_threshold)

    def paired(self, a: str, b: str) -> pl.DataFrame:
        return paired_difference(self.outcomes(), a, b)

    def daily(self, name: str, policy: str) -> np.ndarray:
        """(seeds, days) of one daily series."""
        return np.stack([self.results[(policy, s)].daily[name] for s in self.seeds])


def compare(
    population: Population,
    scenario: Scenario,
    policy_ids: Sequence[str],
    registry: Registry | None = None,
    seeds: Sequence[int] | None = None,
    progress: Callable[[str, int], None] | None = None,
    attributes: Mapping[str, list[str]] | None = None,
    beta_cache: Path | None = None,
    param_names: Sequence[str] = (),
) -> Comparison:
    """Every policy on every seed, serially in this process (``beta_cache``: the folder of the
    ``beta: auto`` disk cache, ``AppSettings.cache_dir``; None: memory only)."""
    registry = registry or shipped_registry()
    pathogen = load_pathogen(scenario.pathogen)
    policies = resolve_policies(policy_ids, registry)
    seed_list = list(seeds) if seeds is not None else _seeds(scenario)
    results: dict[tuple[str, int], LoopResult] = {}
    t0 = time.perf_counter()
    for seed in seed_list:
        for pid, policy in zip(policy_ids, policies, strict=True):
            result = run_policy(
                population,
                pathogen,
                scenario,
                policy,
                seed,
                registry,
                school_attributes=attributes,
                beta_cache=beta_cache,
            )
            result.engine = None  # keep memory small: the outcomes and series are what we keep
            result.agents = None
            results[(pid, seed)] = result
            if progress is not None:
                progress(pid, seed)
    return Comparison(
        scenario,
        list(policy_ids),
        seed_list,
        results,
        population.network.n,
        len(population.school_ids),
        time.perf_counter() - t0,
        list(param_names),
        run_calendar(population, scenario),
    )


def _seeds(scenario: Scenario) -> list[int]:
    return list(range(scenario.first_seed, scenario.first_seed + scenario.seeds))
