"""Report pages: one home for how schoolmode writes what a person reads.

A report is a ``Page``: a title and a list of blocks (headings, paragraphs, tables, bullet
lists, figures, code). ``page.py`` renders it to Markdown and to a standalone HTML page
through the Jinja2 templates of ``templates/`` (``page.md`` and ``page.html``; HTML is
autoescaped, figures are embedded as PNG data URIs). ``table.py`` is the one table renderer:
the same rows and columns as a Markdown or an HTML table, with an optional caption and a
"first N of M rows, full table in FILE" note. ``figures.py`` makes and saves Matplotlib
figures; it imports Matplotlib only when a figure is made and selects the ``Agg`` backend
once, so importing a report module costs nothing until a plot is drawn. ``export.py`` writes
the CSV files meant for people, neutralising text a spreadsheet would run as a formula.

This package is on the ground floor: it imports no domain package. The backtest, sweep and
simulator reports (``backtest/report.py``, ``backtest/sweep.py``, ``sim/report.py``) build
their pages from its pieces.
"""
