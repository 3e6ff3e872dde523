"""Fixtures of the use-case tests: a context on a migrated SQLite store and the repository's
policies, and one with the fixture history (CDPH daily testing and cases, CPS profiles)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schoolmode.app.context import Context, open_context
from schoolmode.importers import IMPORTERS
from schoolmode.store.migrate import upgrade
from schoolmode.store.service import run_import
from tests.conftest import FIXTURE_DATA, POLICIES

HISTORY = ("cdph-daily-testing", "cdph-daily-cases", "cps-school-profiles")


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    """A context on an empty, migrated SQLite store."""
    with open_context(db_url=f"sqlite:///{tmp_path / 'store.sqlite'}", policies_dir=POLICIES) as c:
        upgrade(c.engine)
        yield c


@pytest.fixture(scope="module")
def history_ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    """A context on a store holding the fixture history (shared by a module's tests)."""
    folder = tmp_path_factory.mktemp("history")
    with open_context(db_url=f"sqlite:///{folder / 'store.sqlite'}", policies_dir=POLICIES) as c:
        upgrade(c.engine)
        for source in HISTORY:
            for path in IMPORTERS[source].default_paths(FIXTURE_DATA):
                run_import(c.engine, IMPORTERS[source], path)
        yield c
