"""``schoolmode vaccination schedule`` and ``schoolmode accommodations ...``."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich.table import Table

from schoolmode.cli.common import DbOption, PoliciesDir, console
from schoolmode.cli.decisions import _day, _fail, _store
from schoolmode.policy.errors import SchoolmodeError

if TYPE_CHECKING:
    from schoolmode.policy.loader import LoadedPolicy
    from schoolmode.policy.values import Value

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


def _settings(pairs: list[str] | None) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SchoolmodeError(f"--set {pair!r}: write NAME=VALUE")
        out[name.strip()] = value.strip()
    return out


def _policy(policy: str | None, day: dt.date, policies_dir: Path | None) -> LoadedPolicy:
    from schoolmode.decisions.record import policy_in_force
    from schoolmode.policy.loader import Registry

    registry = Registry(policies_dir)
    return registry.get(policy) if policy else policy_in_force(registry, day)


def _by(by: str | None) -> str:
    from schoolmode.store.db import whoami

    return by or whoami()


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


def _sites(specs: list[str] | None) -> pl.DataFrame | None:
    if not specs:
        return None
    rows = []
    for spec in specs:
        name, sep, cap = spec.rpartition("=")
        try:
            capacity = int(cap)
        except ValueError:
            capacity = -1
        if not sep or not name or capacity < 0:
            raise SchoolmodeError(
                f"--site {spec!r}: write NAME=CAPACITY with a whole number of appointments a day"
            )
        rows.append({"site_id": name, "daily_capacity": capacity})
    return pl.DataFrame(rows, schema={"site_id": pl.String, "daily_capacity": pl.Int64})


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
    from schoolmode.operations import vaccination as v
    from schoolmode.store.db import make_engine

    try:
        first = _day(start, "--from")
        try:
            growth = Decimal(supply_increase)
        except InvalidOperation:
            raise SchoolmodeError(
                f"--city-supply-increase-pct {supply_increase!r} is not a number"
            ) from None
        loaded = _policy(policy, first, policies_dir)
        chosen = _settings(settings)
        rules = v.vaccination_rules(loaded.policy, first, growth, chosen)
        sites = _sites(site)
        capacity = (
            None if sites is None else v.site_days(sites, first, 7 * weeks, tuple(range(open_days)))
        )
        engine = make_engine(db)
        try:
            roster_day = _day(roster, "--roster-date") if roster else first
            staff, records = v.staff_from_store(engine, roster_day)
            if hardest_hit_zip:
                zips, how = tuple(sorted(set(hardest_hit_zip))), "given (--hardest-hit-zip)"
            elif rules.by_hardest_hit_zip:
                derived = v.hardest_hit_from_store(engine, loaded.policy, first, chosen)
                zips, how = derived.codes(), derived.source
            else:
                zips, how = (), ""
        finally:
            engine.dispose()
        if staff.height == 0:
            raise SchoolmodeError(f"no staff with an assignment on {roster_day} in the store")
        if zips:
            rules = replace(
                rules, hardest_hit_zips=zips, sources={**rules.sources, "hardest_hit_zips": how}
            )
        result = v.schedule(staff, rules, first, weeks, capacity, records)
        groups = v.projection(result)
        run_id = None
        if record:
            engine = make_engine(db)
            try:
                run_id = v.record_schedule(engine, result, sites, staff.height, _by(by))
            finally:
                engine.dispose()
    except (SchoolmodeError, OSError) as exc:
        raise _fail(exc) from None
    if appointments:
        result.appointments.write_csv(appointments)
    if as_json:
        rules_out: dict[str, Any] = {
            k: list(val) if isinstance(val, tuple) else str(val)
            for k, val in vars(rules).items()
            if k != "return_dates"
        }
        typer.echo(
            json.dumps(
                {
                    "policy": loaded.id,
                    "from": first.isoformat(),
                    "weeks": weeks,
                    "rules": rules_out,
                    "return_dates": {g: d.isoformat() for g, d in rules.return_dates.items()},
                    "staff": staff.height,
                    "appointments": result.appointments.height,
                    "run_id": run_id,
                    "weekly": _json(result.weekly),
                    "projection": _json(groups),
                },
                indent=2,
            )
        )
        return
    console.print(
        f"[bold]{loaded.id}[/]: {rules.first_doses_per_week} first doses a week, second doses "
        f"{rules.dose_interval_days} days later and before first doses; priority: "
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
        f"{staff.height:,} staff, {result.appointments.height:,} appointments over {weeks} "
        f"week(s) from {first}"
        + ("" if sites is None else f" at {sites.height} site(s)")
        + ("" if run_id is None else f"; recorded as schedule run {run_id}")
    )
    busy = result.weekly.filter((pl.col("first_doses") > 0) | (pl.col("second_doses") > 0))
    last_busy = int(busy["week"].max()) if busy.height else -1  # type: ignore[arg-type]
    console.print(_table("Doses per week", result.weekly.filter(pl.col("week") <= last_busy)))
    if last_busy < weeks - 1:
        console.print(f"weeks {last_busy + 1} to {weeks - 1}: no doses left to give")
    console.print(
        _table(
            "Opportunity to be fully vaccinated, by phase-in group "
            f"(condition of return checked on: {rules.condition_scope})",
            groups,
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


def _show(frame: pl.DataFrame, role: str, title: str, as_json: bool) -> None:
    from schoolmode.operations.accommodations import role_view

    view = role_view(frame, role)
    if as_json:
        typer.echo(json.dumps({"role": role, "rows": _json(view)}, indent=2, default=str))
    else:
        console.print(_table(f"{title} ({role} view)", view))


@accommodations_app.command("import")
def accommodations_import(path: Path, db: DbOption = None, by: ByOption = None) -> None:
    """Import accommodation requests (CSV: request_id, person_id, basis, requested_date,
    status[, decided_date]). The file replaces the stored list; decisions are kept."""
    from schoolmode.cli.common import app_context
    from schoolmode.cli.data import run_imports
    from schoolmode.importers.staff import AccommodationRequests

    with app_context(db) as ctx:
        run_imports(ctx, [(AccommodationRequests(), path)], by)


@accommodations_app.command("review")
def accommodations_review(
    on: Annotated[str, typer.Option("--on", help="Day of the review (policy in force).")],
    seed: Annotated[int, typer.Option("--seed", help="Lottery seed, drawn in the open.")],
    policy: PolicyOption = None,
    role: RoleOption = "district-hr",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the selection without recording it.")
    ] = False,
    settings: SetOption = None,
    by: ByOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Decide every pending request: by right, by a seeded lottery over a quota, or denied
    where the policy makes no provision; record the decisions with their reasons."""
    from schoolmode.operations import accommodations as acc
    from schoolmode.store.db import make_engine

    try:
        if role not in acc.ROLES:
            raise SchoolmodeError(f"--role must be one of {', '.join(acc.ROLES)}, not {role!r}")
        day = _day(on, "--on")
        loaded = _policy(policy, day, policies_dir)
        chosen = _settings(settings)
        engine = make_engine(db)
        try:
            pending = acc.pending_requests(engine)
            selection = acc.select(
                pending, loaded.policy, day, seed, acc.prior_decisions(engine), chosen
            )
            review_id = (
                None
                if dry_run
                else acc.record_review(engine, selection, loaded.policy, day, _by(by), chosen)
            )
            shown = (
                acc.current_decisions(engine).filter(
                    pl.col("request_id").is_in(selection.decisions["request_id"].implode())
                )
                if review_id is not None
                else selection.decisions
            )
        finally:
            engine.dispose()
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    head = (
        f"review {review_id}" if review_id is not None else "dry run (nothing recorded)"
    ) + f" under {loaded.id} on {day}, seed {seed}: {selection.decisions.height} decided"
    if selection.left_pending.height:
        head += f", {selection.left_pending.height} left pending (basis not a known kind)"
    if not as_json:
        console.print(head)
        if role != "public":
            for pool in selection.pools:
                label = pool["kind"] if role == "district-hr" else "a pool"
                console.print(
                    f"  {label}: {pool['rule']}, {pool['pending']} pending, "
                    f"{pool.get('places', 0)} place(s)"
                    + (f", share {pool['share_pct']}%" if role == "district-hr" else "")
                )
    _show(shown, role, "Decisions", as_json)


