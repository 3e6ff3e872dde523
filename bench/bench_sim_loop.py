"""Benchmark the simulator with the policy engine in its loop (sim/loop.py).

    uv run python bench/bench_sim_loop.py            # whole synthetic CPS district, 155 days
    uv run python bench/bench_sim_loop.py --quick    # the 12-school test district, 30 days

Variants, each in a child process (its own peak RSS), same seed and scenario (Omicron,
2022-01-11 start, defaults of ``sim/scenario.py`` except beta 0.12 and nobody immune, the
workload of the earlier runs):

- ``window``: the January 2022 agreement, the engine re-evaluated each day over the trailing
  window computed from the policy (the default);
- ``history``: the same with the whole history re-evaluated each day (``engine_window_days: 0``),
  the baseline the window is compared with; both must give identical modes (checked);
- ``none``: no policy (the cost of the loop without the engine).

Reported: wall seconds of the run, CPU seconds of the process, the ratio to the baseline, the
time per phase of the day (gates, transmission, observation, operations, metrics, engine), the
population build (once per process) and the peak RSS.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = (
    ROOT
    / "tests/fixtures/shared/data/cps-schools"
    / "Chicago_Public_Schools_-_School_Profile_Information_SY2122.csv"
)
POLICY = "cps-ctu-2022-01-10"


def child(variant: str, days: int, quick: bool, schools: int | None) -> dict[str, Any]:
    from schoolmode.pathogen import load_pathogen
    from schoolmode.policy.loader import Registry
    from schoolmode.sim.compare import load_population, school_attributes
    from schoolmode.sim.loop import run_policy
    from schoolmode.sim.scenario import Scenario

    profiles = str(FIXTURE) if quick else None
    t0 = time.perf_counter()
    population = load_population(profiles, schools)
    build_s = time.perf_counter() - t0
    registry = Registry()
    # the workload of the earlier runs of this benchmark, so they stay comparable: beta fixed
    # at the earlier default and nobody immune before day 0 (the scenario defaults now are
    # beta: auto, calibrated to R0, and Chicago's vaccination on 2022-01-10)
    scenario = Scenario(
        days=days,
        beta=0.12,
        vaccination={"initial_share": {}},
        engine_window_days=0 if variant == "history" else None,
    )
    policy = None if variant == "none" else registry.get(POLICY).policy
    pathogen = load_pathogen(scenario.pathogen)
    attributes = school_attributes(population, profiles, schools)
    # warm-up: numba's cached kernels load on first call
    run_policy(population, pathogen, scenario.model_copy(update={"days": 2}), policy, 0, registry)
    c0, t0 = time.process_time(), time.perf_counter()
    result = run_policy(
        population, pathogen, scenario, policy, 1, registry, school_attributes=attributes
    )
    run_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    modes = b""
    evaluations = 0
    if result.engine is not None:
        modes = b"".join(result.engine.modes[s].tobytes() for s in ("school", "classroom"))
        evaluations = result.engine.evaluations
    return {
        "variant": variant,
        "agents": population.network.n,
        "schools": len(population.school_ids),
        "classrooms": len(population.classroom_ids),
        "days": days,
        "build_s": build_s,
        "run_s": run_s,
        "cpu_s": cpu_s,
        "timings": result.timings,
        "evaluations": evaluations,
        "infections": result.outcomes["infections"],
        "modes": hashlib.sha256(modes).hexdigest(),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--schools", type=int, default=None)
    parser.add_argument("--child", choices=["window", "history", "none"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    days = args.days or (30 if args.quick else 155)
    if args.child:
        print(json.dumps(child(args.child, days, args.quick, args.schools)))
        return 0
    rows = []
    for variant in ("window", "history", "none"):
        cmd = [sys.executable, __file__, "--child", variant, "--days", str(days)]
        cmd += ["--quick"] if args.quick else []
        cmd += ["--schools", str(args.schools)] if args.schools else []
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    base = rows[1]["run_s"]
    first = rows[0]
    print(
        f"{first['agents']:,} agents, {first['schools']} schools, {first['classrooms']:,} "
        f"classrooms, {days} days from 2022-01-11, policy {POLICY}"
    )
    phases = list(first["timings"])
    print(
        "| variant | build s | run s | CPU s | vs history | engine evaluations | "
        + " | ".join(f"{p} s" for p in phases)
        + " | infections | peak RSS MiB |"
    )
    print("|---|---:|---:|---:|---:|---:|" + "---:|" * len(phases) + "---:|---:|")
    for r in rows:
        print(
            f"| {r['variant']} | {r['build_s']:.1f} | {r['run_s']:.1f} | {r['cpu_s']:.1f} | "
            f"{r['run_s'] / base:.2f}x | {r['evaluations']} | "
            + " | ".join(f"{r['timings'].get(p, 0.0):.1f}" for p in phases)
            + f" | {r['infections']:,.0f} | {r['peak_rss_mib']:.0f} |"
        )
    same = rows[0]["modes"] == rows[1]["modes"] and rows[0]["infections"] == rows[1]["infections"]
    print("window and history give identical modes: " + ("yes" if same else "NO"))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
