"""Simulated sweeps on Dask: every (value, policy, seed) is one task.

The swept name is a scenario field (dotted: ``tracing.delay_days``) or, as ``policy.NAME``, a
policy parameter or interpretation (a ``Settings`` override, as ``backtest sweep`` makes it:
the engine and the operational numbers both see it). A task is a pure function of the
scenario's JSON, the policy id, the settings and the seed (the population is rebuilt, and
cached, in each worker process from the same profiles), so a sweep on a cluster gives exactly
the rows of the same sweep run serially (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from schoolmode.engine.settings import Settings, sweep_points
from schoolmode.pathogen import load_pathogen
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import Registry, registry_for, registry_with_files
from schoolmode.sim.compare import NO_POLICY, load_population, school_attributes
from schoolmode.sim.loop import run_policy
from schoolmode.sim.network import Population
from schoolmode.sim.outbreaks import RUN_FIELDS, outbreak_summary
from schoolmode.sim.outcomes import OUTCOMES
from schoolmode.sim.population_spec import load_population_spec
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.stats import paired_difference, summarise

if TYPE_CHECKING:
    from distributed import Client


POLICY_PREFIX = "policy."


@lru_cache(maxsize=4)
def _registry(root: str | None, files: tuple[str, ...] = ()) -> Registry:
    """The policies of ``root`` and of the policy ``files``, read once per process (so once
    per sweep in this process, once per worker on Dask)."""
    return registry_with_files(files, registry_for(Path(root) if root else None))


def _population(
    profiles: str | None, schools: int | None, data_dir: str | None, spec: str | None
) -> tuple[Population, dict[str, list[str]]]:
    """The sweep's population: a spec file's, or the synthetic district (both cached per
    process)."""
    if spec is not None:
        loaded = load_population_spec(spec, data_dir)
        return loaded.population, loaded.attributes
    population = load_population(profiles, schools, data_dir)
    return population, school_attributes(population, profiles, schools, data_dir)


def sweep_task(
    scenario_json: str,
    policy_id: str,
    seed: int,
    profiles: str | None,
    schools: int | None,
    policy_root: str | None,
    settings: Settings | None = None,
    data_dir: str | None = None,
    beta_cache: str | None = None,
    population_spec: str | None = None,
    policy_files: tuple[str, ...] = (),
) -> dict[str, float | None]:
    """One run: its outcomes (``OUTCOMES``) and outbreak outcomes (``outbreaks.RUN_FIELDS``);
    ``population_spec``: a population spec file instead of the synthetic district."""
    scenario = Scenario.model_validate_json(scenario_json)
    population, attributes = _population(profiles, schools, data_dir, population_spec)
    registry = _registry(policy_root, policy_files)
    policy = None if policy_id == NO_POLICY else registry.get(policy_id).policy
    result = run_policy(
        population,
        load_pathogen(scenario.pathogen),
        scenario,
        policy,
        seed,
        registry,
        school_attributes=attributes,
        settings=settings,
        beta_cache=Path(beta_cache) if beta_cache else None,
    )
    return {**result.outcomes, **result.outbreak}


def run_sweep(
    scenario: Scenario,
    policy_ids: Sequence[str],
    seeds: Sequence[int],
    name: str | None,
    values: Sequence[str],
    *,
    profiles: str | None = None,
    schools: int | None = None,
    policy_root: str | None = None,
    client: Client | None = None,
    data_dir: str | None = None,
    beta_cache: str | None = None,
    population: str | None = None,
    policy_files: tuple[str, ...] = (),
) -> pl.DataFrame:
    """One row per value, policy and seed with every outcome and outbreak outcome
    (``data_dir``, ``beta_cache``: the settings' data and cache folders, as text for the
    workers)."""
    tasks: list[tuple[str, str, int, str, Settings | None]] = []
    if name and name.startswith(POLICY_PREFIX):
        registry = _registry(policy_root, policy_files)
        param = name[len(POLICY_PREFIX) :]
        if NO_POLICY in policy_ids:
            raise SchoolmodeError(f"{name}: `{NO_POLICY}` has no policy parameters to sweep")
        policies = [registry.get(pid).policy for pid in policy_ids]
        points = sweep_points(policies, param, list(values))
        text = scenario.model_dump_json()
        by_key = {(p.policy_id, p.label): p.settings for p in points}
        tasks = [
            (v.strip(), pid, seed, text, by_key[(pid, v.strip())])
            for v in values
            for pid in policy_ids
            for seed in seeds
        ]
    else:
        points_sc = [
            (v, scenario.with_param(name, v) if name else scenario) for v in values or [""]
        ]
        tasks = [
            (value, pid, seed, sc.model_dump_json(), None)
            for value, sc in points_sc
            for pid in policy_ids
            for seed in seeds
        ]

    # what every task shares, beside its point, policy and seed
    task = partial(
        sweep_task,
        profiles=profiles,
        schools=schools,
        policy_root=policy_root,
        data_dir=data_dir,
        beta_cache=beta_cache,
        population_spec=population,
        policy_files=policy_files,
    )
    if client is None:
        rows = [task(j, pid, s, settings=st) for _, pid, s, j, st in tasks]
    else:
        futures = [
            client.submit(task, j, pid, s, settings=st, pure=False) for _, pid, s, j, st in tasks
        ]
        rows = client.gather(futures)  # type: ignore[no-untyped-call]
    return pl.DataFrame(
        [
            {"param": name or "", "value": value, "policy": pid, "seed": seed, **row}
            for (value, pid, seed, _, _), row in zip(tasks, rows, strict=True)
        ],
        infer_schema_length=None,
    ).with_columns(pl.col(c).cast(pl.Float64) for c in dict.fromkeys((*OUTCOMES, *RUN_FIELDS)))


def sweep_runs(rows: pl.DataFrame) -> pl.DataFrame:
    """The per-run outbreak rows of a sweep (``runs.csv``): param, value, policy, seed and
    ``outbreaks.RUN_FIELDS``."""
    return rows.select("param", "value", "policy", "seed", *RUN_FIELDS)


def sweep_outbreaks(rows: pl.DataFrame, scenario: Scenario) -> pl.DataFrame:
    """``outbreaks.csv`` of a sweep: per value and policy, with the large-outbreak threshold of
    that value's scenario (a swept ``initial_infections`` moves the default threshold)."""
    parts = []
    for value in rows["value"].unique(maintain_order=True).to_list():
        name = rows["param"][0]
        sc = scenario
        if name and not name.startswith(POLICY_PREFIX):
            sc = scenario.with_param(name, value)
        part = rows.filter(pl.col("value") == value)
        parts.append(outbreak_summary(part, sc.large_threshold, by=("value", "policy")))
    return pl.concat(parts, how="vertical_relaxed")


def sweep_summary(rows: pl.DataFrame) -> pl.DataFrame:
    """Mean and 95% interval per value, policy and outcome; with two or more policies also the
    paired difference of the first and each other policy per value (``policy`` = ``A - B``)."""
    parts = []
    ids = rows["policy"].unique(maintain_order=True).to_list()
    for value in rows["value"].unique(maintain_order=True).to_list():
        part = rows.filter(pl.col("value") == value).drop("param", "value")
        summary = summarise(part).with_columns(pl.lit(value).alias("value"))
        parts.append(summary)
        for other in ids[1:]:
            diff = paired_difference(part, ids[0], other).with_columns(
                pl.lit(f"{ids[0]} - {other}").alias("policy"), pl.lit(value).alias("value")
            )
            parts.append(diff.select(summary.columns))
    return pl.concat(parts).select("value", "policy", "outcome", "mean", "lo", "hi")
