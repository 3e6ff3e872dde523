"""``fetch`` against the publishers served on 127.0.0.1 (``tests/fetch/publisher.py``): paging,
retries, truncated bodies, content types, changed columns, unchanged and changed files,
``--since``, and every Chicago source fetched and imported through the use case."""

from __future__ import annotations

import datetime as dt
import email.utils
from pathlib import Path

import polars as pl
import pytest

from schoolmode.app.context import Context
from schoolmode.app.data import UnknownSource
from schoolmode.app.fetch import FetchReport, FetchRequest, fetch
from schoolmode.fetch import SOURCES
from schoolmode.fetch.http import FetchError, Http, HttpConfig, retry_after_seconds
from schoolmode.fetch.socrata import export_value
from schoolmode.fetch.table import check_columns
from schoolmode.importers import CHICAGO
from schoolmode.standard.batch import ROW
from schoolmode.store.service import import_history
from tests.conftest import FIXTURE_DATA
from tests.fetch.conftest import PAGE_SIZE
from tests.fetch.publisher import Publisher

CASES = "chicago-daily-cases/COVID-19_Daily_Cases__Deaths__and_Hospitalizations.csv"
TESTING = "chicago-daily-testing/COVID-19_Daily_Testing_-_By_Test.csv"


def _fetch(ctx: Context, source: str, **req: object) -> FetchReport:
    return fetch(ctx, FetchRequest(source=source, **req))  # type: ignore[arg-type]


def _only(report: FetchReport) -> str:
    """The one fetch error of ``report``."""
    errors = [o.error for o in report.fetched if o.error is not None]
    assert len(errors) == 1, report
    return errors[0]


def _cache(ctx: Context) -> Path:
    return ctx.settings.fetch_cache_dir


def _leftovers(ctx: Context) -> list[Path]:
    """Temporary files left in the cache (there must be none)."""
    return [p for p in _cache(ctx).rglob(".*") if p.is_file()]


def test_every_chicago_source_is_fetched_and_imported(fetch_ctx: Context) -> None:
    report = _fetch(fetch_ctx, "chicago")
    assert not report.failed, report
    assert {o.source for o in report.fetched} == {imp.source for imp in CHICAGO}
    assert all(o.status == "new" for o in report.fetched)
    assert report.imports is not None
    assert all(o.summary and "import #" in o.summary for o in report.imports.outcomes)
    assert len(report.imports.outcomes) == len(report.fetched)
    for imp in CHICAGO:
        for cached in imp.default_paths(_cache(fetch_ctx)):
            assert cached.is_file(), cached
            if imp.source == "cps-school-covid-cases":
                continue  # the original file (pinned sha256), not the fixture extract
            fetched = imp.parse(cached).frame.drop(ROW)
            published = imp.parse(FIXTURE_DATA / cached.relative_to(_cache(fetch_ctx))).frame
            assert fetched.equals(published.drop(ROW)), cached


def test_pages_are_asked_for_in_order_until_a_short_one(
    fetch_ctx: Context, publisher: Publisher
) -> None:
    report = _fetch(fetch_ctx, "cdph-daily-cases", load=False)
    assert report.fetched[0].rows == 1383
    pages = publisher.requests_to("/resource/naz8-j4nc.csv")
    assert [int(r.query["$offset"]) for r in pages] == list(range(0, 1400, PAGE_SIZE))
    assert {r.query["$order"] for r in pages} == {":id"}
    assert {r.query["$limit"] for r in pages} == {str(PAGE_SIZE)}
    assert pages[0].query["$select"].split(",")[0] == "lab_report_date"
    header = (_cache(fetch_ctx) / CASES).read_text().splitlines()[0]
    assert header == (FIXTURE_DATA / CASES).read_text().splitlines()[0]


def test_a_503_then_success_is_retried(fetch_ctx: Context, publisher: Publisher) -> None:
    publisher.fail("/resource/gkdw-2tgv.csv", times=2, retry_after="0")
    publisher.fail("/api/views/gkdw-2tgv.json", status=429, times=1)
    report = _fetch(fetch_ctx, "cdph-daily-testing")
    assert not report.failed, report
    assert len(publisher.requests_to("/api/views/gkdw-2tgv.json")) == 2
    first_page = [
        r for r in publisher.requests_to("/resource/gkdw-2tgv.csv") if r.query["$offset"] == "0"
    ]
    assert len(first_page) == 3
    assert report.fetched[0].rows == 635


def test_retry_after_is_waited_then_the_doubling_backoff(publisher: Publisher) -> None:
    publisher.fail("/api/views/85cm-7uqa.json", times=1, retry_after="7")
    publisher.fail("/api/views/85cm-7uqa.json", status=500, times=2)
    waits: list[float] = []
    with Http(HttpConfig(retries=3, backoff_s=0.5), sleep=waits.append) as http:
        meta = http.get_json(f"{publisher.base}/chicago/api/views/85cm-7uqa.json")
    assert meta["name"] == "Chicago Population Counts"
    assert waits == [7.0, 1.0, 2.0]


