"""The ``schoolmode`` command.

Each command group lives in its own module under ``cli/``, imported only when one of its
commands runs: ``schoolmode decide`` loads the decision commands and what they use, not the
importers, the simulator or the synthetic district. ``schoolmode --help`` lists every command
from ``HELP`` (each command's one-line help, kept equal to the real one by
``tests/cli/test_startup.py``), so it imports no command module.
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import typer
from typer._click.exceptions import ClickException
from typer.core import TyperCommand, TyperGroup

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
    "alerts": "alerts",
    "backtest": "backtest",
    "decide": "decisions",
    "authorise": "decisions",
    "refuse": "decisions",
    "explain": "decisions",
    "audit": "decisions",
    "decisions": "decisions",
    "publish": "publish",
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

# command name -> its one-line help, as its module defines it: what ``schoolmode --help`` lists
# without importing the module (``tests/cli/test_startup.py`` checks it against the real help)
HELP: dict[str, str] = {
    "policy": "Policies as code: the shipped agreements, proposals and guidance.",
    "init": "Create (or bring up to date) the store's tables.",
    "status": "The store in use, its schema, row counts and the last import of each source.",
    "db": "Database maintenance.",
    "import": "Import source files into the store (one file, or the files of one command, = one "
    "transaction; one import of a source at a time).",
    "fetch": "Fetch a source's files from their publishers into the cache "
    "($SCHOOLMODE_CACHE/fetch),\nchecked, and import them.",
    "district": "Districts: synthetic populations.",
    "alerts": "Alerts by webhook and e-mail when a mode or status changes.",
    "backtest": "Replay history through several policies; `backtest sweep` varies one threshold.",
    "decide": "Decide the mode of every classroom, school and the district, and store it with "
    "its audit record.",
    "authorise": "Record a named body's decision on an eligible rule (append-only).",
    "refuse": "Record a named body's refusal of an eligible change, with its reason (append-only).",
    "explain": "Why is my school (classroom, district) in this mode? From the stored decision.",
    "audit": "Audit records: reproduce a stored decision run.",
    "decisions": "Stored decision runs.",
    "publish": "Release the public figures (small counts suppressed) of school days and "
    "complete weeks, and the citywide and ZIP tables.",
    "screening": "Pooled screening tests.",
    "trace": "Close contacts and quarantine/isolation orders for one stored case.",
    "quarantine": "Quarantine and isolation orders.",
    "outbreak": "School outbreaks (IDPH/CSTE) and the health department's decisions.",
    "vaccination": "Staff vaccination scheduling.",
    "accommodations": "Staff accommodation requests: review, appeals, imports.",
    "sim": "Simulate policies on the synthetic district or a population spec.",
    "serve": "Serve the dashboard (/) and the HTTP API (/openapi.json) on the store until stopped.",
    "users": "Accounts of the HTTP API (roles and scopes).",
    "tokens": "Bearer tokens of the HTTP API's accounts.",
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
    """The top-level group: a command's module is imported when that command is asked for;
    its own help lists the commands not imported yet by their line in ``HELP``."""

    listing = False
    """True while the group's help is written: a command not imported yet is then only its
    name and its line of ``HELP``."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            if self.listing:
                return TyperCommand(name=cmd_name, help=HELP[cmd_name])
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
