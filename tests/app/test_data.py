"""The store and import use cases, called directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from schoolmode.app.context import Context, open_context
from schoolmode.app.data import (
    ImportFileRequest,
    ImportJob,
    ImportOutcome,
    ImportRequest,
    UnknownSource,
    UpgradeRequest,
    import_file,
    import_files,
    init_store,
    list_sources,
    schema_is_current,
    store_status,
    upgrade_store,
)
from schoolmode.importers import IMPORTERS
from tests.conftest import FIXTURE_DATA

SOURCE = "cdph-daily-cases"


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def waiting(self, message: str) -> None:
        self.events.append(f"waiting {message}")

    def file_started(self, source: str, path: Path) -> None:
        self.events.append(f"start {source}")

    def rows_written(self, done: int, total: int) -> None:
        self.events.append("rows")

    def file_finished(self, outcome: ImportOutcome) -> None:
        self.events.append("error" if outcome.error else "done")


def test_init_upgrade_and_status(tmp_path: Path) -> None:
    with open_context(db_url=f"sqlite:///{tmp_path / 's.sqlite'}") as ctx:
        assert not schema_is_current(ctx)
        ready = init_store(ctx)
        assert ready.url.endswith("s.sqlite")
        assert schema_is_current(ctx)
        change = upgrade_store(ctx, UpgradeRequest())
        assert change.before == change.after == ready.revision
        status = store_status(ctx)
        assert status.schema_revision == ready.revision
        assert set(status.rows)
        assert not any(status.rows.values())
        assert status.last_imports == []


def test_import_file_progress_and_status(ctx: Context, tmp_path: Path) -> None:
    path = IMPORTERS[SOURCE].default_paths(FIXTURE_DATA)[0]
    recorder = Recorder()
    report = import_file(ctx, ImportFileRequest(source=SOURCE, path=path, by="t"), recorder)
    assert not report.failed
    assert report.outcomes[0].summary
    assert "import #1" in report.outcomes[0].summary
    assert recorder.events[0] == f"start {SOURCE}"
    assert recorder.events[-1] == "done"
    assert "rows" in recorder.events
    again = import_file(ctx, ImportFileRequest(source=SOURCE, path=path, by="t"))
    assert again.outcomes[0].summary
    assert "unchanged" in again.outcomes[0].summary
    (last,) = store_status(ctx).last_imports
    assert last["source"] == SOURCE
    assert last["imported_by"] == "t"
    missing = import_file(ctx, ImportFileRequest(source=SOURCE, path=tmp_path / "none.csv"))
    assert missing.failed
    assert missing.outcomes[0].error
    with pytest.raises(UnknownSource, match="unknown source 'nope'"):
        import_file(ctx, ImportFileRequest(source="nope", path=path))


def test_sources() -> None:
    rows = list_sources()
    assert [r.source for r in rows] == list(IMPORTERS)
    assert any(r.chicago for r in rows)


def test_the_files_of_one_request_are_imported_all_or_none(ctx: Context, tmp_path: Path) -> None:
    good = IMPORTERS[SOURCE].default_paths(FIXTURE_DATA)[0]
    bad = tmp_path / "testing.csv"
    bad.write_text("Date,Day,Positive Tests\n01/01/2021,Friday,many\n")
    jobs = [
        ImportJob(parser=IMPORTERS[SOURCE], path=good),
        ImportJob(parser=IMPORTERS["cdph-daily-testing"], path=bad),
    ]
    recorder = Recorder()
    report = import_files(ctx, ImportRequest(jobs=jobs, by="t"), recorder)
    assert report.failed
    first, second = report.outcomes
    assert first.error == (
        f"{good}: not imported either: the 2 files are imported together, all or none, and "
        "testing.csv was refused"
    )
    assert second.error is not None
    assert "testing.csv" in second.error
    assert "nothing imported" in second.error
    # both files were started, the first written, then everything rolled back
    assert recorder.events[0] == f"start {SOURCE}"
    assert "start cdph-daily-testing" in recorder.events
    assert recorder.events[-2:] == ["error", "error"]
    status = store_status(ctx)
    assert status.last_imports == []
    assert not any(status.rows.values())
    # the good file alone is imported
    alone = import_files(ctx, ImportRequest(jobs=jobs[:1], by="t"))
    assert not alone.failed
