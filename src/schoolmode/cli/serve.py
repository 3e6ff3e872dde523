"""``schoolmode serve`` (the HTTP API) and ``schoolmode users`` / ``schoolmode tokens`` (its
accounts): the face of ``api/`` and ``app/access.py``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from schoolmode.cli.common import DbOption, PoliciesDir, app_context, console, fail
from schoolmode.policy.errors import SchoolmodeError, StoreError

if TYPE_CHECKING:
    from schoolmode.access.roles import Principal

users_app = typer.Typer(help="Accounts of the HTTP API (roles and scopes).", no_args_is_help=True)
tokens_app = typer.Typer(help="Bearer tokens of the HTTP API's accounts.", no_args_is_help=True)


def serve(
    db: DbOption = None,
    policies_dir: PoliciesDir = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    request_log: Annotated[
        bool,
        typer.Option(
            help="Print a line per request (the reverse proxy usually logs them; the access "
            "log of personal data and writes is in the store either way)."
        ),
    ] = False,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Address of the Dask scheduler the jobs run on (default: a LocalCluster "
            "started with the first job)."
        ),
    ] = None,
) -> None:
    """Serve the dashboard (/) and the HTTP API (/openapi.json) on the store until stopped."""
    import uvicorn

    from schoolmode.app.data import init_store, schema_is_current, schema_is_empty
    from schoolmode.app.jobs import mark_interrupted

    if scheduler is not None:  # read by the settings here and in every worker process
        os.environ["SCHOOLMODE_JOBS_SCHEDULER"] = scheduler
    # the settings validated and the store checked now: it must exist (an empty database is
    # given its tables)
    with app_context(db, policies_dir, store="existing") as ctx:
        if schema_is_empty(ctx):
            console.print(f"a new store: tables created at {init_store(ctx).revision}")
        elif not schema_is_current(ctx):
            raise fail(
                StoreError(
                    f"{ctx.engine.url.render_as_string(hide_password=True)} is at an older "
                    "schema: run `schoolmode db upgrade` first (after a backup)"
                )
            )
        interrupted = mark_interrupted(ctx)  # a job left running by the last server is lost
        if interrupted:
            console.print(f"{interrupted} jobs of the last server marked failed (interrupted)")
        settings = ctx.settings
        ctx.registry  # noqa: B018 (a policy file that does not validate fails here, not later)
    # the workers build the app from the environment: pass the validated settings on
    os.environ["SCHOOLMODE_DB"] = settings.db_url
    if settings.policies_dir is not None:
        os.environ["SCHOOLMODE_POLICIES"] = str(settings.policies_dir)
    shown = ctx.engine.url.render_as_string(hide_password=True)
    console.print(f"schoolmode API on http://{host}:{port}/api/v1 (store {shown})")
    uvicorn.run(
        "schoolmode.web.site:create_site",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        server_header=False,
        access_log=request_log,
    )


def _admin() -> Principal:
    """The person at this terminal: they hold the store, so they administer its accounts."""
    from schoolmode.access.roles import Principal, Role
    from schoolmode.store.db import whoami

    return Principal(whoami(), Role.administrator)


@users_app.command("add")
def add_user(
    name: str,
    role: Annotated[str, typer.Option(help="One of the roles of docs/roles.md.")],
    scope: Annotated[str, typer.Option(help="district, network:ID or school:ID.")] = "district",
    password: Annotated[
        bool,
        typer.Option("--password/--no-password", help="Ask for a password (else tokens only)."),
    ] = True,
    oidc_subject: Annotated[
        str | None,
        typer.Option(help="The OpenID provider's subject (`sub`) of this person: OpenID login."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Add an account (the person at this terminal, who holds the store, is its administrator)."""
    from schoolmode.access.roles import Role
    from schoolmode.app.access import AddAccountRequest, add_account

    try:
        chosen = Role(role)
    except ValueError:
        raise fail(
            SchoolmodeError(f"--role {role!r}: one of {', '.join(r.value for r in Role)}")
        ) from None
    secret = (
        typer.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    )
    with app_context(db) as ctx:
        view = add_account(
            ctx,
            AddAccountRequest(
                name=name, role=chosen, scope=scope, password=secret, oidc_subject=oidc_subject
            ),
            _admin(),
        )
    console.print(f"account {view.name}: {view.role.value}, scope {view.scope}")


@users_app.command("list")
def list_users(db: DbOption = None) -> None:
    """The accounts, their roles and scopes."""
    from schoolmode.app.access import list_accounts

    with app_context(db) as ctx:
        for a in list_accounts(ctx):
            state = " (disabled)" if a.disabled else ""
            console.print(f"{a.name}\t{a.role.value}\t{a.scope}{state}")


@users_app.command("disable")
def disable_user(name: str, db: DbOption = None) -> None:
    """Disable an account: it cannot log in and its tokens stop working."""
    from schoolmode.app.access import disable_account

    with app_context(db) as ctx:
        disable_account(ctx, name, _admin())
    console.print(f"account {name} disabled")


@tokens_app.command("create")
def create_token(
    name: str,
    label: Annotated[str, typer.Option(help="What the token is for.")],
    days: Annotated[int, typer.Option(min=1, max=366, help="Days it lives.")] = 90,
    db: DbOption = None,
) -> None:
    """A service token of an account: printed once (store it now), kept only as its sha256."""
    from schoolmode.app.access import TokenRequest
    from schoolmode.app.access import create_token as make

    with app_context(db) as ctx:
        issued = make(ctx, TokenRequest(name=name, label=label, days=days), _admin())
    typer.echo(issued.token)


@tokens_app.command("revoke")
def revoke_token(
    db: DbOption = None,
) -> None:
    """Revoke a token (read from standard input, so it never appears in a process list)."""
    from schoolmode.app.access import revoke_token as revoke
    from schoolmode.app.data import open_store

    with app_context(db) as ctx:
        open_store(ctx)  # a missing store is refused before the token is asked for
        token = typer.prompt("token", hide_input=True)
        revoke(ctx, token.strip(), _admin())
    console.print("token revoked")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
