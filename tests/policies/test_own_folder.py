"""A folder of policies of one's own, read beside the shipped ones (policy/loader.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.policy.errors import PolicyFileError, UnknownPolicyError
from schoolmode.policy.loader import (
    Registry,
    default_policy_dir,
    registry_for,
    shipped_registry,
)
from tests.synth.test_district import PROFILES

BASE = "cps-ctu-2022-01-10"
OVERLAY = f"""\
id: my-variant
overlay_of: {BASE}
title: A district's own variant of the January 2022 agreement
kind: proposal
parties: [Example District]
status: proposed
version: 1
term: {{from: 2022-01-10, to: 2022-06-30}}
summary: The January 2022 agreement with its term only, in a folder of one's own.
"""


@pytest.fixture
def own(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    (folder / "my-variant").mkdir(parents=True)
    (folder / "my-variant" / "policy.yaml").write_text(OVERLAY)
    return folder


def test_an_overlay_of_a_shipped_policy_resolves_in_a_folder_of_ones_own(own: Path) -> None:
    registry = registry_for(own)
    assert registry.ids() == ["my-variant"]
    assert [p.id for p in registry.all()] == ["my-variant"]
    variant = registry.get("my-variant").policy
    base = shipped_registry().get(BASE).policy
    assert variant.rules == base.rules
    assert variant.title != base.title
    # a shipped id is answered by the shipped folder, an unknown one by neither
    assert registry.get(BASE).policy == base
    assert BASE in registry
    with pytest.raises(UnknownPolicyError, match="21 known policies"):
        registry.get("nope")
    # a folder read alone does not know the shipped base
    with pytest.raises(PolicyFileError, match=f"base policy '{BASE}' not found"):
        Registry(own).get("my-variant")


def test_the_shipped_policies_are_read_once(own: Path) -> None:
    assert shipped_registry() is shipped_registry()
    assert registry_for(None) is shipped_registry()
    assert registry_for(default_policy_dir()) is shipped_registry()
    assert registry_for(own).fallback is shipped_registry()


def test_the_cli_validates_and_simulates_a_policy_outside_the_shipped_folder(
    own: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    valid = runner.invoke(app, ["policy", "validate", str(own / "my-variant" / "policy.yaml")])
    assert valid.exit_code == 0, valid.output
    assert "1 file(s) valid" in valid.output
    out = tmp_path / "sim"
    ran = runner.invoke(
        app,
        [
            "sim", "run", "--policy", "my-variant", "--policies-dir", str(own),
            "--seeds", "1", "--days", "10", "--schools", "4",
            "--profiles", str(PROFILES), "--out", str(out),
        ],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert "my-variant: infections" in ran.output
    assert "my-variant" in (out / "report.md").read_text()
