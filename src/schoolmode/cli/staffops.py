"""``schoolmode vaccination schedule`` and ``schoolmode accommodations ...``."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from schoolmode.cli.common import (
    DbOption,
    PoliciesDir,
    RemovalsOption,
    app_context,
    console,
    fail,
    parse_day,
)
from schoolmode.policy.errors import SchoolmodeError

if TYPE_CHECKING:
    import polars as pl

    from schoolmode.app.accommodations import ReviewResult
    from schoolmode.app.vaccination import ScheduleResult, Site

vaccination_app = typer.Typer(help="Staff vaccination scheduling.", no_args_is_help=True)
accommodations_app = typer.Typer(
    help="Staff accommodation requests: review, appeals, imports.", no_args_is_help=True
)

PolicyOption = Annotated[
    str | None,
    typer.Option("--policy", help="Policy id (default: the agreement in force on the day)."),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="NAME=VALUE: an interpretation or parameter setting (repeatable)."),
]
ByOption = Annotated[str | None, typer.Option("--by", help="Who records it (default: login).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _settings(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SchoolmodeError(f"--set {pair!r}: write NAME=VALUE")
        out[name.strip()] = value.strip()
    return out


def _table(title: str, frame: pl.DataFrame) -> Table:
    table = Table(title=title, title_justify="left")
    for col in frame.columns:
        table.add_column(col, justify="right" if frame[col].dtype.is_numeric() else "left")
    for row in frame.iter_rows():
        table.add_row(*("" if v is None else str(v) for v in row))
    return table


def _json(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.write_json())  # type: ignore[no-any-return]


# ---------------------------------------------------------------------- vaccination


def _sites(specs: list[str] | None) -> tuple[Site, ...]:
    from schoolmode.app.vaccination import Site

    sites = []
    for spec in specs or []:
        name, sep, cap = spec.rpartition("=")
        try:
            capacity = int(cap)
        except ValueError:
            capacity = -1
        if not sep or not name or capacity < 0:
            raise SchoolmodeError(
                f"--site {spec!r}: write NAME=CAPACITY with a whole number of appointments a day"
            )
        sites.append(Site(site_id=name, daily_capacity=capacity))
    return tuple(sites)


def _growth(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise SchoolmodeError(f"--city-supply-increase-pct {text!r} is not a number") from None


@vaccination_app.command("schedule")
def vaccination_schedule(
    start: Annotated[str, typer.Option("--from", help="First day of the schedule (YYYY-MM-DD).")],
    weeks: Annotated[int, typer.Option("--weeks", help="Weeks to schedule.", min=1)] = 12,
    policy: PolicyOption = None,
    site: Annotated[
        list[str] | None,
        typer.Option(
            "--site", help="NAME=CAPACITY: a site and its appointments a day (repeatable)."
        ),
    ] = None,
    open_days: Annotated[
        int,
        typer.Option(
            "--open-days", help="Sites open Monday to this many days a week.", min=1, max=7
        ),
    ] = 5,
    hardest_hit_zip: Annotated[
        list[str] | None,
        typer.Option(
            "--hardest-hit-zip",
            help="A hardest-hit ZIP code (repeatable). Default, where the policy gives the "
            "priority: the policy's count of ZIP codes with the most weekly cases in the store.",
        ),
    ] = None,
    roster: Annotated[
        str | None,
        typer.Option("--roster-date", help="Day whose staff assignments to use (default --from)."),
    ] = None,
    supply_increase: Annotated[
        str, typer.Option("--city-supply-increase-pct", help="Growth of the city's supply, %.")
    ] = "0",
    settings: SetOption = None,
    appointments: Annotated[
        Path | None, typer.Option("--appointments", help="Write the appointments to this CSV.")
    ] = None,
    record: Annotated[
        bool, typer.Option("--record", help="Store the schedule and its appointments.")
    ] = False,
    by: ByOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Plan staff first and second doses by the policy's priorities and weekly doses, per site
    and day, and project when each phase-in group has had the opportunity to be fully vaccinated."""
    from schoolmode.app import vaccination as use

    try:
        req = use.ScheduleRequest(
            start=parse_day(start, "--from"),
            weeks=weeks,
            policy_id=policy,
            sites=_sites(site),
            open_days=open_days,
            hardest_hit_zips=tuple(hardest_hit_zip or ()),
            roster_date=parse_day(roster, "--roster-date") if roster else None,
            city_supply_increase_pct=_growth(supply_increase),
            settings=_settings(settings),
            record=record,
            by=by,
        )
    except SchoolmodeError as exc:
        raise fail(exc) from None
    try:
        with app_context(db, policies_dir) as ctx:
            result = use.schedule(ctx, req)
    except OSError as exc:
        raise fail(exc) from None
    if appointments:
        from schoolmode.reports.export import write_csv

        write_csv(result.appointments, appointments)
    if as_json:
        typer.echo(json.dumps(_schedule_json(result), indent=2))
    else:
        _print_schedule(result)