def test_a_server_that_stays_down_is_given_up_on(fetch_ctx: Context, publisher: Publisher) -> None:
    publisher.fail("/resource/gkdw-2tgv.csv", times=99)
    error = _only(_fetch(fetch_ctx, "cdph-daily-testing"))
    assert "HTTP 503" in error
    assert "gave up after 4 tries" in error
    assert not (_cache(fetch_ctx) / TESTING).exists()
    assert _leftovers(fetch_ctx) == []


@pytest.mark.parametrize("cut", ["cut-length", "cut-row"])
def test_a_truncated_body_is_fetched_again_or_refused(
    fetch_ctx: Context, publisher: Publisher, cut: str
) -> None:
    assert not _fetch(fetch_ctx, "cdph-daily-testing").failed
    before = (_cache(fetch_ctx) / TESTING).read_bytes()
    publisher.fail("/resource/gkdw-2tgv.csv", kind=cut, times=1)
    again = _fetch(fetch_ctx, "cdph-daily-testing", load=False)
    assert again.fetched[0].status == "unchanged", again
    publisher.fail("/resource/gkdw-2tgv.csv", kind=cut, times=99)
    error = _only(_fetch(fetch_ctx, "cdph-daily-testing"))
    assert "truncated body" in error
    assert (_cache(fetch_ctx) / TESTING).read_bytes() == before
    assert _leftovers(fetch_ctx) == []


def test_another_content_type_is_refused(fetch_ctx: Context, publisher: Publisher) -> None:
    publisher.fail("/resource/85cm-7uqa.csv", kind="type", times=1)
    error = _only(_fetch(fetch_ctx, "cdph-population"))
    assert "'text/html'" in error
    assert "expected text/csv" in error


def test_a_changed_schema_is_refused_naming_the_columns(
    fetch_ctx: Context, publisher: Publisher
) -> None:
    cases = publisher.datasets["naz8-j4nc"]
    cases.columns[1] = "Cases - All"
    report = _fetch(fetch_ctx, "chicago")
    error = _only(report)
    assert "missing column(s) 'Cases - Total'" in error
    assert "new column(s) 'Cases - All'" in error
    assert not (_cache(fetch_ctx) / CASES).exists()
    assert report.imports is not None
    assert "cdph-daily-cases" not in {o.source for o in report.imports.outcomes}
    assert len(report.imports.outcomes) == len(report.fetched) - 1


def test_an_unchanged_file_is_reported_unchanged(fetch_ctx: Context) -> None:
    _fetch(fetch_ctx, "cdph-zip-weekly")
    again = _fetch(fetch_ctx, "cdph-zip-weekly")
    assert again.fetched[0].status == "unchanged"
    assert again.imports is not None
    assert "unchanged (same file as import #1)" in str(again.imports.outcomes[0].summary)


def test_a_changed_upstream_file_is_a_correction_with_history(
    fetch_ctx: Context, publisher: Publisher
) -> None:
    first = _fetch(fetch_ctx, "cdph-zip-weekly")
    weekly = publisher.datasets["yhhz-zm2v"]
    # a plausible correction (a week's cases above the cumulative count would be refused)
    weekly.rows[3][weekly.columns.index("Tests - Weekly")] = "12345"
    second = _fetch(fetch_ctx, "cdph-zip-weekly")
    assert second.fetched[0].status == "changed"
    assert second.fetched[0].sha256 != first.fetched[0].sha256
    assert second.imports is not None
    assert "1 changed, 0 removed" in str(second.imports.outcomes[0].summary)
    history = [h for h in import_history(fetch_ctx.engine) if h["source"] == "cdph-zip-weekly"]
    assert [h["status"] for h in history] == ["superseded", "current"]
    assert history[1]["supersedes_id"] == history[0]["id"]


def test_since_merges_the_newer_rows_into_the_cached_file(
    fetch_ctx: Context, publisher: Publisher
) -> None:
    _fetch(fetch_ctx, "cdph-daily-cases")
    cases = publisher.datasets["naz8-j4nc"]
    total = cases.columns.index("Cases - Total")
    dates = [dt.datetime.strptime(r[0], "%m/%d/%Y").date() if r[0] else None for r in cases.rows]
    new = next(i for i, d in enumerate(dates) if d == dt.date(2022, 1, 10))
    old = next(i for i, d in enumerate(dates) if d == dt.date(2021, 1, 10))
    cases.rows[new][total] = "99999"
    cases.rows[old][total] = "88888"  # before --since: not fetched, the cached value stays
    report = _fetch(fetch_ctx, "cdph-daily-cases", since=dt.date(2022, 1, 1))
    assert not report.failed, report
    where = publisher.requests_to("/resource/naz8-j4nc.csv")[-1].query["$where"]
    assert where == "lab_report_date >= '2022-01-01T00:00:00.000'"
    merged = pl.read_csv(_cache(fetch_ctx) / CASES, infer_schema=False)
    assert merged.height == 1383
    by_date = dict(zip(merged["Date"], merged["Cases - Total"], strict=True))
    assert by_date["01/10/2022"] == "99999"
    assert by_date["01/10/2021"] != "88888"
    assert report.imports is not None
    assert "1 changed, 0 removed" in str(report.imports.outcomes[0].summary)


