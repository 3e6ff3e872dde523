"""The one table renderer: the same rows and columns as Markdown or HTML.

Cells are written with ``str`` (``None`` as an empty cell). Markdown cells escape the pipe
and fold line breaks into spaces; HTML cells are escaped. A table may carry a caption and,
when only its first rows are shown, a note "first N of M rows, full table in FILE".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl
from markupsafe import Markup


def cell_text(value: object) -> str:
    """A cell as text: ``None`` is empty, anything else its ``str``."""
    return "" if value is None else str(value)


def _markdown_cell(value: object) -> str:
    text = cell_text(value)
    return text.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


@dataclass(frozen=True)
class Table:
    """Rows under named columns, possibly the first rows of a longer table."""

    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    caption: str | None = None
    total_rows: int | None = None  # rows of the full table when only the first are shown
    full_file: str | None = None  # where the full table is (a file name)

    @classmethod
    def of(
        cls,
        columns: Sequence[str],
        rows: Iterable[Sequence[object]],
        *,
        caption: str | None = None,
        limit: int | None = None,
        full_file: str | None = None,
    ) -> Table:
        """A table of ``rows``; with ``limit`` only the first ``limit`` rows are kept and the
        table notes how many there were."""
        every = tuple(tuple(row) for row in rows)
        shown = every if limit is None else every[:limit]
        return cls(tuple(columns), shown, caption, len(every), full_file)

    @classmethod
    def from_frame(
        cls,
        frame: pl.DataFrame,
        *,
        caption: str | None = None,
        limit: int | None = None,
        full_file: str | None = None,
    ) -> Table:
        """A table of a polars frame's columns and rows."""
        shown = frame if limit is None else frame.head(limit)
        return cls(tuple(frame.columns), tuple(shown.iter_rows()), caption, frame.height, full_file)

    @property
    def note(self) -> str | None:
        """ "first N of M rows[, full table in FILE]" when rows were left out, else ``None``."""
        total = self.total_rows
        if total is None or total <= len(self.rows):
            return None
        where = f", full table in {self.full_file}" if self.full_file else ""
        return f"first {len(self.rows):,} of {total:,} rows{where}"

    def markdown_lines(self) -> list[str]:
        """The table as Markdown lines: caption (emphasised) and note around the pipe table."""
        head = "| " + " | ".join(_markdown_cell(c) for c in self.columns) + " |"
        rule = "|" + "|".join("---" for _ in self.columns) + "|"
        body = ["| " + " | ".join(_markdown_cell(v) for v in row) + " |" for row in self.rows]
        lines = [f"*{_markdown_cell(self.caption)}*", ""] if self.caption else []
        lines += [head, rule, *body]
        if self.note:
            lines += ["", f"*{self.note}*"]
        return lines

    def markdown(self) -> str:
        """The table as Markdown text (no final line break)."""
        return "\n".join(self.markdown_lines())

    def html(self) -> Markup:
        """The table as an HTML ``<table>`` (escaped), the note in a paragraph after it."""
        caption = Markup("<caption>{}</caption>").format(self.caption) if self.caption else ""
        head = Markup("").join(Markup("<th>{}</th>").format(c) for c in self.columns)
        rows = Markup("").join(
            Markup("<tr>{}</tr>").format(
                Markup("").join(Markup("<td>{}</td>").format(cell_text(v)) for v in row)
            )
            for row in self.rows
        )
        table = Markup("<table>{}<thead><tr>{}</tr></thead><tbody>{}</tbody></table>").format(
            caption, head, rows
        )
        if self.note and self.full_file:
            shown = self.note.removesuffix(f", full table in {self.full_file}")
            table += Markup('<p class="note">{}, full table in <a href="{}">{}</a></p>').format(
                shown, self.full_file, self.full_file
            )
        elif self.note:
            table += Markup('<p class="note">{}</p>').format(self.note)
        return table


def readable(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` for reading: integers with thousands separators (118,221,472), as text; the
    other columns as they are. For the printed page only: CSV files keep the numbers."""
    return frame.with_columns(
        pl.col(name).map_elements(lambda v: f"{v:,}", return_dtype=pl.String)
        for name, dtype in frame.schema.items()
        if dtype.is_integer()
    )


def markdown_table(frame: pl.DataFrame) -> str:
    """A polars frame as a Markdown pipe table (every row)."""
    return Table.from_frame(frame).markdown()
