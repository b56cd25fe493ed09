"""`medagent serve` in a child process, for tests and benchmarks that need a real process
(cold-start timing, SIGKILL recovery) rather than :func:`medagent.fhir_server.serve_in_thread`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from .errors import FhirServerError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServeProcess:
    proc: subprocess.Popen
    port: int
    started_s: float  # from launch until /fhir/metadata answered 200
    log: IO[bytes]  # the server's stderr

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def start_serve(db: str | Path | None, *args: str, port: int | None = None, home: str | Path | None = None,
                timeout: float = 30.0, env: dict[str, str] | None = None,
                token: str | None = None) -> ServeProcess:
    """Launch ``medagent serve --db DB --port PORT [ARGS…]`` (no ``--db`` when ``db`` is None:
    the cohort's default database) and wait until ``/fhir/metadata`` answers 200 (sent with
    ``token`` as a bearer token, when the server needs one). ``env`` adds environment
    variables. Raises :class:`FhirServerError` (with the tail of the server's stderr) when the
    process exits first or does not answer within ``timeout`` seconds."""
    port = port or free_port()
    extra = {**(env or {}), **({"MEDAGENT_HOME": str(home)} if home is not None else {})}
    env = dict(os.environ, **extra) if extra else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.perf_counter()
    # stderr goes to a file, not a pipe: a pipe nobody reads would block a chatty server
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "medagent", "serve", *(["--db", str(db)] if db is not None else []),
         "--port", str(port), *args],
        env=env, stdout=subprocess.DEVNULL, stderr=log,
    )
    url = f"http://127.0.0.1:{port}/fhir/metadata"
    while True:
        if proc.poll() is not None:
            log.seek(0)
            tail = log.read().decode("utf-8", "replace")[-400:]
            log.close()
            raise FhirServerError(f"medagent serve exited with {proc.returncode}: {tail}")
        try:
            if httpx.get(url, timeout=1, headers=headers).status_code == 200:
                return ServeProcess(proc, port, time.perf_counter() - started, log)
        except httpx.TransportError:
            pass
        if time.perf_counter() - started > timeout:
            proc.kill()
            proc.wait(10)
            log.close()
            raise FhirServerError(f"medagent serve did not answer {url} within {timeout:.0f} s")
        time.sleep(0.02)
