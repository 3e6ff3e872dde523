"""Report pages: Markdown with a blank line between blocks, the HTML shell autoescaped."""

from __future__ import annotations

from pathlib import Path

from schoolmode.reports.page import (
    Bullets,
    Code,
    Figures,
    Heading,
    Item,
    Page,
    Paragraph,
    TableBlock,
    render_html,
    render_markdown,
    write_page,
)
from schoolmode.reports.table import Table

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def _page(tmp_path: Path) -> Page:
    plot = tmp_path / "plot.png"
    plot.write_bytes(PNG)
    return Page(
        "test <page>",
        [
            Heading("Title & more", level=1),
            Paragraph("Intro <b>."),
            Heading("Table"),
            TableBlock(Table.of(["a"], [["<x>"]])),
            Paragraph("only in Markdown", only="markdown"),
            Paragraph("only in HTML", only="html"),
            Heading("Empty list"),
            Bullets([]),
            Heading("List"),
            Bullets([Item("text", code="id"), Item("plain")]),
            Figures([plot]),
            Code('{"a": 1}', "yaml"),
        ],
    )


def test_markdown_page(tmp_path: Path) -> None:
    assert render_markdown(_page(tmp_path)) == (
        "# Title & more\n\nIntro <b>.\n\n## Table\n\n| a |\n|---|\n| <x> |\n\n"
        "only in Markdown\n\n## Empty list\n\n\n## List\n\n- `id`: text\n- plain\n\n"
        '![plot](plot.png)\n\n```yaml\n{"a": 1}\n```\n'
    )


def test_html_page(tmp_path: Path) -> None:
    html = render_html(_page(tmp_path))
    assert html.startswith("<!doctype html>")
    assert "<title>test &lt;page&gt;</title>" in html
    assert "<h1>Title &amp; more</h1>" in html
    assert "<p>Intro &lt;b&gt;.</p>" in html
    assert "<td>&lt;x&gt;</td>" in html
    assert "only in HTML" in html
    assert "only in Markdown" not in html
    assert "<li><code>id</code>: text</li><li>plain</li>" in html
    assert 'src="data:image/png;base64,iVBORw0KGgo' in html
    assert "<pre>{&#34;a&#34;: 1}</pre>" in html
    assert html.rstrip().endswith("</html>")


def test_write_page(tmp_path: Path) -> None:
    files = write_page(_page(tmp_path), tmp_path, "out")
    assert sorted(files) == ["out.html", "out.md"]
    assert files["out.md"].read_text(encoding="utf-8").startswith("# Title & more\n")
    assert list(write_page(_page(tmp_path), tmp_path, "md-only", html=False)) == ["md-only.md"]
