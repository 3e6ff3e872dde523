"""Public means safe: small counts of people suppressed, with complements (docs/disclosure.md).

Pure functions on counts and polars frames (ground floor): the dated rule (``rules.py``,
``rules.toml``), primary and complementary suppression on cells with additive relations
(``cells.py``), and the same on tables published together (``tables.py``).
"""

from schoolmode.disclosure.cells import Cells, DisclosureError, Relation, exposed_cells, suppress
from schoolmode.disclosure.rules import Rule, load_rules, rule_on
from schoolmode.disclosure.tables import SUPPRESSED, Release

__all__ = [
    "SUPPRESSED",
    "Cells",
    "DisclosureError",
    "Relation",
    "Release",
    "Rule",
    "exposed_cells",
    "load_rules",
    "rule_on",
    "suppress",
]
