"""What every use case runs against: the settings, the store and the policies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from schoolmode.settings import AppSettings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from schoolmode.decisions.record import RunEvaluations
    from schoolmode.policy.loader import Registry


StoreUse = Literal["create", "existing", "initialised"]


@dataclass
class Context:
    """Settings, plus the store's engine, the policy registry and the recomputed evaluations
    of stored runs, each made on first use and kept for the context's life (``close``
    disposes the engine)."""

    settings: AppSettings = field(default_factory=AppSettings.load)
    store: StoreUse = "create"
    """What the store must be before it is opened: ``create`` (a writer that makes it: a
    missing SQLite file and its folder are created), ``existing`` (the file must exist) or
    ``initialised`` (it must exist and have its tables); else ``StoreError``, nothing
    created or written."""
    _engine: Engine | None = field(default=None, init=False, repr=False)
    _registry: Registry | None = field(default=None, init=False, repr=False)
    _evaluations: RunEvaluations | None = field(default=None, init=False, repr=False)

    @property
    def engine(self) -> Engine:
        """The store (SQLAlchemy engine) at ``settings.db_url``."""
        if self._engine is None:
            from schoolmode.store.db import check_schema, check_store, make_engine, sqlite_file

            url = self.settings.db_url
            if self.store == "create":
                path = sqlite_file(url)
                if path is not None:
                    path.parent.mkdir(parents=True, exist_ok=True)
            else:
                check_store(url, initialised=self.store == "initialised")
            engine = make_engine(url)
            if self.store == "initialised" and sqlite_file(url) is None:
                try:
                    check_schema(engine)
                except BaseException:
                    engine.dispose()
                    raise
            self._engine = engine
        return self._engine

    @property
    def registry(self) -> Registry:
        """The policies of ``settings.policies_dir`` (the shipped ones by default); a folder of
        one's own is read beside the shipped ones, which answer the ids it does not define."""
        if self._registry is None:
            from schoolmode.policy.loader import registry_for

            self._registry = registry_for(self.settings.policies_dir, self.settings.cache_dir)
        return self._registry

    @property
    def evaluations(self) -> RunEvaluations:
        """Stored runs evaluated again (for explanations they kept no trace for)."""
        if self._evaluations is None:
            from schoolmode.decisions.record import RunEvaluations

            self._evaluations = RunEvaluations()
        return self._evaluations

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


@contextmanager
def open_context(**overrides: object) -> Iterator[Context]:
    """A context from the environment and the given overrides (``db_url``, ``policies_dir``,
    ``data_dir``, ``cache_dir``; None values are ignored), closed afterwards."""
    ctx = Context(AppSettings.load(**overrides))
    try:
        yield ctx
    finally:
        ctx.close()
