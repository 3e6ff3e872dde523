"""``schoolmode trace CASE_ID``, ``schoolmode quarantine list`` and ``schoolmode outbreak``."""

from __future__ import annotations

from typing import Annotated

import polars as pl
import typer

from schoolmode.cli.common import DbOption, PoliciesDir, console
from schoolmode.cli.decisions import _day, _fail, _store
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
    from schoolmode.operations.tracing import CPS_QUARANTINE, trace_stored_case
    from schoolmode.operations.tracing_store import trace_and_record
    from schoolmode.policy.loader import Registry

    local = CPS_QUARANTINE if district_rule else ()
    recorded = None
    with _store(db) as engine:
        registry = Registry(policies_dir)
        if store:
            # an untraceable case is refused before anything is written: check first
            trace_stored_case(engine, case_id, registry, local)
            result, recorded = trace_and_record(engine, registry, [case_id], local)
        else:
            result = trace_stored_case(engine, case_id, registry, local)
    console.print(f"case {case_id}: {result.contacts.height} close contact(s)")
    for r in result.contacts.iter_rows(named=True):
        console.print(
            f"contact {r['person_id']} ({r['setting']} {r['classroom_id'] or ''}): "
            f"last exposure {r['last_exposure']}, {r['attendance']}, rule {r['rule']}"
        )
    for r in result.orders.iter_rows(named=True):
        console.print(f"order {r['kind']} {r['person_id']}: {r['start_date']} to {r['end_date']}")
    if recorded is not None:
        console.print(recorded.summary())


@quarantine_app.command("list")
def quarantine_list(
    school: Annotated[str, typer.Option("--school", help="School id.")],
    date: Annotated[str, typer.Option("--date", help="Day (YYYY-MM-DD).")],
    db: DbOption = None,
) -> None:
    """Quarantine and isolation orders in force on a day at a school (imported and traced,
    overlapping orders of a person merged)."""
    from schoolmode.operations.tracing_store import quarantine_list as active_orders

    with _store(db) as engine:
        orders = active_orders(engine, school, _day(date, "--date"))
    console.print(f"{school} on {date}: {orders.height} active order(s)")
    for r in orders.iter_rows(named=True):
        console.print(
            f"{r['kind']} {r['person_id']}: {r['start_date']} to {r['end_date']} (case {r['case_id']})"
        )


@outbreak_app.command("list")
def outbreak_list(
    db: DbOption = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Classrooms and days where the stored cases meet the outbreak definition, with the
    health department's recorded decision."""
    from schoolmode.operations.tracing_store import stored_outbreaks
    from schoolmode.policy.loader import Registry

    with _store(db) as engine:
        found = stored_outbreaks(engine, Registry(policies_dir)).filter(pl.col("meets_definition"))
    console.print(f"{found.height} classroom-day(s) meet the outbreak definition")
    for r in found.iter_rows(named=True):
        decision = {
            None: "awaiting the health department",
            True: "confirmed",
            False: "not confirmed",
        }
        console.print(
            f"{r['classroom_id']} {r['date']}: {r['cases_in_window']} case(s) of "
            f"{r['group_size']}, {decision[r['lhd_confirmed']]}"
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
    from schoolmode.operations.tracing_store import confirm_outbreak
    from schoolmode.policy.loader import Registry

    try:
        day = _day(date, "--date")
        decided = _day(decided_on, "--decided-on") if decided_on else day
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    with _store(db) as engine:
        new_id = confirm_outbreak(
            engine, Registry(policies_dir), classroom, day, confirmed, by, decided, note
        )
    answer = "confirmed" if confirmed else "not confirmed"
    console.print(f"recorded #{new_id}: outbreak in {classroom} on {day} {answer} by {by}")


def register(app: typer.Typer) -> None:
    app.command("trace")(trace)
    app.add_typer(quarantine_app, name="quarantine")
    app.add_typer(outbreak_app, name="outbreak")
