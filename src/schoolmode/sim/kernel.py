"""Numba kernels: transmission visits only infectious agents' contacts."""

from __future__ import annotations

import math

import numpy as np

from schoolmode.sim.rng import TRANSMISSION, jit, uniform


@jit
def transmit(
    day: int,
    seed: int,
    sources: np.ndarray,
    infectiousness: np.ndarray,
    susceptibility: np.ndarray,
    t_infected: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    gate: np.ndarray,
    beta: float,
    out_dst: np.ndarray,
    out_src: np.ndarray,
    out_layer: np.ndarray,
) -> int:
    """One day of transmission; returns the number of new infections written to ``out_*``.

    For each infectious ``src`` and each open layer ``l`` (``gate[l, src]`` and
    ``gate[l, dst]``), a susceptible neighbour ``dst`` is infected with probability
    ``1 - exp(-beta * weights[l] * infectiousness[src] * susceptibility[dst])``, decided by the
    counter-based uniform of (seed, stream TRANSMISSION*100 + l, day, src, dst). ``t_infected``
    is updated in place (``day`` for the newly infected, who are skipped for the rest of the day).
    """
    count = 0
    n_layers = indptr.shape[0]
    for i in range(sources.shape[0]):
        src = sources[i]
        for layer in range(n_layers):
            if not gate[layer, src]:
                continue
            force = beta * weights[layer] * infectiousness[src]
            if force <= 0.0:
                continue
            stream = TRANSMISSION * 100 + layer
            for e in range(indptr[layer, src], indptr[layer, src + 1]):
                dst = indices[e]
                if t_infected[dst] <= day or not gate[layer, dst]:
                    continue
                p = 1.0 - math.exp(-force * susceptibility[dst])
                if uniform(seed, stream, day, src, dst) < p:
                    t_infected[dst] = day
                    out_dst[count] = dst
                    out_src[count] = src
                    out_layer[count] = layer
                    count += 1
    return count
