"""Reproduce a published school model from files and set its results beside the paper's.

    uv run python bench/bench_validation.py                       # Gemmetto et al. 2014, 1,000 seeds
    uv run python bench/bench_validation.py --seeds 200 --beta 0.25,0.5,1
    uv run python bench/bench_validation.py --data DIR --out out/gemmetto2014
    uv run python bench/bench_validation.py --study bench/validation/colosi2025 --data DIR

A study is a folder (``bench/validation/gemmetto2014/``, ``bench/validation/colosi2025/``):
``study.yaml`` names the population spec, the scenario, the data files the spec reads, the
strategies (one policy folder each under ``policies/``, the first the baseline; a strategy may
set scenario fields of its own, ``params: ["field=value", ...]``, and then runs alone on the
same seeds) and the paper's values with where they are in the paper.
Every strategy runs on the same seeds (``schoolmode sim compare``'s use case, so each run is
exactly what the CLI would give); the script then prints and writes (``validation.md``,
``validation.csv``) one row per strategy and measure: the paper's value, ours, our 95% Monte
Carlo interval and whether the paper's value (or its range) falls inside it. The per-run rows,
the outbreak statistics and the final-size plot of each beta are in ``beta-<value>/`` (a
strategy with params of its own: ``beta-<value>/<strategy>/``).

Measures (over the runs of a strategy; ``n`` the population's agents):

- ``attack_rate``: mean final size of the seeded chain over ``n`` (bootstrap interval);
- ``p_large``: share of runs whose chain reached the scenario's ``large_outbreak`` (Wilson);
- ``large_attack_rate``: mean attack rate of those large outbreaks (bootstrap);
- ``school_days_lost``: school days per student lost to closures (class, grade or school;
  ``closure_class_days_per_student``; bootstrap);
- ``attack_rate_reduction``: 1 - the strategy's mean attack rate over the baseline's, on the
  same seeds (a paired bootstrap over seeds);
- ``school_infections``: mean infections transmitted in school per run, of every origin (the
  seeded chain and importations; ``infections_in_school``; bootstrap): the measure of studies
  with introductions from the community, where the seeded chain is not the outbreak;
- ``school_infections_reduction``: 1 - the strategy's mean school infections over the
  baseline's, on the same seeds (paired bootstrap).

The contact data are never shipped (the SocioPatterns licence): ``--data`` is the folder of the
study's ``data_files``; by default the fetch cache (``schoolmode fetch sociopatterns``) or the
data folder's ``sociopatterns-school-contacts/``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "bench" / "validation" / "gemmetto2014"
DATA_FOLDER = "sociopatterns-school-contacts"
MEASURES = (
    "attack_rate",
    "p_large",
    "large_attack_rate",
    "school_days_lost",
    "attack_rate_reduction",
    "school_infections",
    "school_infections_reduction",
)


@dataclass(frozen=True)
class Strategy:
    key: str
    label: str
    policy: Path
    policy_id: str
    params: tuple[str, ...] = ()
    """Scenario fields (``name=value``) this strategy alone sets (``params`` in study.yaml):
    what a protocol changes outside its policy, such as ``tracing.test_to_stay=true``."""


@dataclass(frozen=True)
class Study:
    folder: Path
    title: str
    population: Path
    scenario: Path
    data_files: list[str]
    baseline: str
    strategies: list[Strategy]
    paper: list[dict[str, Any]]


def _yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def load_study(folder: Path) -> Study:
    """The study of ``folder/study.yaml``; a strategy whose policy folder is missing is an
    error naming it."""
    raw = _yaml(folder / "study.yaml")
    strategies = []
    for item in raw["strategies"]:
        policy = folder / "policies" / item["policy"] / "policy.yaml"
        if not policy.exists():
            raise SystemExit(f"{folder / 'study.yaml'}: strategy {item['policy']!r}: no {policy}")
        params = item.get("params") or []
        bad = [p for p in params if not isinstance(p, str) or "=" not in p]
        if bad:
            raise SystemExit(
                f"{folder / 'study.yaml'}: strategy {item['policy']!r}: params must be "
                f"'field=value' strings, not {bad[0]!r}"
            )
        strategies.append(
            Strategy(item["policy"], item["label"], policy, _yaml(policy)["id"], tuple(params))
        )
    if raw["baseline"] != strategies[0].key:
        raise SystemExit(f"{folder / 'study.yaml'}: the baseline must be the first strategy")
    return Study(
        folder,
        raw["title"],
        folder / raw["population"],
        folder / raw["scenario"],
        list(raw["data_files"]),
        raw["baseline"],
        strategies,
        list(raw.get("paper") or []),
    )


def data_folder(given: Path | None, files: list[str]) -> Path:
    """Where the study's data files are: ``given``, else the fetch cache, else the data
    folder; an error names the places looked in."""
    if given is not None:
        candidates = [given]
    else:
        from schoolmode.settings import AppSettings

        settings = AppSettings.load()
        candidates = [settings.fetch_cache_dir / DATA_FOLDER, settings.data_dir / DATA_FOLDER]
    for folder in candidates:
        if all((folder / name).exists() for name in files):
            return folder
    places = ", ".join(str(c) for c in candidates)
    raise SystemExit(
        f"the study's data files ({', '.join(files)}) are in none of: {places}; "
        "run `schoolmode fetch sociopatterns` or give --data"
    )


def spec_with_data(study: Study, data: Path, out: Path) -> Path:
    """A copy of the study's population spec in ``out`` reading the data files from ``data``."""
    yaml = YAML(typ="rt")
    spec = yaml.load(study.population.read_text(encoding="utf-8"))
    for field in ("contacts", "metadata"):
        if field in spec:
            spec[field] = str((data / Path(spec[field]).name).resolve())
    out.mkdir(parents=True, exist_ok=True)
    path = out / "school.yaml"
    with path.open("w", encoding="utf-8") as fh:
        yaml.dump(spec, fh)
    return path