def _schedule_json(result: ScheduleResult) -> dict[str, Any]:
    rules = result.rules
    rules_out: dict[str, Any] = {
        k: list(val) if isinstance(val, tuple) else str(val)
        for k, val in vars(rules).items()
        if k != "return_dates"
    }
    return {
        "policy": result.policy_id,
        "from": result.start.isoformat(),
        "weeks": result.weeks,
        "rules": rules_out,
        "return_dates": {g: d.isoformat() for g, d in rules.return_dates.items()},
        "staff": result.staff,
        "appointments": result.appointments.height,
        "run_id": result.run_id,
        "weekly": _json(result.weekly),
        "projection": _json(result.projection),
    }


def _print_schedule(result: ScheduleResult) -> None:
    rules, weeks = result.rules, result.weeks
    console.print(
        f"[bold]{result.policy_id}[/]: {rules.first_doses_per_week} first doses a week, second "
        f"doses {rules.dose_interval_days} days later and before first doses; priority: "
        + ", ".join(
            name
            for name, on in (
                ("household high-risk without accommodation", rules.by_household_unaccommodated),
                ("return date", rules.by_return),
                (f"risk (own, or age >= {rules.high_risk_age_years})", rules.by_risk),
                ("hardest-hit ZIP", rules.by_hardest_hit_zip),
            )
            if on
        )
        + "; ties by a hash of the person id"
    )
    if rules.by_hardest_hit_zip:
        console.print(
            f"hardest-hit ZIP codes, {rules.sources.get('hardest_hit_zips', 'none')}: "
            + (", ".join(rules.hardest_hit_zips) or "none")
        )
    console.print(
        f"{result.staff:,} staff, {result.appointments.height:,} appointments over {weeks} "
        f"week(s) from {result.start}"
        + ("" if result.sites is None else f" at {result.sites} site(s)")
        + ("" if result.run_id is None else f"; recorded as schedule run {result.run_id}")
    )
    import polars as pl

    weekly = result.weekly
    busy = weekly.filter((pl.col("first_doses") > 0) | (pl.col("second_doses") > 0))
    last_busy = int(busy["week"].max()) if busy.height else -1  # type: ignore[arg-type]
    console.print(_table("Doses per week", weekly.filter(pl.col("week") <= last_busy)))
    if last_busy < weeks - 1:
        console.print(f"weeks {last_busy + 1} to {weeks - 1}: no doses left to give")
    console.print(
        _table(
            "Opportunity to be fully vaccinated, by phase-in group "
            f"(condition of return checked on: {rules.condition_scope})",
            result.projection,
        )
    )


def register(app: typer.Typer) -> None:
    app.add_typer(vaccination_app, name="vaccination")
    app.add_typer(accommodations_app, name="accommodations")


# ---------------------------------------------------------------------- accommodations

RoleOption = Annotated[
    str,
    typer.Option(
        "--role", help="Whose view: district-hr (all), union (no medical basis), public (counts)."
    ),
]


def _show(view: pl.DataFrame, role: str, title: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"role": role, "rows": _json(view)}, indent=2, default=str))
    else:
        console.print(_table(f"{title} ({role} view)", view))


