"""A local stand-in for the real publishers, served over HTTP on 127.0.0.1 from a thread:

- the City of Chicago portal (Socrata): ``/api/views/<id>.json`` (columns: export name, API
  field name, type), ``/api/catalog/v1?q=`` (datasets by name), ``/resource/<id>.json`` with
  ``$select=count(*) AS n``, and ``/resource/<id>.csv`` with ``$select``, ``$order=:id``,
  ``$limit``, ``$offset`` and ``$where=<field> >= '<timestamp>'`` (every value quoted, dates
  as floating timestamps, as Socrata writes them);
- GitHub's raw files (``/<owner>/<repo>/<commit>/<path>``);
- Ontario's CKAN portal (``/api/3/action/package_show?id=`` and each resource's download);
- SocioPatterns' contact files (``/assets/data/<name>``, a made-up list gzip-compressed).

Each dataset's rows are those of a file in the portal's export layout (the test fixtures).
Faults are queued per path prefix: an HTTP status (with ``Retry-After``), a body cut short
(``Content-Length`` promised and not sent, or a close-delimited body cut inside a row), another
content type. Every request is logged (path, query, headers)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from schoolmode.fetch.sources import (
    SOURCES,
    CkanResource,
    ContactFile,
    PinnedFile,
    SocrataDataset,
)
from schoolmode.settings import SHIPPED_DATA
from tests.conftest import FIXTURE_DATA

DATE_COLUMNS = {"Date", "Week Start", "Week End"}
CONTACTS = FIXTURE_DATA.parents[1] / "sociopatterns" / "school.csv"
"""A made-up contact list in the SocioPatterns layout (the real files are not in the repo)."""
CPS_IDS = {"SY2122": "cps1-2122", "SY2223": "cps2-2223"}
"""Ids the local catalog gives the CPS profile datasets (their real ids are looked up)."""


def field_name(column: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", column.lower()).strip("_")
    return f"_{name}" if name[:1].isdigit() else name


@dataclass
class Dataset:
    title: str
    columns: list[str]
    fields: list[str]
    rows: list[list[str]]
    """In the export's layout; their order is the ``:id`` order."""

    def kind(self, column: str) -> str:
        return "calendar_date" if column in DATE_COLUMNS else "text"


@dataclass
class Fault:
    prefix: str
    kind: str
    """``status``, ``cut-length``, ``cut-row`` or ``type``."""
    times: int
    status: int = 503
    retry_after: str | None = None


SITES = ("chicago", "github", "ontario", "sociopatterns")
"""Each publisher answers under ``/<site>`` (its address in the settings), so requests show
which publisher they were sent to; Ontario's downloads are at the root."""


@dataclass
class Request:
    site: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


def _read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


@dataclass
class Publisher:
    """The publishers' state: datasets, files, queued faults and the request log."""

    datasets: dict[str, Dataset] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    packages: dict[str, list[str]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    log: list[Request] = field(default_factory=list)
    base: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_fixtures(cls) -> Publisher:
        """Every fetchable source, its rows from the test fixtures (the CPS case archive: the
        original file, whose sha256 is pinned)."""
        pub = cls()
        for source in SOURCES.values():
            for remote in source.files:
                if isinstance(remote, SocrataDataset):
                    table = _read_csv(FIXTURE_DATA / remote.file)
                    year = remote.title.rsplit(" ", 1)[-1]
                    dataset_id = remote.dataset_id or CPS_IDS[year]
                    fields = [field_name(c) for c in table[0]]
                    if dataset_id == "naz8-j4nc":  # as on the real portal: not the column's name
                        fields[0] = "lab_report_date"
                    pub.datasets[dataset_id] = Dataset(remote.title, table[0], fields, table[1:])
                elif isinstance(remote, PinnedFile):
                    original = SHIPPED_DATA / f"{remote.file}.gz"
                    pub.files[f"/{remote.path}"] = gzip.decompress(original.read_bytes())
                elif isinstance(remote, ContactFile):
                    pub.files[f"/{remote.path}"] = gzip.compress(CONTACTS.read_bytes(), mtime=0)
                elif isinstance(remote, CkanResource):
                    name = Path(remote.file).name
                    path = f"/dataset/{remote.package_id}/resource/r-{name}/download/{name}"
                    pub.files[path] = (FIXTURE_DATA / remote.file).read_bytes()
                    pub.packages.setdefault(remote.package_id, []).append(path)
        return pub

    def fail(self, prefix: str, kind: str = "status", times: int = 1, **how: Any) -> None:
        with self.lock:
            self.faults.append(Fault(prefix, kind, times, **how))

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault.prefix) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def requests_to(self, prefix: str) -> list[Request]:
        with self.lock:
            return [r for r in self.log if r.path.startswith(prefix)]


