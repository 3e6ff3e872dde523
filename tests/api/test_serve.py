"""``schoolmode serve`` starts on a fresh store as a real process; ``schoolmode users`` and
``schoolmode tokens`` make accounts whose tokens the API accepts."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from schoolmode.api.app import create_app
from schoolmode.cli.app import app
from schoolmode.settings import AppSettings

SCHOOLMODE = Path(sys.executable).parent / "schoolmode"


STARTUP_DEADLINE_S = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # a loaded machine
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def test_serve_starts_on_a_fresh_store(tmp_path: Path) -> None:
    port = _free_port()
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    # a missing store is refused (it is not created: a mistyped --db would serve an empty one)
    missing = CliRunner().invoke(app, ["serve", "--db", url, "--port", str(port)])
    assert missing.exit_code == 3, missing.output
    assert "no store at" in missing.output
    assert not (tmp_path / "fresh.sqlite").exists()
    (tmp_path / "fresh.sqlite").touch()  # an existing empty database is given its tables
    server = subprocess.Popen(
        [str(SCHOOLMODE), "serve", "--db", url, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        # polled until the server answers or exits; the deadline only stops a hung start
        # (a loaded machine takes tens of seconds to start a CLI)
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while time.monotonic() < deadline:
            try:
                status, body = _get(f"{base}/api/v1/policies")
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None:
                    raise AssertionError(server.stdout.read() if server.stdout else "") from None
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not answer")
        assert status == 200
        assert len(json.loads(body)["items"]) == 20
        assert _get(f"{base}/api/v1/accommodations")[0] == 401
        assert _get(f"{base}/openapi.json")[0] == 200
        # the dashboard beside the API: on a store with no decision yet, a page that says so
        status, page = _get(f"{base}/")
        assert status == 404
        assert b"Nothing has been decided yet." in page
        status, sheet = _get(f"{base}/static/site.css")
        assert status == 200
        assert b"schoolmode" in sheet
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert "a new store: tables created at" in out
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert "Application shutdown complete" in out
    assert server.returncode in (0, -15), out


def test_serve_refuses_a_store_at_an_older_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "--db", url, "--revision", "0006"]).exit_code == 0
    result = runner.invoke(app, ["serve", "--db", url, "--port", str(_free_port())])
    assert result.exit_code == 3  # the store (docs/exit-codes.md)
    assert "is at an older schema: run `schoolmode db upgrade` first" in result.output


def test_accounts_and_tokens_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", url]).exit_code == 0
    added = runner.invoke(
        app,
        ["users", "add", "ward", "--role", "union-safety-committee", "--scope", "school:400164"],
        input="a long enough secret\na long enough secret\n",
        env={"SCHOOLMODE_DB": url},
    )
    assert added.exit_code == 0, added.output
    assert "account ward: union-safety-committee, scope school:400164" in added.output
    unknown = runner.invoke(
        app,
        ["users", "add", "n", "--role", "auditor", "--scope", "network:north", "--no-password"],
        env={"SCHOOLMODE_DB": url},
    )
    assert unknown.exit_code != 0
    assert "no stored school record names network 'north'" in unknown.output
    bad = runner.invoke(app, ["users", "add", "x", "--role", "mayor", "--db", url])
    assert bad.exit_code == 2
    assert "--role 'mayor': one of public, district-operations" in bad.output
    made = runner.invoke(app, ["tokens", "create", "ward", "--label", "bot", "--db", url])
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert token.startswith("smt_")
    listed = runner.invoke(app, ["users", "list", "--db", url])
    assert listed.output.split() == ["ward", "union-safety-committee", "school:400164"]
    with TestClient(create_app(AppSettings.load(db_url=url))) as client:
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert (me["name"], me["scope"]) == ("ward", "school:400164")
        login = client.post(
            "/api/v1/auth/token", data={"username": "ward", "password": "a long enough secret"}
        )
        assert login.status_code == 200
    revoked = runner.invoke(app, ["tokens", "revoke", "--db", url], input=token + "\n")
    assert revoked.exit_code == 0, revoked.output
    with TestClient(create_app(AppSettings.load(db_url=url))) as client:
        gone = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert gone.status_code == 401


def test_a_new_sqlite_store_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'private.sqlite'}"
    assert CliRunner().invoke(app, ["init", "--db", url]).exit_code == 0
    for name in ("private.sqlite", "private.sqlite-wal", "private.sqlite-shm"):
        path = tmp_path / name
        if path.exists():
            assert path.stat().st_mode & 0o777 == 0o600, name
    assert (tmp_path / "private.sqlite").exists()
