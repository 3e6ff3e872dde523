"""``schoolmode policy ...``: list, show, test, explain, diff and validate policies."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Policies as code: the shipped agreements, proposals and guidance.", no_args_is_help=True
)


@app.command("list")
def list_policies() -> None:
    """List every policy."""
    from schoolmode.policy.loader import Registry

    for loaded in Registry().all():
        typer.echo(
            f"{loaded.id}\t{loaded.policy.kind}\t{loaded.policy.status}\t{loaded.policy.title}"
        )
