"""Numba kernels: transmission visits only infectious agents' contacts.

Speed of ``transmit`` (same results): the loop runs layer by layer, then over sources in
increasing order, so each layer's ``indptr`` and contact lists are read in increasing address
order. The uniform is ``rng.uniform`` with its hash chain hoisted: (seed, stream, day) once per
layer, ``src`` once per source and layer, so each contact costs one mixing round. It is drawn
before anything about ``dst`` is read: a contact whose draw exceeds the largest probability the
source can reach (most contacts, as per-contact probabilities are small) is rejected without
touching the neighbour's state, which saves the cache misses of random access over large
populations. The skip draws (``skip``, the default of ``SimConfig.sampling``) draw only the
contacts that may transmit, by geometric gaps (``transmit``'s docstring).

Masking decided by a policy (``sim/masking.py``): when ``school_scale`` has columns
(``(layers, schools)``), the hazard of a source whose school is ``school_of[src] >= 0`` is times
``school_scale[l, school_of[src]]`` (in-school layers join agents of one school, so the source's
school is the contact's); with no columns nothing is multiplied (the scenario's constant
masking is then in ``weights``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from schoolmode.sim.rng import _INV53, _S11, TRANSMISSION, _mix, jit

_TWO53 = 9007199254740992.0
_KEEP = np.uint64(1 << 32)
"""Offset of the keep draws' last coordinate (``dst + 2**32``) from the jumps' (``j``)."""

CANDIDATES = 4096
"""Candidates (contacts drawn below the source's largest probability) buffered per layer
before they are settled in order (``_settle``)."""
SETTLE_AHEAD = 8
"""Candidates ahead of the current one whose neighbour's state ``_settle`` prefetches."""

PREFETCH_AHEAD = 16
"""Sources ahead of the current one whose CSR row starts are prefetched (their contact lists
half as far ahead): hides the memory latency of visiting sparse sources in a large network."""


@intrinsic
def _prefetch_intrinsic(typingctx, array, index):  # type: ignore[no-untyped-def]
    """Hint the CPU to load ``array[index]`` into cache (LLVM ``llvm.prefetch``; no effect on
    results)."""
    signature = types.void(array, index)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        array_type = sig.args[0]
        ary = context.make_array(array_type)(context, builder, args[0])
        item = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
            context, builder, array_type, ary, [args[1]]
        )
        ptr = builder.bitcast(item, ir.IntType(8).as_pointer())
        fnty = ir.FunctionType(
            ir.VoidType(), [ptr.type, ir.IntType(32), ir.IntType(32), ir.IntType(32)]
        )
        fn = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]
            builder.module, fnty, "llvm.prefetch.p0"
        )
        zero, three, one = (ir.Constant(ir.IntType(32), v) for v in (0, 3, 1))
        builder.call(fn, [ptr, zero, three, one])
        return context.get_dummy_value()

    return signature, codegen


_prefetch = cast(Callable[[np.ndarray, int], None], _prefetch_intrinsic)


@jit
def _prefix(seed: int, stream: int, day: int) -> np.uint64:
    """The hash of (seed, stream, day), the part of ``rng.uniform``'s chain shared by a layer."""
    h = _mix(np.uint64(seed))
    h = _mix(h ^ np.uint64(stream))
    return _mix(h ^ np.uint64(day))


@jit
def _infect(
    day: int,
    layer: int,
    src: int,
    dst: int,
    t: int,
    t_infected: np.ndarray,
    slot: np.ndarray,
    count: int,
    out_dst: np.ndarray,
    out_src: np.ndarray,
    out_layer: np.ndarray,
) -> int:
    """``src`` transmits to ``dst`` (whose ``t_infected`` was ``t``) in ``layer``: the first
    contact to reach ``dst`` today infects it; a later one from a smaller source takes over the
    record. Returns the new count of today's infections."""
    if t == day:
        j = slot[dst]
        if j < 0 or j >= count or out_dst[j] != dst:
            return count  # infected before this call (a day-0 seed)
        # infected today already: the smallest (source, layer) infects
        if src < out_src[j]:
            out_src[j] = src
            out_layer[j] = layer
        return count
    t_infected[dst] = day
    slot[dst] = count
    out_dst[count] = dst
    out_src[count] = src
    out_layer[count] = layer
    return count + 1


