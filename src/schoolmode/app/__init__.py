"""The application layer: one typed function per thing a user can do.

Each module groups the use cases of one subject (decisions, backtests, data, simulation,
tracing, screening, vaccination, accommodations, policies). A use case takes a ``Context``
(settings, the store, the policies) and pydantic inputs, and returns pydantic outputs; it
holds the orchestration that the CLI, the HTTP API and the pages would otherwise each repeat.
The faces (``cli/``, later ``api/`` and ``web/``) parse, call a use case and render: no SQL,
no session handling and no domain logic there.
"""
