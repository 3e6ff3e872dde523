"""Numba kernels: transmission visits only infectious agents' contacts."""

from __future__ import annotations

import math

import numpy as np

from schoolmode.sim.rng import _INV53, _S11, TRANSMISSION, _mix, jit


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

    The uniform is ``rng.uniform`` with its hash chain hoisted: (seed, stream, day) once per
    layer, ``src`` once per source and layer, so each contact costs one mixing round. It is
    drawn before anything about ``dst`` is read: a contact whose draw exceeds the largest
    probability the source can reach (most contacts, as per-contact probabilities are small)
    is rejected without touching the neighbour's state, which saves the cache misses of
    random access over large populations. The infections are the same as checking the
    neighbour first: the decision is (susceptible and open and draw < p) either way.
    """
    count = 0
    n_layers = indptr.shape[0]
    max_sus = 0.0
    for i in range(susceptibility.shape[0]):
        max_sus = max(max_sus, susceptibility[i])
    prefix = np.empty(n_layers, dtype=np.uint64)
    for layer in range(n_layers):
        stream = TRANSMISSION * 100 + layer
        h = _mix(np.uint64(seed))
        h = _mix(h ^ np.uint64(stream))
        prefix[layer] = _mix(h ^ np.uint64(day))
    for i in range(sources.shape[0]):
        src = sources[i]
        for layer in range(n_layers):
            if not gate[layer, src]:
                continue
            force = beta * weights[layer] * infectiousness[src]
            if force <= 0.0:
                continue
            # never below any p of this source's contacts (margin for rounding)
            p_max = (1.0 - math.exp(-force * max_sus)) * (1.0 + 1e-9) + 1e-300
            h_src = _mix(prefix[layer] ^ np.uint64(src))
            for e in range(indptr[layer, src], indptr[layer, src + 1]):
                dst = indices[e]
                u = float(_mix(h_src ^ np.uint64(dst)) >> _S11) * _INV53
                if u >= p_max:
                    continue
                if t_infected[dst] <= day or not gate[layer, dst]:
                    continue
                p = 1.0 - math.exp(-force * susceptibility[dst])
                if u < p:
                    t_infected[dst] = day
                    out_dst[count] = dst
                    out_src[count] = src
                    out_layer[count] = layer
                    count += 1
    return count
