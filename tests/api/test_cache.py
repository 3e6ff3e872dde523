"""The API's caches: bodies kept by immutable content, answers kept for a moment, and a
stored run evaluated once for the explanations of many units."""

from __future__ import annotations

from schoolmode.api.cache import Recent, ResponseCache


def test_a_recent_answer_is_kept_for_its_time_and_forgotten_on_demand() -> None:
    now = [100.0]
    recent = Recent[int | None](ttl=1.0, clock=lambda: now[0])
    assert recent.peek("2022-01-20") is None
    assert recent.put("2022-01-20", None) is None
    assert recent.peek("2022-01-20") == (None,)  # "no run that day" is an answer too
    recent.put("2022-01-21", 7)
    now[0] += 0.5
    assert recent.peek("2022-01-21") == (7,)
    now[0] += 0.6
    assert recent.peek("2022-01-21") is None  # older than a second: asked again
    recent.put("2022-01-21", 8)
    recent.forget()
    assert recent.peek("2022-01-21") is None


def test_the_response_cache_makes_a_body_once_and_drops_the_least_recent() -> None:
    cache = ResponseCache(size=2)
    made: list[str] = []

    def make(key: str) -> bytes:
        made.append(key)
        return key.encode()

    assert cache.get("a", lambda: make("a")) == b"a"
    assert cache.get("a", lambda: make("a")) == b"a"
    cache.get("b", lambda: make("b"))
    assert cache.peek("a") == b"a"  # now the most recent
    cache.get("c", lambda: make("c"))
    assert cache.peek("b") is None
    assert made == ["a", "b", "c"]
