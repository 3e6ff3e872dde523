"""A disk cache of parsed YAML files: the plain data and the line of every key and item.

Keyed by the sha256 of the file's bytes and of this format's version, so a changed file (or a
new parser output format) is parsed again. Values are JSON with tags for the types JSON lacks
(decimal, date, date-time); a cache entry that cannot be read is ignored and rewritten, and a
cache folder that cannot be written only costs the parse. Entries are written to a temporary
file and renamed, so a reader never sees half an entry.

An entry decides what a policy says, so only the user's own entries are trusted: the folder is
created readable and writable by its owner only, and an entry owned by someone else, or
writable by group or others, is ignored (and parsed again).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import stat
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

FORMAT = "schoolmode-yaml-cache-1"
FOLDER = "policy-yaml"

Lines = dict[tuple[Any, ...], int]


def _key(raw: bytes) -> str:
    return hashlib.sha256(FORMAT.encode() + b"\0" + raw).hexdigest()


def _entry(cache_dir: Path, raw: bytes) -> Path:
    return cache_dir / FOLDER / f"{_key(raw)}.json"


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {"$map": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(f"cannot cache a value of type {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        (tag, inner), *_ = value.items()
        if tag == "$map":
            return {_decode(k): _decode(v) for k, v in inner}
        if tag == "$decimal":
            return Decimal(inner)
        if tag == "$datetime":
            return dt.datetime.fromisoformat(inner)
        if tag == "$date":
            return dt.date.fromisoformat(inner)
        raise ValueError(f"unknown tag {tag!r}")
    return value


def _trusted(entry: Path) -> bool:
    """Whether ``entry`` is the user's own and only they can write it."""
    info = entry.stat()
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def read(cache_dir: Path, raw: bytes) -> tuple[Any, Lines] | None:
    """The cached (data, lines) of a file with these bytes; None when there is none, when it
    cannot be read or when it is not the user's own (see the module note)."""
    entry = _entry(cache_dir, raw)
    try:
        if not _trusted(entry):
            return None
        stored = json.loads(entry.read_text(encoding="utf-8"))
        if stored.get("format") != FORMAT:
            return None
        lines = {tuple(_decode(path)): int(line) for path, line in stored["lines"]}
        return _decode(stored["data"]), lines
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def write(cache_dir: Path, raw: bytes, data: Any, lines: Lines) -> None:
    """Keep (data, lines) for a file with these bytes; silently nothing when the folder cannot
    be written or a value cannot be cached."""
    try:
        text = json.dumps(
            {
                "format": FORMAT,
                "data": _encode(data),
                "lines": [[_encode(list(path)), line] for path, line in lines.items()],
            }
        )
    except TypeError:
        return
    entry = _entry(cache_dir, raw)
    with contextlib.suppress(OSError):
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, entry)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
