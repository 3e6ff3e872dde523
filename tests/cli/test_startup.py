"""A fast start (issue 17, item 5): ``schoolmode --help`` lists the commands from the static
table ``cli.app.HELP`` (kept equal to each command's real help here), and the simple commands
import none of the heavy libraries they do not need, checked in a fresh interpreter by what
``sys.modules`` holds when the command has run. No timing here: ``bench/bench_startup.py``
measures the start-up against the one before these changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from schoolmode.cli import app as cli_app
from schoolmode.cli.app import COMMANDS, HELP, LazyGroup, _module_group, app

HEAVY_EVERYWHERE = (
    "numba",
    "matplotlib",
    "dask",
    "distributed",
    "fastapi",
    "starlette",
    "uvicorn",
    "scipy",
    "duckdb",
)
"""Never needed to start, list help, print the version, or show the policies and the store."""

HEAVY_FOR_HELP = (
    *HEAVY_EVERYWHERE,
    "polars",
    "numpy",
    "sqlalchemy",
    "alembic",
    "pydantic_settings",
    "ruamel",
    "schoolmode.engine",
    "schoolmode.store",
    "schoolmode.app",
)
"""Not needed for ``--help`` (of the program, a group or a command) nor ``version``."""

HEAVY_FOR_POLICIES = (*HEAVY_EVERYWHERE, "polars", "numpy", "sqlalchemy", "alembic")
"""``policy list`` and ``policy show`` read the policy files: no frames, no store."""

HEAVY_FOR_STATUS = (*HEAVY_EVERYWHERE, "polars", "numpy")
"""``status`` reads the store (SQLAlchemy, the schema's revision by Alembic), not frames."""

PROBE = """
import sys
from schoolmode.cli.app import main
sys.argv = ["schoolmode", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print("\\n@@modules@@ " + str(code) + " " + " ".join(sorted(sys.modules)))
"""
"""Run the command line as the console script does, then print the modules it imported."""


def _loaded(args: list[str], env: dict[str, str] | None = None) -> tuple[int, set[str], str]:
    """Run ``schoolmode ARGS`` in a fresh interpreter: its exit code, the modules it imported
    and what it printed."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    printed, _, tail = proc.stdout.rpartition("\n@@modules@@ ")
    assert tail, f"schoolmode {' '.join(args)} did not finish:\n{proc.stdout}\n{proc.stderr}"
    code, _, names = tail.strip().partition(" ")
    return int(code) if code.isdigit() else 1, set(names.split()), printed + proc.stderr


def _heavy(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        name for name in modules if any(name == f or name.startswith(f + ".") for f in forbidden)
    )


# ---------------------------------------------------------------------- the static help table


def test_help_table_names_every_command() -> None:
    assert set(HELP) == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_table_is_each_commands_real_help(name: str) -> None:
    group = _module_group(COMMANDS[name], name)
    ctx = typer.Context(group)
    command = group.get_command(ctx, name)
    assert command is not None
    assert HELP[name] == (command.short_help or command.help or ""), (
        f"cli.app.HELP[{name!r}] differs from the help `schoolmode.cli.{COMMANDS[name]}` gives "
        "the command: copy the command's help into the table"
    )


def test_top_level_help_is_the_same_listed_lazily_or_from_the_modules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The help printed from the table is the help printed with every module imported."""
    lazy = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert lazy.exit_code == 0, lazy.output
    monkeypatch.setattr(LazyGroup, "format_help", TyperGroup.format_help)
    eager = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert eager.exit_code == 0, eager.output
    assert lazy.output == eager.output
    for name, line in HELP.items():
        assert f" {name} " in lazy.output
        assert line.split("\n")[0] in lazy.output


# ---------------------------------------------------------------------- what a start imports


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        [],
        ["version"],
        ["policy", "--help"],
        ["status", "--help"],
        ["import", "--help"],
        ["db", "--help"],
        ["fetch", "--help"],
        ["decide", "--help"],
        ["backtest", "--help"],
        ["district", "--help"],
        ["sim", "--help"],
        ["serve", "--help"],
        ["screening", "--help"],
        ["trace", "--help"],
        ["vaccination", "--help"],
        ["accommodations", "--help"],
        ["users", "--help"],
    ],
    ids=lambda a: " ".join(a) or "(none)",
)
def test_help_and_version_import_nothing_heavy(args: list[str]) -> None:
    code, modules, printed = _loaded(args)
    assert code in (0, 2), printed  # no arguments: the help, exit code 2 (click's own)
    assert "Usage" in printed or printed.strip() == cli_app.__version__
    assert _heavy(modules, HEAVY_FOR_HELP) == []


def test_top_level_help_imports_no_command_module() -> None:
    code, modules, printed = _loaded(["--help"])
    assert code == 0, printed
    assert _heavy(modules, tuple(f"schoolmode.cli.{m}" for m in set(COMMANDS.values()))) == []


@pytest.mark.parametrize(
    "args",
    [["policy", "list"], ["policy", "show", "cps-ctu-2022-01-10"]],
    ids=lambda a: " ".join(a),
)
def test_policy_list_and_show_import_no_frames_nor_store(args: list[str]) -> None:
    code, modules, printed = _loaded(args)
    assert code == 0, printed
    assert "cps-ctu-2022-01-10" in printed
    assert _heavy(modules, HEAVY_FOR_POLICIES) == []


def test_status_imports_no_frames(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    result = CliRunner().invoke(app, ["init", "--db", url])
    assert result.exit_code == 0, result.output
    code, modules, printed = _loaded(["status", "--db", url])
    assert code == 0, printed
    assert "records" in printed
    assert _heavy(modules, HEAVY_FOR_STATUS) == []


def test_the_probe_sees_a_heavy_import() -> None:
    """The check can fail: a command that reads frames (``import sources`` reads the
    importers) shows polars in the probe's list."""
    code, modules, printed = _loaded(["import", "sources"])
    assert code == 0, printed
    assert "polars" in _heavy(modules, HEAVY_FOR_STATUS)


def test_district_defaults_are_the_synthetic_districts() -> None:
    """``cli.district`` writes the defaults its options show (so ``--help`` imports no
    polars); they are the ones the importer and the synthetic district use."""
    from schoolmode.cli import district
    from schoolmode.importers.cps import SchoolProfiles
    from schoolmode.synth.consent import STAFF_CONSENT_SHARE, STUDENT_CONSENT_SHARE
    from schoolmode.synth.district import SynthConfig

    assert SchoolProfiles.default_files[0] == district.PROFILES
    assert SynthConfig.seed == district.SEED
    assert district.STUDENT_CONSENT_SHARE == STUDENT_CONSENT_SHARE
    assert district.STAFF_CONSENT_SHARE == STAFF_CONSENT_SHARE
