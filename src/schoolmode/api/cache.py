"""Responses kept by content that cannot change, and answers kept for a moment.

A page of a stored run's decisions is the same for as long as the run is the latest for its
day (runs are append-only), so it is serialised once and served from here, keyed by the run
(``ResponseCache``). Which run is the latest for a day can change when anyone decides the day
again, in this server or another process: ``Recent`` keeps that answer for ``ttl`` seconds
(one second by default) and forgets it at once when this server stores a run.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class ResponseCache:
    """At most ``size`` serialised bodies, the least recently used dropped first."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key: Hashable) -> bytes | None:
        """The body kept under ``key``, if any (without making it)."""
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def get(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        body = self.peek(key)
        if body is not None:
            return body
        body = make()  # outside the lock: two misses of one key make the same bytes
        with self._lock:
            self._items[key] = body
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return body


class Recent(Generic[T]):
    """Answers that may change, each kept ``ttl`` seconds (at most ``size`` of them)."""

    def __init__(
        self, ttl: float = 1.0, size: int = 4096, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._items: dict[Hashable, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def peek(self, key: Hashable) -> tuple[T] | None:
        """``(answer,)`` kept under ``key`` while fresh, else None."""
        with self._lock:
            found = self._items.get(key)
        if found is None or found[0] < self.clock():
            return None
        return (found[1],)

    def put(self, key: Hashable, value: T) -> T:
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[key] = (self.clock() + self.ttl, value)
        return value

    def forget(self) -> None:
        """Drop every answer (this server just changed what they depend on)."""
        with self._lock:
            self._items.clear()