@jit
def _settle(
    day: int,
    layer: int,
    m: int,
    positions: bool,
    cand: np.ndarray,
    cand_src: np.ndarray,
    cand_w: np.ndarray,
    cand_force: np.ndarray,
    cand_here: np.ndarray,
    indices: np.ndarray,
    t_infected: np.ndarray,
    gate_row: np.ndarray,
    susceptibility: np.ndarray,
    presence: np.ndarray,
    part: int,
    slot: np.ndarray,
    count: int,
    out_dst: np.ndarray,
    out_src: np.ndarray,
    out_layer: np.ndarray,
) -> int:
    """The first ``m`` candidates of ``layer``, in order: the contact of ``cand_src[i]`` with
    ``cand[i]`` (an agent, or with ``positions`` its position in ``indices``) transmits when
    the neighbour is susceptible, its layer open, and ``cand_w[i] < 1 - exp(-hazard)``.
    The neighbours' state is prefetched a few candidates ahead (random access over the
    population is the cost of this step). Returns the new count of today's infections."""
    for i in range(m):
        if positions and i + 2 * SETTLE_AHEAD < m:
            _prefetch(indices, cand[i + 2 * SETTLE_AHEAD])
        if i + SETTLE_AHEAD < m:
            ahead = indices[cand[i + SETTLE_AHEAD]] if positions else cand[i + SETTLE_AHEAD]
            _prefetch(t_infected, ahead)
            _prefetch(gate_row, ahead)
            _prefetch(susceptibility, ahead)
        dst = indices[cand[i]] if positions else cand[i]
        t = t_infected[dst]
        if t < day or not gate_row[dst]:
            continue
        here = cand_here[i]
        hazard = cand_force[i] * susceptibility[dst]
        if part >= 0 and presence[part, dst] < here:
            hazard *= presence[part, dst] / here  # the shorter share of the day
        if cand_w[i] >= 1.0 - math.exp(-hazard):
            continue
        count = _infect(
            day, layer, cand_src[i], dst, t, t_infected, slot, count, out_dst, out_src, out_layer
        )
    return count


