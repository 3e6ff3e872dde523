"""The City of Chicago data portal (Socrata): a dataset's columns from its metadata
(``/api/views/<id>.json``: each column's name in the export and its API field name), its rows
page by page from ``/resource/<id>.csv`` (``$select`` the fields, ``$order=:id``, ``$limit``,
``$offset``, ``$where`` on a date for ``--since``), written in the layout of the portal's CSV
export, which is what the shipped copies are and the importers read."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schoolmode.fetch.http import FetchError, Http, Progress, scratch_file
from schoolmode.fetch.table import check_columns, check_complete, rows


@dataclass(frozen=True)
class PortalColumn:
    name: str
    """As the export's header names it (``Cases - Total``)."""
    field: str
    """As the API names it (``cases_total``)."""
    kind: str
    """Socrata's data type (``calendar_date``, ``number``, ``text``, ``point``...)."""


def find_dataset_id(http: Http, base: str, title: str) -> str:
    """The id of the one dataset of the portal's catalog named ``title``."""
    found = http.get_json(f"{base}/api/catalog/v1", {"q": title, "only": "dataset"})
    ids = sorted(
        {
            r["resource"]["id"]
            for r in found.get("results", [])
            if str(r.get("resource", {}).get("name", "")).strip().casefold()
            == title.strip().casefold()
        }
    )
    if len(ids) != 1:
        raise FetchError(
            f"{base}: the portal's catalog has {len(ids)} datasets named {title!r} "
            f"({', '.join(ids) or 'none'}); expected one"
        )
    return str(ids[0])


def portal_columns(http: Http, base: str, dataset_id: str) -> list[PortalColumn]:
    """The dataset's visible columns (system fields such as ``:id`` left out)."""
    meta: dict[str, Any] = http.get_json(f"{base}/api/views/{dataset_id}.json")
    return [
        PortalColumn(c["name"], c["fieldName"], c.get("dataTypeName", "text"))
        for c in meta.get("columns", [])
        if not str(c.get("fieldName", ":")).startswith(":")
        and "hidden" not in (c.get("flags") or [])
    ]


def export_value(value: str, kind: str) -> str:
    """A value of the API's CSV as the export writes it: dates ``MM/DD/YYYY`` (with the time
    of day when it is not midnight); everything else unchanged."""
    if kind not in ("calendar_date", "date") or not value:
        return value
    when = dt.datetime.fromisoformat(value.removesuffix("Z"))
    if when.time() == dt.time(0):
        return when.strftime("%m/%d/%Y")
    return when.strftime("%m/%d/%Y %I:%M:%S %p")


def export_date(value: str) -> dt.date | None:
    """The date of an export's date cell (``MM/DD/YYYY...``); None when blank."""
    text = value.strip()
    return dt.datetime.strptime(text[:10], "%m/%d/%Y").date() if text else None


@dataclass(frozen=True)
class Query:
    """One dataset's rows to fetch."""

    base: str
    dataset_id: str
    columns: list[PortalColumn]
    """In the order of the export's header."""
    page_size: int
    where: str | None = None


def plan(
    http: Http,
    base: str,
    dataset_id: str,
    expected: list[str],
    page_size: int,
    since: tuple[str, dt.date] | None = None,
) -> Query:
    """Check the dataset's columns against ``expected`` (the shipped header) and say what to
    fetch: every row, or (``since``: an export column and a date) the rows from that date."""
    columns = {c.name: c for c in portal_columns(http, base, dataset_id)}
    check_columns(list(columns), expected, f"{base} dataset {dataset_id}")
    where = None
    if since is not None:
        column, day = since
        where = f"{columns[column].field} >= '{day.isoformat()}T00:00:00.000'"
    return Query(base, dataset_id, [columns[n] for n in expected], page_size, where)


def count_rows(http: Http, query: Query) -> int:
    """How many rows the query has, by the portal's count."""
    params = {"$select": "count(*) AS n"}
    if query.where:
        params["$where"] = query.where
    answer = http.get_json(f"{query.base}/resource/{query.dataset_id}.json", params)
    return int(answer[0]["n"])


def fetch_rows(
    http: Http,
    query: Query,
    write: Callable[[list[str]], None],
    scratch: Path,
    progress: Progress | None = None,
    label: str = "",
) -> int:
    """Fetch the query's rows page by page, each row given to ``write`` in the export's
    layout; the number of rows. Refuses a page whose header is not the fields asked for and
    a total other than the portal's count."""
    total = count_rows(http, query)
    fields = [c.field for c in query.columns]
    url = f"{query.base}/resource/{query.dataset_id}.csv"
    done = 0
    offset = 0
    while True:
        params: dict[str, str | int] = {
            "$select": ",".join(fields),
            "$order": ":id",
            "$limit": query.page_size,
            "$offset": offset,
        }
        if query.where:
            params["$where"] = query.where
        with scratch_file(scratch, query.dataset_id) as page:
            http.download(url, page, params=params, verify=_whole_page)
            got = _copy_page(page, query, write, url)
        done += got
        offset += query.page_size
        if progress is not None:
            progress(label, done, total)
        if got < query.page_size:
            break
    if done != total:
        raise FetchError(
            f"{url}: {done:,} rows came, the portal counts {total:,}; nothing written, the cache "
            "is as it was"
        )
    return done


def _whole_page(page: Path) -> None:
    check_complete(page, line_ends=True)


def _copy_page(page: Path, query: Query, write: Callable[[list[str]], None], url: str) -> int:
    reader = rows(page)
    header = next(reader, [])
    fields = [c.field for c in query.columns]
    if header != fields:
        check_columns(header, fields, url)
        raise FetchError(f"{url}: the page's columns are not in the order asked for: {header}")
    count = 0
    kinds = [c.kind for c in query.columns]
    for row in reader:
        write([export_value(v, k) for v, k in zip(row, kinds, strict=True)])
        count += 1
    return count


def header_row(query: Query) -> list[str]:
    return [c.name for c in query.columns]


def writer_for(handle: Any) -> Any:
    """The export's CSV dialect: minimal quoting, ``\\n`` line ends."""
    return csv.writer(handle, lineterminator="\n")
