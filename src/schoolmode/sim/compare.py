"""Runs over seeds, summaries with intervals, paired differences, and the comparison report.

Every policy runs on the same seeds (common random numbers: each random decision is keyed by
what it decides, ``rng.py``), so a difference between two policies on one seed is the effect of
their rules, and the paired difference A - B has a much narrower interval than either mean.
Intervals are percentile intervals over seeds (2.5th and 97.5th percentiles).
"""

from __future__ import annotations

import base64
import html
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import polars as pl

from schoolmode.importers.base import shared_data_dir
from schoolmode.importers.cps import SchoolProfiles
from schoolmode.policy import model as m
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import Registry
from schoolmode.sim.beta import auto_method
from schoolmode.sim.community import load_zip_population, zip_population_path
from schoolmode.sim.loop import run_policy
from schoolmode.sim.network import Population, from_district
from schoolmode.sim.outcomes import OUTCOMES, LoopResult
from schoolmode.sim.pathogen import load_pathogen
from schoolmode.sim.scenario import Scenario
from schoolmode.synth.district import synth_district

NO_POLICY = "none"
LABELS = {
    "infections": "infections (all)",
    "infections_students": "infections, students",
    "infections_staff": "infections, staff",
    "infections_household": "infections, household adults",
    "infections_in_school": "infections in school layers",
    "in_person_student_days": "in-person student-days",
    "in_person_staff_days": "in-person staff-days",
    "school_days_remote": "school-days remote (school days)",
    "classroom_days_remote": "classroom-days remote (school days)",
    "student_absence_days": "student absence-days",
    "staff_absence_days": "staff absence-days",
    "quarantine_days": "person-days in quarantine",
    "isolation_days": "person-days in isolation",
    "tests": "tests used",
    "pools": "pools tested",
    "cases_reported": "cases reported",
    "peak_infectious": "peak infectious",
    "peak_day": "day of the peak",
    "doses": "vaccine doses",
}


@lru_cache(maxsize=2)
def _profiles(profiles: str | None, schools: int | None) -> pl.DataFrame:
    path = Path(profiles) if profiles else shared_data_dir() / SchoolProfiles.default_files[0]
    if not path.exists():
        raise SchoolmodeError(
            f"{path}: no CPS school profiles (pass --profiles or set SCHOOLMODE_SHARED)"
        )
    frame = SchoolProfiles().parse(path).frame.sort("school_id")
    return frame.head(schools) if schools is not None else frame


@lru_cache(maxsize=2)
def load_population(profiles: str | None = None, schools: int | None = None) -> Population:
    """The synthetic district of the CPS school profiles (``schools``: only the first N by
    school id), cached per process. Cross-ZIP community contacts are weighted by the real
    population of each ZIP and age band (ACS, ``community.load_zip_population``) when the
    shared data has it, else by the district's own agents."""
    zip_population = load_zip_population() if zip_population_path().exists() else None
    return from_district(synth_district(_profiles(profiles, schools)).frames, None, zip_population)


def school_attributes(
    population: Population, profiles: str | None = None, schools: int | None = None
) -> dict[str, list[str]]:
    """``grade_band`` (the profile's level: ES, MS, HS) and ``zip`` of each school of the
    population."""
    frame = _profiles(profiles, schools)
    level = dict(zip(frame["school_id"], frame["level"].fill_null(""), strict=True))
    zips = dict(zip(frame["school_id"], frame["zip"].cast(pl.String).fill_null(""), strict=True))
    return {
        "grade_band": [level.get(s, "") for s in population.school_ids],
        "zip": [zips.get(s, "") for s in population.school_ids],
    }


def resolve_policies(ids: Sequence[str], registry: Registry) -> list[m.Policy | None]:
    return [None if i == NO_POLICY else registry.get(i).policy for i in ids]


@dataclass
class Comparison:
    scenario: Scenario
    policy_ids: list[str]
    seeds: list[int]
    results: dict[tuple[str, int], LoopResult]
    agents: int
    schools: int
    wall_s: float

    @property
    def betas(self) -> list[float]:
        """The distinct transmission hazards used (one unless the scenario changes)."""
        return sorted({r.beta for r in self.results.values()})

    def outcomes(self) -> pl.DataFrame:
        """One row per policy and seed with every outcome."""
        rows = [
            {"policy": p, "seed": s, **self.results[(p, s)].outcomes}
            for p in self.policy_ids
            for s in self.seeds
        ]
        return pl.DataFrame(rows).with_columns(pl.col(c).cast(pl.Float64) for c in OUTCOMES)

    def summary(self) -> pl.DataFrame:
        return summarise(self.outcomes())

    def paired(self, a: str, b: str) -> pl.DataFrame:
        return paired_difference(self.outcomes(), a, b)

    def daily(self, name: str, policy: str) -> np.ndarray:
        """(seeds, days) of one daily series."""
        return np.stack([self.results[(policy, s)].daily[name] for s in self.seeds])


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    return (
        float(values.mean()),
        float(np.percentile(values, 2.5)),
        float(np.percentile(values, 97.5)),
    )