class _ImportBar:
    """The import's transient progress bar."""

    def __init__(self, label: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.bar.add_task("write", total=None)

    def __call__(self, _stage: str, done: int, total: int) -> None:
        self.bar.update(self.task, completed=done, total=total)


def _waiting(message: str) -> None:
    """Another import or review holds the lock: say so on stderr."""
    typer.echo(message, err=True)


@accommodations_app.command("import")
def accommodations_import(
    path: Path,
    db: DbOption = None,
    by: ByOption = None,
    allow_removals: RemovalsOption = False,
) -> None:
    """Import accommodation requests (CSV: request_id, person_id, basis, requested_date,
    status[, decided_date]). The file replaces the stored list; decisions are kept."""
    from schoolmode.app import accommodations as use

    with app_context(db) as ctx:
        progress = _ImportBar(f"accommodation-requests {path.name}")
        try:
            with progress.bar:
                request = use.ImportRequest(path=path, by=by, allow_removals=allow_removals)
                result = use.import_requests(ctx, request, progress, _waiting)
        except use.RequestsNotImported as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
    typer.echo(result.summary)


@accommodations_app.command("commit")
def accommodations_commit(
    on: Annotated[str, typer.Option("--on", help="Day of the review (policy in force).")],
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="A seed drawn in the open (default: drawn securely here)."),
    ] = None,
    policy: PolicyOption = None,
    settings: SetOption = None,
    by: ByOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Commit the lottery seed of a review before anything is ranked: record its sha256 (with
    a secret nonce), the quota rule and the eligible pool. Prints the seed and nonce once:
    keep them, `accommodations review` reveals them."""
    from schoolmode.app import accommodations as use

    with app_context(db, policies_dir) as ctx:
        req = use.CommitRequest(
            on=parse_day(on, "--on"),
            seed=seed,
            policy_id=policy,
            settings=_settings(settings),
            by=by,
        )
        done = use.commit(ctx, req, _waiting)
    if as_json:
        typer.echo(done.model_dump_json(indent=2))
        return
    console.print(
        f"commitment {done.commitment_id} under {done.policy_id} on {done.on}: "
        f"sha256 {done.commitment_sha256}, {done.eligible} request(s) in the pool"
    )
    _print_pools(done.pools, "district-hr")
    console.print(f"reveal at the review (shown once): --seed {done.seed} --nonce {done.nonce}")


@accommodations_app.command("review")
def accommodations_review(
    on: Annotated[str, typer.Option("--on", help="Day of the review (its commitment's day).")],
    seed: Annotated[
        int | None, typer.Option("--seed", help="The committed seed (not for --dry-run).")
    ] = None,
    nonce: Annotated[
        str | None, typer.Option("--nonce", help="The commitment's nonce (not for --dry-run).")
    ] = None,
    policy: Annotated[
        str | None, typer.Option("--policy", help="For --dry-run: the policy (default: in force).")
    ] = None,
    role: RoleOption = "district-hr",
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show the eligible pool and its places: no draw, no seed."),
    ] = False,
    settings: SetOption = None,
    by: ByOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Decide every pending request by revealing the day's commitment (`accommodations
    commit`): by right, by the committed lottery over a quota, or denied where the policy makes
    no provision; record the decisions with their reasons and the seed. Refused unless the seed
    and nonce match the commitment and the pending requests are the pool committed."""
    from schoolmode.app import accommodations as use

    day = parse_day(on, "--on")
    with app_context(db, policies_dir) as ctx:
        if dry_run:
            request = use.CommitRequest(on=day, policy_id=policy, settings=_settings(settings))
            shown = use.preview(ctx, request)
        elif seed is None or nonce is None:
            raise typer.BadParameter("a review reveals its commitment: give --seed and --nonce")
        else:
            req = use.ReviewRequest(on=day, seed=seed, nonce=nonce, role=role, by=by)
            result = use.review(ctx, req, _waiting)
    if dry_run:
        if as_json:
            typer.echo(shown.model_dump_json(indent=2))
            return
        console.print(
            f"dry run (nothing drawn, nothing recorded) under {shown.policy_id} on {shown.on}: "
            f"{shown.eligible} request(s) in the pool, {shown.left_pending} left pending"
        )
        _print_pools(shown.pools, role)
        return
    if not as_json:
        _print_review(result)
    _show(result.rows, role, "Decisions", as_json)


def _print_pools(pools: list[dict[str, Any]], role: str) -> None:
    if role != "district-hr":
        return  # a pool's rule, size and places say which kind (medical basis) it is
    for pool in pools:
        console.print(
            f"  {pool['kind']}: {pool['rule']}, {pool['pending']} pending, "
            f"{pool.get('places', 0)} place(s)" + _share(pool)
        )


def _share(pool: dict[str, Any]) -> str:
    share = pool.get("share_pct")
    return ", the policy grants none of this kind" if share is None else f", share {share}%"


