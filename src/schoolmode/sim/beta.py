"""``beta: auto``: the transmission hazard calibrated to the pathogen's R0 on the population.

From ``MIN_AGENTS`` agents, ``calibrate.beta_for_r0`` (early growth rate of simulated
epidemics on the network with all layers open and nobody immune, matched to the rate that R0
and the generation interval imply); below, ``calibrate.first_generation_beta`` (R0 as the mean
number an index case infects directly, on the population's weekly calendar, with the
scenario's staying home ill). Either is run once per (population, pathogen, layer weights;
below ``MIN_AGENTS`` also the stay-home share and onset-day fraction) and cached in memory and
on disk
(``<cache_dir>/sim-beta.json``, the caller's ``AppSettings.cache_dir``), so a comparison over
many seeds and policies, or a later one on the same district, pays it once.

R0 describes spread in a population without immunity. The scenario's immunity before day 0
(``vaccination.initial_share``, ``immunity.prior_infection_share``) is applied in the loop on
top of the calibrated beta, so the effective reproduction number of a run is below R0 by the
immune share times the protection (see docs/simulator.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import weakref
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from schoolmode.pathogen import Pathogen
from schoolmode.sim.calibrate import beta_for_r0, first_generation_beta
from schoolmode.sim.network import Population

METHOD = "beta_for_r0/v1"
"""The method of populations from ``MIN_AGENTS`` agents, in the cache key: changes when the
calibration changes, so stale cache entries are not reused."""
SMALL_METHOD = "first_generation_beta/v1"
"""The method below ``MIN_AGENTS`` agents, in the cache key (before it: the mass-action beta,
cached under ``METHOD``)."""
MIN_AGENTS = 50_000
"""Smallest population calibrated by early growth: in a smaller one a fast pathogen's first
generations already deplete it before a growth rate can be fitted (Omicron's R0 of 8 on the
3,500 agents of four schools cannot be fitted at any beta). Smaller populations get the
first-generation beta (``calibrate.first_generation_beta``), flagged in the comparison
report."""

_digests: dict[int, tuple[weakref.ref[Population], str]] = {}
_memory: dict[str, float] = {}


def cache_file(cache_dir: Path) -> Path:
    """The disk cache of calibrated betas in ``cache_dir``."""
    return cache_dir / "sim-beta.json"


def population_digest(population: Population) -> str:
    """SHA-256 of the network (CSR and weights) and the agents' ages and roles, memoised per
    population object."""
    found = _digests.get(id(population))
    if found is not None and found[0]() is population:
        return found[1]
    h = hashlib.sha256()
    net = population.network
    for part in (
        net.indptr,
        net.indices,
        net.weights,
        population.agents["age"],
        population.agents["role"],
    ):
        h.update(np.ascontiguousarray(part).tobytes())
    h.update(json.dumps(list(net.layers)).encode())
    digest = h.hexdigest()
    _digests[id(population)] = (weakref.ref(population), digest)
    return digest


def calendar_digest(population: Population) -> str:
    """SHA-256 of what decides which layers are open on a day (``gates.py``): the agents'
    schools, the layers' roles, the school weekdays, the recorded days and off-school layers."""
    h = hashlib.sha256(np.ascontiguousarray(population.agents["school"]).tobytes())
    h.update(
        json.dumps(
            [
                list(population.roles()),
                list(population.school_weekdays),
                list(population.layer_day),
                population.recorded_days,
                list(population.off_school_layers),
            ]
        ).encode()
    )
    return h.hexdigest()


def with_weights(
    population: Population, layer_weights: Mapping[str, float], per_recorded_day: bool = True
) -> Population:
    """``population`` with some layers' weights replaced (the scenario's ``layer_weights``),
    and with ``per_recorded_day`` the layers of one recorded day of a time-resolved network
    weighed by the share of school days that open them (1 / ``recorded_days``: for
    ``beta_for_r0``, which runs with every layer open every day, an average school day)."""
    day_specific = np.array(population.layer_day, dtype=np.int64) >= 0
    day_specific &= per_recorded_day
    if not layer_weights and not day_specific.any():
        return population
    net = population.network
    weights = net.weights.copy()
    for name, w in layer_weights.items():
        weights[population.layers_called(name, "layer_weights")] = w
    if day_specific.any():
        weights[day_specific] /= population.recorded_days
    return replace(population, network=replace(net, weights=weights))


def auto_method(agents: int) -> str:
    """How ``auto_beta`` calibrates a population of ``agents``."""
    if agents < MIN_AGENTS:
        return (
            "first generation (calibrate.first_generation_beta: the mean number an index case "
            "infects directly, on the school calendar; population too small for an "
            "early-growth fit)"
        )
    return "early growth (calibrate.beta_for_r0)"


def auto_beta(
    population: Population,
    pathogen: Pathogen,
    layer_weights: Mapping[str, float] | None = None,
    cache_dir: Path | None = None,
    stay_home_share: float = 0.5,
    onset_day_fraction: float = 0.5,
) -> tuple[float, bool]:
    """(beta at which ``pathogen`` has its R0 on ``population``, whether it came from a
    cache). ``cache_dir``: the folder of the disk cache (None: memory only);
    ``stay_home_share``, ``onset_day_fraction``: the scenario's (``symptomatic``), read below
    ``MIN_AGENTS`` agents only."""
    layer_weights = dict(layer_weights or {})
    small = population.network.n < MIN_AGENTS
    parts: dict[str, object] = {
        "method": SMALL_METHOD if small else METHOD,
        "population": population_digest(population),
        "pathogen": pathogen.cache_dump(),
        "layer_weights": sorted(layer_weights.items()),
    }
    if small:  # what the first generation reads beyond the network and ages
        parts["stay_home"] = [stay_home_share, onset_day_fraction]
        parts["calendar"] = calendar_digest(population)
    key = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    if key in _memory:
        return _memory[key], True
    path = cache_file(cache_dir) if cache_dir is not None else None
    stored: dict[str, float] = {}
    if path is not None and path.exists():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
        if key in stored:
            _memory[key] = float(stored[key])
            return _memory[key], True
    if small:
        weighted = with_weights(population, layer_weights, per_recorded_day=False)
        beta = first_generation_beta(
            weighted,
            pathogen,
            stay_home_share=stay_home_share,
            onset_day_fraction=onset_day_fraction,
        )
    else:
        beta = beta_for_r0(with_weights(population, layer_weights), pathogen)
    _memory[key] = beta
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            stored[key] = beta
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(stored, indent=1, sort_keys=True), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass  # a read-only home: the memory cache still holds it
    return beta, False
