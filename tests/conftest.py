"""Shared fixtures: the shipped policies and the repository layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from schoolmode.policy.loader import Registry

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry(POLICIES)
