"""The HTTP API: a second thin face over the use cases of ``app/`` (FastAPI, served by uvicorn
with ``schoolmode serve``)."""
