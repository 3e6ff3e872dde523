"""Fetch one source's files into the cache: each file checked (content type, length, whole
rows, the columns the importer reads, a pinned file's sha256) and moved into place atomically;
its sha256 told, and whether it differs from the cached copy.

``--since DATE`` (Chicago portal datasets with a date column): the import service replaces a
dataset by a whole file (a file lacking stored rows is refused), so the rows from DATE on are
fetched and merged into the cached whole file (its rows before DATE kept, and those without a
date), which is then imported whole: changed rows are corrections with history. Without a
cached whole file, ``--since`` is refused."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

from schoolmode.fetch.http import (
    CSV_TYPES,
    GZIP_TYPES,
    FetchError,
    Http,
    IncompleteBody,
    Progress,
    atomic_file,
)
from schoolmode.fetch.socrata import (
    Query,
    export_date,
    fetch_rows,
    find_dataset_id,
    header_row,
    plan,
    writer_for,
)
from schoolmode.fetch.sources import (
    CkanResource,
    ContactFile,
    FetchSource,
    PinnedFile,
    Remote,
    SocrataDataset,
)
from schoolmode.fetch.table import check_columns, check_complete, rows, shipped_header


@dataclass(frozen=True)
class Publishers:
    """Base address of each publisher (settings; tests point them at a local server)."""

    chicago: str = "https://data.cityofchicago.org"
    github: str = "https://raw.githubusercontent.com"
    ontario: str = "https://data.ontario.ca"
    sociopatterns: str = "https://www.sociopatterns.org"


@dataclass(frozen=True)
class FetchPlan:
    cache: Path
    """The fetch cache: files at their paths under a data folder."""
    publishers: Publishers
    page_size: int = 50_000
    since: dt.date | None = None


@dataclass(frozen=True)
class FetchedFile:
    source: str
    path: Path
    """The cached file."""
    url: str
    sha256: str
    rows: int
    status: str
    """``new`` (nothing cached before), ``changed`` or ``unchanged`` (same bytes as cached)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_source(
    http: Http, source: FetchSource, plan_: FetchPlan, progress: Progress | None = None
) -> list[FetchedFile]:
    """Fetch every file of ``source`` into the cache (each file whole or not at all)."""
    if plan_.since is not None:
        no_date = [r.file for r in source.files if getattr(r, "date_column", None) is None]
        if no_date:
            raise FetchError(
                f"{source.source}: --since needs a dated dataset of the Chicago portal; "
                f"{', '.join(no_date)} can only be fetched whole (leave out --since)"
            )
    return [_fetch_one(http, source.source, remote, plan_, progress) for remote in source.files]


def _fetch_one(
    http: Http, source: str, remote: Remote, plan_: FetchPlan, progress: Progress | None
) -> FetchedFile:
    final = plan_.cache / remote.file
    before = sha256_of(final) if final.is_file() else None
    with atomic_file(final) as temp:
        if isinstance(remote, SocrataDataset):
            url, count = _socrata(http, remote, plan_, temp, progress)
        elif isinstance(remote, PinnedFile):
            url, count = _pinned(http, remote, plan_, temp, progress)
        elif isinstance(remote, ContactFile):
            url, count = _contacts(http, remote, plan_, temp, progress)
        else:
            url, count = _ckan(http, remote, plan_, temp, progress)
        digest = sha256_of(temp)
    status = "new" if before is None else "unchanged" if before == digest else "changed"
    return FetchedFile(source, final, url, digest, count, status)


