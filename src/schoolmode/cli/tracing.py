"""``schoolmode trace CASE_ID``, ``schoolmode quarantine list`` and ``schoolmode outbreak``: the
face of ``app/tracing.py`` (parse, call the use case, render)."""

from __future__ import annotations

from typing import Annotated

import typer

from schoolmode.cli.common import DbOption, PoliciesDir, app_context, console, fail, parse_day
from schoolmode.policy.errors import SchoolmodeError

quarantine_app = typer.Typer(help="Quarantine and isolation orders.", no_args_is_help=True)
outbreak_app = typer.Typer(
    help="School outbreaks (IDPH/CSTE) and the health department's decisions.",
    no_args_is_help=True,
)


def trace(
    case_id: str,
    db: DbOption = None,
    policies_dir: PoliciesDir = None,
    store: Annotated[
        bool,
        typer.Option(
            "--store/--no-store",
            help="Record the contacts and orders in the store (idempotent; audited by rule and "
            "policy hash).",
        ),
    ] = True,
    district_rule: Annotated[
        bool,
        typer.Option(
            "--cps/--guidance",
            help="Quarantine by CPS's own rule where it has one (default), or by the CDC/ISBE "
            "guidance only.",
        ),
    ] = True,
) -> None:
    """Close contacts and quarantine/isolation orders for one stored case."""
    from schoolmode.app.tracing import TraceRequest
    from schoolmode.app.tracing import trace as trace_case

    req = TraceRequest(case_id=case_id, store=store, district_rule=district_rule)
    with app_context(db, policies_dir) as ctx:
        result = trace_case(ctx, req)
    console.print(f"case {case_id}: {len(result.contacts)} close contact(s)")
    for c in result.contacts:
        console.print(
            f"contact {c.person_id} ({c.setting} {c.classroom_id or ''}): "
            f"last exposure {c.last_exposure}, {c.attendance}, rule {c.rule}"
        )
    for o in result.orders:
        console.print(f"order {o.kind} {o.person_id}: {o.start_date} to {o.end_date}")
    if result.recorded is not None:
        console.print(result.recorded.summary())


@quarantine_app.command("list")
def quarantine_list(
    school: Annotated[str, typer.Option("--school", help="School id.")],
    date: Annotated[str, typer.Option("--date", help="Day (YYYY-MM-DD).")],
    db: DbOption = None,
) -> None:
    """Quarantine and isolation orders in force on a day at a school (imported and traced,
    overlapping orders of a person merged)."""
    from schoolmode.app.tracing import QuarantineListRequest, quarantine_list

    with app_context(db) as ctx:
        req = QuarantineListRequest(school_id=school, day=parse_day(date, "--date"))
        orders = quarantine_list(ctx, req).orders
    console.print(f"{school} on {date}: {len(orders)} active order(s)")
    for o in orders:
        console.print(f"{o.kind} {o.person_id}: {o.start_date} to {o.end_date} (case {o.case_id})")


@outbreak_app.command("list")
def outbreak_list(
    db: DbOption = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Classrooms and days where the stored cases meet the outbreak definition, with the
    health department's recorded decision."""
    from schoolmode.app.tracing import outbreak_list as stored_outbreaks

    with app_context(db, policies_dir) as ctx:
        found = stored_outbreaks(ctx).outbreaks
    console.print(f"{len(found)} classroom-day(s) meet the outbreak definition")
    decision = {None: "awaiting the health department", True: "confirmed", False: "not confirmed"}
    for r in found:
        console.print(
            f"{r.classroom_id} {r.date}: {r.cases_in_window} case(s) of "
            f"{r.group_size}, {decision[r.lhd_confirmed]}"
        )


@outbreak_app.command("confirm")
def outbreak_confirm(
    classroom: Annotated[str, typer.Option("--classroom", help="Core group (homeroom id).")],
    date: Annotated[str, typer.Option("--date", help="Day the outbreak was detected.")],
    by: Annotated[str, typer.Option("--by", help="The local health department that decided.")],
    decided_on: Annotated[
        str | None, typer.Option("--decided-on", help="Day of the decision (default: --date).")
    ] = None,
    confirmed: Annotated[
        bool,
        typer.Option("--confirmed/--not-confirmed", help="The health department's answer."),
    ] = True,
    note: Annotated[str | None, typer.Option("--note", help="Reference or remark.")] = None,
    db: DbOption = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Record the local health department's decision on a detected outbreak (append-only)."""
    from schoolmode.app.tracing import ConfirmOutbreakRequest, confirm_outbreak

    try:
        day = parse_day(date, "--date")
        decided = parse_day(decided_on, "--decided-on") if decided_on else day
    except SchoolmodeError as exc:
        raise fail(exc) from None
    req = ConfirmOutbreakRequest(
        classroom_id=classroom,
        detected_on=day,
        confirmed=confirmed,
        decided_by=by,
        decided_on=decided,
        note=note,
    )
    with app_context(db, policies_dir) as ctx:
        new_id = confirm_outbreak(ctx, req).decision_id
    answer = "confirmed" if confirmed else "not confirmed"
    console.print(f"recorded #{new_id}: outbreak in {classroom} on {day} {answer} by {by}")


def register(app: typer.Typer) -> None:
    app.command("trace")(trace)
    app.add_typer(quarantine_app, name="quarantine")
    app.add_typer(outbreak_app, name="outbreak")
