"""Rate limits: requests a minute per bearer token, per account logged in by a browser session
cookie (all its sessions together) and per anonymous client (a sliding window, in each server
process; a reverse proxy in front may add its own)."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """At most ``limit`` events per key in any ``window`` seconds."""

    def __init__(self, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, limit: int) -> float | None:
        """Record one event for ``key``: None when allowed, else the seconds until one is."""
        now = self.clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= limit:
                return events[0] + self.window - now
            events.append(now)
            if len(self._events) > 100_000:  # forget idle keys
                self._events = {k: v for k, v in self._events.items() if v}
            return None

    def waiting(self, key: str, limit: int) -> float | None:
        """Without recording an event: None when one more for ``key`` is allowed, else the
        seconds until one is."""
        now = self.clock()
        with self._lock:
            recent = [t for t in self._events.get(key, ()) if t > now - self.window]
            return None if len(recent) < limit else recent[-limit] + self.window - now


def client_key(authorization: str | None, client: str | None) -> tuple[str, bool]:
    """The key a request is counted under and whether it is a token's: a bearer token by its
    sha256 (never the token), else the client's address."""
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
        return "token:" + hashlib.sha256(token.encode()).hexdigest(), True
    return f"client:{client or 'unknown'}", False


def session_key(account: str | None) -> str:
    """The key of the requests of a live browser session: its account's (not the cookie's, so
    that a new login does not start a new count)."""
    return f"session:{account}"


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
