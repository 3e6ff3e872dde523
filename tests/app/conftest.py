"""Fixtures of the use-case tests: a context on a migrated SQLite store and the repository's
policies, and one with the fixture history (CDPH daily testing and cases, CPS profiles)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schoolmode.app.context import Context, open_context
from schoolmode.store.migrate import upgrade
from tests.conftest import POLICIES, copy_history


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    """A context on an empty, migrated SQLite store."""
    with open_context(db_url=f"sqlite:///{tmp_path / 'store.sqlite'}", policies_dir=POLICIES) as c:
        upgrade(c.engine)
        yield c


@pytest.fixture(scope="module")
def history_ctx(
    tmp_path_factory: pytest.TempPathFactory, history_sqlite: Path
) -> Iterator[Context]:
    """A context on a copy of the session's store of the fixture history (CDPH daily testing
    and cases, CPS profiles), shared by a module's tests."""
    url = copy_history(history_sqlite, tmp_path_factory.mktemp("history"))
    with open_context(db_url=url, policies_dir=POLICIES) as c:
        yield c
