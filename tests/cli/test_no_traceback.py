"""No traceback reaches a user: every command and subcommand of the CLI (the whole tree,
walked from ``typer.main.get_command(app)``) is run with no store, an empty store (a 0-byte
file and a SQLite file without tables), bad dates and unknown ids, its required arguments
filled from each parameter's name and type. Each run ends without a traceback; a failure is
one line (or click's usage box) with its exit code (docs/exit-codes.md), no crash file, and
the store as it was.

Nothing here listens or reaches the network: ``serve`` runs only on a missing store (refused
before it listens), ``fetch`` only for an unknown source, and the simulator only with an
unknown policy (each refused before it starts).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import pytest
import typer
from typer._click.core import Command, Context, Parameter
from typer.core import TyperGroup
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.importers import IMPORTERS

POLICY = "cps-lbfo-2021-02-04"
BAD_DATE = "2021/01/01"
UNKNOWN = "999999"

DATE_NAMES = {"date", "on", "week", "start", "from_", "to", "first", "last", "since", "until"}
ID_NAMES = {
    "policy_id": "nope",
    "policy": "nope",
    "policy_a": "nope",
    "policies": "nope",
    "run_id": UNKNOWN,
    "decision": UNKNOWN,
    "appeal": UNKNOWN,
    "request": UNKNOWN,
    "case_id": UNKNOWN,
    "unit": UNKNOWN,
    "school": UNKNOWN,
    "classroom": UNKNOWN,
    "rule": "nope",
}
PLAUSIBLE = {
    "policy_id": POLICY,
    "policy": POLICY,
    "policy_a": POLICY,
    "policy_b": "ctu-demand-2021-02",
    "policies": POLICY,
    "param": "student_quarantine_share_pct",
    "values": "20,30",
    "role": "viewer",
    "source": next(iter(IMPORTERS)),
    "unit": UNKNOWN,
    "school": UNKNOWN,
    "classroom": UNKNOWN,
    "rule": "nope",
}
"""Values of required parameters by name (ids: one a store would hold, or a plain one)."""

STORE_WRITERS = {"init", "db upgrade"}
"""Commands that make a store: they succeed on a missing or empty one."""
NO_STORE_RUNS = {"serve", "fetch", "sim run", "sim compare", "sim sweep"}
"""Commands run only where they fail before they listen, fetch or simulate (see above)."""
SLOW_WHEN_VALID = {"policy test", "policy docs", "district synth", "district surge"}
"""Commands that do long work (or write docs) when their arguments are good: run only with
bad ones."""


REFUSES_UNKNOWN_IDS = {
    "policy show",
    "policy explain",
    "policy diff",
    "backtest sweep",
    "sim run",
    "sim compare",
    "authorise",
    "refuse",
    "audit reproduce",
    "trace",
    "accommodations history",
    "accommodations appeal",
    "quarantine list",
}
"""Commands whose unknown id is refused as such (exit 4), named in the message."""

LONG_ON_A_STORE = {"serve", "import chicago", "district synth"}

BAD_VALUES = {"sim validate": ["--fit-weeks", "99"]}
"""Commands with no store, date or id that simulate for minutes when their arguments are
good: run with a bad value they refuse before any work (scenario ``bad-value``)."""
"""Commands that listen, or import or build for long, on an initialised store."""


def _tree() -> dict[str, Command]:
    """Every runnable command of the CLI by its full name (a group that also runs on its own,
    as ``backtest``, is one)."""
    root = typer.main.get_command(app)
    ctx = Context(root, info_name="schoolmode")
    found: dict[str, Command] = {}

    def walk(command: Command, path: list[str]) -> None:
        if isinstance(command, TyperGroup):
            if command.invoke_without_command and path:
                found[" ".join(path)] = command
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = command

    walk(root, [])
    return found


TREE = _tree()


def _is_date(param: Parameter) -> bool:
    return (param.name or "") in DATE_NAMES


def _has(command: Command, name: str) -> bool:
    return any(p.name == name for p in command.params)


@dataclass(frozen=True)
class Case:
    command: str
    scenario: str  # missing | zero-bytes | no-tables | no-records | bad-date | unknown-id | plain
    # | bad-value


def _scenarios(name: str, command: Command) -> list[str]:
    params = command.params
    if name in BAD_VALUES:
        return ["bad-value"]
    out: list[str] = []
    if _has(command, "db") and name not in NO_STORE_RUNS - {"serve"}:
        out.append("missing")
        if name != "serve":  # on an empty store it would create the tables and listen
            out += ["zero-bytes", "no-tables"]
        if name not in LONG_ON_A_STORE:
            out.append("no-records")  # an initialised store without records
    if any(_is_date(p) for p in params) and name not in NO_STORE_RUNS - {"sim run"}:
        out.append("bad-date")
    if any(p.name in ID_NAMES for p in params) and name not in {"serve", "fetch"}:
        out.append("unknown-id")
    if name == "fetch":
        out.append("unknown-id")
    if not out and name not in SLOW_WHEN_VALID:
        out.append("plain")
    if not out:
        out.append("bad-date")  # these have date options or are given a missing path
    return out


CASES = [Case(n, s) for n, c in TREE.items() for s in _scenarios(n, c)]


def _value(param: Parameter, case: Case, tmp: Path, bad_date: str | None) -> str:
    name = param.name or ""
    if _is_date(param):
        return BAD_DATE if name == bad_date else ("2021-02-08" if name == "week" else "2021-02-11")
    if case.scenario == "unknown-id" and name in ID_NAMES:
        return ID_NAMES[name]
    if case.command == "fetch" and name == "source":
        return "nowhere"  # never a real source: no network
    if name in PLAUSIBLE:
        return PLAUSIBLE[name]
    kind = param.type_descriptor.annotation  # type: ignore[attr-defined]
    if isinstance(kind, type) and issubclass(kind, Enum):
        return str(next(iter(kind)).value)
    if kind is int:
        return "1"
    if name == "case":
        return "lbfo-50pct-buildings"  # a worked case of POLICY
    if name == "path":
        return str(tmp / "no-such-file.csv")
    if name == "out":
        return str(tmp / "out")
    if name in {"run_id", "decision", "appeal", "request", "case_id"}:
        return "1"
    return "tester"


def _args(case: Case, command: Command, tmp: Path, db: str) -> list[str]:
    args = case.command.split()
    dates = [p.name for p in command.params if _is_date(p)]
    bad = dates[0] if case.scenario == "bad-date" and dates else None
    for param in command.params:
        needed = param.required or param.name == bad
        if param.name == "db" or not needed:
            continue
        value = _value(param, case, tmp, bad)
        opts = getattr(param, "opts", [])
        if param.param_type_name == "option":
            args += [opts[0], value]
        else:
            args.append(value)
    if _has(command, "db"):
        args += ["--db", db]
    if case.scenario == "bad-value":
        args += BAD_VALUES[case.command]
    if case.command == "explain":
        args += ["--district", "chicago"]  # one of --school, --classroom, --district is needed
    if case.command == "district synth" and case.scenario in {"missing", "zero-bytes", "no-tables"}:
        args.append("--import")  # the store is refused before the synthetic district is built
    return args


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the module's runs (parsed policies are cached there once)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a store just made by ``schoolmode init`` (copied for each run)."""
    path = tmp_path_factory.mktemp("template") / "store.sqlite"
    done = CliRunner().invoke(app, ["init", "--db", f"sqlite:///{path}"])
    assert done.exit_code == 0, done.output
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.read_bytes()


