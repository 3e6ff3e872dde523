"""``audit verify``: the hash chain of the audit records (decision runs, authorisations, the access
log, the import log, the accommodation lottery's seed commitments) and every run's input snapshot, checked against the store as it is now;
the first broken link is named first."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import aliased

from schoolmode.decisions.record import inputs_digest, unpack
from schoolmode.store.chain import CHAINED, GENESIS, link_digest, record_digest
from schoolmode.store.tables import chain_link, decision_run, import_log


@dataclass(frozen=True)
class Verification:
    """What ``audit verify`` found: the chain's length and head, how many input snapshots
    were checked, and every problem (empty: intact)."""

    links: int
    head: str | None
    snapshots: int
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    def render(self) -> str:
        if self.intact:
            return (
                f"intact: {self.links} links, head {self.head or '(empty)'}; "
                f"{self.snapshots} input snapshots match their digests"
            )
        return "BROKEN:\n" + "\n".join(f"- {p}" for p in self.problems)


def _supersessions(conn: Connection) -> list[str]:
    """An import-log entry that a later import names in ``supersedes_id`` must say
    ``superseded`` (its link leaves the status out: the successor's link fixes it)."""
    later = aliased(import_log)
    rows = conn.execute(
        select(import_log.c.id, later.c.id)
        .join(later, later.c.supersedes_id == import_log.c.id)
        .where(import_log.c.status != "superseded")
        .order_by(import_log.c.id)
    ).all()
    return [
        f"import_log {old}: import_log {new} superseded it, yet it says it is current"
        for old, new in rows
    ]


def verify(engine: Engine, published_head: str | None = None) -> Verification:
    """Check every link (its place after the one before, its own digest, its record's content
    now), that every chained record has a link, that every run's stored inputs still have the
    digest it recorded, and (``published_head``) that a head published earlier is in the
    chain."""
    problems: list[str] = []
    with engine.connect() as conn:
        links = conn.execute(select(chain_link).order_by(chain_link.c.id)).all()
        expected = GENESIS
        seen: set[tuple[str, int]] = set()
        digests = set()
        for link in links:
            where = f"link {link.id} ({link.record_table} {link.record_id})"
            if link.prev_sha256 != expected:
                problems.append(f"{where} does not follow the link before it: a link was removed")
            if link.link_sha256 != link_digest(
                link.prev_sha256, link.record_table, link.record_id, link.content_sha256
            ):
                problems.append(f"{where} was altered: its digest does not match its content")
            now = record_digest(conn, link.record_table, link.record_id)
            if now is None:
                problems.append(f"{where}: the record is gone (deleted)")
            elif now != link.content_sha256:
                problems.append(f"{where}: the record changed after it was linked")
            expected = link.link_sha256
            digests.add(link.link_sha256)
            seen.add((link.record_table, int(link.record_id)))
        for name, table in CHAINED.items():
            for (record_id,) in conn.execute(select(table.c.id).order_by(table.c.id)):
                if (name, int(record_id)) not in seen:
                    problems.append(f"{name} {record_id} has no link: added outside schoolmode")
        problems.extend(_supersessions(conn))
        snapshots = 0
        for run_id, recorded, blob in conn.execute(
            select(decision_run.c.id, decision_run.c.inputs_sha256, decision_run.c.inputs_parquet)
        ):
            snapshots += 1
            if inputs_digest(unpack(bytes(blob))) != recorded:
                problems.append(
                    f"decision run {run_id}: its input snapshot does not match its digest"
                )
    if published_head is not None and published_head not in digests:
        problems.append(
            f"the published head {published_head} is not in the chain: its history was rewritten"
        )
    return Verification(len(links), links[-1].link_sha256 if links else None, snapshots, problems)