def summarise(outcomes: pl.DataFrame) -> pl.DataFrame:
    """Mean and 95% percentile interval over seeds, per policy and outcome."""
    rows = []
    for policy in outcomes["policy"].unique(maintain_order=True).to_list():
        part = outcomes.filter(pl.col("policy") == policy)
        for name in OUTCOMES:
            mean, lo, hi = _interval(part[name].to_numpy())
            rows.append({"policy": policy, "outcome": name, "mean": mean, "lo": lo, "hi": hi})
    return pl.DataFrame(rows)


def paired_difference(outcomes: pl.DataFrame, a: str, b: str) -> pl.DataFrame:
    """A - B per seed (common random numbers), its mean and 95% percentile interval."""
    left = outcomes.filter(pl.col("policy") == a).sort("seed")
    right = outcomes.filter(pl.col("policy") == b).sort("seed")
    if left["seed"].to_list() != right["seed"].to_list():
        raise SchoolmodeError(f"policies {a} and {b} were not run on the same seeds")
    rows = []
    for name in OUTCOMES:
        diff = left[name].to_numpy() - right[name].to_numpy()
        mean, lo, hi = _interval(diff)
        rows.append({"outcome": name, "mean": mean, "lo": lo, "hi": hi})
    return pl.DataFrame(rows)


def compare(
    population: Population,
    scenario: Scenario,
    policy_ids: Sequence[str],
    registry: Registry | None = None,
    seeds: Sequence[int] | None = None,
    progress: Callable[[str, int], None] | None = None,
    attributes: Mapping[str, list[str]] | None = None,
) -> Comparison:
    """Every policy on every seed, serially in this process."""
    registry = registry or Registry()
    pathogen = load_pathogen(scenario.pathogen)
    policies = resolve_policies(policy_ids, registry)
    seed_list = list(seeds) if seeds is not None else _seeds(scenario)
    results: dict[tuple[str, int], LoopResult] = {}
    t0 = time.perf_counter()
    for seed in seed_list:
        for pid, policy in zip(policy_ids, policies, strict=True):
            result = run_policy(
                population, pathogen, scenario, policy, seed, registry, school_attributes=attributes
            )
            result.engine = None  # keep memory small: the outcomes and series are what we keep
            result.agents = None
            results[(pid, seed)] = result
            if progress is not None:
                progress(pid, seed)
    return Comparison(
        scenario,
        list(policy_ids),
        seed_list,
        results,
        population.network.n,
        len(population.school_ids),
        time.perf_counter() - t0,
    )


def _seeds(scenario: Scenario) -> list[int]:
    return list(range(scenario.first_seed, scenario.first_seed + scenario.seeds))


# ---------------------------------------------------------------------- report


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}"


def _band_plot(comparison: Comparison, series: str, ylabel: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(10, 3.6))
    colours = plt.get_cmap("tab10")
    for i, pid in enumerate(comparison.policy_ids):
        values = comparison.daily(series, pid).astype(float)
        days = np.arange(values.shape[1])
        mean = values.mean(axis=0)
        lo, hi = np.percentile(values, [2.5, 97.5], axis=0)
        ax.plot(days, mean, color=colours(i), lw=1.4, label=pid)
        ax.fill_between(days, lo, hi, color=colours(i), alpha=0.2, lw=0)
    ax.set_xlabel(f"day (0 = {comparison.scenario.start})")
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _table(frame: pl.DataFrame, label_col: str = "outcome") -> pl.DataFrame:
    return frame.select(
        pl.col(label_col).replace_strict(LABELS, default=pl.col(label_col)).alias(label_col),
        *(c for c in frame.columns if c != label_col and c not in ("mean", "lo", "hi")),
        pl.struct("mean", "lo", "hi")
        .map_elements(
            lambda r: f"{_fmt(r['mean'])} [{_fmt(r['lo'])}, {_fmt(r['hi'])}]",
            return_dtype=pl.String,
        )
        .alias("mean [95% interval]"),
    )


