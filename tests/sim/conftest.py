from __future__ import annotations

from collections.abc import Iterator

import pytest

from schoolmode.sim.beta import CACHE_ENV


@pytest.fixture(autouse=True, scope="session")
def _beta_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``beta: auto`` caches on disk: keep the tests' cache out of the home directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("sim-cache")))
        yield
