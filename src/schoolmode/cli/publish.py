"""``schoolmode publish``: the face of ``schoolmode.app.releases``."""

from __future__ import annotations

from typing import Annotated

import typer

from schoolmode.cli.common import DbOption, ProgressSteps, app_context, console, parse_day


def publish(
    first: Annotated[
        str | None, typer.Option("--from", help="First day (default: the first of the data).")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Last day (default: the last of the data).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Release the public figures (small counts suppressed) of school days and complete weeks, and the citywide and ZIP tables."""
    from schoolmode.app.releases import PublishRequest
    from schoolmode.app.releases import publish as run

    req = PublishRequest(
        first=parse_day(first, "--from") if first else None,
        last=parse_day(last, "--to") if last else None,
    )
    steps = ProgressSteps()
    with app_context(db, store="initialised") as ctx:
        try:
            report = run(ctx, req, steps)
        finally:
            steps.stop()
    kinds: dict[str, list[int]] = {}
    for r in report.releases:
        got = kinds.setdefault(r.kind, [0, 0, 0, 0])
        got[0] += 1
        got[1] += r.new
        got[2] += r.cells
        got[3] += r.hidden
    if not report.releases:
        console.print("nothing to release: the store holds no figures in that range")
    for kind, (n, new, cells, hidden) in kinds.items():
        console.print(
            f"{kind}: {n} period{'s' if n != 1 else ''} ({new} released now, {n - new} "
            f"unchanged); {cells} counts, {hidden} suppressed",
            markup=False,
        )
    for r in report.releases:
        for note in r.notes:
            console.print(f"note: {note}", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("publish")(publish)
