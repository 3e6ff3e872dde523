"""Staff accommodation requests from a CSV file in the standard's ``accommodation_request``
layout (any file name), with the basis checked against the standard's accommodation kinds.

Errors name the file, data row, field, value and what was expected; a file with any error
imports nothing (the import service writes in one transaction).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from schoolmode.importers.standard import StandardLayout
from schoolmode.standard.batch import ROW, Batch, FileValidationError, RowError
from schoolmode.standard.fields import ACCOMMODATION_BASIS_KIND
from schoolmode.standard.models import AccommodationRequest


class AccommodationRequests(StandardLayout):
    """Accommodation request CSV files (the standard ``accommodation_request`` fields)."""

    title = "Staff accommodation requests (accommodation_request fields, any file name)"

    def __init__(self, source: str = "accommodation-requests") -> None:
        super().__init__(source, "accommodation_request")

    def parse(self, path: Path) -> Batch:
        frame = self._csv(path, AccommodationRequest)
        bad = frame.filter(~pl.col("basis").is_in(sorted(ACCOMMODATION_BASIS_KIND)))
        expected = "one of " + ", ".join(sorted(ACCOMMODATION_BASIS_KIND))
        errors = [
            RowError(str(path), int(r[ROW]), "basis", r["basis"], expected)
            for r in bad.head(50).iter_rows(named=True)
        ]
        if errors:  # a repeated request_id is refused by the import service (its natural key)
            raise FileValidationError(str(path), errors, bad.height)
        return Batch(self.source, "accommodation_request", AccommodationRequest, frame, path)
