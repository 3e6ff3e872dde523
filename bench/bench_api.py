"""Benchmark the HTTP API under a steady load: latency and errors against the same use case
called in-process.

    uv run python bench/bench_api.py --db sqlite:///out/schoolmode.sqlite
    uv run python bench/bench_api.py --db sqlite:///out/schoolmode.sqlite \\
        --db postgresql+psycopg://schoolmode@127.0.0.1/schoolmode --rate 200 --seconds 60

For each store: an SQLite store is copied to a temporary folder first and the copy brought to
the current schema (the runs and accounts the benchmark writes never reach the original); a PostgreSQL store is used as given and gets a decision
run for the day (when it has none) and a benchmark account. Then `schoolmode serve` runs as
a process of its own on 127.0.0.1 (rate limits lifted), and a bounded client (at most
``--connections`` requests in flight, httpx on asyncio, in a process of its own) sends ``--rate`` requests a second for
``--seconds`` seconds, each at its scheduled time, for each scenario:

(a) the decisions of every school on the day (`GET /api/v1/decisions?scope=school`, one page
    of up to 1,000 schools), anonymous;
(b) one school's explanation on the day (`GET /api/v1/decisions/school/ID/explanation`), with
    a union safety committee token;
(c) the public school metrics of the day as CSV (`GET /api/v1/metrics/school/download`),
    anonymous: the stored public release (the day's week is released first when it is not).

Each scenario starts with one request alone (its time printed as "first request": the cold
cost of the path after the server's start), then ``--warmup`` seconds of the same load that
are not counted (caches filled, connections opened), then the measured ``--seconds``; each
request is started at its scheduled time. A request's latency runs from its scheduled time
(so a server that falls behind shows it) to the end of its response; an error is a status
other than 200 or a failed connection (its kind beside the count: the status, or the httpx
exception's name). The **baseline** is the same use case (`app.decisions.day_decisions`,
`app.decisions.explain`, `app.metrics.metrics_download`) called in this process on the same
store, ``--baseline-calls`` times or for 20 s, whichever comes first. Printed: a Markdown
table (requests, errors, achieved rate, p50 and p99 in ms, the in-process p50, and the ratio
of the API's p50 to it). The machine is shared: run it when it is quiet, and read ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bc  # tables

SCHOOLMODE = Path(sys.executable).parent / "schoolmode"
DEFAULT_DB = "sqlite:///out/schoolmode.sqlite"
DEFAULT_DAY = dt.date(2022, 1, 20)
ACCOUNT = "bench-union"
BASELINE_SECONDS = 20.0
"""Each scenario's in-process baseline stops after this long (at least 3 calls)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(url: str, day: dt.date) -> tuple[str, str]:
    """A decision run for ``day`` (made when the store has none), a union account's token and
    a school decided that day: (token, school)."""
    from schoolmode.access.roles import Principal, Role
    from schoolmode.app import access, decisions, releases
    from schoolmode.app.context import Context
    from schoolmode.policy.errors import SchoolmodeError
    from schoolmode.settings import AppSettings

    ctx = Context(AppSettings.load(db_url=url))
    try:
        found = decisions.day_decisions(
            ctx, decisions.DayDecisionsRequest(day=day, scope="school", limit=1)
        )
        if found is None:
            decisions.decide(ctx, decisions.DecideRequest(first=day, created_by="bench_api"))
            found = decisions.day_decisions(
                ctx, decisions.DayDecisionsRequest(day=day, scope="school", limit=1)
            )
        if found is None or not found.items:
            raise SystemExit(f"no school decided on {day}")
        # the public release of the day's week (the public metrics serve only what is released)
        monday = day - dt.timedelta(days=day.weekday())
        releases.publish(
            ctx,
            releases.PublishRequest(
                first=monday, last=monday + dt.timedelta(days=6), created_by="bench_api"
            ),
        )
        admin = Principal("bench_api", Role.administrator)
        with contextlib.suppress(SchoolmodeError):  # made by an earlier run on this store
            access.add_account(
                ctx,
                access.AddAccountRequest(name=ACCOUNT, role=Role.union_safety_committee),
                admin,
            )
        token = access.create_token(
            ctx, access.TokenRequest(name=ACCOUNT, label="bench_api", days=1), admin
        ).token
        return token, found.items[0].unit
    finally:
        ctx.close()


