"""Benchmark the simulator with the policy engine in its loop (sim/loop.py).

    uv run python bench/bench_sim_loop.py            # whole synthetic CPS district, 155 days
    uv run python bench/bench_sim_loop.py --quick    # the 12-school test district, 30 days
    uv run python bench/bench_sim_loop.py --school   # a 250-agent school, class closure, 60 days

Variants, each in a child process (its own peak RSS), same seed and scenario (Omicron,
2022-01-11 start, defaults of ``sim/scenario.py`` except beta 0.12 and nobody immune, the
workload of the earlier runs):

- ``changed``: the January 2022 agreement, the engine evaluating only the units whose metrics
  changed and deciding days ahead while they do not (``engine_incremental``, the default);
- ``window``: the same re-evaluating every unit each day over the trailing window computed
  from the policy (the plain path, the default before);
- ``history``: the plain path over the whole history each day (``engine_window_days: 0``), the
  baseline the others are compared with; all three must give identical modes (checked);
- ``none``: no policy (the cost of the loop without the engine).

``--sampling contact,skip``: each variant with each of transmission's draws (the scenario's
``sampling``; default: the scenario's default), in the same run. With ``--school``, also the
pairing of the policy against no policy on each seed: the sd of the per-seed difference in
infections and the correlation of the two runs' infections (common random numbers pair them).

Reported: wall seconds of the run, CPU seconds of the process, the ratio to the baseline, the
time per phase of the day (gates, transmission, observation, operations, metrics, engine), the
population build (once per process) and the peak RSS.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
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
VARIANTS = ("changed", "window", "history", "none")

CLASS_CLOSURE = """\
id: bench-class-closure
title: Two reported cases in a class within 7 days close the class for 5 days
kind: guidance
jurisdiction: Made-up school (benchmark)
parties: [Benchmark]
status: published
version: 1
term: {from: 2009-01-01}
summary: A class with 2 or more cases reported within 7 days closes for 5 calendar days.
sources:
  bench:
    title: Written by the benchmark
    url: https://example.org/class-closure
    published: 2009-01-01
modes:
  - {id: in_person, label: In person}
  - {id: class_closed, label: Class closed}
metrics:
  positive_cases_reported: Positive cases reported that day among the people of a class.
parameters:
  cases:
    description: Cases reported in a class within the window that close it.
    unit: count
    values:
      - {from: 2009-01-01, value: 2, clause: bench, source: bench, confidence: S}
  window_days:
    description: Days of the window.
    unit: days
    values:
      - {from: 2009-01-01, value: 7, clause: bench, source: bench, confidence: S}
  closed_days:
    description: Days a class stays closed.
    unit: days
    values:
      - {from: 2009-01-01, value: 5, clause: bench, source: bench, confidence: S}
rules:
  - id: close-class
    title: Two cases in a class within a week close it
    scope: classroom
    clause: bench
    source: bench
    confidence: S
    when:
      threshold:
        of: {window_sum: {of: {metric: positive_cases_reported}, days: {param: window_days}}}
        op: ">="
        value: {param: cases}
    effect: {mode: class_closed, action: automatic}
    timing:
      min_duration: {days: {param: closed_days}, unit: calendar_days}
      max_duration: {days: {param: closed_days}, unit: calendar_days}
      exit_when: min_duration_elapsed
