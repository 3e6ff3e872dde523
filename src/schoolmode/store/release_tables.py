"""The public releases' tables (migration 0017): each release of a period's suppressed counts,
the tables it published and the exact figures it was made from; and the evidence published
from finished jobs (migration 0023); all append-only. Part of the
store's one schema (``metadata.py``); ``tables.py`` re-exports them."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from schoolmode.store.metadata import metadata
from schoolmode.store.metadata import stamp as _stamp

public_release = Table(
    "public_release",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(10), nullable=False, comment="day, week, citywide or zip"),
    Column("period_start", Date, nullable=False, comment="First day the release covers."),
    Column("period_end", Date, nullable=False, comment="Last day the release covers."),
    Column("rule_id", String(40), nullable=False, comment="The suppression rule applied."),
    Column("data_version", Integer, nullable=False, comment="The latest import it read."),
    Column(
        "inputs_sha256",
        String(64),
        nullable=False,
        comment="Digest of the exact figures released (never served: it would help guess them).",
    ),
    Column("published_sha256", String(64), nullable=False, comment="Digest of what was published."),
    Column("cells", Integer, nullable=False, comment="Counts of people in the release."),
    Column("hidden", Integer, nullable=False, comment="Of which suppressed."),
    Column("notes", Text, nullable=False, comment="JSON list: what was published coarser."),
    Column("software_version", String(40), nullable=False),
    *_stamp("created"),
    Index("ix_public_release_period", "kind", "period_start"),
    comment=(
        "One public release of a period's counts (suppressed): what anyone without a login "
        "was shown; a later release of the same period keeps what this one published."
    ),
)

public_release_table = Table(
    "public_release_table",
    metadata,
    Column("release_id", Integer, ForeignKey("public_release.id"), nullable=False),
    Column("name", String(40), nullable=False, comment="school, district, school_week, ..."),
    Column("rows", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False, comment="The table as published (Parquet)."),
    PrimaryKeyConstraint("release_id", "name"),
    comment="The tables of a public release, as published; never changed.",
)

public_release_input = Table(
    "public_release_input",
    metadata,
    Column("release_id", Integer, ForeignKey("public_release.id"), nullable=False),
    Column("name", String(40), nullable=False),
    Column("content", LargeBinary, nullable=False, comment="The exact figures (Parquet)."),
    PrimaryKeyConstraint("release_id", "name"),
    comment=(
        "The exact figures a public release was made from, so that a later release of the "
        "period protects what both show together; never served, never changed."
    ),
)

RELEASE_APPEND_ONLY = ("public_release", "public_release_table", "public_release_input")

# ---------------------------------------------------------------------- evidence

evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("job.id"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("note", Text, nullable=False, comment="What it shows, by whom published."),
    *_stamp("published"),
    comment=(
        "A finished backtest, sweep or simulation job published on the public evidence pages "
        "(migration 0023), after its files passed the small-count check; never changed."
    ),
)

EVIDENCE_APPEND_ONLY = ("evidence",)