def _simulate(
    strategies: list[Strategy], spec: Path, scenario: Path, seeds: int, params: list[str], out: Path
) -> pl.DataFrame:
    """``strategies`` on the same seeds in one ``sim compare`` run: its per-run rows
    (``runs.csv``) with the loop's ``infections_in_school`` (``outcomes.csv``)."""
    from schoolmode.app.simulation import SimRequest, simulate
    from schoolmode.cli.common import app_context

    req = SimRequest(
        policy_ids=[str(s.policy) for s in strategies],
        out=out,
        scenario=scenario,
        seeds=seeds,
        population=spec,
        read_policy_files=True,
        params=params,
    )
    with app_context() as ctx:
        result = simulate(ctx, req)
    runs = pl.read_csv(result.files["runs.csv"])
    outcomes = pl.read_csv(result.files["outcomes.csv"])
    school = outcomes.select("policy", "seed", "infections_in_school")
    return runs.join(school, on=["policy", "seed"], how="left", validate="1:1")


def run_strategies(
    study: Study, spec: Path, seeds: int, params: list[str], out: Path
) -> pl.DataFrame:
    """Every strategy on the same seeds; the per-run rows (``runs.csv``) with ``strategy`` and
    ``infections_in_school``. Strategies without params of their own run together in ``out``;
    one with params runs alone, in ``out/<strategy>/``, on the same seeds (the runs of a seed
    share their random streams whatever else runs beside them)."""
    shared = [s for s in study.strategies if not s.params]
    frames = []
    if shared:
        frames.append(_simulate(shared, spec, study.scenario, seeds, params, out))
    for s in study.strategies:
        if s.params:
            own = [*params, *s.params]
            frames.append(_simulate([s], spec, study.scenario, seeds, own, out / s.key))
    runs = pl.concat(frames, how="diagonal_relaxed")
    keys = {s.policy_id: s.key for s in study.strategies}
    return runs.with_columns(pl.col("policy").replace_strict(keys).alias("strategy"))


def _paired_reduction(ours: np.ndarray, base: np.ndarray) -> tuple[float, float, float]:
    """1 - mean(ours) / mean(base) over the same seeds, with a paired bootstrap interval."""
    if base.sum() == 0:
        return math.nan, math.nan, math.nan
    value = 1.0 - float(ours.mean()) / float(base.mean())
    from schoolmode.sim.outbreaks import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED

    gen = np.random.default_rng(BOOTSTRAP_SEED)
    picks = gen.integers(0, ours.size, size=(BOOTSTRAP_RESAMPLES, ours.size))
    reductions = 1.0 - ours[picks].mean(axis=1) / np.maximum(base[picks].mean(axis=1), 1e-12)
    lo, hi = np.percentile(reductions, [2.5, 97.5])
    return value, float(lo), float(hi)