@jit
def _transmit_layer(
    layer: int, day: int, seed: int, sources: np.ndarray, infectiousness: np.ndarray,
    susceptibility: np.ndarray, max_sus: float, t_infected: np.ndarray, indptr: np.ndarray,
    indices: np.ndarray, weights: np.ndarray, gate: np.ndarray, beta: float,
    presence: np.ndarray, presence_row: np.ndarray, school_of: np.ndarray,
    school_scale: np.ndarray, slot: np.ndarray, count: int, out_dst: np.ndarray,
    out_src: np.ndarray, out_layer: np.ndarray, skip: bool, bound: float,
) -> int:  # fmt: skip
    """``transmit`` in one layer (its docstring); returns the new count. ``bound``: the
    layer's weight bound of the skip draws' gap law (``transmit``'s ``bounds``)."""
    # candidates (draws below p_max), settled in order when the buffer is full and at the end
    cand, cand_src = np.empty(CANDIDATES, np.int64), np.empty(CANDIDATES, np.int64)
    cand_w, cand_force, cand_here = np.empty(CANDIDATES), np.empty(CANDIDATES), np.empty(CANDIDATES)
    last_force, p_max, k_max, log_q = -1.0, 1.0, np.uint64(0), 0.0
    prefix = _prefix(seed, TRANSMISSION * 100 + layer, day)
    weight, weight_bound = beta * weights[layer], beta * bound
    row, gate_row, part = indptr[layer], gate[layer], presence_row[layer]
    n_sources = sources.shape[0]
    m = 0
    for i in range(n_sources):
        if i + PREFETCH_AHEAD < n_sources:
            ahead = sources[i + PREFETCH_AHEAD]
            _prefetch(row, ahead)
            _prefetch(gate_row, ahead)
            _prefetch(infectiousness, ahead)
        if not skip and i + PREFETCH_AHEAD // 2 < n_sources:
            _prefetch(indices, row[sources[i + PREFETCH_AHEAD // 2]])
        src = sources[i]
        if not gate_row[src]:
            continue
        here = presence[part, src] if part >= 0 else 1.0
        force = weight * infectiousness[src] * here
        if school_scale.shape[1] > 0 and school_of[src] >= 0:
            force *= school_scale[layer, school_of[src]]
        if force <= 0.0:
            continue
        # skip draws: gaps at a force no policy moves (``transmit``: common random numbers)
        reach = max(force, weight_bound * infectiousness[src]) if skip else force
        if reach != last_force:
            # never below any p of this source's contacts (margin for rounding); as an
            # integer: u = k / 2**53 >= p_max exactly when k >= ceil(p_max * 2**53)
            p_max = (1.0 - math.exp(-reach * max_sus)) * (1.0 + 1e-9) + 1e-300
            p_max = min(p_max, 1.0)
            k_max = np.uint64(math.ceil(p_max * _TWO53))
            log_q = math.log1p(-p_max)
            last_force = reach
        h_src = _mix(prefix ^ np.uint64(src))
        start, stop = row[src], row[src + 1]
        if skip:  # drawn with p_max by geometric gaps (jump j), kept with p / p_max (2**32 + j)
            pos, j = start, 0
            while pos < stop:
                x = float(_mix(h_src ^ np.uint64(j)) >> _S11) * _INV53
                rem = stop - pos
                if x >= rem * p_max:
                    break  # no contact drawn in the rest of the row (Bernoulli's inequality)
                gap = math.log(1.0 - x) / log_q
                if gap >= rem:
                    break
                pos += int(gap)
                _prefetch(indices, pos)
                v = float(_mix(h_src ^ (_KEEP + np.uint64(j))) >> _S11) * _INV53
                cand[m] = pos
                cand_src[m] = src
                cand_w[m] = v * p_max
                cand_force[m] = force
                cand_here[m] = here
                m += 1
                if m == CANDIDATES:
                    count = _settle(
                        day, layer, m, True, cand, cand_src, cand_w, cand_force,
                        cand_here, indices, t_infected, gate_row, susceptibility,
                        presence, part, slot, count, out_dst, out_src, out_layer,
                    )  # fmt: skip
                    m = 0
                pos += 1
                j += 1
            continue
        for e in range(start, stop):
            dst = indices[e]
            k = _mix(h_src ^ np.uint64(dst)) >> _S11
            if k >= k_max:
                continue
            cand[m] = dst
            cand_src[m] = src
            cand_w[m] = float(k) * _INV53
            cand_force[m] = force
            cand_here[m] = here
            m += 1
            if m == CANDIDATES:
                count = _settle(
                    day, layer, m, False, cand, cand_src, cand_w, cand_force, cand_here,
                    indices, t_infected, gate_row, susceptibility, presence, part, slot,
                    count, out_dst, out_src, out_layer,
                )  # fmt: skip
                m = 0
    return _settle(
        day, layer, m, skip, cand, cand_src, cand_w, cand_force, cand_here, indices,
        t_infected, gate_row, susceptibility, presence, part, slot, count, out_dst,
        out_src, out_layer,
    )  # fmt: skip


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
    presence: np.ndarray,
    presence_row: np.ndarray,
    school_of: np.ndarray,
    school_scale: np.ndarray,
    out_dst: np.ndarray,
    out_src: np.ndarray,
    out_layer: np.ndarray,
    skip: bool = False,
    bounds: np.ndarray | None = None,
    max_sus: float = -1.0,
) -> int:
    """One day of transmission; returns the number of new infections written to ``out_*``.

    For each infectious ``src`` and each open layer ``l`` (``gate[l, src]`` and
    ``gate[l, dst]``), a susceptible neighbour ``dst`` is infected with probability
    ``1 - exp(-beta * weights[l] * infectiousness[src] * susceptibility[dst])``, decided by the
    counter-based uniform of (seed, stream TRANSMISSION*100 + l, day, src, dst). ``t_infected``
    is updated in place (``day`` for the newly infected, who are skipped for the rest of the day).

    Part of a day: in a layer ``l`` with ``presence_row[l] = r >= 0`` the hazard is times
    ``min(presence[r, src], presence[r, dst])``: agents there from the morning for those shares
    of the day overlap for the shorter (``presence_row[l] < 0``: whole days).
    Masking decided by a policy: ``school_scale`` and ``school_of`` (the module's docstring).

    Draws (``skip``): False, the uniform of each contact as above; True, only the contacts
    that may transmit, by geometric gaps at the source's largest probability over its row,
    ``p_max = 1 - exp(-beta * bounds[l] * infectiousness[src] * max_sus)`` (``bounds``: per
    layer, the largest weight any policy gives it, None: ``weights``; ``max_sus``: an upper
    bound of ``susceptibility``, below 0: its maximum), each kept with the uniform ``v`` of its
    draw when ``v * p_max < p``, its probability with presence and masking. The same law, other
    random numbers. Neither presence nor masking moves ``p_max``, so runs in which ``src`` is
    infectious on ``day`` draw the same candidates and ``v`` whatever a policy closes, masks
    or isolates, and a contact infected under a smaller ``p`` is infected under a larger one:
    the common random numbers of the contact draws (tested, ``tests/sim/test_sim.py``). A
    force above its bound (a masking multiplier above 1) takes the gaps at the force: the
    law holds, without the coupling.

    Who is infected does not depend on the order of the loops (newly infected agents do not
    transmit the same day); who infects them does: the infector and layer recorded are those
    of the smallest (source, layer) among the contacts that transmit, as in a loop over
    sources then layers (the module's docstring says how it is fast).
    """
    count = 0
    n_layers = indptr.shape[0]
    if max_sus < 0.0:
        max_sus = max(0.0, susceptibility.max()) if susceptibility.shape[0] else 0.0
    layer_bounds = weights if bounds is None else bounds
    # slot[dst]: where today's infection of dst is in out_*; valid only if out_dst[slot] == dst
    slot = np.empty(t_infected.shape[0], dtype=np.int32)
    for layer in range(n_layers):
        count = _transmit_layer(
            layer, day, seed, sources, infectiousness, susceptibility, max_sus, t_infected,
            indptr, indices, weights, gate, beta, presence, presence_row, school_of,
            school_scale, slot, count, out_dst, out_src, out_layer, skip, layer_bounds[layer],
        )  # fmt: skip
    return count