"""
SCHOOL_VARIANTS = ("changed", "plain", "none")


def child(
    variant: str, days: int, quick: bool, schools: int | None, sampling: str | None
) -> dict[str, Any]:
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
        engine_incremental=variant == "changed",
        **({"sampling": sampling} if sampling else {}),
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
        "variant": variant if sampling is None else f"{variant} ({sampling})",
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
    parser.add_argument("--school", action="store_true", help="the school benchmark")
    parser.add_argument("--runs", type=int, default=50, help="runs per variant (--school)")
    parser.add_argument("--contacts", type=Path, help="a SocioPatterns contact file (--school)")
    parser.add_argument("--metadata", type=Path, help="its metadata file (--school)")
    parser.add_argument(
        "--sampling", help="comma-separated draws (contact, skip), each variant with each"
    )
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated, of " + ", ".join(VARIANTS)
    )
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    samplings: list[str | None] = [*args.sampling.split(",")] if args.sampling else [None]
    if args.school:
        return school_main(args.days or 60, args.runs, args.contacts, args.metadata, samplings)
    days = args.days or (30 if args.quick else 155)
    if args.child:
        print(json.dumps(child(args.child, days, args.quick, args.schools, samplings[0])))
        return 0
    variants = args.variants.split(",")
    if "history" not in variants or any(v not in VARIANTS for v in variants):
        parser.error("--variants: names of " + ", ".join(VARIANTS) + ", history among them")
    rows = []
    load = os.getloadavg()
    for sampling in samplings:
        for variant in variants:
            cmd = [sys.executable, __file__, "--child", variant, "--days", str(days)]
            cmd += ["--quick"] if args.quick else []
            cmd += ["--schools", str(args.schools)] if args.schools else []
            cmd += ["--sampling", sampling] if sampling else []
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    load = tuple(max(a, b) for a, b in zip(load, os.getloadavg(), strict=True))
    history = variants.index("history")
    first = rows[0]
    print(
        f"{first['agents']:,} agents, {first['schools']} schools, {first['classrooms']:,} "
        f"classrooms, {days} days from 2022-01-11, policy {POLICY}; load average up to "
        + "/".join(f"{x:.1f}" for x in load)
    )
    phases = list(first["timings"])
    print(
        "| variant | build s | run s | CPU s | vs history (same draws) | engine evaluations | "
        + " | ".join(f"{p} s" for p in phases)
        + " | infections | peak RSS MiB |"
    )
    print("|---|---:|---:|---:|---:|---:|" + "---:|" * len(phases) + "---:|---:|")
    for i, r in enumerate(rows):
        base = rows[i - i % len(variants) + history]["run_s"]
        print(
            f"| {r['variant']} | {r['build_s']:.1f} | {r['run_s']:.1f} | {r['cpu_s']:.1f} | "
            f"{r['run_s'] / base:.2f}x | {r['evaluations']} | "
            + " | ".join(f"{r['timings'].get(p, 0.0):.1f}" for p in phases)
            + f" | {r['infections']:,.0f} | {r['peak_rss_mib']:.0f} |"
        )
    same = True
    for k in range(len(samplings)):
        group = rows[k * len(variants) : (k + 1) * len(variants)]
        ref = group[history]
        same = same and all(
            r["modes"] == ref["modes"] and r["infections"] == ref["infections"]
            for r in group
            if not r["variant"].startswith("none")
        )
    print("changed, window and history give identical modes: " + ("yes" if same else "NO"))
    return 0 if same else 1


def made_up_school(folder: Path) -> tuple[Path, Path]:
    """Two recorded days of face-to-face contacts in the SocioPatterns layout (``t i j Ci Cj``)
    and its metadata file: 240 pupils in ten classes of five grades and ten teachers (250
    agents, the size of the SocioPatterns primary school); contacts mostly within a class,
    teachers with everyone."""
    rnd = random.Random(11)
    classes = [f"{grade}{letter}" for grade in range(1, 6) for letter in "AB"]
    people = [(p, classes[(p - 1) // 24]) for p in range(1, 241)]
    people += [(241 + k, "Teachers") for k in range(10)]
    lines = []
    for day in range(2):
        for t in range(day * 86_400 + 30_000, day * 86_400 + 30_000 + 6 * 3600, 20):
            for _ in range(8):
                a, b = rnd.sample(people, 2)
                across = a[1] != b[1] and "Teachers" not in (a[1], b[1])
                if across and rnd.random() < 0.8:
                    continue
                lines.append(f"{t}\t{a[0]}\t{b[0]}\t{a[1]}\t{b[1]}")
    contacts = folder / "school.csv"
    contacts.write_text("\n".join(lines) + "\n")
    metadata = folder / "school-classes.txt"
    metadata.write_text("".join(f"{p}\t{c}\t{'MF'[p % 2]}\n" for p, c in people))
    return contacts, metadata


def school_main(
    days: int,
    runs: int,
    contacts: Path | None,
    metadata: Path | None,
    samplings: list[str | None],
) -> int:
    """A school (made up, or ``contacts`` and ``metadata`` in the SocioPatterns layout) with
    a class-closure policy for ``days`` days, ``runs`` seeds per variant, the variants
    interleaved seed by seed in this process: ``changed`` (the engine evaluating only what
    changed), ``plain`` (every unit every day) and ``none`` (no policy)."""
    import numpy as np

    from schoolmode.pathogen import load_pathogen
    from schoolmode.policy.loader import Registry, load_policy_path
    from schoolmode.sim.loop import run_policy
    from schoolmode.sim.population_spec import load_population_spec
    from schoolmode.sim.scenario import Scenario

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if contacts is None:
            contacts, metadata = made_up_school(folder)
        lines = ["kind: sociopatterns", f"contacts: {contacts.resolve()}"]
        lines += [f"metadata: {metadata.resolve()}"] if metadata else []
        lines += ["week:", "  school_days: [mon, tue, wed, thu, fri]", "  off_school: community"]
        (folder / "school.yaml").write_text("\n".join(lines) + "\n")
        (folder / "policy").mkdir()
        (folder / "policy" / "policy.yaml").write_text(CLASS_CLOSURE)
        population = load_population_spec(str(folder / "school.yaml")).population
        registry = Registry()
        policy = load_policy_path(folder / "policy" / "policy.yaml", registry).policy
    base = Scenario.model_validate(
        {
            **Scenario().model_dump(),
            "days": days,
            "start": "2009-10-05",
            "initial_infections": 2,
            "beta": 3,
            "vaccination": {"initial_share": {}},
        }
    )
    keys = [(variant, sampling) for sampling in samplings for variant in SCHOOL_VARIANTS]
    scenarios = {}
    for variant, sampling in keys:
        scenario = (
            base if variant != "plain" else base.model_copy(update={"engine_incremental": False})
        )
        if sampling:
            scenario = scenario.model_copy(update={"sampling": sampling})
        scenarios[variant, sampling] = scenario
    pathogen = load_pathogen(base.pathogen)
    for key in keys:  # warm-up: numba's cached kernels, the engine's imports
        run_policy(population, pathogen, scenarios[key], policy, 0, registry)
    wall = dict.fromkeys(keys, 0.0)
    engine = dict.fromkeys(keys, 0.0)
    evaluations = dict.fromkeys(keys, 0)
    infections = {key: np.zeros(runs) for key in keys}
    closed = 0
    same = True
    load = os.getloadavg()
    for seed in range(1, runs + 1):
        modes = {}
        for key in keys:
            chosen = None if key[0] == "none" else policy
            t0 = time.perf_counter()
            result = run_policy(population, pathogen, scenarios[key], chosen, seed, registry)
            wall[key] += time.perf_counter() - t0
            engine[key] += result.timings["engine"]
            infections[key][seed - 1] = result.outcomes["infections"]
            if result.engine is not None:
                evaluations[key] += result.engine.evaluations
                modes[key] = result.engine.modes["classroom"]
        for sampling in samplings:
            changed = modes["changed", sampling]
            same = same and bool((changed == modes["plain", sampling]).all())
            closed += int((changed > 0).sum())
    load = tuple(max(a, b) for a, b in zip(load, os.getloadavg(), strict=True))
    print(
        f"{population.network.n} agents, {len(population.classroom_ids)} classes, {days} days "
        f"from 2009-10-05, class closure (2 cases in 7 days close a class for 5 days), "
        f"{runs} runs per variant, interleaved; load average up to "
        + "/".join(f"{x:.1f}" for x in load)
    )
    print(
        "| variant | ms per run | engine ms per run | engine share | vs plain | "
        "evaluations per run | infections per run |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key in keys:
        variant, sampling = key
        ms, eng = 1000 * wall[key] / runs, 1000 * engine[key] / runs
        name = variant if sampling is None else f"{variant} ({sampling})"
        print(
            f"| {name} | {ms:.1f} | {eng:.1f} | {eng / ms:.0%} | "
            f"{wall[key] / wall['plain', sampling]:.2f}x | {evaluations[key] / runs:.1f} | "
            f"{infections[key].mean():.1f} |"
        )
    print(f"class-days closed: {closed} in {runs} runs")
    print(
        "\npairing, the policy (changed) against no policy on each seed:\n"
        "| draws | mean difference in infections | sd of the per-seed difference | "
        "sd unpaired (sqrt of the sum of variances) | correlation |\n|---|---:|---:|---:|---:|"
    )
    for sampling in samplings:
        a, b = infections["changed", sampling], infections["none", sampling]
        unpaired = float(np.sqrt(a.var(ddof=1) + b.var(ddof=1)))
        corr = float(np.corrcoef(a, b)[0, 1])
        print(
            f"| {sampling or 'default'} | {(a - b).mean():.2f} | {(a - b).std(ddof=1):.2f} | "
            f"{unpaired:.2f} | {corr:.3f} |"
        )
    print("changed and plain give identical modes: " + ("yes" if same else "NO"))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
