"""Walk the README's shell blocks and run every command as written, after the main job.

    scripts/run                                 # builds out/schoolmode.sqlite (the default store)
    uv run --frozen python scripts/readme_walk.py [--network] [--only TEXT] [--keep]

Each command of each ```sh block runs in the repository root through bash, exactly as written,
with these exceptions, each printed with its reason:

- the store: the walk works on a copy of the default store (``out/schoolmode.sqlite``) in a
  temporary folder, pointed at by ``SCHOOLMODE_DB``, so the commands that write (decide,
  authorise, the lottery, users) leave the main job's store as it was and a second walk starts
  from the same state; commands that name their own ``--db`` keep it;
- ``scripts/run`` and ``scripts/test`` are the set-up this walk follows, not run again;
- ``serve`` is started in the background and stopped at the end (it does not return); the
  ``curl`` lines that follow it are asked of it; ``users add`` is given a password on stdin;
- ``--scheduler tcp://127.0.0.1:8786``: a Dask scheduler and one worker are started there;
- ``HEX`` (the nonce that ``accommodations commit`` prints, secret until the review) is taken
  from that command's output;
- ``fetch`` reaches the publishers over the internet: run only with ``--network``.

A command passes when it exits 0, prints something, and its output matches none of the
"shows nothing" patterns (``EMPTY``: 0 tests, 0 requests, ...). The walk prints a table
(command, exit code, seconds, first line) and exits 1 if any command failed.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DEFAULT_STORE = ROOT / "out" / "schoolmode.sqlite"

SETUP = ("scripts/run", "scripts/test")
"""Lines of the README that are the set-up the walk follows."""
NETWORK = re.compile(r"\bschoolmode fetch\b")
SCHEDULER = "tcp://127.0.0.1:8786"
EMPTY = (
    re.compile(r"^0 stored test\(s\)", re.M),
    re.compile(r"\b0 request\(s\) in the pool"),
    re.compile(r"^no rows", re.M | re.I),
    re.compile(r'"status":\s*[45]\d\d'),  # an RFC 9457 problem from the API
)
"""Output that means the command showed nothing on the demo data."""


@dataclass
class Command:
    """One command of a README block: its text (continuations joined, comment removed) and the
    README line it starts on."""

    line: int
    text: str
    words: list[str] = field(default_factory=list)

    @property
    def schoolmode_args(self) -> list[str] | None:
        """The arguments after ``uv run schoolmode`` (None: not a schoolmode command)."""
        if self.words[:3] == ["uv", "run", "schoolmode"]:
            return self.words[3:]
        return None


def readme_commands(text: str) -> list[Command]:
    """Every command of every ```sh block of ``text``."""
    out: list[Command] = []
    in_block = False
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("```"):
            in_block = stripped in ("```sh", "```bash") if not in_block else False
            continue
        if not in_block or (not pending and (not stripped or stripped.startswith("#"))):
            continue
        if not pending:
            start = number
        pending.append(raw.rstrip().removesuffix("\\"))
        if raw.rstrip().endswith("\\"):
            continue
        joined = " ".join(part.strip() for part in pending)
        pending = []
        words = shlex.split(joined, comments=True)
        out.append(Command(start, shlex.join(words), words))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, deadline_s: float = 120.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {deadline_s:.0f} s")


@dataclass
class Outcome:
    command: Command
    code: int | None
    seconds: float
    output: str
    note: str = ""

    @property
    def ok(self) -> bool:
        if self.code is None:  # skipped or started in the background
            return True
        return (
            self.code == 0
            and bool(self.output.strip())
            and not any(p.search(self.output) for p in EMPTY)
        )


