"""HTTP for ``fetch``: one httpx client; each request retried with bounded exponential backoff
on 429, 5xx, connection errors and truncated bodies (``Retry-After`` honoured, capped); the
content type checked; a body streamed to a file whose length is checked against
``Content-Length``. Files reach the cache through :func:`atomic_file`: written beside their
final name and moved into place with ``os.replace``, so a reader sees the old file or the
whole new one, never part of one."""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from schoolmode.policy.errors import SchoolmodeError

Progress = Callable[[str, int, int | None], None]
"""Called as ``progress(what, done, total)`` while a file is fetched (``total`` None when not
known)."""

CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")
JSON_TYPES = ("application/json",)
GZIP_TYPES = ("application/gzip", "application/x-gzip", "application/octet-stream")


class FetchError(SchoolmodeError):
    """A file could not be fetched, or what came is not what the importer reads; the cache
    is left as it was."""


class IncompleteBody(Exception):
    """Raised by a ``download`` check: the body came whole by HTTP's account but is cut (a CSV
    row without its end); the file is fetched again."""


class _Retry(Exception):
    """A failure worth another try (the reason, and the server's ``Retry-After`` if any)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass(frozen=True)
class HttpConfig:
    """How requests are made and retried."""

    retries: int = 5
    """Tries after the first."""
    backoff_s: float = 1.0
    """The first wait; doubled before each later try."""
    max_wait_s: float = 60.0
    """No wait is longer (a larger ``Retry-After`` included)."""
    timeout_s: float = 60.0
    site_headers: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)
    """Headers sent with the requests to an address starting with each key (the Socrata app
    token, to the Chicago portal only); never printed."""

    def headers_for(self, url: str) -> dict[str, str]:
        """The headers of a request to ``url``."""
        found: dict[str, str] = {}
        for prefix, headers in self.site_headers.items():
            if url.startswith(prefix.rstrip("/") + "/"):
                found.update(headers)
        return found


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date; None when absent or
    unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


class Http:
    """GET with retries; JSON documents and streamed files."""

    def __init__(
        self,
        config: HttpConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.sleep = sleep
        self.client = httpx.Client(timeout=config.timeout_s, follow_redirects=True)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def wait_before(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counted from 0)."""
        wait = retry_after if retry_after is not None else self.config.backoff_s * 2**attempt
        return min(wait, self.config.max_wait_s)

    def _retrying(self, url: str, attempt: Callable[[], Any]) -> Any:
        for n in range(self.config.retries + 1):
            try:
                return attempt()
            except _Retry as exc:
                if n == self.config.retries:
                    raise FetchError(
                        f"{url}: {exc} (gave up after {n + 1} tries); the cache is as it was"
                    ) from None
                self.sleep(self.wait_before(n, exc.retry_after))
        raise AssertionError("unreachable")  # pragma: no cover

    def _check(self, url: str, response: httpx.Response, accept: tuple[str, ...]) -> None:
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status}", retry_after_seconds(response.headers.get("retry-after")))
        if status != 200:
            body = response.read()[:300].decode("utf-8", "replace").strip()
            raise FetchError(f"{url}: HTTP {status} {response.reason_phrase}: {body}")
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in accept:
            raise FetchError(
                f"{url}: the server sent {kind or 'no content type'!r}, expected "
                f"{' or '.join(accept)}; nothing written"
            )

    def get_json(self, url: str, params: Mapping[str, str | int] | None = None) -> Any:
        """The JSON document at ``url``."""

        def attempt() -> Any:
            try:
                with self.client.stream(
                    "GET", url, params=params, headers=self.config.headers_for(url)
                ) as response:
                    self._check(url, response, JSON_TYPES)
                    body = response.read()
                    _check_length(response, response.num_bytes_downloaded)
            except httpx.RemoteProtocolError as exc:
                raise _Retry(f"truncated body ({exc})") from None
            except httpx.TransportError as exc:
                raise _Retry(f"{type(exc).__name__}: {exc}") from None
            try:
                return json.loads(body)
            except ValueError as exc:
                raise _Retry(f"the JSON document is cut or malformed ({exc})") from None

        return self._retrying(url, attempt)

    def download(
        self,
        url: str,
        out: Path,
        *,
        params: Mapping[str, str | int] | None = None,
        accept: tuple[str, ...] = CSV_TYPES,
        progress: Progress | None = None,
        label: str = "",
        verify: Callable[[Path], object] | None = None,
    ) -> int:
        """Stream the body at ``url`` into ``out`` (overwritten by each try); its size.
        ``verify(out)`` may raise :class:`IncompleteBody` to have it fetched again."""

        def attempt() -> int:
            try:
                with self.client.stream(
                    "GET", url, params=params, headers=self.config.headers_for(url)
                ) as response:
                    self._check(url, response, accept)
                    length = response.headers.get("content-length")
                    total = int(length) if length and length.isdigit() else None
                    with out.open("wb") as handle:
                        for chunk in response.iter_bytes(1 << 16):
                            handle.write(chunk)
                            if progress is not None:
                                progress(label, response.num_bytes_downloaded, total)
                    _check_length(response, response.num_bytes_downloaded)
                if verify is not None:
                    verify(out)
                return response.num_bytes_downloaded
            except httpx.RemoteProtocolError as exc:
                raise _Retry(f"truncated body ({exc})") from None
            except httpx.TransportError as exc:
                raise _Retry(f"{type(exc).__name__}: {exc}") from None
            except IncompleteBody as exc:
                raise _Retry(f"truncated body: {exc}") from None

        size: int = self._retrying(url, attempt)
        return size


def _check_length(response: httpx.Response, received: int) -> None:
    length = response.headers.get("content-length")
    if length and length.isdigit() and int(length) != received:
        raise _Retry(f"truncated body: {received:,} of {int(length):,} bytes")


@contextlib.contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """A temporary path beside ``final``; moved onto ``final`` (``os.replace``, after an
    fsync) when the block ends normally, deleted when it raises."""
    final.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
        with temp.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)


@contextlib.contextmanager
def scratch_file(folder: Path, name: str) -> Iterator[Path]:
    """A temporary file in ``folder`` (a page being fetched), deleted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, path = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".page")
    os.close(handle)
    try:
        yield Path(path)
    finally:
        Path(path).unlink(missing_ok=True)
