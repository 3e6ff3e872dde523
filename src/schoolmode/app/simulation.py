"""Use cases of the simulator: run policies on the same seeds of the synthetic district (one
policy, or several compared with paired differences) and sweep a parameter over values."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schoolmode.app.context import Context
from schoolmode.app.errors import as_use_case_errors
from schoolmode.app.progress import Silent, Steps
from schoolmode.parallel import dask_client
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.loader import Registry, is_policy_path, registry_with_files
from schoolmode.reports.export import write_csv
from schoolmode.sim.compare import NO_POLICY, compare, load_population, school_attributes
from schoolmode.sim.immunity_data import with_data_immunity
from schoolmode.sim.network import Population, from_sociopatterns
from schoolmode.sim.outbreaks import RUN_FIELDS
from schoolmode.sim.outcomes import OUTCOMES
from schoolmode.sim.population_spec import load_population_spec
from schoolmode.sim.report import write_report as write_sim_report
from schoolmode.sim.scenario import Scenario, load_scenario
from schoolmode.sim.sweep import run_sweep, sweep_outbreaks, sweep_runs, sweep_summary
from schoolmode.sim.sweep_report import write_sweep_report

_ERRORS = (LookupError, ValueError, OSError)
_OUTBREAK_ONLY = [c for c in RUN_FIELDS if c not in OUTCOMES]
"""Outbreak columns of a sweep's rows kept out of sweep.csv (they are in runs.csv)."""


def policies_of(
    ctx: Context, names: list[str], read_files: bool = False
) -> tuple[Registry, list[str], list[str]]:
    """The registry of the run, the policy ids and the policy files among ``names``. With
    ``read_files`` (the command line only), a name that is a YAML file or a folder is read from
    there; the others, and every name without it, are ids of the context's registry
    (``--policies-dir`` or the shipped policies)."""
    files = [n for n in names if read_files and n != NO_POLICY and is_policy_path(n)]
    registry = registry_with_files(files, ctx.registry, ctx.settings.cache_dir)
    ids = [registry.id_of(Path(n)) if n in files else n for n in names]
    for pid in ids:
        if pid != NO_POLICY:
            registry.get(pid)
    return registry, ids, files


def _population(
    ctx: Context,
    spec: Path | None,
    contacts: Path | None,
    schools: int | None,
    profiles: Path | None,
) -> tuple[Population, dict[str, list[str]]]:
    """The population of a run: a spec file, one school's contact file, or the synthetic
    district (of ``profiles``, its first ``schools``)."""
    data = str(ctx.settings.data_dir)
    if spec is not None:
        given = [
            o
            for o, v in (("--contacts", contacts), ("--schools", schools), ("--profiles", profiles))
            if v is not None
        ]
        if given:
            raise SchoolmodeError(
                f"--population {spec} says which population to simulate: drop {', '.join(given)} "
                "(the spec's kind synthetic-district has profiles and schools)"
            )
        loaded = load_population_spec(str(spec.resolve()), data)
        return loaded.population, loaded.attributes
    if contacts is not None:
        return from_sociopatterns(contacts), {}
    source = str(profiles) if profiles else None
    population = load_population(source, schools, data)
    return population, school_attributes(population, source, schools, data)


def _scenario(
    path: Path | None,
    seeds: int | None,
    days: int | None,
    params: list[str],
    large: int | None = None,
    seeding: tuple[str | None, str | None] = (None, None),
) -> Scenario:
    scenario = load_scenario(path)
    updates: dict[str, object] = {}
    for name, value in zip(("seed_state", "seed_weekday"), seeding, strict=True):
        if value is not None:
            updates[name] = value
    if seeds is not None:
        updates["seeds"] = seeds
    if days is not None:
        updates["days"] = days
    if large is not None:
        updates["large_outbreak"] = large
    if updates:
        scenario = scenario.model_validate({**scenario.model_dump(), **updates})
    for item in params:
        name, sep, value = item.partition("=")
        if not sep:
            raise SchoolmodeError(f"--param {item!r}: expected name=value")
        scenario = scenario.with_param(name.strip(), value.strip())
    return with_data_immunity(scenario)