@contextmanager
def server(url: str, workers: int = 1) -> Iterator[str]:
    """``schoolmode serve`` on a free port (``workers`` processes), rate limits lifted: its
    base URL."""
    port = _free_port()
    env = {**os.environ, "SCHOOLMODE_API_RATE_ANONYMOUS": "1000000000"}
    env["SCHOOLMODE_API_RATE_TOKEN"] = "1000000000"
    proc = subprocess.Popen(
        [str(SCHOOLMODE), "serve", "--db", url, "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(
                    f"schoolmode serve exited: {proc.stderr.read() if proc.stderr else ''}"
                )
            try:
                if httpx.get(f"{base}/api/v1", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("schoolmode serve did not answer in 60 s")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


async def _load(
    base: str,
    path: str,
    headers: dict[str, str],
    rate: float,
    seconds: float,
    connections: int,
    warmup: float,
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    slots = asyncio.Semaphore(connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one(scheduled: float, latencies: list[float], errors: list[str]) -> None:
            async with slots:
                try:
                    response = await client.get(path, headers=headers)
                    error = "" if response.status_code == 200 else str(response.status_code)
                except httpx.HTTPError as exc:
                    error = type(exc).__name__
            latencies.append(time.perf_counter() - scheduled)
            if error:
                errors.append(error)

        async def phase(total: int) -> tuple[list[float], list[str], float]:
            # requests are started one by one at their scheduled times (a task each): no
            # backlog of waiting tasks for the event loop to walk at the start
            latencies: list[float] = []
            errors: list[str] = []
            tasks = []
            start = time.perf_counter()
            for index in range(total):
                scheduled = start + index / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(scheduled, latencies, errors)))
            await asyncio.gather(*tasks)
            return latencies, errors, time.perf_counter() - start

        cold, _, _ = await phase(1)  # the first request after start: alone, reported apart
        await phase(int(rate * warmup))  # not counted: caches, connections, the JIT of numba
        latencies, errors, elapsed = await phase(int(rate * seconds))
    return {
        "latencies": latencies,
        "errors": len(errors),
        "kinds": sorted(collections.Counter(errors).items()),
        "requests": len(latencies),
        "elapsed": elapsed,
        "cold": cold[0],
    }


def _load_sync(
    base: str,
    path: str,
    headers: dict[str, str],
    rate: float,
    seconds: float,
    connections: int,
    warmup: float,
) -> dict[str, Any]:
    return asyncio.run(_load(base, path, headers, rate, seconds, connections, warmup))


def client_process(
    base: str, path: str, headers: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    """The load from a process of its own (the client's Python is not the server's)."""
    with ProcessPoolExecutor(max_workers=1) as pool:
        return pool.submit(
            _load_sync,
            base,
            path,
            headers,
            args.rate,
            args.seconds,
            args.connections,
            args.warmup,
        ).result()


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def in_process(url: str, day: dt.date, school: str, calls: int) -> dict[str, list[float]]:
    """The baseline: each scenario's use case called ``calls`` times in this process."""
    from schoolmode.access.roles import ANONYMOUS
    from schoolmode.app import decisions, metrics
    from schoolmode.app.context import Context
    from schoolmode.settings import AppSettings

    ctx = Context(AppSettings.load(db_url=url))
    public = ANONYMOUS
    runs: dict[str, Callable[[], object]] = {
        "decisions": lambda: decisions.day_decisions(
            ctx, decisions.DayDecisionsRequest(day=day, scope="school", limit=1000)
        ),
        "explanation": lambda: decisions.explain(
            ctx, decisions.ExplainRequest(scope="school", unit=school, day=day)
        ),
        "download": lambda: metrics.metrics_download(
            ctx, metrics.MetricsRequest(level="school", start=day, end=day), public, "csv"
        ),
    }
    out = {}
    for name, run in runs.items():
        run()  # warm
        times: list[float] = []
        budget = time.perf_counter() + BASELINE_SECONDS
        while len(times) < calls and (len(times) < 3 or time.perf_counter() < budget):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
        out[name] = times
    ctx.close()
    return out


def bench_store(url: str, args: argparse.Namespace) -> list[list[str]]:
    token, school = prepare(url, args.day)
    baseline = in_process(url, args.day, school, args.baseline_calls)
    day = args.day.isoformat()
    scenarios = {
        "decisions": (f"/api/v1/decisions?date={day}&scope=school&limit=1000", {}),
        "explanation": (
            f"/api/v1/decisions/school/{school}/explanation?date={day}",
            {"Authorization": f"Bearer {token}"},
        ),
        "download": (f"/api/v1/metrics/school/download?from={day}&to={day}&format=csv", {}),
    }
    kind = url.split(":", 1)[0].split("+", 1)[0]
    rows = []
    with server(url, args.workers) as base:
        for name, (path, headers) in scenarios.items():
            got = client_process(base, path, headers, args)
            p50 = _quantile(got["latencies"], 0.5)
            inside = statistics.median(baseline[name])
            label = {
                "decisions": "(a) decisions of every school",
                "explanation": "(b) a school's explanation",
                "download": "(c) the public school metrics of the day, CSV",
            }[name]
            rows.append(
                [
                    f"{label}, {kind}",
                    f"{got['cold'] * 1000:.1f}",
                    f"{got['requests']:,}",
                    str(got["errors"]) + "".join(f" ({n} {kind})" for kind, n in got["kinds"]),
                    f"{got['requests'] / got['elapsed']:.0f}",
                    f"{p50 * 1000:.1f}",
                    f"{_quantile(got['latencies'], 0.99) * 1000:.1f}",
                    f"{inside * 1000:.1f}",
                    f"{p50 / inside:.1f}x",
                ]
            )
    return rows


@contextmanager
def local_copy(url: str) -> Iterator[str]:
    """An SQLite store's copy in a temporary folder (a PostgreSQL URL as it is)."""
    if not url.startswith("sqlite:///"):
        yield url
        return
    import sqlite3

    source = Path(url.removeprefix("sqlite:///"))
    if not source.is_file():
        raise SystemExit(f"{source}: no such store; build it with `scripts/run` first")
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        with sqlite3.connect(source) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        target = Path(tmp) / "store.sqlite"
        shutil.copyfile(source, target)
        copy = f"sqlite:///{target}"
        subprocess.run([str(SCHOOLMODE), "db", "upgrade", "--db", copy], check=True)
        yield copy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", action="append", help="a store (repeat for several)")
    parser.add_argument("--day", type=dt.date.fromisoformat, default=DEFAULT_DAY)
    parser.add_argument("--rate", type=float, default=200.0, help="requests a second")
    parser.add_argument("--seconds", type=float, default=60.0, help="per scenario")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds of load before each, not counted"
    )
    parser.add_argument("--connections", type=int, default=32, help="requests in flight, at most")
    parser.add_argument("--baseline-calls", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    args = parser.parse_args(argv)
    rows = []
    for url in args.db or [DEFAULT_DB]:
        with local_copy(url) as copy:
            rows.extend(bench_store(copy, args))
    header = [
        "scenario",
        "first request ms",
        "requests",
        "errors",
        "req/s",
        "p50 ms",
        "p99 ms",
        "in-process p50 ms",
        "API p50 / in-process",
    ]
    print(bc.markdown_table(header, rows))
    print(
        f"\n{args.rate:.0f} requests/s for {args.seconds:.0f} s per scenario after "
        f"{args.warmup:g} s not counted (the first request alone before it), at most "
        f"{args.connections} in flight; day {args.day}; {args.workers} server process(es)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
