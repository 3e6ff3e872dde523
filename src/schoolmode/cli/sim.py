"""``schoolmode sim``: simulate policies on the synthetic district (engine in the loop).

``sim run`` runs one policy over seeds, ``sim compare`` several on the same seeds with paired
differences, ``sim sweep`` a scenario parameter over values on Dask.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from schoolmode.cli.common import policies_root
from schoolmode.policy.errors import SchoolmodeError

if TYPE_CHECKING:
    from schoolmode.sim.scenario import Scenario

console = Console(highlight=False)
if not console.is_terminal:
    console = Console(highlight=False, width=180)

app = typer.Typer(help="Simulate policies on the synthetic district.", no_args_is_help=True)

ScenarioOpt = Annotated[
    Path | None, typer.Option("--scenario", help="Scenario YAML (default: every default).")
]
SeedsOpt = Annotated[int | None, typer.Option(help="Seeds (default: the scenario's).")]
DaysOpt = Annotated[int | None, typer.Option(help="Days simulated (default: the scenario's).")]
SchoolsOpt = Annotated[
    int | None, typer.Option(help="Only the first N schools by id (default: the whole district).")
]
ProfilesOpt = Annotated[
    Path | None,
    typer.Option(help="CPS school profile CSV (default: the shared data's SY2122 profiles)."),
]
PoliciesDir = Annotated[Path | None, typer.Option("--policies-dir", help="Folder of policies.")]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", help="Scenario field=value (dotted names, e.g. tracing.delay_days=2)."),
]


def _scenario(
    path: Path | None, seeds: int | None, days: int | None, params: list[str] | None
) -> Scenario:
    from schoolmode.sim.scenario import load_scenario

    scenario = load_scenario(path)
    updates: dict[str, object] = {}
    if seeds is not None:
        updates["seeds"] = seeds
    if days is not None:
        updates["days"] = days
    if updates:
        scenario = scenario.model_validate({**scenario.model_dump(), **updates})
    for item in params or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise SchoolmodeError(f"--param {item!r}: expected name=value")
        scenario = scenario.with_param(name.strip(), value.strip())
    return scenario


def _compare(
    policy_ids: list[str],
    scenario_path: Path | None,
    seeds: int | None,
    days: int | None,
    schools: int | None,
    profiles: Path | None,
    policies_dir: Path | None,
    params: list[str] | None,
    out: Path,
) -> None:
    from schoolmode.policy.loader import Registry
    from schoolmode.settings import AppSettings
    from schoolmode.sim.compare import (
        NO_POLICY,
        compare,
        load_population,
        school_attributes,
    )
    from schoolmode.sim.report import write_report

    try:
        scenario = _scenario(scenario_path, seeds, days, params)
        registry = Registry(policies_root(policies_dir))
        for pid in policy_ids:
            if pid != NO_POLICY:
                registry.get(pid)
        source = str(profiles) if profiles else None
        settings = AppSettings.load()
        data = str(settings.data_dir)
        population = load_population(source, schools, data)
        attributes = school_attributes(population, source, schools, data)
        total = scenario.seeds * len(policy_ids)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(
                f"{population.network.n:,} agents, {len(population.school_ids)} schools",
                total=total,
            )
            result = compare(
                population,
                scenario,
                policy_ids,
                registry,
                progress=lambda pid, seed: progress.update(task, advance=1),
                attributes=attributes,
                beta_cache=settings.cache_dir,
            )
        files = write_report(result, out)
    except (SchoolmodeError, LookupError, ValueError, OSError) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(code=2) from None
    summary = result.summary()
    console.print(
        f"{len(result.results)} runs in {result.wall_s:.1f} s "
        f"({result.wall_s / len(result.results):.2f} s per run)"
    )
    for pid in policy_ids:
        row = summary.filter((summary["policy"] == pid) & (summary["outcome"] == "infections"))
        mean, lo, hi = row["mean"][0], row["lo"][0], row["hi"][0]
        console.print(f"{pid}: infections {mean:,.0f} [{lo:,.0f}, {hi:,.0f}]")
    console.print(f"report: {files['report.md']} and {files['report.html']}")


@app.command("run")
def run_cmd(
    policy: Annotated[str, typer.Option(help="Policy id, or `none` for everything open.")],
    scenario: ScenarioOpt = None,
    seeds: SeedsOpt = None,
    days: DaysOpt = None,
    schools: SchoolsOpt = None,
    profiles: ProfilesOpt = None,
    policies_dir: PoliciesDir = None,
    param: ParamOpt = None,
    out: Annotated[Path, typer.Option(help="Folder for the report.")] = Path("out/sim"),
) -> None:
    """Run one policy over seeds; write report.md, report.html, plots and outcomes.csv."""
    _compare([policy], scenario, seeds, days, schools, profiles, policies_dir, param, out)


@app.command("compare")
def compare_cmd(
    policies: Annotated[str, typer.Option(help="Comma-separated policy ids (`none`: no policy).")],
    scenario: ScenarioOpt = None,
    seeds: SeedsOpt = None,
    days: DaysOpt = None,
    schools: SchoolsOpt = None,
    profiles: ProfilesOpt = None,
    policies_dir: PoliciesDir = None,
    param: ParamOpt = None,
    out: Annotated[Path, typer.Option(help="Folder for the report.")] = Path("out/sim-compare"),
) -> None:
    """Run policies on the same seeds; report means, 95% intervals and paired differences."""
    ids = [p.strip() for p in policies.split(",") if p.strip()]
    _compare(ids, scenario, seeds, days, schools, profiles, policies_dir, param, out)


@app.command("sweep")
def sweep_cmd(
    policies: Annotated[str, typer.Option(help="Comma-separated policy ids (`none`: no policy).")],
    param: Annotated[
        str,
        typer.Option(
            "--param",
            help="name=v1,v2,...: a scenario field (dotted, e.g. tracing.delay_days) or "
            "policy.NAME, a policy parameter or interpretation.",
        ),
    ],
    scenario: ScenarioOpt = None,
    seeds: SeedsOpt = None,
    days: DaysOpt = None,
    schools: SchoolsOpt = None,
    profiles: ProfilesOpt = None,
    policies_dir: PoliciesDir = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Address of a running Dask scheduler (default: start a LocalCluster)."),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="LocalCluster worker processes (0: run serially here).")
    ] = 2,
    out: Annotated[Path, typer.Option(help="Folder for sweep.csv and summary.csv.")] = Path(
        "out/sim-sweep"
    ),
) -> None:
    """Every value x policy x seed as one Dask task; write per-seed rows and a summary."""
    from schoolmode.parallel import dask_client
    from schoolmode.settings import AppSettings
    from schoolmode.sim.sweep import run_sweep, sweep_summary

    try:
        sc = _scenario(scenario, seeds, days, None)
        name, sep, values = param.partition("=")
        if not sep:
            raise SchoolmodeError(f"--param {param!r}: expected name=v1,v2,...")
        listed = [v.strip() for v in values.split(",") if v.strip()]
        if not name.strip().startswith("policy."):
            for v in listed:
                sc.with_param(name.strip(), v)  # check before starting workers
        ids = [p.strip() for p in policies.split(",") if p.strip()]
        seed_list = list(range(sc.first_seed, sc.first_seed + sc.seeds))
        settings = AppSettings.load(policies_dir=policies_dir)
        kwargs = {
            "profiles": str(profiles) if profiles else None,
            "schools": schools,
            "policy_root": str(settings.policies_dir) if settings.policies_dir else None,
            "data_dir": str(settings.data_dir),
            "beta_cache": str(settings.cache_dir),
        }
        if workers == 0 and not scheduler:
            rows = run_sweep(sc, ids, seed_list, name.strip(), listed, **kwargs)  # type: ignore[arg-type]
        else:
            with dask_client(workers, scheduler) as client:
                rows = run_sweep(sc, ids, seed_list, name.strip(), listed, client=client, **kwargs)  # type: ignore[arg-type]
        out.mkdir(parents=True, exist_ok=True)
        rows.write_csv(out / "sweep.csv")
        summary = sweep_summary(rows)
        summary.write_csv(out / "summary.csv")
    except (SchoolmodeError, LookupError, ValueError, OSError) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(code=2) from None
    table = summary.filter(summary["outcome"] == "infections")
    for row in table.iter_rows(named=True):
        console.print(
            f"{name}={row['value']} {row['policy']}: infections {row['mean']:,.0f} "
            f"[{row['lo']:,.0f}, {row['hi']:,.0f}]"
        )
    console.print(f"rows: {out / 'sweep.csv'}; summary: {out / 'summary.csv'}")