class SimRequest(BaseModel):
    """Simulate ``policy_ids`` (``none``: no policy; a YAML file or folder: the policy there)
    on the same seeds of the district or of ``population``."""

    model_config = ConfigDict(frozen=True)

    policy_ids: list[str]
    out: Path
    """Folder for the report."""
    scenario: Path | None = None
    """Scenario YAML (default: every default)."""
    seeds: int | None = None
    days: int | None = None
    schools: int | None = None
    """Only the first N schools by id (default: the whole district)."""
    profiles: Path | None = None
    """CPS school profile CSV (default: the data folder's)."""
    population: Path | None = None
    """A population spec file (``sim/population_spec.py``; docs/simulator.md, "Population
    spec"): simulate that population instead of the synthetic district."""
    read_policy_files: bool = False
    """Whether a policy named as a YAML file or folder is read from the file system (the
    command line; never a job of the API, whose policy ids name registry policies only)."""
    contacts: Path | None = None
    """A school's face-to-face contact file (SocioPatterns layout, ``t i j Ci Cj``, its
    ``_metadata.txt`` beside it if any): simulate that one school instead of the synthetic
    district (``network.from_sociopatterns``)."""
    params: list[str] = []
    """Scenario ``field=value`` settings (dotted names), applied in order."""
    large: int | None = Field(None, ge=1)
    """Large-outbreak threshold (the scenario's ``large_outbreak``; default ten times the
    initial infections)."""
    seed_state: Literal["exposed", "infectious", "staged"] | None = None
    """The scenario's ``seed_state`` (None: the scenario's)."""
    seed_weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "random"] | None = None
    """The scenario's ``seed_weekday`` (None: the scenario's)."""


class PolicyInfections(BaseModel):
    model_config = ConfigDict(frozen=True)

    policy: str
    mean: float
    lo: float
    hi: float
    """The 95% interval."""


class PolicyOutbreaks(BaseModel):
    model_config = ConfigDict(frozen=True)

    policy: str
    large_threshold: int
    large_runs: int
    runs: int
    p_large: float
    lo: float
    hi: float
    """The Wilson 95% interval."""


class SimResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    runs: int
    wall_s: float
    infections: list[PolicyInfections]
    """Per policy, in the order asked."""
    files: dict[str, Path]
    """The report's files (``report.md``, ``report.html``, plots, ``outcomes.csv``,
    ``runs.csv``, ``runs.parquet``, ``outbreaks.csv``, ``final-size.png``)."""
    outbreaks: list[PolicyOutbreaks] = []
    """Per policy, in the order asked."""


def simulate(ctx: Context, req: SimRequest, steps: Steps | None = None) -> SimResult:
    """Run each policy over the seeds; write the report (means, intervals, paired
    differences)."""
    tell = steps or Silent()
    with as_use_case_errors(*_ERRORS):
        scenario = _scenario(
            req.scenario,
            req.seeds,
            req.days,
            req.params,
            req.large,
            (req.seed_state, req.seed_weekday),
        )
        tell.start("building the population and its contacts", 1)
        registry, policy_ids, _ = policies_of(ctx, req.policy_ids, req.read_policy_files)
        population, attributes = _population(
            ctx, req.population, req.contacts, req.schools, req.profiles
        )
        if scenario.initial_infections > population.network.n:
            raise SchoolmodeError(
                f"initial_infections {scenario.initial_infections} is more than the "
                f"{population.network.n} people of the population: set a smaller one "
                "(--param initial_infections=N or the scenario file)"
            )
        tell.start(
            f"{population.network.n:,} agents, {len(population.school_ids)} schools",
            scenario.seeds * len(policy_ids),
        )
        result = compare(
            population,
            scenario,
            policy_ids,
            registry,
            progress=lambda pid, seed: tell.advance(),
            attributes=attributes,
            beta_cache=ctx.settings.cache_dir,
            param_names=[item.partition("=")[0].strip() for item in req.params],
        )
        files = write_sim_report(result, req.out)
    summary = result.summary()
    rows = []
    for pid in policy_ids:
        row = summary.filter((summary["policy"] == pid) & (summary["outcome"] == "infections"))
        rows.append(
            PolicyInfections(policy=pid, mean=row["mean"][0], lo=row["lo"][0], hi=row["hi"][0])
        )
    outbreaks = [
        PolicyOutbreaks(
            policy=r["policy"],
            large_threshold=r["large_threshold"],
            large_runs=r["large_runs"],
            runs=r["runs"],
            p_large=r["p_large"],
            lo=r["p_large_lo"],
            hi=r["p_large_hi"],
        )
        for r in result.outbreaks().iter_rows(named=True)
    ]
    return SimResult(
        runs=len(result.results),
        wall_s=result.wall_s,
        infections=rows,
        files=files,
        outbreaks=outbreaks,
    )