def measures(runs: pl.DataFrame, study: Study, agents: int, large: int) -> pl.DataFrame:
    """One row per strategy and measure: ours, its interval, the paper's value and whether
    it is inside."""
    from schoolmode.sim.outbreaks import bootstrap_mean, wilson

    def rows_of(key: str) -> pl.DataFrame:
        return runs.filter(pl.col("strategy") == key).sort("seed")

    base = rows_of(study.baseline)
    base_ar = base["chain_size"].to_numpy() / agents
    base_school = base["infections_in_school"].to_numpy().astype(float)
    paper = {(p["strategy"], p["metric"]): p for p in study.paper}
    out: list[dict[str, Any]] = []
    for s in study.strategies:
        rows = rows_of(s.key)
        if rows["seed"].to_list() != base["seed"].to_list():
            raise SystemExit(f"strategy {s.key!r} did not run on the baseline's seeds")
        ar = rows["chain_size"].to_numpy() / agents
        school = rows["infections_in_school"].to_numpy().astype(float)
        is_large = rows["chain_size"].to_numpy() >= large
        k = int(is_large.sum())
        p_lo, p_hi = wilson(k, ar.size)
        ours = {
            "attack_rate": bootstrap_mean(ar),
            "p_large": (k / ar.size, p_lo, p_hi),
            "large_attack_rate": bootstrap_mean(ar[is_large]),
            "school_days_lost": bootstrap_mean(rows["closure_class_days_per_student"].to_numpy()),
            "attack_rate_reduction": (
                _paired_reduction(ar, base_ar) if s.key != study.baseline else (0.0, 0.0, 0.0)
            ),
            "school_infections": bootstrap_mean(school),
            "school_infections_reduction": (
                _paired_reduction(school, base_school)
                if s.key != study.baseline
                else (0.0, 0.0, 0.0)
            ),
        }
        for measure in MEASURES:
            value, lo, hi = ours[measure]
            ref = paper.get((s.key, measure), {})
            out.append(
                {
                    "strategy": s.key,
                    "label": s.label,
                    "measure": measure,
                    "paper": ref.get("value"),
                    "paper_low": ref.get("low", ref.get("value")),
                    "paper_high": ref.get("high", ref.get("value")),
                    "where": ref.get("where", ""),
                    "ours": value,
                    "lo": lo,
                    "hi": hi,
                    "inside": _inside(ref, lo, hi),
                    "runs": int(ar.size),
                }
            )
    return pl.DataFrame(out, infer_schema_length=None)


def _inside(ref: dict[str, Any], lo: float, hi: float) -> str:
    """Whether the paper's value (or its range ``low``..``high``) meets our interval."""
    if ref.get("value") is None:
        return "not read" if ref else ""
    low, high = ref.get("low", ref["value"]), ref.get("high", ref["value"])
    if math.isnan(lo) or math.isnan(hi):
        return "no interval"
    return "yes" if low <= hi and high >= lo else "no"


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}"


def markdown(table: pl.DataFrame) -> str:
    """The side-by-side table, one row per strategy and measure."""
    lines = [
        "| beta | strategy | measure | paper | ours | 95% interval | paper inside | where in the paper |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table.iter_rows(named=True):
        paper = "-"
        if r["paper"] is not None:
            paper = _fmt(r["paper"])
            if r["paper_low"] != r["paper_high"]:
                paper = f"{_fmt(r['paper_low'])}-{_fmt(r['paper_high'])}"
        lines.append(
            f"| {r['beta']} | {r['label']} | {r['measure']} | {paper} | {_fmt(r['ours'])} | "
            f"[{_fmt(r['lo'])}, {_fmt(r['hi'])}] | {r['inside'] or '-'} | {r['where'] or '-'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--study", type=Path, default=STUDY, help="the study folder")
    parser.add_argument("--data", type=Path, default=None, help="folder of the data files")
    parser.add_argument("--seeds", type=int, default=1000, help="seeds per strategy")
    parser.add_argument(
        "--beta", default=None, help="comma-separated betas (default: the scenario's)"
    )
    parser.add_argument(
        "--param", action="append", default=[], help="scenario field=value (repeatable)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="default: out/validation-<study folder name>"
    )
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = Path("out") / f"validation-{args.study.resolve().name}"
    if args.seeds < 2:
        parser.error("--seeds must be at least 2 (an interval needs two runs)")

    from schoolmode.sim.population_spec import load_population_spec
    from schoolmode.sim.scenario import load_scenario

    study = load_study(args.study)
    data = data_folder(args.data, study.data_files)
    spec = spec_with_data(study, data, args.out)
    agents = load_population_spec(str(spec)).population.network.n
    scenario = load_scenario(study.scenario)
    for item in args.param:
        name, _, value = item.partition("=")
        scenario = scenario.with_param(name, value)
    betas = args.beta.split(",") if args.beta else [str(scenario.beta)]
    print(
        f"{study.title}: {len(study.strategies)} strategies x {args.seeds} seeds, {agents} agents"
    )
    tables = []
    for beta in betas:
        t0 = time.perf_counter()
        folder = args.out / f"beta-{beta}"
        runs = run_strategies(study, spec, args.seeds, [*args.param, f"beta={beta}"], folder)
        large = scenario.with_param("beta", beta).large_threshold
        table = measures(runs, study, agents, large).with_columns(pl.lit(beta).alias("beta"))
        tables.append(table)
        wall = time.perf_counter() - t0
        print(f"beta {beta}: {runs.height} runs in {wall:.1f} s; rows in {folder / 'runs.csv'}")
    table = pl.concat(tables)
    page = markdown(table)
    print(page)
    table.write_csv(args.out / "validation.csv")
    command = " ".join(["python bench/bench_validation.py", *(argv or sys.argv[1:])])
    (args.out / "validation.md").write_text(
        f"# {study.title}\n\n`{command}`; {args.seeds} seeds per strategy, {agents} agents, "
        f"large outbreak: a chain of at least {large} infections.\n\n{page}",
        encoding="utf-8",
    )
    print(f"table: {args.out / 'validation.md'} and {args.out / 'validation.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
