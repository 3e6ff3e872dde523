"""Named metric computations over columnar frames (polars).

Every metric frame has columns ``unit``, ``date`` and one column per metric.
"""

from schoolmode.metrics.community import (
    CHICAGO_POPULATION_2019,
    cases_per_100k,
    citywide_metrics,
    positivity,
    weekly_positivity_by_person,
    zip_weekly_positivity,
)
from schoolmode.metrics.school import (
    CLASSROOM_METRICS,
    SCHOOL_METRICS,
    SchoolData,
    classroom_metrics,
    school_frames,
    school_metrics,
    unit_metrics,
)

__all__ = [
    "CHICAGO_POPULATION_2019",
    "CLASSROOM_METRICS",
    "SCHOOL_METRICS",
    "SchoolData",
    "cases_per_100k",
    "citywide_metrics",
    "classroom_metrics",
    "positivity",
    "school_frames",
    "school_metrics",
    "unit_metrics",
    "weekly_positivity_by_person",
    "zip_weekly_positivity",
]