class SimSweepRequest(BaseModel):
    """Every value x policy x seed as one task (on Dask unless ``workers`` is 0 and no
    ``scheduler``)."""

    model_config = ConfigDict(frozen=True)

    policy_ids: list[str]
    param: str
    """``name=v1,v2,...``: a scenario field (dotted) or ``policy.NAME``, a policy parameter or
    interpretation."""
    out: Path
    scenario: Path | None = None
    seeds: int | None = None
    days: int | None = None
    schools: int | None = None
    profiles: Path | None = None
    population: Path | None = None
    """A population spec file (as ``SimRequest.population``)."""
    read_policy_files: bool = False
    """As ``SimRequest.read_policy_files``."""
    scheduler: str | None = None
    workers: int = 2
    large: int | None = Field(None, ge=1)
    """Large-outbreak threshold (the scenario's ``large_outbreak``)."""


class SweepInfections(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: str
    policy: str
    """A policy id, or ``A - B`` for a paired difference."""
    mean: float
    lo: float
    hi: float


class SimSweepResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    """The swept name, as given."""
    infections: list[SweepInfections]
    rows_csv: Path
    """Per-seed rows (``sweep.csv``; the outbreak outcomes in ``runs.csv``, ``runs.parquet``
    and their summary in ``outbreaks.csv`` beside it)."""
    summary_csv: Path
    report_md: Path
    """The page that explains them (report.md, with report.html and sweep.png beside it)."""


def _sweep_values(ctx: Context, req: SimSweepRequest, sc: Scenario) -> tuple[str, list[str]]:
    name, sep, values = req.param.partition("=")
    if not sep:
        raise SchoolmodeError(f"--param {req.param!r}: expected name=v1,v2,...")
    listed = [v.strip() for v in values.split(",") if v.strip()]
    if not name.strip().startswith("policy."):
        for v in listed:
            sc.with_param(name.strip(), v)  # check before starting workers
    return name, listed


def sweep(ctx: Context, req: SimSweepRequest) -> SimSweepResult:
    """Run the sweep; write per-seed rows (sweep.csv), the summary (summary.csv: mean, 95%
    interval per value, policy and outcome) and the page that explains them (report.md,
    report.html, sweep.png)."""
    with as_use_case_errors(*_ERRORS):
        sc = _scenario(req.scenario, req.seeds, req.days, [], req.large)
        name, listed = _sweep_values(ctx, req, sc)
        seed_list = list(range(sc.first_seed, sc.first_seed + sc.seeds))
        policies_dir = ctx.settings.policies_dir
        _, policy_ids, files = policies_of(ctx, req.policy_ids, req.read_policy_files)
        spec = None
        if req.population is not None:
            population, _ = _population(ctx, req.population, None, req.schools, req.profiles)
            if sc.initial_infections > population.network.n:
                raise SchoolmodeError(
                    f"initial_infections {sc.initial_infections} is more than the "
                    f"{population.network.n} people of the population"
                )
            spec = str(req.population.resolve())
        args = (sc, policy_ids, seed_list, name.strip(), listed)
        kwargs = {
            "profiles": str(req.profiles) if req.profiles else None,
            "schools": req.schools,
            "population": spec,
            "policy_files": tuple(str(Path(f).resolve()) for f in files),
            "policy_root": str(policies_dir) if policies_dir else None,
            "data_dir": str(ctx.settings.data_dir),
            "beta_cache": str(ctx.settings.cache_dir),
        }
        if req.workers == 0 and not req.scheduler:
            rows = run_sweep(*args, **kwargs)  # type: ignore[arg-type]
        else:
            with dask_client(req.workers, req.scheduler) as client:
                rows = run_sweep(*args, client=client, **kwargs)  # type: ignore[arg-type]
        req.out.mkdir(parents=True, exist_ok=True)
        write_csv(rows.drop(*_OUTBREAK_ONLY), req.out / "sweep.csv")
        runs = sweep_runs(rows)
        write_csv(runs, req.out / "runs.csv")
        runs.write_parquet(req.out / "runs.parquet")
        write_csv(sweep_outbreaks(rows, sc), req.out / "outbreaks.csv")
        summary = sweep_summary(rows)
        write_csv(summary, req.out / "summary.csv")
        report = write_sweep_report(name.strip(), rows, summary, sc, req.out)
    table = summary.filter(summary["outcome"] == "infections")
    return SimSweepResult(
        name=name,
        infections=[
            SweepInfections(
                value=str(r["value"]), policy=r["policy"], mean=r["mean"], lo=r["lo"], hi=r["hi"]
            )
            for r in table.iter_rows(named=True)
        ],
        rows_csv=req.out / "sweep.csv",
        summary_csv=req.out / "summary.csv",
        report_md=report["report.md"],
    )