def test_since_needs_a_cached_file_and_a_dated_dataset(fetch_ctx: Context) -> None:
    since = dt.date(2022, 1, 1)
    assert "fetch it once without --since" in _only(
        _fetch(fetch_ctx, "cdph-daily-cases", since=since)
    )
    assert "can only be fetched whole" in _only(_fetch(fetch_ctx, "cdph-population", since=since))


def test_a_pinned_file_with_other_bytes_is_refused(
    fetch_ctx: Context, publisher: Publisher
) -> None:
    path = next(p for p in publisher.files if p.endswith("allCpsCovidData.csv"))
    publisher.files[path] = (
        FIXTURE_DATA / "cps-school-covid-cases/allCpsCovidData.csv"
    ).read_bytes()
    error = _only(_fetch(fetch_ctx, "cps-school-covid-cases"))
    assert "f0f37709f44f0d9d6e591b34c261c0cdb41eb529257610f36829b6266cd0a0f5 (SOURCE.md)" in error


def test_ontario_files_are_found_in_the_portals_dataset_and_imported(
    fetch_ctx: Context,
) -> None:
    report = _fetch(fetch_ctx, "ontario-school-cases")
    assert not report.failed, report
    files = [r.file for r in SOURCES["ontario-school-cases"].files]
    assert [o.rows for o in report.fetched] == [
        len((FIXTURE_DATA / f).read_text().strip().splitlines()) - 1 for f in files
    ]
    assert report.imports is not None
    assert all("import #" in str(o.summary) for o in report.imports.outcomes)


def test_sociopatterns_is_fetched_into_the_cache_only(
    fetch_ctx: Context, publisher: Publisher
) -> None:
    report = _fetch(fetch_ctx, "sociopatterns")
    assert not report.failed, report
    assert report.imports is None
    assert [o.rows for o in report.fetched] == [24, 24, 24]
    assert {o.licence for o in report.fetched} == {SOURCES["sociopatterns"].licence}
    assert "CC BY-NC-SA 3.0" in SOURCES["sociopatterns"].licence
    for o in report.fetched:
        assert o.file is not None
        assert o.file.read_bytes() == publisher.files["/assets/data/" + o.file.name]
    assert import_history(fetch_ctx.engine) == []


def test_a_cut_gzip_file_is_refused(fetch_ctx: Context, publisher: Publisher) -> None:
    path = "/assets/data/primaryschool.csv.gz"
    publisher.files[path] = publisher.files[path][:-12]
    error = _only(_fetch(fetch_ctx, "sociopatterns"))
    assert "primaryschool.csv.gz: truncated body: not a whole gzip file" in error
    assert _leftovers(fetch_ctx) == []


def test_the_catalog_names_one_dataset(fetch_ctx: Context, publisher: Publisher) -> None:
    publisher.datasets["copy-2122"] = publisher.datasets["cps1-2122"]
    error = _only(_fetch(fetch_ctx, "cps-school-profiles"))
    assert "2 datasets named 'Chicago Public Schools - School Profile Information SY2122'" in error


def test_an_unknown_source_is_refused(fetch_ctx: Context) -> None:
    with pytest.raises(
        UnknownSource, match="cannot fetch 'idph-illinois-statewide'; fetchable: chicago"
    ):
        _fetch(fetch_ctx, "idph-illinois-statewide")


def test_retry_waits_double_and_honour_retry_after_within_the_cap() -> None:
    with Http(HttpConfig(backoff_s=1.0, max_wait_s=30.0)) as http:
        assert [http.wait_before(n, None) for n in range(6)] == [1, 2, 4, 8, 16, 30]
        assert http.wait_before(0, 7.0) == 7.0
        assert http.wait_before(0, 600.0) == 30.0
    now = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
    later = email.utils.format_datetime(now + dt.timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds(later, now) == 90.0
    assert retry_after_seconds("5") == 5.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_api_values_are_written_as_the_export_writes_them() -> None:
    assert export_value("2022-01-10T00:00:00.000", "calendar_date") == "01/10/2022"
    assert export_value("2022-01-10T13:05:09.000", "calendar_date") == "01/10/2022 01:05:09 PM"
    assert export_value("2022-01-10T00:00:00.000Z", "date") == "01/10/2022"
    assert export_value("", "calendar_date") == ""
    assert export_value("2022-01-10T00:00:00.000", "text") == "2022-01-10T00:00:00.000"
    assert export_value("POINT (-87.6 41.8)", "point") == "POINT (-87.6 41.8)"


def test_a_repeated_column_is_refused_by_name() -> None:
    with pytest.raises(FetchError, match="repeated column\\(s\\) 'Date'"):
        check_columns(["Date", "Date", "Cases"], ["Date", "Cases"], "here")
    check_columns(["Cases", "Date"], ["Date", "Cases"], "here")  # order is free
