"""``schoolmode sim``: simulate policies on the synthetic district or any population of a
population spec file (engine in the loop).

``sim run`` runs one policy over seeds, ``sim compare`` several on the same seeds with paired
differences, ``sim sweep`` a scenario parameter over values on Dask, ``sim validate`` a real
wave against the reported cases. The face of ``schoolmode.app.simulation`` and
``schoolmode.app.sim_validation``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from schoolmode.cli.common import ProgressSteps, app_context, console, stages

app = typer.Typer(
    help="Simulate policies on the synthetic district or a population spec.", no_args_is_help=True
)

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
    typer.Option(help="CPS school profile CSV (default: the data folder's SY2122 profiles)."),
]
PoliciesDir = Annotated[Path | None, typer.Option("--policies-dir", help="Folder of policies.")]
PopulationOpt = Annotated[
    Path | None,
    typer.Option(
        "--population",
        help="Population spec YAML (kind synthetic-district, sociopatterns or file; "
        "docs/simulator.md, 'Population spec') to simulate instead of the synthetic district.",
    ),
]
ContactsOpt = Annotated[
    Path | None,
    typer.Option(
        "--contacts",
        help="One school's face-to-face contact file (SocioPatterns layout: t i j Ci Cj; its "
        "_metadata.txt beside it if any) to simulate instead of the synthetic district.",
    ),
]
LargeOpt = Annotated[
    int | None,
    typer.Option(
        "--large",
        min=1,
        help="A run is a large outbreak when its seeded chain reaches N infections (default: "
        "ten times the initial infections); see final-size.png.",
    ),
]


class SeedState(StrEnum):
    exposed = "exposed"
    infectious = "infectious"
    staged = "staged"


class SeedWeekday(StrEnum):
    mon = "mon"
    tue = "tue"
    wed = "wed"
    thu = "thu"
    fri = "fri"
    sat = "sat"
    sun = "sun"
    random = "random"


SeedStateOpt = Annotated[
    SeedState | None,
    typer.Option(
        "--seed-state",
        help="Initial infections start exposed (latent first), infectious (they transmit on "
        "their day) or staged (over the stages of infection, weighted by the scenario's "
        "seed_history). Default: the scenario's (exposed).",
    ),
]
SeedWeekdayOpt = Annotated[
    SeedWeekday | None,
    typer.Option(
        "--seed-weekday",
        help="Weekday of the initial infections (the first from the start date), or random "
        "(one of the first seven days, per seed). Default: the scenario's (day 0).",
    ),
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", help="Scenario field=value (dotted names, e.g. tracing.delay_days=2)."),
]


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
    contacts: Path | None = None,
    large: int | None = None,
    seeding: tuple[SeedState | None, SeedWeekday | None] = (None, None),
    population: Path | None = None,
) -> None:
    from schoolmode.app.simulation import SimRequest, simulate

    req = SimRequest(
        policy_ids=policy_ids,
        out=out,
        scenario=scenario_path,
        seeds=seeds,
        days=days,
        schools=schools,
        profiles=profiles,
        contacts=contacts,
        population=population,
        read_policy_files=True,
        params=params or [],
        large=large,
        seed_state=seeding[0].value if seeding[0] else None,
        seed_weekday=seeding[1].value if seeding[1] else None,
    )
    runs = ProgressSteps()
    with app_context(policies_dir=policies_dir) as ctx:
        try:
            result = simulate(ctx, req, runs)
        finally:
            runs.stop()
    console.print(
        f"{result.runs} runs in {result.wall_s:.1f} s ({result.wall_s / result.runs:.2f} s per run)"
    )
    console.print("infections: mean over seeds [95% percentile interval]")
    for row in result.infections:
        console.print(f"{row.policy}: infections {row.mean:,.0f} [{row.lo:,.0f}, {row.hi:,.0f}]")
    for ob in result.outbreaks:
        console.print(
            f"{ob.policy}: large outbreaks (at least {ob.large_threshold:,} infections) "
            f"{ob.large_runs} of {ob.runs} runs, probability {ob.p_large:.2f} "
            f"[{ob.lo:.2f}, {ob.hi:.2f}] (Wilson 95%)"
        )
    console.print(f"report: {result.files['report.md']} and {result.files['report.html']}")
    console.print(
        f"per-run rows: {result.files['runs.csv']}; outbreaks: {result.files['outbreaks.csv']}"
    )


@app.command("run")
def run_cmd(
    policy: Annotated[
        str,
        typer.Option(
            help="Policy id, a policy file or folder anywhere (read from there, with the shipped "
            "policies beside it), or `none` for everything open."
        ),
    ],
    scenario: ScenarioOpt = None,
    seeds: SeedsOpt = None,
    days: DaysOpt = None,
    schools: SchoolsOpt = None,
    profiles: ProfilesOpt = None,
    policies_dir: PoliciesDir = None,
    param: ParamOpt = None,
    population: PopulationOpt = None,
    contacts: ContactsOpt = None,
    large: LargeOpt = None,
    seed_state: SeedStateOpt = None,
    seed_weekday: SeedWeekdayOpt = None,
    out: Annotated[Path, typer.Option(help="Folder for the report.")] = Path("out/sim"),
) -> None:
    """Run one policy over seeds; write report.md, report.html, plots, outcomes.csv and the
    per-run rows and outbreak statistics (runs.csv, runs.parquet, outbreaks.csv)."""
    _compare(
        [policy],
        scenario,
        seeds,
        days,
        schools,
        profiles,
        policies_dir,
        param,
        out,
        contacts,
        large,
        (seed_state, seed_weekday),
        population,
    )


@app.command("compare")
def compare_cmd(
    policies: Annotated[
        str,
        typer.Option(
            help="Comma-separated policy ids or policy files or folders (`none`: no policy)."
        ),
    ],
    scenario: ScenarioOpt = None,
    seeds: SeedsOpt = None,
    days: DaysOpt = None,
    schools: SchoolsOpt = None,
    profiles: ProfilesOpt = None,
    policies_dir: PoliciesDir = None,
    param: ParamOpt = None,
    population: PopulationOpt = None,
    contacts: ContactsOpt = None,
    large: LargeOpt = None,
    seed_state: SeedStateOpt = None,
    seed_weekday: SeedWeekdayOpt = None,
    out: Annotated[Path, typer.Option(help="Folder for the report.")] = Path("out/sim-compare"),
) -> None:
    """Run policies on the same seeds; report means, 95% intervals and paired differences,
    per-run rows and outbreak statistics."""
    ids = [p.strip() for p in policies.split(",") if p.strip()]
    _compare(
        ids,
        scenario,
        seeds,
        days,
        schools,
        profiles,
        policies_dir,
        param,
        out,
        contacts,
        large,
        (seed_state, seed_weekday),
        population,
    )


@app.command("sweep")
def sweep_cmd(
    policies: Annotated[
        str,
        typer.Option(
            help="Comma-separated policy ids or policy files or folders (`none`: no policy)."
        ),
    ],
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
    population: PopulationOpt = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Address of a running Dask scheduler (default: start a LocalCluster)."),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="LocalCluster worker processes (0: run serially here).")
    ] = 2,
    large: LargeOpt = None,
    out: Annotated[
        Path,
        typer.Option(help="Folder for sweep.csv, summary.csv, runs.csv, outbreaks.csv, report."),
    ] = Path("out/sim-sweep"),
) -> None:
    """Every value x policy x seed as one Dask task; write per-seed rows, a summary, a report
    (report.md, report.html, sweep.png) and the outbreak rows and statistics (runs.csv,
    runs.parquet, outbreaks.csv)."""
    from schoolmode.app.simulation import SimSweepRequest
    from schoolmode.app.simulation import sweep as run

    req = SimSweepRequest(
        policy_ids=[p.strip() for p in policies.split(",") if p.strip()],
        param=param,
        out=out,
        scenario=scenario,
        seeds=seeds,
        days=days,
        schools=schools,
        profiles=profiles,
        population=population,
        read_policy_files=True,
        scheduler=scheduler,
        workers=workers,
        large=large,
    )
    with (
        app_context(policies_dir=policies_dir) as ctx,
        stages(f"sweeping {param.split('=')[0]}: every value x policy x seed"),
    ):
        result = run(ctx, req)
    console.print(
        "infections: mean over seeds [95% percentile interval]; A - B is the paired difference "
        "on the same seeds (below 0: A has fewer)"
    )
    for row in result.infections:
        console.print(
            f"{result.name}={row.value} {row.policy}: infections {row.mean:,.0f} "
            f"[{row.lo:,.0f}, {row.hi:,.0f}]"
        )
    console.print(
        f"rows: {result.rows_csv}; summary: {result.summary_csv}; report: {result.report_md}"
    )


class WaveName(StrEnum):
    omicron_2022 = "omicron-2022"
    delta_2021 = "delta-2021"


@app.command("validate")
def validate_cmd(
    wave: Annotated[
        WaveName,
        typer.Option(
            help="omicron-2022: the January 2022 agreement from 11 January 2022 against CDPH's "
            "cases; delta-2021: the fall 2021 term from 30 August 2021 against CPS's school "
            "case reports."
        ),
    ],
    seeds: Annotated[int, typer.Option(min=1, help="Seeds.")] = 5,
    schools: SchoolsOpt = None,
    param: ParamOpt = None,
    fit_weeks: Annotated[
        int,
        typer.Option(
            min=0,
            help="Fit beta (0.25 to 2 times the beta from R0) and the ascertainments of the "
            "cumulative cases (prior infections) and the recent ones (initial infections, "
            "importation) so that the simulated reported "
            "cases of the first N weeks come nearest the real ones (the later weeks out of "
            "sample); 0: nothing fitted. Writes fit.json.",
        ),
    ] = 0,
    from_fit: Annotated[
        Path | None,
        typer.Option(
            help="A fit.json of a fitted run (e.g. of the other wave): its beta factor times "
            "this wave's beta from R0 and its ascertainments; every week out of sample.",
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the report.")] = Path("out/sim-validate"),
) -> None:
    """Simulate a real wave with immunity, importation and initial infections from the data
    and compare its reported cases with the real ones by week; write validation.md,
    validation.html, validation.csv and the plot."""
    from schoolmode.app.sim_validation import ValidateRequest, validate

    req = ValidateRequest(
        wave=wave.value,
        out=out,
        seeds=seeds,
        schools=schools,
        params=param or [],
        fit_weeks=fit_weeks,
        from_fit=from_fit,
    )
    runs = ProgressSteps()
    with app_context() as ctx:
        try:
            result = validate(ctx, req, runs)
        finally:
            runs.stop()
    if result.fitted is not None:
        console.print(
            f"fitted to the first {result.fitted.weeks} week(s): beta {result.fitted.beta:.4g} "
            f"({result.fitted.beta / result.fitted.start_beta:.3g} times the beta from R0)"
            + (" at the edge of the range searched" if result.fitted.edge else "")
            + f", ascertainment {result.fitted.ascertainment:g} of the recent cases"
            + (" (at the edge of those tried)" if result.fitted.ascertainment_edge else "")
            + f" and {result.fitted.immunity_ascertainment:g} of the cumulative cases"
            + (" (at the edge of those tried)" if result.fitted.immunity_edge else "")
            + f" (root mean square log ratio by week {result.fitted.error:.2f})"
        )
    if result.from_fit is not None:
        console.print(
            f"from the fit to {result.from_fit.wave}: beta {result.from_fit.factor:.3g} times "
            f"the beta from R0, ascertainment {result.from_fit.ascertainment:g} of the recent "
            f"cases and {result.from_fit.immunity_ascertainment:g} of the cumulative cases"
        )
    console.print(
        f"{result.runs} runs in {result.wall_s:.1f} s; beta {result.beta:.4g}; "
        f"{result.initial_infections:,} initial infections; cases per 100,000 by week: real, "
        "simulated mean [95%]"
    )
    for w in result.weeks:
        console.print(
            f"week from {w.week}: real {w.observed:,.1f}, simulated {w.mean:,.1f} "
            f"[{w.lo:,.1f}, {w.hi:,.1f}]"
        )
    console.print(f"where the infections came from (means over seeds): {result.origins}")
    console.print(f"report: {result.files['validation.md']} and {result.files['validation.html']}")
