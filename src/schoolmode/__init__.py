"""schoolmode: decide, explain and publish whether each classroom, school and district
learns in person or remotely, by health metrics a district and its teachers' union agreed on."""

__version__ = "0.1.0"

DEFAULT_DB_URL = "sqlite:///out/schoolmode.sqlite"
"""The store when neither ``--db`` nor ``SCHOOLMODE_DB`` names one: ``out/schoolmode.sqlite``
under the current folder, where ``scripts/run`` builds it (``AppSettings.db_url``). Here, not
in ``settings``, so that the command line's help can say it without loading pydantic."""
