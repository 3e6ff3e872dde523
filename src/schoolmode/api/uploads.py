"""Pages of a list and uploaded files, shared by the route groups.

A list answers a :class:`Page` (``total``, ``limit``, ``offset``, ``items``) and tells the
access log how many rows it returned; an uploaded file is written, with its own name, into a
temporary folder for the use case to read (at most :data:`UPLOAD_LIMIT` bytes, else 413), and
a file refused for its rows is a 422 problem naming the file, row and field of each error.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Generic, TypeVar

from fastapi import Query, Request, UploadFile
from pydantic import BaseModel

from schoolmode.api.problems import InvalidParam, ProblemError
from schoolmode.app.data import RowProblem

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=1000, description="Rows per page")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="Rows skipped")]

UPLOAD_LIMIT = 256 * 1024 * 1024
"""The largest file an upload may carry (bytes): the biggest shipped source is 40 MB."""
_CHUNK = 1024 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    total: int
    limit: int
    offset: int
    items: list[T]


def page(request: Request, items: Sequence[T], limit: int, offset: int) -> Page[T]:
    """The page ``offset``..``offset + limit`` of ``items``; its rows told to the access log."""
    chosen = list(items[offset : offset + limit])
    request.state.rows = len(chosen)
    return Page[T](total=len(items), limit=limit, offset=offset, items=chosen)


@contextmanager
def saved(upload: UploadFile, default_name: str) -> Iterator[Path]:
    """The uploaded file written into a temporary folder under its own name (made safe; the
    importers and their messages use it), removed afterwards."""
    name = _SAFE_NAME.sub("_", Path(upload.filename or default_name).name).lstrip(".")
    with tempfile.TemporaryDirectory(prefix="schoolmode-upload-") as folder:
        path = Path(folder) / (name or default_name)
        size = 0
        with path.open("wb") as out:
            while chunk := upload.file.read(_CHUNK):
                size += len(chunk)
                if size > UPLOAD_LIMIT:
                    raise ProblemError(
                        413, "File too large", f"an upload is at most {UPLOAD_LIMIT} bytes"
                    )
                out.write(chunk)
        yield path


def refused_file(path: Path, message: str, problems: list[RowProblem]) -> ProblemError:
    """The uploaded file ``path`` refused, nothing imported: 422 naming each row error's file,
    row and field (``file.<name>.row.<n>.<field>``; the header is row 0), the temporary
    folder left out."""
    message = message.replace(f"{path.parent}/", "")
    invalid = [
        InvalidParam(
            name=f"file.{Path(p.file).name}.row.{p.row or 0}.{p.field}",
            reason=f"value {p.value!r}; expected {p.expected}",
        )
        for p in problems
    ]
    return ProblemError(422, "File refused, nothing imported", message, invalid=invalid or None)
