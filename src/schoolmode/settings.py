"""The one settings object of a schoolmode process (pydantic-settings).

Built once at start (by the CLI, the API server, a benchmark) from the environment
(``SCHOOLMODE_*``) and explicit overrides such as ``--db``, validated there, and passed down:
no library module reads the environment itself.

| setting | environment | default |
|---|---|---|
| ``db_url`` | ``SCHOOLMODE_DB`` | ``sqlite:///out/schoolmode.sqlite`` (relative to the current folder) |
| ``policies_dir`` | ``SCHOOLMODE_POLICIES`` | the policies shipped with the package |
| ``data_dir`` | ``SCHOOLMODE_DATA`` | the data shipped in the package (``schoolmode/data``) |
| ``cache_dir`` | ``SCHOOLMODE_CACHE`` | ``~/.cache/schoolmode`` |
| ``chicago_portal_url`` | ``SCHOOLMODE_CHICAGO_PORTAL_URL`` | ``https://data.cityofchicago.org`` |
| ``github_raw_url`` | ``SCHOOLMODE_GITHUB_RAW_URL`` | ``https://raw.githubusercontent.com`` |
| ``ontario_portal_url`` | ``SCHOOLMODE_ONTARIO_PORTAL_URL`` | ``https://data.ontario.ca`` |
| ``sociopatterns_url`` | ``SCHOOLMODE_SOCIOPATTERNS_URL`` | ``https://www.sociopatterns.org`` |
| ``socrata_app_token`` | ``SCHOOLMODE_SOCRATA_APP_TOKEN`` | none (anonymous, throttled) |
| ``fetch_page_size`` | ``SCHOOLMODE_FETCH_PAGE_SIZE`` | 50000 rows per Socrata page |
| ``fetch_retries`` | ``SCHOOLMODE_FETCH_RETRIES`` | 5 tries after the first |
| ``fetch_backoff`` | ``SCHOOLMODE_FETCH_BACKOFF`` | 1 second, doubled each try |
| ``api_rate_anonymous`` | ``SCHOOLMODE_API_RATE_ANONYMOUS`` | 120 requests a minute per client |
| ``api_rate_token`` | ``SCHOOLMODE_API_RATE_TOKEN`` | 1200 requests a minute per token |
| ``api_rate_session`` | ``SCHOOLMODE_API_RATE_SESSION`` | 600 requests a minute per account logged in by browser sessions |
| ``lock_wait_s`` | ``SCHOOLMODE_LOCK_WAIT`` | 600 (seconds a writer waits for another) |
| ``session_idle_minutes`` | ``SCHOOLMODE_SESSION_IDLE_MINUTES`` | 30 (a browser session unused this long ends) |
| ``session_absolute_hours`` | ``SCHOOLMODE_SESSION_ABSOLUTE_HOURS`` | 12 (a browser session ends this long after login) |
| ``session_cookie_secure`` | ``SCHOOLMODE_SESSION_COOKIE_SECURE`` | ``auto`` (``Secure`` unless plain http on a loopback host) |
| ``login_failures`` | ``SCHOOLMODE_LOGIN_FAILURES`` | 10 failed logins per name and per client in 15 minutes |
| ``oidc_issuer`` | ``SCHOOLMODE_OIDC_ISSUER`` | none: OpenID Connect login off |
| ``oidc_client_id`` | ``SCHOOLMODE_OIDC_CLIENT_ID`` | none |
| ``oidc_client_secret`` | ``SCHOOLMODE_OIDC_CLIENT_SECRET`` (environment only) | none |
| ``oidc_scopes`` | ``SCHOOLMODE_OIDC_SCOPES`` | ``openid`` |
| ``jobs_scheduler`` | ``SCHOOLMODE_JOBS_SCHEDULER`` | none: the API starts a LocalCluster |
| ``jobs_workers`` | ``SCHOOLMODE_JOBS_WORKERS`` | 2 worker processes of that LocalCluster |
| ``map_tile_url`` | ``SCHOOLMODE_MAP_TILE_URL`` | none: the dashboard's map draws the schools on a plain background |
| ``smtp_host`` | ``SCHOOLMODE_SMTP_HOST`` | none: e-mail alerts off |
| ``smtp_port`` | ``SCHOOLMODE_SMTP_PORT`` | 587 |
| ``smtp_starttls`` | ``SCHOOLMODE_SMTP_STARTTLS`` | true (STARTTLS before logging in or sending) |
| ``smtp_username`` | ``SCHOOLMODE_SMTP_USERNAME`` | none (no login) |
| ``smtp_password`` | ``SCHOOLMODE_SMTP_PASSWORD`` (environment only) | none |
| ``smtp_from`` | ``SCHOOLMODE_SMTP_FROM`` | ``schoolmode@localhost`` |
| ``site_url`` | ``SCHOOLMODE_SITE_URL`` | ``http://127.0.0.1:8000`` (the links in alerts) |
| ``alert_timeout_s`` | ``SCHOOLMODE_ALERT_TIMEOUT`` | 10 seconds a webhook or SMTP exchange |
| ``map_tile_attribution`` | ``SCHOOLMODE_MAP_TILE_ATTRIBUTION`` | none (the tile server's credit, shown on the map) |

``fetch_cache_dir`` (``cache_dir/fetch``) is where ``schoolmode fetch`` writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schoolmode import DEFAULT_DB_URL

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

    chicago_portal_url: str = Field(
        default="https://data.cityofchicago.org",
        description="The City of Chicago data portal (Socrata) that `fetch` reads.",
    )
    github_raw_url: str = Field(
        default="https://raw.githubusercontent.com",
        description="GitHub's raw-file address (the CPS case reports archive at its commit).",
    )
    ontario_portal_url: str = Field(
        default="https://data.ontario.ca",
        description="Ontario's open data portal (CKAN) that `fetch` reads.",
    )
    sociopatterns_url: str = Field(
        default="https://www.sociopatterns.org",
        description="SocioPatterns' site (contact files, fetched into the cache only).",
    )
    socrata_app_token: SecretStr | None = Field(
        default=None,
        description="Socrata app token sent as X-App-Token (less throttling); never printed.",
    )
    fetch_page_size: int = Field(default=50_000, ge=1, description="Rows per Socrata page.")
    fetch_retries: int = Field(default=5, ge=0, description="Tries after the first.")
    fetch_backoff: float = Field(
        default=1.0, ge=0, description="Seconds before the first retry, doubled each retry."
    )

    api_rate_anonymous: int = Field(
        default=120, ge=1, description="Requests a minute an anonymous client may make."
    )
    api_rate_token: int = Field(
        default=1200, ge=1, description="Requests a minute one bearer token may make."
    )
    api_rate_session: int = Field(
        default=600,
        ge=1,
        description="Requests a minute one account may make through its browser sessions "
        "(all of them together).",
    )

    @property
    def fetch_cache_dir(self) -> Path:
        """Where ``schoolmode fetch`` writes: ``cache_dir/fetch``, laid out as a data folder."""
        return self.cache_dir / "fetch"

    lock_wait_s: float = Field(
        default=600.0,
        ge=0,
        validation_alias=AliasChoices("SCHOOLMODE_LOCK_WAIT", "lock_wait_s"),
        description="Seconds an import or a review waits for another one writing the same "
        "dataset (on SQLite: any other write) before it is refused, nothing written.",
    )

    session_idle_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="A browser session unused this long ends."
    )
    session_absolute_hours: float = Field(
        default=12.0, gt=0, le=24 * 7, description="A browser session ends this long after login."
    )
    session_cookie_secure: Literal["auto", "always"] = Field(
        default="auto",
        description="`always`: the session cookie is `Secure` on every request; `auto`: also, "
        "except on plain http to a loopback host (127.0.0.1, ::1, localhost), for development.",
    )
    login_failures: int = Field(
        default=10,
        ge=1,
        description="Failed logins allowed per account name and per client in 15 minutes.",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect issuer (its discovery document is at "
        "ISSUER/.well-known/openid-configuration); none: OpenID login is off.",
    )
    oidc_client_id: str | None = Field(default=None, description="This service's client id.")
    oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="The client secret: from the environment only (never a command line).",
    )
    oidc_scopes: str = Field(
        default="openid",
        pattern=r"(^| )openid( |$)",
        description="Scopes asked for (space-separated; `openid` needed, nothing more used).",
    )

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.removesuffix("/.well-known/openid-configuration")
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError(f"{value!r}: an OpenID issuer is an https:// address")
        return value

    @model_validator(mode="after")
    def _oidc_client(self) -> AppSettings:
        if self.oidc_issuer is not None and self.oidc_client_id is None:
            raise ValueError("oidc_issuer is set but oidc_client_id is not")
        return self

    jobs_scheduler: str | None = Field(
        default=None,
        description="Address of the Dask scheduler the API's jobs (backtests, sweeps, "
        "simulations) run on; none: a LocalCluster started by the server on its first job.",
    )
    jobs_workers: int = Field(
        default=2, ge=1, le=64, description="Worker processes of the API's LocalCluster."
    )
    smtp_host: str | None = Field(default=None, description="SMTP server for e-mail alerts.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = Field(default=True, description="STARTTLS before logging in.")
    smtp_username: str | None = Field(default=None)
    smtp_password: SecretStr | None = Field(
        default=None, description="From the environment only (never a command line)."
    )
    smtp_from: str = Field(default="schoolmode@localhost", max_length=200)
    site_url: str = Field(
        default="http://127.0.0.1:8000",
        pattern=r"^https?://[^/\s]+$",
        description="The site's address, for the links in alerts (no trailing slash).",
    )
    alert_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=120,
        validation_alias=AliasChoices("SCHOOLMODE_ALERT_TIMEOUT", "alert_timeout_s"),
    )
    map_tile_url: str | None = Field(
        default=None,
        pattern=r"^https://[^/\s]+/\S*\{z\}\S*$",
        description="A tile server for the dashboard's map (https, with {z}, {x} and {y}, e.g. "
        "your own tile server's https://tiles.example.org/{z}/{x}/{y}.png); its host is the one "
        "other site the map's pages load images from. None: the schools on a plain background.",
    )
    map_tile_attribution: str | None = Field(
        default=None, max_length=300, description="The tile server's credit, shown on the map."
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
        if "oidc_client_secret" in given:
            raise ValueError("the OpenID client secret comes from the environment only")
        if "smtp_password" in given:
            raise ValueError("the SMTP password comes from the environment only")
        return cls(**given)  # type: ignore[arg-type]
