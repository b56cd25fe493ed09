"""Start and stop the medagent FHIR server in a Docker container (``--fhir-url docker``).

Usage::

    from medagent.docker_fhir import docker_fhir

    with docker_fhir(image="medagent-fhir:latest", port=0) as base_url:
        ...  # base_url == "http://127.0.0.1:<port>/fhir", healthy and seeded

``docker_fhir(image=DEFAULT_IMAGE, *, port=0, seed=None, n_patients=None, build=True,
context=None, token=None, timeout=120.0, on_status=None) -> ContextManager[str]``

- ``image``: the image to run; when it is not present locally it is built with
  :data:`DOCKERFILE` (shipped inside the package) from ``context``: by default the checkout
  this package runs from, else a copy of the installed packages (so a plain
  ``pip install`` can build it too). ``build=False`` pulls it instead.
- ``port``: host port published on 127.0.0.1 (``0``: a free one chosen by Docker).
- ``seed``, ``n_patients``, ``profile``: the cohort to serve. The image holds the default suite's cohort
  (seeded at build time, ready in seconds); any other cohort is generated and loaded when
  the container starts (``medagent serve --seed S --patients N`` on its own database).
- ``token``: passed to the server as ``MEDAGENT_TOKEN`` (clients then need
  ``Authorization: Bearer <token>``).
- ``timeout``: seconds to wait for ``GET /fhir/metadata`` to answer 200.
- ``on_status``: called with short progress lines ("building image …").

The container is stopped and removed on exit, also after an error or Ctrl-C. Every
failure is a one-line :class:`medagent.errors.ConfigError` — in particular when no Docker
engine is reachable.

``python -m medagent.docker_fhir health URL`` is the container's health probe (used by
the Dockerfile and docker-compose.yml): exit 0 when ``GET URL`` answers 200, sending
``Authorization: Bearer $MEDAGENT_TOKEN`` when the server requires a token.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from medagent.errors import ConfigError

__all__ = ["CONTAINER_PORT", "DEFAULT_IMAGE", "DOCKERFILE", "docker_fhir", "engine", "healthy", "packaged_context",
           "serve_command", "source_context"]

DEFAULT_IMAGE = "medagent-fhir:latest"  # the tag docker-compose.yml builds too
IMAGE_PROFILE = "edge-v1"  # the cohort profile the Dockerfile seeds (that of the default suite)
CONTAINER_PORT = 8080
LABEL = "org.medagent.role"

Status = Callable[[str], None]


def _cause(exc: BaseException) -> str:
    text = str(exc)
    if "FileNotFoundError" in text or "No such file" in text:
        return "no engine socket"
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    if "Permission denied" in text or "Errno 13" in text:
        return "permission denied on the engine socket"
    return text.splitlines()[0][:160] if text else type(exc).__name__


def engine(*, timeout: float = 10.0) -> Any:
    """A connected ``docker.DockerClient``, or :class:`ConfigError` naming the reason."""
    import docker
    from docker.errors import DockerException

    where = os.environ.get("DOCKER_HOST") or "the default socket (unix:///var/run/docker.sock)"
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except (DockerException, OSError) as exc:
        raise ConfigError(
            f"no Docker engine reachable at {where} ({_cause(exc)}); start Docker, or run the "
            "server yourself (`docker compose up` or `medagent serve`) and pass --fhir-url URL"
        ) from None
    return client


DOCKERFILE = "medagent/container/Dockerfile"  # relative to the build context
# The context has the checkout's layout (folder -> the package it holds); the Dockerfile puts
# the three inside medagent/, as an install does.
PACKAGES = {"medagent": "medagent", "fhir_server": "medagent.fhir_server", "patients": "medagent.patients",
            "tasks": "medagent.tasks"}


def source_context() -> Path | None:
    """The checkout this package runs from (a folder with ``pyproject.toml`` beside the packages)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / DOCKERFILE).is_file() else None


def packaged_context(out: Path) -> Path:
    """A build context made of the installed packages (for an install without a checkout)."""
    import importlib.util
    import shutil

    out = Path(out)
    sources = {}
    for folder, name in PACKAGES.items():
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ConfigError(f"cannot build the FHIR image: package {name} is not installed")
        sources[folder] = Path(spec.origin).parent
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.db", "*.db-*")

    def ignore(directory: str, names: list[str]) -> set[str]:  # an installed medagent/ holds the other three
        return {*skip(directory, names), *(n for n in names if Path(directory, n) in sources.values())}

    for folder, source in sources.items():
        shutil.copytree(source, out / folder, ignore=ignore)
    if not (out / DOCKERFILE).is_file():
        raise ConfigError(f"cannot build the FHIR image: this install lacks {DOCKERFILE}")
    return out