@accommodations_app.command("show")
def accommodations_show(
    role: RoleOption = "district-hr", as_json: JsonOption = False, db: DbOption = None
) -> None:
    """The current decision on every request, as ``--role`` may see it."""
    from schoolmode.operations.accommodations import current_decisions

    with _store(db) as engine:
        _show(current_decisions(engine), role, "Current decisions", as_json)


@accommodations_app.command("appeal")
def accommodations_appeal(
    decision: Annotated[int, typer.Argument(help="Decision id appealed.")],
    grounds: Annotated[str, typer.Option("--grounds", help="Grounds of the appeal.")],
    on: Annotated[str, typer.Option("--on", help="Day the appeal was filed.")],
    by: ByOption = None,
    db: DbOption = None,
) -> None:
    """File an appeal against a decision (a new record; the decision stays)."""
    from schoolmode.operations.accommodations import record_appeal

    with _store(db) as engine:
        appeal_id = record_appeal(engine, decision, _day(on, "--on"), grounds, _by(by))
    console.print(f"appeal {appeal_id} against decision {decision} recorded")


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
    from schoolmode.operations.accommodations import record_appeal_outcome

    with _store(db) as engine:
        new = record_appeal_outcome(engine, appeal, outcome, reason, _day(on, "--on"), _by(by))
    console.print(f"appeal {appeal}: {outcome} (decision {new})")


@accommodations_app.command("history")
def accommodations_history(
    request: Annotated[str, typer.Argument(help="Request id.")],
    role: RoleOption = "district-hr",
    db: DbOption = None,
) -> None:
    """Every decision and appeal on one request, oldest first (district HR only: it shows
    the basis and the reasons)."""
    from schoolmode.operations.accommodations import history
    from schoolmode.store.db import make_engine

    if role != "district-hr":
        raise _fail(SchoolmodeError("the history of a request is shown to district-hr only"))
    engine = make_engine(db)
    try:
        events = history(engine, request)
    finally:
        engine.dispose()
    if not events:
        raise _fail(SchoolmodeError(f"no decision on request {request!r}"))
    for e in events:
        if e["event"] == "decision":
            console.print(
                f"{e['recorded_at']:%Y-%m-%d %H:%M} decision {e['id']}: {e['outcome']} "
                f"({e['rule']}) by {e['recorded_by']}: {e['reason']}"
            )
        else:
            console.print(
                f"{e['recorded_at']:%Y-%m-%d %H:%M} appeal {e['id']} against decision "
                f"{e['decision_id']} filed {e['filed_on']} by {e['recorded_by']}: {e['grounds']}"
            )
