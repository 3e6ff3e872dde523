from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _beta_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``beta: auto`` caches on disk where the CLI's settings say (``SCHOOLMODE_CACHE``): keep
    the tests' cache out of the home directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCHOOLMODE_CACHE", str(tmp_path_factory.mktemp("sim-cache")))
        yield
