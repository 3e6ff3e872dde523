"""Parallel runs: the one place a Dask distributed client is made.

Backtest sweeps and simulator sweeps send their tasks to the client of :func:`dask_client`:
an existing scheduler's, or a fresh ``LocalCluster`` of worker processes on 127.0.0.1 with no
dashboard. ``distributed`` is imported only when a client is made (it is heavy and a serial
run never needs it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from schoolmode.policy.errors import SchoolmodeError

if TYPE_CHECKING:
    from distributed import Client


@contextmanager
def dask_client(workers: int = 2, scheduler: str | None = None) -> Iterator[Client]:
    """A client of an existing scheduler, or of a fresh ``LocalCluster`` of worker processes
    bound to 127.0.0.1 with no dashboard, closed on exit."""
    # optional heavy dependency: imported only when a cluster is wanted
    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    if workers < 1:
        raise SchoolmodeError(f"--workers must be at least 1, not {workers}")
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # no dashboard; the scheduler's small HTTP server (health routes) on any free port
            # of 127.0.0.1, not 8787, so that two clusters on one machine do not collide
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
