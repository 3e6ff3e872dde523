"""Benchmark the simulator's daily loop against a pure-numpy loop of the same model.

    uv run python bench/bench_sim.py            # ~100,000 agents, 120 days (about a minute)
    uv run python bench/bench_sim.py --quick    # the 12-school test district, 30 days (seconds)

The population is the synthetic district of the first CPS schools (by school id) whose
students, staff and household adults come to about ``--agents`` agents (from
``$SCHOOLMODE_SHARED/data`` or ``../shared/data``; ``--quick`` uses the test fixture). Both
loops run the same model with the same counter-based random numbers, so their infections must
be identical (checked). The numba loop is timed after a warm-up run (compilation excluded, and
reported separately); each variant runs in a child process so that its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from schoolmode.importers.cps import SchoolProfiles
from schoolmode.sim import model
from schoolmode.sim.network import Population, from_district
from schoolmode.sim.pathogen import Pathogen, load_pathogen
from schoolmode.sim.state import infectious
from schoolmode.synth.district import synth_district

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = (
    ROOT
    / "tests/fixtures/shared/data/cps-schools"
    / "Chicago_Public_Schools_-_School_Profile_Information_SY2122.csv"
)
AGENTS_PER_STUDENT = 2.08  # students + staff + household adults, measured on the fixture

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return np.asarray(z ^ (z >> np.uint64(31)))


def uniform_np(seed: int, stream: int, a: int, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``rng.uniform`` in numpy, vectorised over ``b`` and ``c``."""
    h = _mix(np.full(b.shape, seed, dtype=np.uint64))
    h = _mix(h ^ np.uint64(stream))
    h = _mix(h ^ np.uint64(a))
    h = _mix(h ^ b.astype(np.uint64))
    h = _mix(h ^ c.astype(np.uint64))
    return np.asarray((h >> np.uint64(11)).astype(np.float64) / 9007199254740992.0)


def run_numpy(population: Population, pathogen: Pathogen, config: model.SimConfig) -> np.ndarray:
    """The same daily loop with transmission vectorised in numpy over infectious agents' edges."""
    agents = population.agents.copy()
    net = population.network
    model.apply_pathogen(agents, pathogen)
    first = model.seed_agents(net.n, config.initial_infections, config.seed)
    model.schedule(agents, first, 0, pathogen, config.seed)
    sus = agents["susceptibility"].astype(np.float64)
    for day in range(config.days):
        sources = np.flatnonzero(infectious(agents, day))
        parts_src, parts_dst, parts_layer = [], [], []
        for layer in range(len(net.layers)):
            start, stop = net.indptr[layer, sources], net.indptr[layer, sources + 1]
            counts = stop - start
            src = np.repeat(sources, counts)
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            dst = net.indices[np.repeat(start, counts) + offsets].astype(np.int64)
            open_ = agents["t_infected"][dst] > day
            src, dst = src[open_], dst[open_]
            force = config.beta * net.weights[layer] * agents["infectiousness"][src]
            p = 1.0 - np.exp(-force * sus[dst])
            hit = uniform_np(config.seed, 100 + layer, day, src, dst) < p
            parts_src.append(src[hit])
            parts_dst.append(dst[hit])
            parts_layer.append(np.full(int(hit.sum()), layer))
        src = np.concatenate(parts_src)
        dst = np.concatenate(parts_dst)
        layer_of = np.concatenate(parts_layer)
        order = np.lexsort((layer_of, src))  # the kernel's order: source, then layer
        src, dst, layer_of = src[order], dst[order], layer_of[order]
        _, first_hit = np.unique(dst, return_index=True)
        first_hit.sort()
        who = dst[first_hit]
        if who.size:
            model.schedule(agents, who, day, pathogen, config.seed)
            agents["infector"][who] = src[first_hit]
            agents["layer"][who] = layer_of[first_hit]
    return agents


def population(agents: int, quick: bool) -> Population:
    if quick:
        schools = SchoolProfiles().parse(FIXTURE).frame
    else:
        shared = Path(os.environ.get("SCHOOLMODE_SHARED", ROOT.parent / "shared"))
        path = shared / "data" / SchoolProfiles.default_files[0]
        schools = SchoolProfiles().parse(path).frame.sort("school_id")
        wanted = agents / AGENTS_PER_STUDENT
        schools = schools.filter(pl.col("enrolment").cum_sum() <= wanted)
    return from_district(synth_district(schools).frames)


def child(variant: str, agents: int, days: int, quick: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    pop = population(agents, quick)
    build_s = time.perf_counter() - t0
    pathogen = load_pathogen("covid-delta")
    config = model.SimConfig(beta=0.3, days=days, seed=1, initial_infections=20)
    compile_s = 0.0
    if variant == "numba":
        t0 = time.perf_counter()
        model.run(pop, pathogen, model.SimConfig(beta=0.3, days=2, seed=1))
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = model.run(pop, pathogen, config).agents
    else:
        t0 = time.perf_counter()
        result = run_numpy(pop, pathogen, config)
    run_s = time.perf_counter() - t0
    return {
        "variant": variant,
        "agents": pop.network.n,
        "edges": int(pop.network.indices.size // 2),
        "days": days,
        "build_s": build_s,
        "compile_s": compile_s,
        "run_s": run_s,
        "infected": int((result["t_infected"] < days).sum()),
        "digest": hashlib.sha256(result.tobytes()).hexdigest(),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--child", choices=["numba", "numpy"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    days = args.days or (30 if args.quick else 120)
    if args.child:
        print(json.dumps(child(args.child, args.agents, days, args.quick)))
        return 0
    rows = []
    for variant in ("numba", "numpy"):
        cmd = [sys.executable, __file__, "--child", variant, "--agents", str(args.agents)]
        cmd += ["--days", str(days)] + (["--quick"] if args.quick else [])
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    base = rows[1]["run_s"]
    print(
        "| loop | agents | edges | days | build s | compile s | run s | s per agent-day "
        "| vs numpy | infected | peak RSS MiB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        per = r["run_s"] / (r["agents"] * r["days"])
        print(
            f"| {r['variant']} | {r['agents']:,} | {r['edges']:,} | {r['days']} | "
            f"{r['build_s']:.2f} | {r['compile_s']:.2f} | {r['run_s']:.2f} | {per:.2e} | "
            f"{r['run_s'] / base:.2f}x | {r['infected']:,} | {r['peak_rss_mib']:.0f} |"
        )
    same = rows[0]["digest"] == rows[1]["digest"] and rows[0]["infected"] == rows[1]["infected"]
    print("identical infections: " + ("yes" if same else "NO"))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
