"""Masking decided by policy (docs/simulator.md, "Masking decided by policy").

The scenario's ``masking`` gives a transmission multiplier per layer while masks are worn. A
policy whose modes say nothing about masks (``Mode.masking`` unsaid everywhere) leaves them
as they always were: in the layer weights, every day. A policy that decides masking takes the
in-school layers' multipliers out of the weights; each day a school's in-school layers carry
them when its mode or the district's requires masks (``universal``), and not when masks are
optional; a mode that says nothing (or a day out of the policy's term) keeps the scenario's
masking. Universal wins over optional (the district's universal masking holds in every
school). The day's multipliers reach the kernel as a ``(layers, schools)`` table
(``kernel.transmit``), so the cost is one lookup per source and layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schoolmode.policy import model as m
from schoolmode.sim.network import SCHOOL_LAYERS, Population
from schoolmode.sim.scenario import Scenario

UNSAID, UNIVERSAL, OPTIONAL = 0, 1, 2
_CODES = {None: UNSAID, "universal": UNIVERSAL, "optional": OPTIONAL}


def mode_masking(policy: m.Policy) -> np.ndarray:
    """(modes + 2,) int8: each mode's masking code; the last two entries are NOT_IN_FORCE and
    NO_DATA (unsaid), so ``codes[mode]`` works for negative codes too."""
    return np.array([*(_CODES[mode.masking] for mode in policy.modes), UNSAID, UNSAID], np.int8)


def layer_multipliers(population: Population, scenario: Scenario) -> np.ndarray:
    """(layers,) the product of the scenario's masking multipliers on each layer (1: none)."""
    mult = np.ones(len(population.network.layers), dtype=np.float64)
    for name, value in scenario.masking.items():
        mult[population.layers_called(name, "masking")] *= value
    return mult


@dataclass
class MaskingPlan:
    """What a run needs to mask schools day by day."""

    codes: np.ndarray
    """``mode_masking`` of the policy."""
    layers: np.ndarray
    """In-school layers whose multiplier the policy decides."""
    multipliers: np.ndarray
    """(len(layers),) their multipliers."""
    scale: np.ndarray
    """(all layers, schools) the day's table read by the kernel (1 outside ``layers``)."""

    @classmethod
    def build(
        cls, population: Population, scenario: Scenario, policy: m.Policy, n_schools: int
    ) -> MaskingPlan | None:
        """The plan of a policy that decides masking (None: it does not)."""
        if not policy.decides_masking():
            return None
        school_layers = population.layers_of(*SCHOOL_LAYERS)
        mult = layer_multipliers(population, scenario)
        return cls(
            codes=mode_masking(policy),
            layers=school_layers,
            multipliers=mult[school_layers],
            scale=np.ones((len(population.network.layers), n_schools), dtype=np.float64),
        )

    def masked(self, district: int | None, school: np.ndarray | None, n_schools: int) -> np.ndarray:
        """(schools,) bool: whose in-school layers carry the masking multipliers, given the
        day's district mode and school modes (None: a scope the policy has no rule for, whose
        mode the engine never sets, says nothing)."""
        d_code = UNSAID if district is None else int(self.codes[district])
        if d_code == UNIVERSAL:
            return np.ones(n_schools, dtype=bool)
        s_code = np.full(n_schools, UNSAID, np.int8) if school is None else self.codes[school]
        optional = (s_code == OPTIONAL) | ((d_code == OPTIONAL) & (s_code != UNIVERSAL))
        return np.asarray(~optional)

    def set_day(self, masked: np.ndarray) -> None:
        """Write the day's table: the multipliers in the masked schools, 1 elsewhere."""
        self.scale[self.layers] = np.where(masked[None, :], self.multipliers[:, None], 1.0)


def masks_in_school(population: Population, scenario: Scenario) -> bool:
    """Whether the scenario's masking multiplies an in-school layer (by other than 1)."""
    school_layers = population.layers_of(*SCHOOL_LAYERS)
    return bool((layer_multipliers(population, scenario)[school_layers] != 1.0).any())
