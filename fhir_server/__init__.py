"""medagent's FHIR R4 server: SQLite store, search, sessions (isolated overlays), HTTP app.

Public API: :class:`Store`, :class:`ServerSettings`, :class:`FhirService` (with
``dispatch()``), :class:`FhirResponse`, :func:`create_app` (FastAPI) and
:func:`serve_in_thread` (a real uvicorn server on a free local port, for tests/harnesses).

Names are imported on first use, so ``import fhir_server.errors`` (done by every CLI verb)
does not pay for FastAPI.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

_EXPORTS = {
    "FhirError": "errors", "FhirServerError": "errors", "StoreError": "errors",
    "FhirResponse": "responses", "FhirService": "service",
    "RunningServer": "app", "create_app": "app", "serve_in_thread": "app",
    "ServerSettings": "settings", "Store": "store",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from .app import RunningServer, create_app, serve_in_thread
    from .errors import FhirError, FhirServerError, StoreError
    from .responses import FhirResponse
    from .service import FhirService
    from .settings import ServerSettings
    from .store import Store


def __getattr__(name: str):  # noqa: ANN202 - module attribute hook
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'medagent.fhir_server' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
