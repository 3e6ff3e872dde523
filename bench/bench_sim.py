"""Benchmark the simulator: against Starsim 3.7.2 on its hybrid scenario, and its own loops.

    uv run python bench/bench_sim.py --starsim          # vs Starsim at 100k, 400k, 1M agents,
                                                        # + the whole synthetic district, a year
    uv run python bench/bench_sim.py --starsim --quick  # 20,000 agents, fixture district
    uv run python bench/bench_sim.py                    # numba vs pure-numpy loop, ~100k agents
    uv run python bench/bench_sim.py --quick            # the 12-school test district, 30 days

``--starsim``: Starsim runs its own script (``bench/starsim/bench_starsim.py``, a copy of the
shared anchor script) in its own virtualenv (``--starsim-python``, else ``bench/.starsim-venv``,
created with uv if missing), scenario ``hybrid``: ``ss.HybridNet`` households Poisson(2),
random school (ages 6-21, 20 contacts), work (22-64, 16) and community (everyone, 20) layers,
per-contact daily probabilities 0.048 / 0.0096 / 0.0096 / 0.0048, SEIR with lognormal exposed
4.5 +- 1.5 and infectious 8 +- 2 days, 20 initial infections, 180 days. Ours runs the same
population structure and disease (``network.from_hybrid``; the latent period rounded up to
whole days and the infectious period to the nearest, which matches Starsim's daily steps)
in the same run. Every run is a child process and reports its own peak RSS
(``getrusage`` max RSS, as the Starsim script does) and run time apart from build time;
ours is timed after a warm-up run (numba compilation excluded, reported separately). Then the
whole synthetic Chicago district (students, staff, household adults) runs for one school
year of calendar days, with the in-school layers closed on days without school.

Default: the numba loop against a pure-numpy loop of the same model on the synthetic district
of the first CPS schools (by school id) whose students, staff and household adults come to
about ``--agents`` agents (from the data folder, ``AppSettings.data_dir``; ``--quick``
uses the test fixture). Both loops use the same counter-based random numbers (the numba loop
with ``sampling="contact"``, one uniform per contact, which the numpy loop draws too), so
their infections must be identical (checked). ``--starsim`` runs ours in both ways of drawing
(``skip``, the default, and ``contact``); the district year runs with the default.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from schoolmode.importers.cps import SchoolProfiles
from schoolmode.pathogen import Pathogen, load_pathogen
from schoolmode.settings import AppSettings
from schoolmode.sim import model
from schoolmode.sim.network import (
    SCHOOL_LAYERS,
    HybridConfig,
    Population,
    from_district,
    from_hybrid,
)
from schoolmode.sim.state import infectious
from schoolmode.synth.district import calendar, synth_district

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
        path = SchoolProfiles().default_paths(AppSettings.load().data_dir)[0]
        schools = SchoolProfiles().parse(path).frame.sort("school_id")
        wanted = agents / AGENTS_PER_STUDENT
        schools = schools.filter(pl.col("enrolment").cum_sum() <= wanted)
    return from_district(synth_district(schools).frames)


def child(variant: str, agents: int, days: int, quick: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    pop = population(agents, quick)
    build_s = time.perf_counter() - t0
    pathogen = load_pathogen("covid-delta")
    # the contact draws: the numpy loop draws one uniform per contact, as they do
    config = model.SimConfig(beta=0.3, days=days, seed=1, initial_infections=20, sampling="contact")
    compile_s = 0.0
    if variant == "numba":
        t0 = time.perf_counter()
        model.run(pop, pathogen, model.SimConfig(beta=0.3, days=2, seed=1, sampling="contact"))
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


SIZES = (100_000, 400_000, 1_000_000)
REPS = (3, 3, 1)
STARSIM = ROOT / "bench" / "starsim" / "bench_starsim.py"
STARSIM_VENV = ROOT / "bench" / ".starsim-venv"
STARSIM_VERSION = "3.7.2"
SEED = 1


def seir_pathogen() -> Pathogen:
    """Starsim's ``ss.SEIR`` of the hybrid scenario: everyone equally susceptible and
    infectious; lognormal exposed 4.5 +- 1.5 days (Starsim's agents become infectious on the
    first step at or after ``t + dur_exp``: rounded up) and infectious 8 +- 2 days."""
    cite = {"source": "assumption: Starsim hybrid benchmark scenario"}
    none = {"distribution": "fixed", "mean": 0, "minimum": 0, **cite}
    return Pathogen.model_validate(
        {
            "name": "starsim-seir",
            "label": "SEIR of the Starsim hybrid benchmark",
            "r0": {"value": 0, **cite},
            "latent": {
                "distribution": "lognormal",
                "mean": 4.5,
                "sd": 1.5,
                "rounding": "up",
                **cite,
            },
            "presymptomatic": none,
            "symptomatic_infectious": none,
            "asymptomatic_infectious": {
                "distribution": "lognormal",
                "mean": 8.0,
                "sd": 2.0,
                **cite,
            },
            "relative_infectiousness_asymptomatic": {"value": 1, **cite},
            "age_bands": [
                {
                    "min_age": 0,
                    "max_age": None,
                    "susceptibility": {"value": 1, **cite},
                    "symptomatic_share": {"value": 0, **cite},
                }
            ],
            "sources": {"starsim": "Starsim 3.7.2, ss.SEIR and ss.HybridNet"},
        }
    )


def child_hybrid(agents: int, days: int, seed: int, sampling: model.Sampling) -> dict[str, Any]:
    pathogen = seir_pathogen()
    t0 = time.perf_counter()
    warm = model.SimConfig(beta=1.0, days=3, seed=seed, sampling=sampling)
    model.run(from_hybrid(1_000), pathogen, warm)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pop = from_hybrid(agents, HybridConfig(seed=seed))
    build_s = time.perf_counter() - t0
    config = model.SimConfig(
        beta=1.0, days=days, seed=seed, initial_infections=20, sampling=sampling
    )
    t0 = time.perf_counter()
    result = model.run(pop, pathogen, config)
    run_s = time.perf_counter() - t0
    n = pop.network.n
    return {
        "tool": f"schoolmode, {sampling} draws",
        "agents": n,
        "days": days,
        "edges": int(pop.network.indices.size // 2),
        "build_s": build_s,
        "compile_s": compile_s,
        "run_s": run_s,
        "attack_rate": float(result.infected[-1]) / n,
        "peak_infectious": int(result.infectious.max()),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child_district(quick: bool, days: int | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    if quick:
        schools = SchoolProfiles().parse(FIXTURE).frame
    else:
        path = SchoolProfiles().default_paths(AppSettings.load().data_dir)[0]
        schools = SchoolProfiles().parse(path).frame
    pop = from_district(synth_district(schools).frames)
    build_s = time.perf_counter() - t0
    cal = calendar()
    instructional = cal["instructional"].to_numpy()
    days = days or instructional.size
    net = pop.network
    closed = np.ones((len(net.layers), net.n), dtype=np.bool_)
    closed[[net.layers.index(name) for name in SCHOOL_LAYERS]] = False

    def gates(day: int) -> np.ndarray | None:
        return None if instructional[day % instructional.size] else closed

    pathogen = load_pathogen("covid-delta")
    t0 = time.perf_counter()
    model.run(pop, pathogen, model.SimConfig(beta=0.3, days=2, seed=1), gates=gates)
    compile_s = time.perf_counter() - t0
    config = model.SimConfig(beta=0.3, days=days, seed=1, initial_infections=20)
    t0 = time.perf_counter()
    result = model.run(pop, pathogen, config, gates=gates)
    run_s = time.perf_counter() - t0
    return {
        "tool": "schoolmode district",
        "agents": net.n,
        "students": int((pop.agents["role"] == 0).sum()),
        "schools": len(pop.school_ids),
        "edges": int(net.indices.size // 2),
        "days": days,
        "school_days": int(instructional[:days].sum()),
        "build_s": build_s,
        "compile_s": compile_s,
        "run_s": run_s,
        "attack_rate": float(result.infected[-1]) / net.n,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def starsim_python(given: str | None) -> Path:
    """The interpreter with Starsim 3.7.2: ``given``, else ``bench/.starsim-venv`` (made with uv)."""
    if given:
        return Path(given)
    python = STARSIM_VENV / "bin" / "python"
    if not python.exists():
        uv = shutil.which("uv")
        if uv is None:
            raise SystemExit("uv is needed to create the Starsim virtualenv (or --starsim-python)")
        subprocess.run([uv, "venv", "--python", "3.11", str(STARSIM_VENV)], check=True)
        subprocess.run(
            [uv, "pip", "install", "--python", str(python), f"starsim=={STARSIM_VERSION}"],
            check=True,
        )
    return python


def run_starsim(python: Path, agents: int, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "starsim.json"
        env = {**os.environ, "STARSIM_INSTALL_FONTS": "0"}
        cmd = [str(python), str(STARSIM), str(agents), "hybrid", str(seed), str(out)]
        subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
        raw = json.loads(out.read_text())
    if raw["version"] != STARSIM_VERSION:
        raise SystemExit(f"Starsim {raw['version']} found, {STARSIM_VERSION} expected")
    return {
        "tool": f"starsim {raw['version']}",
        "agents": raw["N"],
        "days": raw["days"],
        "edges": raw["total_edges"],
        "build_s": raw["t_build"],
        "compile_s": 0.0,
        "run_s": raw["t_run"],
        "attack_rate": raw["ever_infected_frac"],
        "peak_infectious": int(raw["peak_infectious"]),
        "peak_rss_mib": raw["maxrss_kb"] / 1024,
    }


def run_ours(args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, *args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return float(np.median([r[key] for r in rows]))


def compare_starsim(args: argparse.Namespace) -> int:
    sizes = (20_000,) if args.quick else tuple(args.sizes)
    reps = (1,) if args.quick else tuple(args.reps)
    python = starsim_python(args.starsim_python)
    load = os.getloadavg()
    print(
        f"machine: {platform.node()}, {os.cpu_count()} cores, load average at start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(
        "| tool | agents | days | reps | edges | build s | run s (min-max) | s per agent-day "
        "| speed-up vs Starsim | attack rate | peak RSS MiB | RSS vs Starsim |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ok = True
    for size, rep in zip(sizes, reps, strict=True):
        groups: dict[str, list[dict[str, Any]]] = {"starsim": []}
        groups.update({sampling: [] for sampling in model.SAMPLINGS})
        for r in range(rep):
            seed = SEED + r
            groups["starsim"].append(run_starsim(python, size, seed))
            for sampling in model.SAMPLINGS:
                child = ["--child", "hybrid", "--agents", str(size), "--seed", str(seed)]
                groups[sampling].append(run_ours([*child, "--sampling", sampling]))
        base_run = _median(groups["starsim"], "run_s")
        base_rss = _median(groups["starsim"], "peak_rss_mib")
        for rows in groups.values():
            run_s = _median(rows, "run_s")
            lo, hi = min(r["run_s"] for r in rows), max(r["run_s"] for r in rows)
            rss = _median(rows, "peak_rss_mib")
            attack = _median(rows, "attack_rate")
            first = rows[0]
            print(
                f"| {first['tool']} | {size:,} | {first['days']} | {len(rows)} | "
                f"{_median(rows, 'edges') / 1e6:.2f}M | {_median(rows, 'build_s'):.2f} | "
                f"{run_s:.2f} ({lo:.2f}-{hi:.2f}) | {run_s / (size * first['days']):.2e} | "
                f"{base_run / run_s:.1f}x | {attack:.3f} | {rss:.0f} | {rss / base_rss:.2f}x |"
            )
        for sampling in model.SAMPLINGS:
            gap = abs(
                _median(groups[sampling], "attack_rate") - _median(groups["starsim"], "attack_rate")
            )
            ok = ok and gap < 0.02
    print()
    district = run_ours(["--child", "district"] + (["--quick"] if args.quick else []))
    print(
        "| population | agents | students | schools | edges | calendar days | school days "
        "| build s | compile s | run s | s per agent-day | attack rate | peak RSS MiB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    d = district
    print(
        f"| synthetic district{' (test fixture)' if args.quick else ''} | {d['agents']:,} | "
        f"{d['students']:,} | {d['schools']} | {d['edges'] / 1e6:.2f}M | {d['days']} | "
        f"{d['school_days']} | {d['build_s']:.2f} | {d['compile_s']:.2f} | {d['run_s']:.2f} | "
        f"{d['run_s'] / (d['agents'] * d['days']):.2e} | {d['attack_rate']:.3f} | "
        f"{d['peak_rss_mib']:.0f} |"
    )
    load = os.getloadavg()
    print(f"load average at end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("attack rates agree within 0.02: " + ("yes" if ok else "NO"))
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--starsim", action="store_true", help="compare with Starsim 3.7.2")
    parser.add_argument("--starsim-python", help="interpreter with starsim 3.7.2 installed")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--reps", type=int, nargs="+", default=list(REPS))
    parser.add_argument("--seed", type=int, default=SEED, help=argparse.SUPPRESS)
    parser.add_argument(
        "--sampling", choices=model.SAMPLINGS, default="skip", help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--child", choices=["numba", "numpy", "hybrid", "district"], help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child == "hybrid":
        print(json.dumps(child_hybrid(args.agents, args.days or 180, args.seed, args.sampling)))
        return 0
    if args.child == "district":
        print(json.dumps(child_district(args.quick, args.days)))
        return 0
    if args.starsim:
        return compare_starsim(args)
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
