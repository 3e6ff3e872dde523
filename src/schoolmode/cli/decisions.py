"""``schoolmode decide``, ``authorise``, ``explain``, ``audit reproduce`` and ``decisions list``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from schoolmode.cli.common import policies_root, store_url
from schoolmode.policy.errors import SchoolmodeError

if TYPE_CHECKING:
    from sqlalchemy import Engine

console = Console(highlight=False)
if not console.is_terminal:
    console = Console(highlight=False, width=180)

DbOption = Annotated[
    str | None, typer.Option("--db", help="Store URL (default: sqlite:///schoolmode.sqlite).")
]
PoliciesDir = Annotated[Path | None, typer.Option("--policies-dir", help="Folder of policies.")]
audit_app = typer.Typer(
    help="Audit records: reproduce a stored decision run.", no_args_is_help=True
)
decisions_app = typer.Typer(help="Stored decision runs.", no_args_is_help=True)


def _day(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SchoolmodeError(f"{option} {text!r} is not a date written YYYY-MM-DD") from None


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(code=2)


@contextmanager
def _store(db: str | None) -> Iterator[Engine]:
    """The store for one command: disposed afterwards; a ``SchoolmodeError`` inside is the
    command's error (printed, exit code 2)."""
    from schoolmode.store.db import make_engine

    engine = make_engine(store_url(db))
    try:
        yield engine
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    finally:
        engine.dispose()


def decide(
    date: Annotated[str, typer.Option("--date", help="Day to decide (YYYY-MM-DD).")],
    to: Annotated[
        str | None, typer.Option("--to", help="Decide every day up to this one too.")
    ] = None,
    policy: Annotated[
        str | None, typer.Option("--policy", help="Policy id (default: the agreement in force).")
    ] = None,
    db: DbOption = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Decide the mode of every classroom, school and the district, and store it with its audit record."""
    from schoolmode.decisions.record import decide as run_decide
    from schoolmode.decisions.record import policy_in_force
    from schoolmode.policy.loader import Registry
    from schoolmode.store.db import make_engine

    try:
        first = _day(date, "--date")
        last = _day(to, "--to") if to else first
        registry = Registry(policies_root(policies_dir))
        loaded = registry.get(policy) if policy else policy_in_force(registry, first)
        summary = run_decide(make_engine(store_url(db)), loaded, first, last)
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    console.print(
        f"run {summary.run_id}: {summary.decisions} decisions under {summary.policy_id} for "
        f"{summary.first}{'' if summary.last == summary.first else f' to {summary.last}'}; "
        f"{summary.not_default} not in the default mode"
    )
    if summary.missing_metrics:
        console.print(
            "metrics missing from the store (rules that read them could not be met): "
            + ", ".join(summary.missing_metrics)
        )


def authorise(
    policy: Annotated[str, typer.Option("--policy", help="Policy id.")],
    rule: Annotated[str, typer.Option("--rule", help="The eligible rule acted on.")],
    unit: Annotated[str, typer.Option("--unit", help="School (or classroom) id.")],
    date: Annotated[str, typer.Option("--date", help="First day of the decided mode.")],
    by: Annotated[
        str, typer.Option("--by", help="The body that decided, e.g. 'CPS Tactical Team'.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    db: DbOption = None,
    policies_dir: PoliciesDir = None,
) -> None:
    """Record a named body's decision on an eligible rule (append-only)."""
    from schoolmode.decisions.record import authorise as record
    from schoolmode.policy.loader import Registry
    from schoolmode.store.db import make_engine

    try:
        key = record(
            make_engine(store_url(db)),
            Registry(policies_root(policies_dir)).get(policy),
            rule,
            unit,
            _day(date, "--date"),
            by,
            reason,
        )
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    console.print(f"authorisation {key} recorded: {by} acts on {rule} for {unit} from {date}")


def explain(
    date: Annotated[str, typer.Option("--date", help="Day (YYYY-MM-DD).")],
    school: Annotated[str | None, typer.Option("--school", help="School id.")] = None,
    classroom: Annotated[str | None, typer.Option("--classroom", help="Classroom id.")] = None,
    district: Annotated[
        str | None, typer.Option("--district", help="District id (e.g. chicago).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Why is my school (classroom, district) in this mode? From the stored decision."""
    from schoolmode.decisions.record import stored_explanation
    from schoolmode.store.db import make_engine

    chosen = [
        (s, u)
        for s, u in (("school", school), ("classroom", classroom), ("district", district))
        if u
    ]
    try:
        if len(chosen) != 1:
            raise SchoolmodeError("name exactly one of --school, --classroom or --district")
        scope, unit = chosen[0]
        run_id, text = stored_explanation(
            make_engine(store_url(db)), scope, unit, _day(date, "--date")
        )
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    console.print(text, markup=False)
    console.print(
        f"\n(decision run {run_id}; `schoolmode audit reproduce {run_id}` recomputes it)",
        markup=False,
    )


@audit_app.command("reproduce")
def reproduce(run_id: int, db: DbOption = None, policies_dir: PoliciesDir = None) -> None:
    """Recompute a stored run; print "identical" or exactly what differs."""
    from schoolmode.decisions.audit import reproduce as run_reproduce
    from schoolmode.policy.loader import Registry
    from schoolmode.store.db import make_engine

    try:
        report = run_reproduce(
            make_engine(store_url(db)), run_id, Registry(policies_root(policies_dir))
        )
    except SchoolmodeError as exc:
        raise _fail(exc) from None
    console.print(report.render(), markup=False)
    if not report.identical:
        raise typer.Exit(code=1)


@decisions_app.command("list")
def list_runs(db: DbOption = None) -> None:
    """The stored decision runs."""
    from sqlalchemy import func, select

    from schoolmode.store.db import make_engine
    from schoolmode.store.tables import decision, decision_run

    engine = make_engine(store_url(db))
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                decision_run.c.id,
                decision_run.c.policy_id,
                decision_run.c.first_date,
                decision_run.c.last_date,
                decision_run.c.created_at,
                decision_run.c.created_by,
                func.count(decision.c.id),
            )
            .join(decision, decision.c.run_id == decision_run.c.id, isouter=True)
            .group_by(decision_run.c.id)
            .order_by(decision_run.c.id)
        ).all()
    for r in rows:
        console.print(
            f"run {r[0]}: {r[1]} {r[2]}..{r[3]}, {r[6]} decisions, by {r[5]} at {r[4]:%Y-%m-%d %H:%M}"
        )


def register(app: typer.Typer) -> None:
    app.command("decide")(decide)
    app.command("authorise")(authorise)
    app.command("explain")(explain)
    app.add_typer(audit_app, name="audit")
    app.add_typer(decisions_app, name="decisions")
