"""scripts/bootstrap-uv on a machine without uv whose Python refuses installs outside a
virtualenv (``PIP_REQUIRE_VIRTUALENV``, as pip behaves on an externally managed Python): uv
lands in ``.tools/uv`` of the checkout and runs; the system's Python is not touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def _machine_without_uv(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has a python3 (the interpreter running the tests, outside any
    virtualenv) and the system's tools, but no uv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    base = Path(getattr(sys, "_base_executable", sys.executable))
    (bin_dir / "python3").symlink_to(base)
    path = os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
    assert shutil.which("uv", path=path) is None, "the test machine's PATH still has a uv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}
    return {**env, "PATH": path, "PIP_REQUIRE_VIRTUALENV": "1"}


def _checkout(tmp_path: Path) -> Path:
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy2(REPO / "scripts" / "bootstrap-uv", checkout / "scripts" / "bootstrap-uv")
    return checkout


def test_uv_is_installed_into_its_own_virtualenv_not_the_system_python(tmp_path: Path) -> None:
    env = _machine_without_uv(tmp_path)
    refused = subprocess.run(  # the simulated system Python refuses a plain install
        ["python3", "-m", "pip", "install", "--dry-run", "uv"], env=env, capture_output=True
    )
    assert refused.returncode != 0
    checkout = _checkout(tmp_path)
    done = subprocess.run(
        [str(checkout / "scripts" / "bootstrap-uv")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "installing uv into .tools/uv" in done.stdout
    version = subprocess.run(
        [str(checkout / ".tools" / "uv" / "bin" / "uv"), "--version"],
        capture_output=True,
        text=True,
    )
    assert version.returncode == 0
    assert version.stdout.startswith("uv ")
    # a second run finds it there and installs nothing
    again = subprocess.run(
        [str(checkout / "scripts" / "bootstrap-uv")], env=env, capture_output=True, text=True
    )
    assert again.returncode == 0
    assert again.stdout == ""


def test_without_a_venv_module_it_says_what_to_install(tmp_path: Path) -> None:
    env = _machine_without_uv(tmp_path)
    fake = tmp_path / "bin" / "python3"
    fake.unlink()
    fake.write_text("#!/bin/sh\necho 'No module named venv' >&2\nexit 1\n")
    fake.chmod(0o755)
    checkout = _checkout(tmp_path)
    done = subprocess.run(
        [str(checkout / "scripts" / "bootstrap-uv")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "apt-get install python3-venv" in done.stderr
    assert not (checkout / ".tools" / "uv").exists()