def _store(case: Case, tmp: Path, initialised: bytes) -> Path:
    path = tmp / "store" / "schoolmode.sqlite"
    if case.scenario == "missing":
        return path
    path.parent.mkdir()
    if case.scenario == "zero-bytes":
        path.touch()
    elif case.scenario == "no-tables":
        with sqlite3.connect(path) as db:  # a real SQLite file with no table in it
            db.execute("CREATE TABLE t (x)")
            db.execute("DROP TABLE t")
        assert path.stat().st_size > 0
    else:
        path.write_bytes(initialised)
    return path


def _one_line_error(output: str) -> bool:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    if lines and lines[0].startswith("Usage:"):  # click's usage error: its box says what
        return sum("Try '" in line for line in lines) == 1
    return len(lines) == 1 and lines[0].startswith("error:")


@pytest.mark.parametrize("case", CASES, ids=[f"{c.command}:{c.scenario}" for c in CASES])
def test_no_traceback(
    case: Case, tmp_path: Path, initialised: bytes, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = TREE[case.command]
    store = _store(case, tmp_path, initialised)
    before = store.read_bytes() if store.exists() else None
    url = f"sqlite:///{store}"
    crashes = set(cache.glob("crash-*.txt"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHOOLMODE_DB", url)
    monkeypatch.setenv("SCHOOLMODE_CACHE", str(cache))
    args = _args(case, command, tmp_path, url)

    result = CliRunner().invoke(app, args)

    shown = f"schoolmode {' '.join(args)} -> {result.exit_code}:\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), shown
    assert "Traceback" not in result.output, shown
    assert set(cache.glob("crash-*.txt")) == crashes, shown  # no unexpected failure
    if result.exit_code not in (0, 1):  # 1: a check that ran and failed reports what failed
        assert _one_line_error(result.output), shown
        after = store.read_bytes() if store.exists() else None
        assert after == before, f"{shown}\nthe store changed"
    if case.scenario == "bad-value":
        assert result.exit_code not in (0, 1), shown  # refused, a one-line error (above)
    if case.scenario == "bad-date":
        assert result.exit_code == 2, shown
        bad = next(p for p in command.params if _is_date(p))
        assert any(o in result.output for o in getattr(bad, "opts", [])), shown
    if case.scenario == "unknown-id" and {UNKNOWN, "nope"} & set(args):
        # an unknown id writes nothing, whether the command refuses it or finds nothing
        after = store.read_bytes() if store.exists() else None
        assert after == before, f"{shown}\nthe store changed"
    if case.scenario == "unknown-id" and case.command in REFUSES_UNKNOWN_IDS:
        assert result.exit_code == 4, shown
        assert UNKNOWN in result.output or "'nope'" in result.output, shown
    if case.scenario in {"missing", "zero-bytes", "no-tables"}:
        if case.command in STORE_WRITERS:
            assert result.exit_code == 0, shown
        elif result.exit_code != 0 and "Usage:" not in result.output:
            assert result.exit_code in (2, 3), shown
        # a missing or uninitialised store is not one to upgrade: the advice is to make one
        assert "db upgrade" not in result.output, shown
        if result.exit_code == 3:
            assert "schoolmode init" in result.output, shown


def test_the_walk_covers_the_whole_tree() -> None:
    names = set(TREE)
    assert {"decide", "backtest", "backtest sweep", "db upgrade", "accommodations appeal"} <= names
    assert len(names) >= 50
    assert {c.command for c in CASES} == names


def test_a_crash_is_one_line_and_a_crash_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected failure (a bug) is one line naming the crash file that holds the full
    traceback, exit code 70."""
    import schoolmode.app.data as data

    def broken(*_: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(data, "list_sources", broken)
    monkeypatch.setenv("SCHOOLMODE_CACHE", str(tmp_path / "cache"))
    result = CliRunner().invoke(app, ["import", "sources"])
    assert result.exit_code == 70, result.output
    assert _one_line_error(result.output), result.output
    crashes = list((tmp_path / "cache").glob("crash-*.txt"))
    assert len(crashes) == 1
    assert str(crashes[0]) in result.output
    assert "Traceback" in crashes[0].read_text()
    assert "KeyError: 'boom'" in crashes[0].read_text()
    assert "Traceback" not in result.output


def test_exit_codes_are_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "exit-codes.md").read_text()
    for code in (0, 1, 2, 3, 4, 5, 6, 7, 70):
        assert f"| {code} |" in doc


def test_authorise_refuses_an_unknown_school_before_writing(
    tmp_path: Path, initialised: bytes, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``authorise --unit 999999`` on an eligible school rule: refused (exit 4, an unknown id)
    and the append-only record never written."""
    store = tmp_path / "store.sqlite"
    store.write_bytes(initialised)
    monkeypatch.setenv("SCHOOLMODE_CACHE", str(cache))
    args = ["authorise", "--policy", "cps-ctu-2022-01-10", "--rule", "student-quarantine"]
    args += ["--unit", UNKNOWN, "--date", "2022-01-12", "--by", "CPS", "--reason", "test"]
    result = CliRunner().invoke(app, [*args, "--db", f"sqlite:///{store}"])
    assert result.exit_code == 4, result.output
    assert f"no school '{UNKNOWN}' in the store" in result.output
    assert _one_line_error(result.output), result.output
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT count(*) FROM authorisation").fetchone() == (0,)


def test_refuse_refuses_an_unknown_school_before_writing(
    tmp_path: Path, initialised: bytes, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``refuse --unit 999999`` on an eligible school rule: refused (exit 4, an unknown id)
    and the append-only refusal never written."""
    store = tmp_path / "store.sqlite"
    store.write_bytes(initialised)
    monkeypatch.setenv("SCHOOLMODE_CACHE", str(cache))
    args = ["refuse", "--policy", "cps-ctu-2022-01-10", "--rule", "student-quarantine"]
    args += ["--unit", UNKNOWN, "--date", "2022-01-12", "--by", "CPS", "--reason", "staffed"]
    result = CliRunner().invoke(app, [*args, "--db", f"sqlite:///{store}"])
    assert result.exit_code == 4, result.output
    assert f"no school '{UNKNOWN}' in the store" in result.output
    assert _one_line_error(result.output), result.output
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT count(*) FROM refusal").fetchone() == (0,)


@pytest.mark.parametrize("scope", ["school", "classroom"])
def test_explain_names_an_unknown_school_or_classroom(
    tmp_path: Path, initialised: bytes, cache: Path, monkeypatch: pytest.MonkeyPatch, scope: str
) -> None:
    """``explain --school 999999``: an id the store does not know exits 4 (unknown id), apart
    from a known unit without a decision that day (exit 2, decide first)."""
    store = tmp_path / "store.sqlite"
    store.write_bytes(initialised)
    monkeypatch.setenv("SCHOOLMODE_CACHE", str(cache))
    args = ["explain", "--date", "2022-01-12", f"--{scope}", UNKNOWN]
    result = CliRunner().invoke(app, [*args, "--db", f"sqlite:///{store}"])
    assert result.exit_code == 4, result.output
    assert f"no {scope} '{UNKNOWN}' in the store" in result.output
    assert _one_line_error(result.output), result.output
    assert store.read_bytes() == initialised


def test_every_db_option_has_the_one_help_text() -> None:
    """The default store is said once (``DB_HELP``, from ``DEFAULT_DB_URL``): no copies."""
    from schoolmode import DEFAULT_DB_URL
    from schoolmode.cli.common import DB_HELP

    assert DEFAULT_DB_URL == "sqlite:///out/schoolmode.sqlite"
    helps = {
        name: next(p for p in command.params if p.name == "db").help  # type: ignore[attr-defined]
        for name, command in TREE.items()
        if _has(command, "db")
    }
    assert len(helps) >= 35
    assert set(helps.values()) == {DB_HELP}, helps


def test_district_synth_without_its_data_is_one_line(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data folder without the school profiles: one line naming the file and the fix
    (exit 6), not the reader's error."""
    monkeypatch.setenv("SCHOOLMODE_DATA", str(tmp_path / "no-data"))
    monkeypatch.setenv("SCHOOLMODE_CACHE", str(cache))
    result = CliRunner().invoke(app, ["district", "synth", "--out", str(tmp_path / "d")])
    assert result.exit_code == 6, result.output
    assert _one_line_error(result.output), result.output
    assert "missing source file" in result.output
    assert str(tmp_path / "no-data") in result.output
    assert "SCHOOLMODE_DATA" in result.output
