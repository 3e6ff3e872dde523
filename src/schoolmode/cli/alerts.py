"""``schoolmode alerts``: webhooks and e-mail addresses told of each change of a school's (or
the district's) mode or status: the face of ``app/alerts.py``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from schoolmode.cli.common import DbOption, app_context, console, fail
from schoolmode.policy.errors import SchoolmodeError

if TYPE_CHECKING:
    from schoolmode.access.roles import Principal

app = typer.Typer(
    help="Alerts by webhook and e-mail when a mode or status changes.", no_args_is_help=True
)


def _operator() -> Principal:
    """The person at this terminal: they hold the store (district operations)."""
    from schoolmode.access.roles import Principal, Role
    from schoolmode.store.db import whoami

    return Principal(whoami(), Role.district_operations)


@app.command("subscribe")
def subscribe(
    webhook: Annotated[str | None, typer.Option(help="An https:// address to POST to.")] = None,
    email: Annotated[str | None, typer.Option(help="An e-mail address.")] = None,
    school: Annotated[
        str | None, typer.Option(help="The school followed (default: the district and all).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Tell a webhook or an e-mail address of each change (a webhook's key is shown once)."""
    from schoolmode.app.alerts import AlertError
    from schoolmode.app.alerts import subscribe as make

    if (webhook is None) == (email is None):
        raise fail(SchoolmodeError("give one of --webhook URL or --email ADDRESS"))
    kind, target = ("webhook", webhook) if webhook is not None else ("email", email)
    assert target is not None
    with app_context(db) as ctx:
        try:
            made = make(ctx, kind, target, school, _operator())
        except AlertError as exc:
            raise fail(exc) from None
    sub = made.subscription
    console.print(f"subscription {sub.id}: {sub.kind} {sub.target}, {sub.school_id or 'district'}")
    if made.secret:
        console.print(f"signing key (shown once; HMAC-SHA256 of each body): {made.secret}")


@app.command("list")
def list_subscriptions(db: DbOption = None) -> None:
    """The subscriptions, active and revoked."""
    from schoolmode.app.alerts import subscriptions

    with app_context(db) as ctx:
        for s in subscriptions(ctx):
            state = f"revoked {s.revoked_at:%Y-%m-%d}" if s.revoked_at else "active"
            console.print(f"{s.id}\t{s.kind}\t{s.target}\t{s.school_id or 'district'}\t{state}")


@app.command("revoke")
def revoke(subscription_id: int, db: DbOption = None) -> None:
    """Stop a subscription (it is kept, with who stopped it and when)."""
    from schoolmode.app.alerts import AlertError
    from schoolmode.app.alerts import revoke as stop

    with app_context(db) as ctx:
        try:
            stop(ctx, subscription_id, _operator())
        except AlertError as exc:
            raise fail(exc) from None
    console.print(f"subscription {subscription_id} revoked")


@app.command("send")
def send(
    since: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Changes from this day.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Deliver every change a subscription has not been told of (run after `decide`)."""
    from schoolmode.app.alerts import deliver

    with app_context(db) as ctx:
        report = deliver(ctx, since.date() if since else None)
    for d in report.deliveries:
        console.print(f"{d.status}\t{d.subscription_id}\t{d.scope} {d.unit}\t{d.date}\t{d.detail}")
    console.print(f"{report.sent} sent, {report.failed} failed")
    if report.failed:
        raise typer.Exit(1)
