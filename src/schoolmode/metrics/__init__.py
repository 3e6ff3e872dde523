"""Named metric computations over columnar frames (polars).

Every metric frame has columns ``unit``, ``date`` and one column per metric.
"""

from schoolmode.metrics.community import (
    CHICAGO_POPULATION_2019,
    cases_per_100k,
    citywide_metrics,
    positivity,
)

__all__ = ["CHICAGO_POPULATION_2019", "cases_per_100k", "citywide_metrics", "positivity"]