def _ensure_image(client: Any, image: str, *, build: bool, context: Path | None, status: Status) -> None:
    from docker.errors import APIError, BuildError, ImageNotFound

    try:
        client.images.get(image)
        return
    except ImageNotFound:
        pass
    import tempfile

    try:
        if build:
            with tempfile.TemporaryDirectory(prefix="medagent-image-") as tmp:
                context = context or source_context() or packaged_context(Path(tmp))
                status(f"building image {image} from {context} (seeds the cohort; a few minutes the first time)")
                client.images.build(path=str(context), dockerfile=DOCKERFILE, tag=image, rm=True)
        else:
            status(f"pulling image {image}")
            client.images.pull(image)
    except BuildError as exc:
        raise ConfigError(f"building image {image} failed: {str(exc).splitlines()[0]}") from None
    except APIError as exc:
        raise ConfigError(f"image {image} is not available: {exc.explanation or exc}") from None


def _host_port(container: Any, wait: float = 5.0) -> int:
    """The host port Docker published for the server (it may take a moment to appear)."""
    deadline = time.monotonic() + wait
    while True:
        container.reload()
        bindings = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        published = [b for b in bindings.get(f"{CONTAINER_PORT}/tcp") or [] if b.get("HostPort")]
        if published:
            return int(published[0]["HostPort"])
        if container.status in ("exited", "dead") or time.monotonic() > deadline:
            raise ConfigError(f"container {container.short_id} did not publish port {CONTAINER_PORT} "
                              f"({_logs_tail(container) or container.status})")
        time.sleep(0.1)


def _logs_tail(container: Any, lines: int = 3) -> str:
    from docker.errors import APIError

    try:
        text = container.logs(tail=lines).decode("utf-8", "replace").strip()
    except APIError:
        return ""
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def healthy(url: str, token: str | None = None, *, timeout: float = 2.0) -> tuple[bool, str]:
    """``(True, "HTTP 200")`` when ``GET url`` answers 200, else ``(False, why)``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        reply = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.TransportError as exc:
        return False, type(exc).__name__
    return reply.status_code == 200, f"HTTP {reply.status_code}"


def _wait_healthy(container: Any, base_url: str, token: str | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        container.reload()
        if container.status in ("exited", "dead"):
            raise ConfigError(f"the FHIR container exited during start-up: {_logs_tail(container) or 'no logs'}")
        ok, last = healthy(f"{base_url}/metadata", token)
        if ok:
            return
        time.sleep(0.25)
    raise ConfigError(f"the FHIR container was not healthy after {timeout:.0f} s ({last}) at {base_url}/metadata")


def serve_command(seed: int | None, n_patients: int | None, profile: str | None = None) -> list[str] | None:
    """The container command for a cohort, or None for the image's own (default) cohort."""
    from medagent import patients

    seed = patients.DEFAULT_SEED if seed is None else seed
    n_patients = patients.DEFAULT_PATIENTS if n_patients is None else n_patients
    profile = profile or IMAGE_PROFILE
    if (seed, n_patients, profile) == (patients.DEFAULT_SEED, patients.DEFAULT_PATIENTS, IMAGE_PROFILE):
        return None
    extra = [] if profile == patients.DEFAULT_PROFILE else ["--profile", profile]
    name = f"cohort-{seed}-{n_patients}.db" if not extra else f"cohort-{profile}-{seed}-{n_patients}.db"
    return ["medagent", "serve", "--host", "0.0.0.0", "--port", str(CONTAINER_PORT),
            "--db", f"/data/{name}", "--seed", str(seed), "--patients", str(n_patients), *extra]


def _remove(container: Any) -> None:
    from docker.errors import APIError, NotFound

    try:
        container.stop(timeout=5)
    except (APIError, NotFound):
        pass
    try:
        container.remove(force=True, v=True)  # and its /data volume (a copy of the database)
    except NotFound:
        pass


@contextmanager
def docker_fhir(
    image: str = DEFAULT_IMAGE,
    *,
    port: int = 0,
    seed: int | None = None,
    n_patients: int | None = None,
    profile: str | None = None,
    build: bool = True,
    context: Path | None = None,
    token: str | None = None,
    timeout: float = 120.0,
    on_status: Status | None = None,
) -> Iterator[str]:
    """Run the FHIR server container; yield its base URL; stop and remove it on exit."""
    from docker.errors import APIError

    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is not a TCP port")
    status = on_status or (lambda _line: None)
    command = serve_command(seed, n_patients, profile)
    client = engine()
    try:
        _ensure_image(client, image, build=build, context=context, status=status)
        environment = {"MEDAGENT_TOKEN": token} if token else {}
        try:
            container = client.containers.run(
                image, command, detach=True, environment=environment, labels={LABEL: "fhir"},
                ports={f"{CONTAINER_PORT}/tcp": ("127.0.0.1", port or None)},
            )
        except APIError as exc:
            raise ConfigError(f"cannot start {image}: {exc.explanation or exc}") from None
        try:
            base_url = f"http://127.0.0.1:{_host_port(container)}/fhir"
            status(f"waiting for {base_url}/metadata")
            _wait_healthy(container, base_url, token, timeout)
            yield base_url
        finally:
            _remove(container)
    finally:
        client.close()


def _main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "health":
        print("usage: python -m medagent.docker_fhir health URL", file=sys.stderr)
        return 2
    from medagent.fhir_server import ServerSettings

    ok, why = healthy(argv[1], ServerSettings().token)
    print(f"{argv[1]}: {why}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
