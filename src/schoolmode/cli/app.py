"""The ``schoolmode`` command.

Each command group lives in its own module under ``cli/``, imported only when one of its
commands runs (or ``--help`` lists them): ``schoolmode decide`` loads the decision commands
and what they use, not the importers, the simulator or the synthetic district.
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import typer
from typer._click.exceptions import ClickException
from typer.core import TyperGroup

from schoolmode import __version__

# command name -> module under schoolmode.cli that defines it; a module either registers
# its commands on the top level (``register(app)``) or is one group (``app``) of that name
COMMANDS: dict[str, str] = {
    "policy": "policy",
    "init": "data",
    "status": "data",
    "db": "data",
    "import": "data",
    "fetch": "fetch",
    "district": "district",
    "backtest": "backtest",
    "decide": "decisions",
    "authorise": "decisions",
    "explain": "decisions",
    "audit": "decisions",
    "decisions": "decisions",
    "screening": "screening",
    "trace": "tracing",
    "quarantine": "tracing",
    "outbreak": "tracing",
    "vaccination": "staffops",
    "accommodations": "staffops",
    "sim": "sim",
    "serve": "serve",
    "users": "serve",
    "tokens": "serve",
}


def _module_group(module_name: str, command: str) -> Any:
    """The click group holding the commands that ``schoolmode.cli.<module_name>`` defines."""
    module = importlib.import_module(f"schoolmode.cli.{module_name}")
    holder = typer.Typer()
    register = getattr(module, "register", None)
    if register is not None:
        register(holder)
    else:
        holder.add_typer(module.app, name=command)
    return typer.main.get_group(holder)


class LazyGroup(TyperGroup):
    """The top-level group: a command's module is imported when that command is asked for."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            group = _module_group(COMMANDS[cmd_name], cmd_name)
            for name in group.list_commands(ctx):
                self.commands.setdefault(name, group.get_command(ctx, name))
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: Any) -> Any:
        """Run the command inside the one error boundary (``cli.boundary``): an expected
        failure is one line and its exit code, an unexpected one also a crash file."""
        try:
            return super().invoke(ctx)
        except (ClickException, typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            from schoolmode.cli.boundary import report

            raise typer.Exit(report(exc)) from None


app = typer.Typer(
    name="schoolmode",
    help="Decide, explain and publish school learning modes by agreed health metrics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)


@app.callback()
def _root() -> None:
    """Decide, explain and publish school learning modes by agreed health metrics."""


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    """The console entry point: one command, then exit.

    The command's module is imported first and the objects alive then (the modules: they live
    until exit) are frozen, so the collector does not traverse them again while the command
    runs; what is alive at the end is frozen too, so the interpreter's shutdown does not
    collect it either (about 0.3 s of a one-day ``decide``: ``bench/bench_decide.py``).
    """
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    if command in COMMANDS:
        importlib.import_module(f"schoolmode.cli.{COMMANDS[command]}")
    gc.freeze()
    try:
        app()
    finally:
        gc.freeze()