def _markdown(frame: pl.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([head, rule, *body])


def _html_table(frame: pl.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in frame.iter_rows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def write_report(comparison: Comparison, out: Path) -> dict[str, Path]:
    """report.md, report.html, plots (PNG), outcomes.csv and summary.csv into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    outcomes = comparison.outcomes()
    summary = summarise(outcomes)
    outcomes.write_csv(out / "outcomes.csv")
    summary.write_csv(out / "summary.csv")
    files["outcomes.csv"] = out / "outcomes.csv"
    files["summary.csv"] = out / "summary.csv"
    tables: list[tuple[str, pl.DataFrame]] = []
    by_policy = _table(summary).pivot(
        on="policy", index="outcome", values="mean [95% interval]", maintain_order=True
    )
    tables.append(("Outcomes per policy: mean over seeds [95% percentile interval]", by_policy))
    ids = comparison.policy_ids
    for other in ids[1:]:
        diff = paired_difference(outcomes, ids[0], other)
        tables.append(
            (
                f"Paired difference {ids[0]} - {other} (same seeds): mean [95% interval]",
                _table(diff),
            )
        )
    plots = [
        _band_plot(comparison, "new_infections", "new infections per day", out / "infections.png"),
        _band_plot(comparison, "infectious", "infectious agents", out / "infectious.png"),
        _band_plot(comparison, "schools_remote", "schools remote", out / "schools_remote.png"),
        _band_plot(
            comparison, "classrooms_remote", "classrooms remote", out / "classrooms_remote.png"
        ),
        _band_plot(comparison, "in_person_students", "students in person", out / "in_person.png"),
    ]
    sc = comparison.scenario
    intro = (
        f"{comparison.agents:,} agents in {comparison.schools} schools; pathogen {sc.pathogen}; "
        f"{len(comparison.seeds)} seeds ({comparison.seeds[0]}..{comparison.seeds[-1]}); "
        f"{sc.days} days from {sc.start}; {comparison.wall_s:.1f} s for "
        f"{len(comparison.results)} runs; beta "
        + ", ".join(f"{b:.5g}" for b in comparison.betas)
        + (
            f" (calibrated to R0 {load_pathogen(sc.pathogen).r0.value:g} on this population "
            f"with nobody immune, by {auto_method(comparison.agents)}; the scenario's "
            "immunity before day 0 applies on top)"
            if sc.beta == "auto"
            else " (given)"
        )
        + "."
    )
    md = [
        "# Simulated comparison: " + ", ".join(ids),
        "",
        intro,
        "",
        "Intervals are the 2.5th and 97.5th percentiles over seeds. All policies ran on the "
        "same seeds with common random numbers, so the paired difference isolates their rules.",
        "",
    ]
    for title, table in tables:
        md += [f"## {title}", "", _markdown(table), ""]
    missing = sorted(
        {
            f"{r.policy_id}: {name}"
            for r in comparison.results.values()
            for name in r.missing_metrics
        }
    )
    if missing:
        md += [
            "## Metrics the simulator does not produce",
            "",
            "Conditions on these metrics are unknown in the simulation (never met):",
            "",
            *(f"- {line}" for line in missing),
            "",
        ]
    md += ["## Plots (mean and 95% band over seeds)", ""]
    md += [f"![{p.stem}]({p.name})" for p in plots]
    md += ["", "## Scenario", "", "```yaml", _yaml(sc), "```", ""]
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
    files["report.md"] = out / "report.md"
    body = [
        f"<h1>Simulated comparison: {html.escape(', '.join(ids))}</h1>",
        f"<p>{html.escape(intro)}</p>",
    ]
    for title, table in tables:
        body += [f"<h2>{html.escape(title)}</h2>", _html_table(table)]
    if missing:
        body.append("<h2>Metrics the simulator does not produce</h2><ul>")
        body += [f"<li>{html.escape(line)}</li>" for line in missing]
        body.append("</ul>")
    body.append("<h2>Plots (mean and 95% band over seeds)</h2>")
    for plot in plots:
        data = base64.b64encode(plot.read_bytes()).decode("ascii")
        body.append(f'<figure><img alt="{plot.stem}" src="data:image/png;base64,{data}"></figure>')
        files[plot.name] = plot
    body.append(f"<h2>Scenario</h2><pre>{html.escape(_yaml(sc))}</pre>")
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>schoolmode simulation</title>"
        "<style>body{font-family:sans-serif;max-width:72rem;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        "img{max-width:100%}</style><body>" + "\n".join(body) + "</body></html>"
    )
    (out / "report.html").write_text(page, encoding="utf-8")
    files["report.html"] = out / "report.html"
    return files


def _yaml(scenario: Scenario) -> str:
    """The scenario as JSON (valid YAML too), every default spelled out."""
    return json.dumps(scenario.model_dump(mode="json"), indent=2)