class Walk:
    """Runs the commands; keeps the background processes to stop at the end."""

    def __init__(self, env: dict[str, str], network: bool) -> None:
        self.env = env
        self.network = network
        self.background: list[subprocess.Popen[bytes]] = []
        self.nonce: str | None = None
        self.serve_port: int | None = None
        self.scheduler_started = False

    def _start(self, words: list[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            words,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.background.append(proc)
        return proc

    def _scheduler(self) -> None:
        if self.scheduler_started:
            return
        self.scheduler_started = True
        dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
        self._start([*dask, "--host", "127.0.0.1", "--port", "8786", "--dashboard-address", ":0"])
        _wait_for_port(8786)
        worker = [sys.executable, "-m", "distributed.cli.dask_worker", SCHEDULER]
        self._start([*worker, "--nworkers", "1", "--nthreads", "1", "--dashboard-address", ":0"])
        time.sleep(3)

    def run(self, command: Command) -> Outcome:
        text = command.text
        if text in SETUP:
            return Outcome(command, None, 0.0, "", "the set-up this walk follows")
        if NETWORK.search(text) and not self.network:
            return Outcome(command, None, 0.0, "", "reaches the publishers: --network")
        args = command.schoolmode_args
        if args and args[0] == "serve":
            self.serve_port = 8000
            words = command.words
            if "--port" not in words:
                words = [*words, "--port", "8000"]
            self._start(words)
            _wait_for_port(self.serve_port)
            return Outcome(command, None, 0.0, "", "started in the background")
        if SCHEDULER in text:
            self._scheduler()
        stdin = None
        if args and args[:2] == ["users", "add"]:
            secret = "readme-walk-" + os.urandom(8).hex()
            stdin = f"{secret}\n{secret}\n"
        if "HEX" in command.words:
            if self.nonce is None:
                return Outcome(command, 1, 0.0, "no nonce: accommodations commit did not run")
            text = shlex.join([self.nonce if w == "HEX" else w for w in command.words])
        started = time.monotonic()
        done = subprocess.run(
            ["bash", "-c", text],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
        output = done.stdout + done.stderr
        found = re.search(r"nonce\W+([0-9a-f]{16,})", output)
        if args and args[:2] == ["accommodations", "commit"] and found:
            self.nonce = found.group(1)
        return Outcome(command, done.returncode, seconds, output)

    def close(self) -> None:
        for proc in reversed(self.background):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", action="store_true", help="Also run the fetch commands.")
    parser.add_argument("--only", help="Run only the commands containing this text.")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE, help="The store to copy.")
    args = parser.parse_args(argv)
    if not args.store.exists():
        print(f"no store at {args.store}: run scripts/run first", file=sys.stderr)
        return 2
    commands = readme_commands(README.read_text(encoding="utf-8"))
    if args.only:
        commands = [c for c in commands if args.only in c.text]
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="readme-walk-") as tmp:
        store = Path(tmp) / "schoolmode.sqlite"
        shutil.copyfile(args.store, store)
        env = {**os.environ, "SCHOOLMODE_DB": f"sqlite:///{store}"}
        env["PATH"] = f"{ROOT / '.tools' / 'uv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        walk = Walk(env, args.network)
        try:
            for command in commands:
                outcome = walk.run(command)
                outcomes.append(outcome)
                mark = "ok" if outcome.ok else "FAILED"
                if outcome.code is None:
                    mark = f"-- {outcome.note}"
                first = next((ln for ln in outcome.output.splitlines() if ln.strip()), "")
                print(f"{mark:>8} {outcome.seconds:7.1f} s  README:{command.line}  {command.text}")
                if outcome.code is not None:
                    print(f"{'':>19}{first[:150]}")
                if not outcome.ok:
                    print(outcome.output[-3000:])
                sys.stdout.flush()
        finally:
            walk.close()
    failed = [o for o in outcomes if not o.ok]
    ran = [o for o in outcomes if o.code is not None]
    total = sum(o.seconds for o in ran)
    print(
        f"{len(ran)} commands run in {total:.0f} s, {len(outcomes) - len(ran)} not run, "
        f"{len(failed)} failed"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
