"""The README's commands: every one of them parses against the CLI as written (a renamed
command or option fails here), and those that need no store run and print something.

The whole walk, every command run as written on the main job's store, is
``scripts/readme_walk.py`` (it needs ``scripts/run`` first, about six minutes, and runs the
simulator examples, several minutes more: too long for the test suite); its figures are in the
closing notes and the README."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import typer

# typer 0.29 runs on its own copy of click (typer._click): its command tree and errors are those
from typer._click.core import Command
from typer._click.exceptions import UsageError
from typer.core import TyperGroup
from typer.testing import CliRunner

from schoolmode.cli.app import app

ROOT = Path(__file__).resolve().parents[1]


def _walk_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("readme_walk", ROOT / "scripts/readme_walk.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_walk"] = module
    spec.loader.exec_module(module)
    return module


walk = _walk_module()
COMMANDS = walk.readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))
SCHOOLMODE = [c for c in COMMANDS if c.schoolmode_args is not None]
STORE_FREE = ("policy list", "policy show", "policy explain", "policy diff", "policy validate")


def _resolve(args: list[str]) -> Command:
    """The command ``args`` name, with every option and argument parsed as the CLI would
    (``UsageError`` for an unknown command or option, a bad value, a missing argument)."""
    command: Command = typer.main.get_command(app)
    ctx = command.make_context("schoolmode", list(args))
    while isinstance(command, TyperGroup):
        rest = [*ctx._protected_args, *ctx.args]
        if not rest and command.invoke_without_command:  # a group that is also a command
            break
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None, f"no command {name!r}"
        assert name is not None
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return command


def test_the_readme_has_its_commands() -> None:
    assert len(SCHOOLMODE) >= 35
    texts = [c.text for c in COMMANDS]
    assert "scripts/run" in texts
    assert "scripts/test" in texts
    # continuations are joined: the sweep over two lines is one command
    sweep = next(c for c in SCHOOLMODE if "student_quarantine_share_pct" in c.text)
    assert sweep.text.endswith("--out out/sweep-quarantine")
    # no placeholder a user would have to replace
    for command in SCHOOLMODE:
        for word in command.words:
            assert word not in ("PATH", "DIR", "PATH.csv", "FILE", "[PATH]"), command.text


@pytest.mark.parametrize("command", SCHOOLMODE, ids=[f"README:{c.line}" for c in SCHOOLMODE])
def test_every_readme_command_parses(command: object) -> None:
    args = command.schoolmode_args  # type: ignore[attr-defined]
    try:
        _resolve(args)
    except UsageError as exc:
        pytest.fail(f"README line {command.line}: {command.text}: {exc.format_message()}")  # type: ignore[attr-defined]


def test_store_free_commands_run_and_print_something() -> None:
    runner = CliRunner()
    ran = 0
    for command in SCHOOLMODE:
        if not command.text.startswith(tuple(f"uv run schoolmode {s}" for s in STORE_FREE)):
            continue
        result = runner.invoke(app, command.schoolmode_args)
        assert result.exit_code == 0, f"README:{command.line} {command.text}\n{result.output}"
        assert result.output.strip(), command.text
        ran += 1
    assert ran >= 5


def test_a_renamed_option_or_command_fails_to_parse() -> None:
    for args in (
        ["policy", "list", "--no-such-option"],
        ["decide", "--date"],
        ["no-such-command"],
        ["backtest", "sweep", "--policy", "x"],  # --param and --values are required
    ):
        with pytest.raises(UsageError):
            _resolve(args)
