"""The one settings object of a schoolmode process (pydantic-settings).

Built once at start (by the CLI, the coming API server, a benchmark) from the environment
(``SCHOOLMODE_*``) and explicit overrides such as ``--db``, validated there, and passed down:
no library module reads the environment itself.

| setting | environment | default |
|---|---|---|
| ``db_url`` | ``SCHOOLMODE_DB`` | ``sqlite:///schoolmode.sqlite`` |
| ``policies_dir`` | ``SCHOOLMODE_POLICIES`` | the policies shipped with the package |
| ``data_dir`` | ``SCHOOLMODE_DATA`` | the data shipped in the package (``schoolmode/data``) |
| ``cache_dir`` | ``SCHOOLMODE_CACHE`` | ``~/.cache/schoolmode`` |
| ``lock_wait_s`` | ``SCHOOLMODE_LOCK_WAIT`` | 600 (seconds a writer waits for another) |
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB_URL = "sqlite:///schoolmode.sqlite"
SHIPPED_DATA = Path(__file__).resolve().parent / "data"
"""The snapshot of the public source data shipped in the package (``schoolmode/data``: each
source's files gzip-compressed, with its ``SOURCE.md``)."""


def default_data_dir() -> Path:
    """The shipped snapshot (``SHIPPED_DATA``): the data folder when nothing else is said."""
    return SHIPPED_DATA


def default_cache_dir() -> Path:
    """``~/.cache/schoolmode``: the cache folder when nothing else is said."""
    return Path.home() / ".cache" / "schoolmode"


class AppSettings(BaseSettings):
    """Where the store, the policies, the source data and the caches are."""

    model_config = SettingsConfigDict(env_prefix="SCHOOLMODE_", extra="ignore", frozen=True)

    db_url: str = Field(
        default=DEFAULT_DB_URL,
        validation_alias=AliasChoices("SCHOOLMODE_DB", "db_url"),
        description="SQLAlchemy URL of the store (sqlite:///PATH or postgresql+psycopg://...).",
    )
    policies_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("SCHOOLMODE_POLICIES", "policies_dir"),
        description="Folder of policy folders; None: the shipped policies.",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        validation_alias=AliasChoices("SCHOOLMODE_DATA", "data_dir"),
        description="Folder of the real source data files read by `import chicago` (default: "
        "the snapshot shipped in the package).",
    )
    cache_dir: Path = Field(
        default_factory=default_cache_dir,
        validation_alias=AliasChoices("SCHOOLMODE_CACHE", "cache_dir"),
        description="Folder for caches (parsed policy files, the simulator's calibrated beta).",
    )

    lock_wait_s: float = Field(
        default=600.0,
        ge=0,
        validation_alias=AliasChoices("SCHOOLMODE_LOCK_WAIT", "lock_wait_s"),
        description="Seconds an import or a review waits for another one writing the same "
        "dataset (on SQLite: any other write) before it is refused, nothing written.",
    )

    @field_validator("db_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value.removeprefix("postgresql://")
        if "://" not in value:
            raise ValueError(
                f"{value!r} is not a database URL: write sqlite:///PATH or "
                "postgresql+psycopg://USER@HOST/DB"
            )
        return value

    @classmethod
    def load(cls, **overrides: object) -> AppSettings:
        """From the environment, with the given non-None overrides (command-line options) on
        top."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return cls(**given)  # type: ignore[arg-type]
