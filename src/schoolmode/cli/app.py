"""The ``schoolmode`` command."""

from __future__ import annotations

import typer

from schoolmode import __version__
from schoolmode.cli import backtest as backtest_cli
from schoolmode.cli import data as data_cli
from schoolmode.cli import decisions as decisions_cli
from schoolmode.cli import district as district_cli
from schoolmode.cli import policy as policy_cli
from schoolmode.cli import screening as screening_cli
from schoolmode.cli import sim as sim_cli
from schoolmode.cli import staffops as staffops_cli
from schoolmode.cli import tracing as tracing_cli

app = typer.Typer(
    name="schoolmode",
    help="Decide, explain and publish school learning modes by agreed health metrics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(policy_cli.app, name="policy")
data_cli.register(app)
app.add_typer(district_cli.app, name="district")
app.add_typer(backtest_cli.app, name="backtest")
decisions_cli.register(app)
app.add_typer(screening_cli.app, name="screening")
tracing_cli.register(app)
staffops_cli.register(app)
app.add_typer(sim_cli.app, name="sim")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()
