"""Report pages: a title and blocks, rendered to Markdown and HTML by the package templates.

Each block renders itself as Markdown lines and as an HTML fragment; ``templates/page.md``
writes the blocks one after the other with a blank line between them, ``templates/page.html``
wraps them in the HTML page shell (autoescaped). A block marked ``only="markdown"`` or
``only="html"`` appears in that format alone, for the places where a page shows a reader of
the HTML more (or less) than a reader of the Markdown.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from schoolmode.reports.table import Table

Only = Literal["markdown", "html"] | None


@dataclass(frozen=True)
class Heading:
    """A heading; level 1 is the page's own title."""

    text: str
    level: int = 2
    only: Only = None

    def markdown_lines(self) -> list[str]:
        return ["#" * self.level + " " + self.text]

    def html(self) -> Markup:
        return Markup("<h{0}>{1}</h{0}>").format(self.level, self.text)


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text."""

    text: str
    only: Only = None

    def markdown_lines(self) -> list[str]:
        return [self.text]

    def html(self) -> Markup:
        return Markup("<p>{}</p>").format(self.text)


@dataclass(frozen=True)
class Item:
    """A bullet: optional code (a name, shown as code) and text after it."""

    text: str
    code: str | None = None


@dataclass(frozen=True)
class Bullets:
    """A bullet list (an empty list is an empty block)."""

    items: Sequence[Item]
    only: Only = None

    def markdown_lines(self) -> list[str]:
        return [
            f"- `{item.code}`: {item.text}" if item.code is not None else f"- {item.text}"
            for item in self.items
        ]

    def html(self) -> Markup:
        items = Markup("").join(
            Markup("<li><code>{}</code>: {}</li>").format(item.code, item.text)
            if item.code is not None
            else Markup("<li>{}</li>").format(item.text)
            for item in self.items
        )
        return Markup("<ul>{}</ul>").format(items)


@dataclass(frozen=True)
class TableBlock:
    """A table (``table.Table``)."""

    table: Table
    only: Only = None

    def markdown_lines(self) -> list[str]:
        return self.table.markdown_lines()

    def html(self) -> Markup:
        return self.table.html()


@dataclass(frozen=True)
class Figures:
    """PNG figures: linked by file name in Markdown, embedded as data URIs in HTML."""

    paths: Sequence[Path]
    only: Only = None

    def markdown_lines(self) -> list[str]:
        return [f"![{p.stem}]({p.name})" for p in self.paths]

    def html(self) -> Markup:
        return Markup("\n").join(
            Markup('<figure><img alt="{}" src="data:image/png;base64,{}"></figure>').format(
                p.stem, base64.b64encode(p.read_bytes()).decode("ascii")
            )
            for p in self.paths
        )


@dataclass(frozen=True)
class Code:
    """Preformatted text (a fenced block in Markdown, with its language)."""

    text: str
    language: str = ""
    only: Only = None

    def markdown_lines(self) -> list[str]:
        return [f"```{self.language}", self.text, "```"]

    def html(self) -> Markup:
        return Markup("<pre>{}</pre>").format(self.text)


Block = Heading | Paragraph | Bullets | TableBlock | Figures | Code


@dataclass(frozen=True)
class Page:
    """A report page: the HTML ``<title>`` and the blocks (the first usually a level-1
    heading)."""

    title: str
    blocks: Sequence[Block] = field(default_factory=list)


@cache
def environment() -> Environment:
    """The Jinja2 environment of the package templates (HTML autoescaped)."""
    return Environment(
        loader=PackageLoader("schoolmode.reports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _shown(page: Page, fmt: Literal["markdown", "html"]) -> list[Block]:
    return [b for b in page.blocks if b.only in (None, fmt)]


def render_markdown(page: Page) -> str:
    """The page as Markdown: each block's lines, a blank line between blocks."""
    chunks = ["".join(line + "\n" for line in b.markdown_lines()) for b in _shown(page, "markdown")]
    return environment().get_template("page.md").render(chunks=chunks)


def render_html(page: Page) -> str:
    """The page as a standalone HTML document."""
    fragments = [b.html() for b in _shown(page, "html")]
    return environment().get_template("page.html").render(title=page.title, fragments=fragments)


def write_page(
    page: Page, out: Path, stem: str = "report", *, html: bool = True
) -> dict[str, Path]:
    """``stem.md`` (and ``stem.html`` unless ``html`` is false) in ``out``; their paths by
    file name."""
    files = {f"{stem}.md": out / f"{stem}.md"}
    files[f"{stem}.md"].write_text(render_markdown(page), encoding="utf-8")
    if html:
        files[f"{stem}.html"] = out / f"{stem}.html"
        files[f"{stem}.html"].write_text(render_html(page), encoding="utf-8")
    return files
