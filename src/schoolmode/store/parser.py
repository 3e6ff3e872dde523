"""What the import service needs from an importer (``store/service.py``), apart from the
service itself so that what names it (``app/data.py``'s import jobs) does not import polars."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from schoolmode.standard.batch import Batch


class Parser(Protocol):
    """What the service needs from an importer."""

    @property
    def source(self) -> str: ...

    def parse(self, path: Path) -> Batch: ...
