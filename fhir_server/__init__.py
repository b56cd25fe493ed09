"""medagent's FHIR R4 server: SQLite store, search, sessions (isolated overlays), HTTP app.

Public API: :class:`Store`, :class:`ServerSettings`, :class:`FhirService` (with
``dispatch()``), :class:`FhirResponse`, :func:`create_app` (FastAPI) and
:func:`serve_in_thread` (a real uvicorn server on a free local port, for tests/harnesses).
"""

from .app import RunningServer, create_app, serve_in_thread
from .errors import FhirError, FhirServerError, StoreError
from .service import FhirResponse, FhirService
from .settings import ServerSettings
from .store import Store

__all__ = [
    "FhirError",
    "FhirResponse",
    "FhirServerError",
    "FhirService",
    "RunningServer",
    "ServerSettings",
    "Store",
    "StoreError",
    "create_app",
    "serve_in_thread",
]
