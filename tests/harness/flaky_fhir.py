"""A FHIR server that fails on purpose: a real HTTP proxy in front of a real medagent server.

``FlakyProxy(upstream_root, rule)`` listens on 127.0.0.1 (free port) and forwards every
request to ``upstream_root`` (a ``serve_in_thread`` server's root URL), unless
``rule(method, path)`` says otherwise: ``"503"`` answers HTTP 503 with an
OperationOutcome, ``"drop"`` closes the connection without any reply. ``proxy.base_url``
is the FHIR base (``…/fhir``) to give ``--fhir-url``; ``proxy.failed`` counts the
failures served.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import orjson

Rule = Callable[[str, str], str | None]


class FlakyProxy:
    def __init__(self, upstream_root: str, rule: Rule) -> None:
        self.upstream = upstream_root.rstrip("/")
        self.rule = rule
        self.failed = 0
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=30)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/fhir"

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                action = proxy.rule(self.command, self.path)
                if action:
                    with proxy._lock:
                        proxy.failed += 1
                if action == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if action == "503":
                    status, headers = 503, {"Content-Type": "application/fhir+json"}
                    payload = orjson.dumps({"resourceType": "OperationOutcome", "issue": [
                        {"severity": "error", "code": "transient", "diagnostics": "unavailable"}]})
                else:
                    # the upstream writes absolute URLs for the Host it is asked under: keep ours
                    keep = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length",)}
                    reply = proxy._http.request(self.command, proxy.upstream + self.path,
                                                content=body, headers=keep)
                    status, payload = reply.status_code, reply.content
                    headers = {k: v for k, v in reply.headers.items()
                               if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                                    "content-encoding")}
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _forward  # noqa: N815 - http.server's naming

        return Handler
