"""How a use case tells its caller about long work (a face shows it as a progress bar)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Stage = Callable[[str], None]
"""Told what the use case is doing now (a short description), stage by stage."""


class Steps(Protocol):
    """Long work: a task of ``total`` steps starts; a step is done (and what comes next)."""

    def start(self, description: str, total: int) -> None: ...

    def advance(self, description: str | None = None) -> None: ...


class Silent:
    """Steps told to no one."""

    def start(self, description: str, total: int) -> None:
        pass

    def advance(self, description: str | None = None) -> None:
        pass