def _api_value(value: str, kind: str) -> str:
    if kind != "calendar_date" or not value:
        return value
    day = dt.datetime.strptime(value, "%m/%d/%Y")
    return day.strftime("%Y-%m-%dT%H:%M:%S.000")


def socrata_rows(data: Dataset, query: dict[str, str]) -> list[list[str]]:
    """The dataset's rows in the API's form that match ``$where`` (``field >= 'timestamp'``)."""
    rows = [
        [_api_value(v, data.kind(c)) for v, c in zip(r, data.columns, strict=True)]
        for r in data.rows
    ]
    where = query.get("$where")
    if where:
        found = re.fullmatch(r"(\w+) >= '([^']+)'", where)
        assert found, f"unexpected $where {where!r}"
        index = data.fields.index(found[1])
        rows = [r for r in rows if r[index] and r[index] >= found[2]]
    return rows


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        pub = self.server.publisher
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        site, _, rest = parts.path.lstrip("/").partition("/")
        site, path = (site, f"/{rest}") if site in SITES else ("", parts.path)
        with pub.lock:
            pub.log.append(Request(site, path, query, dict(self.headers.items())))
        fault = pub.take_fault(path)
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._send(fault.status, b"busy", "text/plain", headers=headers)
            return
        answer = self._answer(pub, path, query)
        if answer is None:
            self._send(404, b"not found", "text/plain")
            return
        body, kind = answer
        if fault is not None and fault.kind == "type":
            kind = "text/html"
        self._send(200, body, kind, cut=fault.kind if fault is not None else None)

    def _answer(self, pub: Publisher, path: str, query: dict[str, str]) -> tuple[bytes, str] | None:
        if path in pub.files:
            kind = "application/gzip" if path.endswith(".gz") else "text/csv"
            return pub.files[path], kind
        if path == "/api/catalog/v1":
            results = [
                {"resource": {"id": i, "name": d.title}}
                for i, d in pub.datasets.items()
                if query.get("q", "").casefold() in d.title.casefold()
            ]
            return _json({"results": results}), "application/json"
        if path == "/api/3/action/package_show":
            paths = pub.packages.get(query.get("id", ""), [])
            resources = [{"url": pub.base + p, "format": "CSV"} for p in paths]
            return _json({"success": True, "result": {"resources": resources}}), "application/json"
        found = re.fullmatch(r"/api/views/([\w-]+)\.json", path)
        if found and found[1] in pub.datasets:
            data = pub.datasets[found[1]]
            columns = [{"name": ":id", "fieldName": ":id", "dataTypeName": "meta_data"}]
            columns += [
                {"name": c, "fieldName": f, "dataTypeName": data.kind(c)}
                for c, f in zip(data.columns, data.fields, strict=True)
            ]
            return _json(
                {"id": found[1], "name": data.title, "columns": columns}
            ), "application/json"
        found = re.fullmatch(r"/resource/([\w-]+)\.(json|csv)", path)
        if found and found[1] in pub.datasets:
            return self._resource(pub.datasets[found[1]], found[2], query)
        return None

    def _resource(self, data: Dataset, ext: str, query: dict[str, str]) -> tuple[bytes, str]:
        rows = socrata_rows(data, query)
        if ext == "json":
            assert query["$select"] == "count(*) AS n"
            return _json([{"n": str(len(rows))}]), "application/json"
        assert query["$order"] == ":id"
        fields = query["$select"].split(",")
        picks = [data.fields.index(f) for f in fields]
        offset, limit = int(query["$offset"]), int(query["$limit"])
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(fields)
        for row in rows[offset : offset + limit]:
            writer.writerow([row[i] for i in picks])
        return out.getvalue().encode(), "text/csv; charset=UTF-8"

    def _send(
        self,
        status: int,
        body: bytes,
        kind: str,
        headers: dict[str, str] | None = None,
        cut: str | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if cut == "cut-row":  # a close-delimited body, cut inside its last row
            self.end_headers()
            self.wfile.write(body[: body.rindex(b"\n", 0, len(body) - 1) + 5])
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if cut == "cut-length" else body)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, publisher: Publisher) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.publisher = publisher


class Serving:
    """``publisher`` served on 127.0.0.1 (a free port) until ``close``."""

    def __init__(self, publisher: Publisher) -> None:
        self.server = _Server(publisher)
        host, port = self.server.server_address[:2]
        publisher.base = f"http://{host}:{port}"
        self.publisher = publisher
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
