"""The schoolmode data standard: one pydantic model per record type.

Every field carries a description; ``docs/data-standard.md`` and ``docs/schemas/*.json`` are
generated from these models (``python -m schoolmode.standard.docs``).
"""

from schoolmode.standard.models import RECORD_TYPES, Record, record_type

__all__ = ["RECORD_TYPES", "Record", "record_type"]