def _socrata(
    http: Http, remote: SocrataDataset, plan_: FetchPlan, out: Path, progress: Progress | None
) -> tuple[str, int]:
    base = plan_.publishers.chicago.rstrip("/")
    dataset_id = remote.dataset_id or find_dataset_id(http, base, remote.title)
    expected = shipped_header(remote.file)
    since = None
    if plan_.since is not None and remote.date_column is not None:
        since = (remote.date_column, plan_.since)
    query = plan(http, base, dataset_id, expected, plan_.page_size, since)
    cached = plan_.cache / remote.file
    if since is not None and not cached.is_file():
        raise FetchError(
            f"{remote.file}: --since merges the rows from {plan_.since} into the cached whole "
            f"file, and none is cached in {plan_.cache}: fetch it once without --since"
        )
    label = Path(remote.file).name
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = writer_for(handle)
        writer.writerow(header_row(query))
        older = _older_rows(cached, query, remote, plan_.since) if since else []
        writer.writerows(older)
        count = fetch_rows(http, query, writer.writerow, plan_.cache / ".pages", progress, label)
    return f"{base}/resource/{dataset_id}.csv", len(older) + count


def _older_rows(
    cached: Path, query: Query, remote: SocrataDataset, since: dt.date | None
) -> list[list[str]]:
    """The cached file's rows dated before ``since`` (or undated), in the header's order."""
    reader = rows(cached)
    header = next(reader, [])
    check_columns(header, header_row(query), str(cached))
    position = header.index(str(remote.date_column))
    order = [header.index(name) for name in header_row(query)]
    kept = []
    for row in reader:
        day = export_date(row[position])
        if day is None or (since is not None and day < since):
            kept.append([row[i] for i in order])
    return kept


def _pinned(
    http: Http, remote: PinnedFile, plan_: FetchPlan, out: Path, progress: Progress | None
) -> tuple[str, int]:
    url = f"{plan_.publishers.github.rstrip('/')}/{remote.path}"
    label = Path(remote.file).name
    http.download(url, out, accept=CSV_TYPES, progress=progress, label=label, verify=check_complete)
    digest = sha256_of(out)
    if digest != remote.sha256:
        raise FetchError(
            f"{url}: sha256 {digest}, but the file at that commit has {remote.sha256} "
            "(SOURCE.md); nothing written, the cache is as it was"
        )
    return url, check_complete(out)


def _ckan(
    http: Http, remote: CkanResource, plan_: FetchPlan, out: Path, progress: Progress | None
) -> tuple[str, int]:
    base = plan_.publishers.ontario.rstrip("/")
    package = http.get_json(f"{base}/api/3/action/package_show", {"id": remote.package_id})
    name = Path(remote.file).name
    urls = [
        str(r.get("url", ""))
        for r in package.get("result", {}).get("resources", [])
        if str(r.get("url", "")).rsplit("/", 1)[-1] == name
    ]
    if len(urls) != 1:
        raise FetchError(
            f"{base}: dataset {remote.package_id} has {len(urls)} resources named {name!r}; "
            "expected one"
        )
    http.download(
        urls[0], out, accept=CSV_TYPES, progress=progress, label=name, verify=check_complete
    )
    count = check_complete(out)
    header = next(rows(out), [])
    check_columns(header, shipped_header(remote.file), urls[0])
    return urls[0], count


def _contact_lines(path: Path) -> int:
    """The number of contacts of a gzip-compressed SocioPatterns file; raises
    :class:`IncompleteBody` when the file is cut (gzip's end missing) and ValueError when a
    line is not ``t i j Ci Cj``."""
    count = 0
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if len(line.split()) != 5:
                    raise ValueError(f"line {number} is not 't i j Ci Cj': {line[:80]!r}")
                count += 1
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IncompleteBody(f"not a whole gzip file ({exc})") from None
    return count


def _contacts(
    http: Http, remote: ContactFile, plan_: FetchPlan, out: Path, progress: Progress | None
) -> tuple[str, int]:
    url = f"{plan_.publishers.sociopatterns.rstrip('/')}/{remote.path}"

    def contacts(path: Path) -> int:
        try:
            return _contact_lines(path)
        except ValueError as exc:
            raise FetchError(f"{url}: {exc}; nothing written") from None

    label = Path(remote.file).name
    http.download(url, out, accept=GZIP_TYPES, progress=progress, label=label, verify=contacts)
    return url, contacts(out)
