"""The one table renderer: Markdown and HTML from the same rows, escaping, truncation note."""

from __future__ import annotations

import datetime as dt

import polars as pl

from schoolmode.reports.table import Table, markdown_table


def test_markdown_table_of_a_frame() -> None:
    frame = pl.DataFrame(
        {"policy": ["a", "b"], "days": [3, None], "first": [dt.date(2021, 1, 4), None]}
    )
    assert markdown_table(frame) == (
        "| policy | days | first |\n|---|---|---|\n| a | 3 | 2021-01-04 |\n| b |  |  |"
    )


def test_markdown_escapes_pipes_and_line_breaks() -> None:
    table = Table.of(["a|b", "text"], [["x|y", "one\ntwo"]])
    assert table.markdown_lines() == ["| a\\|b | text |", "|---|---|", "| x\\|y | one two |"]


def test_html_escapes_cells_headers_and_caption() -> None:
    table = Table.of(["<b>", "q"], [["a & b", '"x"'], [None, 1.5]], caption="1 < 2")
    html = str(table.html())
    assert html.startswith("<table><caption>1 &lt; 2</caption><thead><tr><th>&lt;b&gt;</th>")
    assert "<td>a &amp; b</td><td>&#34;x&#34;</td>" in html
    assert "<tr><td></td><td>1.5</td></tr>" in html
    assert "<b>" not in html
    assert "note" not in html


def test_same_rows_in_both_formats() -> None:
    table = Table.of(["n", "word"], [[1, "one"], [2, "two"]])
    md = table.markdown()
    html = str(table.html())
    for cell in ("one", "two"):
        assert f"| {cell} |" in md
        assert f"<td>{cell}</td>" in html


def test_truncation_note() -> None:
    frame = pl.DataFrame({"n": list(range(10))})
    table = Table.from_frame(frame, limit=3, full_file="all.csv", caption="Numbers")
    assert table.note == "first 3 of 10 rows, full table in all.csv"
    assert table.markdown_lines() == [
        "*Numbers*",
        "",
        "| n |",
        "|---|",
        "| 0 |",
        "| 1 |",
        "| 2 |",
        "",
        "*first 3 of 10 rows, full table in all.csv*",
    ]
    assert str(table.html()).endswith(
        '</tbody></table><p class="note">first 3 of 10 rows, full table in '
        '<a href="all.csv">all.csv</a></p>'
    )
    many = Table.from_frame(pl.DataFrame({"n": list(range(4673))}), limit=200, full_file="d.csv")
    assert many.note == "first 200 of 4,673 rows, full table in d.csv", "thousands separated"
    assert Table.of(["n"], [[1], [2]], limit=5).note is None  # nothing left out
    assert Table.of(["n"], [[1], [2]], limit=1).note == "first 1 of 2 rows"


def test_readable_separates_thousands_of_integers_only() -> None:
    from schoolmode.reports.table import readable

    frame = pl.DataFrame(
        {"n": [118221472, 0, None], "pct": [98.9, 100.0, None], "s": ["a", "b", None]}
    )
    shown = readable(frame)
    assert shown["n"].to_list() == ["118,221,472", "0", None]
    assert shown["pct"].to_list() == [98.9, 100.0, None]
    assert shown["s"].to_list() == ["a", "b", None]
