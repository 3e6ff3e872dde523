"""``schoolmode trace CASE_ID`` and ``schoolmode quarantine list``."""

from __future__ import annotations

from typing import Annotated

import typer

from schoolmode.cli.decisions import DbOption, PoliciesDir, _day, _fail, console
from schoolmode.policy.errors import SchoolmodeError

quarantine_app = typer.Typer(help="Quarantine and isolation orders.", no_args_is_help=True)


def trace(case_id: str, db: DbOption = None, policies_dir: PoliciesDir = None) -> None:
    """Close contacts and quarantine/isolation orders for one stored case."""
    from schoolmode.operations.tracing import trace_stored_case
    from schoolmode.policy.loader import Registry
    from schoolmode.store.db import make_engine

    engine = make_engine(db)
    try:
        result = trace_stored_case(engine, case_id, Registry(policies_dir))
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    finally:
        engine.dispose()
    console.print(f"case {case_id}: {result.contacts.height} close contact(s)")
    for r in result.contacts.iter_rows(named=True):
        console.print(
            f"contact {r['person_id']} ({r['setting']} {r['classroom_id'] or ''}): "
            f"last exposure {r['last_exposure']}, {r['attendance']}, rule {r['rule']}"
        )
    for r in result.orders.iter_rows(named=True):
        console.print(f"order {r['kind']} {r['person_id']}: {r['start_date']} to {r['end_date']}")


@quarantine_app.command("list")
def quarantine_list(
    school: Annotated[str, typer.Option("--school", help="School id.")],
    date: Annotated[str, typer.Option("--date", help="Day (YYYY-MM-DD).")],
    db: DbOption = None,
) -> None:
    """Stored quarantine and isolation orders active on a day at a school."""
    from schoolmode.operations.tracing import quarantine_list as active_orders
    from schoolmode.store.db import make_engine

    engine = make_engine(db)
    try:
        orders = active_orders(engine, school, _day(date, "--date"))
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    finally:
        engine.dispose()
    console.print(f"{school} on {date}: {orders.height} active order(s)")
    for r in orders.iter_rows(named=True):
        console.print(
            f"{r['kind']} {r['person_id']}: {r['start_date']} to {r['end_date']} (case {r['case_id']})"
        )


def register(app: typer.Typer) -> None:
    app.command("trace")(trace)
    app.add_typer(quarantine_app, name="quarantine")