def _print_review(result: ReviewResult) -> None:
    head = (
        f"review {result.review_id} under {result.policy_id} on {result.on}, revealing "
        f"commitment {result.commitment_id} (seed {result.seed}): "
        + (
            "the counts below (small counts suppressed)"
            if result.role == "public"
            else f"{result.decided} decided"
        )
    )
    if result.left_pending and result.role != "public":
        head += f", {result.left_pending} left pending (basis not a known kind)"
    console.print(head)
    _print_pools(result.pools, result.role)


@accommodations_app.command("verify")
def accommodations_verify(as_json: JsonOption = False, db: DbOption = None) -> None:
    """Check every lottery against its commitment: the revealed seed hashes to it, the review
    came after it and decided the pool committed, every ticket follows from the seed. Exits 1
    on a problem."""
    from schoolmode.app import accommodations as use

    with app_context(db) as ctx:
        audit = use.verify_lotteries(ctx)
    if as_json:
        typer.echo(audit.model_dump_json(indent=2))
    else:
        console.print(
            f"{audit.commitments} commitment(s), {len(audit.revealed)} revealed, "
            f"unrevealed: {audit.unrevealed or 'none'}, reviews without a commitment: "
            f"{audit.reviews_without_commitment or 'none'}"
        )
        for problem in audit.problems:
            console.print(f"  problem: {problem}")
        console.print("every lottery matches its commitment" if audit.ok else "lottery problems")
    if not audit.ok:
        raise typer.Exit(1)


@accommodations_app.command("show")
def accommodations_show(
    role: RoleOption = "district-hr", as_json: JsonOption = False, db: DbOption = None
) -> None:
    """The current decision on every request, as ``--role`` may see it."""
    from schoolmode.app import accommodations as use

    with app_context(db) as ctx:
        result = use.show(ctx, use.ShowRequest(role=role))
    _show(result.rows, role, "Current decisions", as_json)


@accommodations_app.command("appeal")
def accommodations_appeal(
    decision: Annotated[int, typer.Argument(help="Decision id appealed.")],
    grounds: Annotated[str, typer.Option("--grounds", help="Grounds of the appeal.")],
    on: Annotated[str, typer.Option("--on", help="Day the appeal was filed.")],
    by: ByOption = None,
    db: DbOption = None,
) -> None:
    """File an appeal against a decision (a new record; the decision stays)."""
    from schoolmode.app import accommodations as use

    with app_context(db) as ctx:
        req = use.AppealRequest(
            decision_id=decision, grounds=grounds, filed_on=parse_day(on, "--on"), by=by
        )
        filed = use.appeal(ctx, req, _waiting)
    console.print(f"appeal {filed.appeal_id} against decision {filed.decision_id} recorded")


@accommodations_app.command("appeal-outcome")
def accommodations_appeal_outcome(
    appeal: Annotated[int, typer.Argument(help="Appeal id.")],
    outcome: Annotated[str, typer.Option("--outcome", help="granted or denied.")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    on: Annotated[str, typer.Option("--on", help="Day of the outcome.")],
    by: ByOption = None,
    db: DbOption = None,
) -> None:
    """Record an appeal's outcome: a new decision that supersedes the one appealed."""
    from schoolmode.app import accommodations as use

    with app_context(db) as ctx:
        req = use.AppealOutcomeRequest(
            appeal_id=appeal, outcome=outcome, reason=reason, on=parse_day(on, "--on"), by=by
        )
        decided = use.appeal_outcome(ctx, req, _waiting)
    console.print(f"appeal {decided.appeal_id}: {decided.outcome} (decision {decided.decision_id})")


@accommodations_app.command("history")
def accommodations_history(
    request: Annotated[str, typer.Argument(help="Request id.")],
    role: RoleOption = "district-hr",
    db: DbOption = None,
) -> None:
    """Every decision and appeal on one request, oldest first (district HR only: it shows
    the basis and the reasons)."""
    from schoolmode.app import accommodations as use

    with app_context(db) as ctx:
        events = use.history(ctx, use.HistoryRequest(request_id=request, role=role))
    for e in events:
        if e.event == "decision":
            console.print(
                f"{e.recorded_at:%Y-%m-%d %H:%M} decision {e.id}: {e.outcome} "
                f"({e.rule}) by {e.recorded_by}: {e.reason}"
            )
        else:
            console.print(
                f"{e.recorded_at:%Y-%m-%d %H:%M} appeal {e.id} against decision "
                f"{e.decision_id} filed {e.filed_on} by {e.recorded_by}: {e.grounds}"
            )
