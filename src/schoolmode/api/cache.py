"""Responses kept by content that cannot change: a page of a stored run's decisions is the
same for as long as the run is the latest for its day (runs are append-only), so it is
serialised once and served from here, keyed by the run."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable


class ResponseCache:
    """At most ``size`` serialised bodies, the least recently used dropped first."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        body = make()  # outside the lock: two misses of one key make the same bytes
        with self._lock:
            self._items[key] = body
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return body
