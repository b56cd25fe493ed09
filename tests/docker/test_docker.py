"""Docker: the Dockerfile and compose file checked statically, the health probe against a
real server, the no-engine error, and (marked ``docker``) the image really built and run.

The docker-marked tests need a running engine and the base image ``python:3.11-slim``;
on a machine without an image registry, docs/docker.md has the exact commands that set
both up here (Debian's docker.io, a debootstrapped bookworm rootfs ``docker import``ed
under that tag). Run them with ``python -m pytest -m docker tests/docker``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from medagent.docker_fhir import DEFAULT_IMAGE, DOCKERFILE, docker_fhir, engine, healthy, packaged_context
from medagent.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PROBE = ["python", "-m", "medagent.docker_fhir", "health", "http://127.0.0.1:8080/fhir/metadata"]


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (ROOT / DOCKERFILE).read_text()
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        logical.append(current.strip())
        current = ""
    out = []
    for line in logical:
        instruction, _, args = line.partition(" ")
        out.append((instruction.upper(), re.sub(r"\s+", " ", args.strip())))
    return out


def instructions(name: str) -> list[str]:
    return [args for instruction, args in dockerfile() if instruction == name]


def index_of(predicate) -> int:
    return next(i for i, step in enumerate(dockerfile()) if predicate(*step))


def compose() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


# --- Dockerfile -------------------------------------------------------------------------


def test_dockerfile_base_user_install_seed_cmd():
    assert instructions("FROM") == ["python:3.11-slim"]
    users = instructions("USER")
    assert users and users[-1] not in ("root", "0")
    install = index_of(lambda i, a: i == "RUN" and "pip install -r /tmp/server-requirements.txt" in a)
    user = index_of(lambda i, a: i == "USER")
    seed = index_of(lambda i, a: i == "RUN" and re.search(r"\bmedagent seed\b", a))
    cmd = index_of(lambda i, a: i == "CMD")
    assert install < user < seed < cmd  # installed as root; seeded at build time, as the user
    assert json.loads(instructions("CMD")[-1]) == ["medagent", "serve", "--host", "0.0.0.0", "--port", "8080"]
    assert instructions("EXPOSE") == ["8080"]
    env = " ".join(instructions("ENV"))
    assert "MEDAGENT_DB=/data/medagent.db" in env  # the seeded database is the one served


def test_dockerfile_keeps_the_database_out_of_the_writable_layer():
    """/data is a volume declared after the seed step (so it starts with the seeded database):
    SQLite's read-write open and the sessions' writes go to the volume, not the overlay."""
    seed = index_of(lambda i, a: i == "RUN" and re.search(r"\bmedagent seed\b", a))
    volume = index_of(lambda i, a: i == "VOLUME")
    assert seed < volume and json.loads(instructions("VOLUME")[0]) == ["/data"]
    fhir = compose()["services"]["fhir"]
    assert "medagent-data:/data" in fhir["volumes"] and "medagent-data" in compose()["volumes"]


def test_dockerfile_healthcheck_probes_metadata():
    (healthcheck,) = instructions("HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    assert json.loads(command) == PROBE


def test_dockerfile_copies_every_package_and_nothing_ignored():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # the folders of medagent and its subpackages (medagent_env is verifiers' shim, not the server's)
    packages = {folder for name, folder in project["tool"]["setuptools"]["package-dir"].items()
                if name.split(".")[0] == "medagent"}
    copied = set()
    for args in instructions("COPY"):
        *sources, _dest = args.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such path"
            copied.add(source)
    assert packages <= copied
    # only the packages: the image is buildable from an install (no pyproject.toml there)
    assert not {"pyproject.toml", project["project"]["readme"]} & copied
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", "tests", "**/__pycache__"} <= ignored
    assert not copied & ignored


def test_image_installs_only_what_the_server_needs():
    """The image's requirements are pyproject's own lines, minus the model clients, agent
    framework, Docker SDK and terminal UI; `medagent seed` and the server run without them."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = [line.strip() for line in (ROOT / "medagent/container/server-requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert set(wanted) <= set(project["project"]["dependencies"])
    names = {re.split(r"[<>=\[]", line)[0] for line in wanted}
    assert not names & {"langgraph", "openai", "docker", "rich"}
    assert {"fastapi", "uvicorn", "fhir.resources"} <= names
    # the package ships its Dockerfile and the requirements it copies
    package_data = project["tool"]["setuptools"]["package-data"]["medagent"]
    assert "container/Dockerfile" in package_data and "container/*.txt" in package_data


def test_the_server_runs_without_the_modules_the_image_leaves_out(small_cohort, tmp_path):
    from tests.fixtures_cohort import SMALL_N, SMALL_SEED

    code = (
        "import sys\n"
        "for name in ('langgraph', 'openai', 'docker', 'rich'): sys.modules[name] = None\n"
        "from medagent.cli import main\n"
        f"assert main(['seed', '--seed', '{SMALL_SEED}', '--patients', '{SMALL_N}', '--profile', 'mab-v1', "
        f"'--db', sys.argv[1]]) == 0\n"
        "from fastapi.testclient import TestClient\n"
        "from medagent.fhir_server import ServerSettings, Store, create_app\n"
        "client = TestClient(create_app(ServerSettings(db=sys.argv[1]), Store(sys.argv[1])))\n"
        "assert client.get('/fhir/Patient?_count=1').json()['resourceType'] == 'Bundle'\n"
        "import medagent.docker_fhir\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.db")], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]


def test_an_install_without_a_checkout_can_still_build_the_image(tmp_path):
    """`--fhir-url docker` after `pip install .`: the context is assembled from the installed
    packages, with the packaged Dockerfile; nothing is pulled."""
    context = packaged_context(tmp_path / "ctx")
    assert (context / DOCKERFILE).is_file()
    for name in ("medagent", "fhir_server", "patients", "tasks"):
        assert (context / name / "__init__.py").is_file()
    assert (context / "tasks" / "suites" / "mab-edge-v1.jsonl").is_file()  # package data travels too
    assert not list(context.rglob("__pycache__"))
    for args in instructions("COPY"):  # every COPY source of the Dockerfile is in that context
        *sources, _dest = args.split()
        assert all((context / source).exists() for source in sources), args


# --- docker-compose.yml -----------------------------------------------------------------


def test_compose_fhir_service():
    fhir = compose()["services"]["fhir"]
    assert fhir["build"] == {"context": ".", "dockerfile": DOCKERFILE}
    assert fhir["image"] == DEFAULT_IMAGE  # the image docker_fhir() runs
    assert fhir["ports"] == ["127.0.0.1:8080:8080"]
    check = fhir["healthcheck"]
    assert check["test"] == ["CMD", *PROBE]
    for key in ("interval", "timeout", "retries"):
        assert key in check


# --- the health probe against a real server ---------------------------------------------


def _probe(url: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    clean = {k: v for k, v in os.environ.items() if k != "MEDAGENT_TOKEN"}
    return subprocess.run([sys.executable, "-m", "medagent.docker_fhir", "health", url],
                          capture_output=True, text=True, env={**clean, **env}, timeout=60, cwd=ROOT)


def test_health_probe(running_server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    from medagent.docker_fhir import _main

    monkeypatch.delenv("MEDAGENT_TOKEN", raising=False)
    server = running_server()
    url = f"{server.base_url}/metadata"
    assert healthy(url) == (True, "HTTP 200")
    assert _main(["health", url]) == 0 and capsys.readouterr().out.strip() == f"{url}: HTTP 200"
    assert _main(["health", f"{server.base_url}/nothing-here"]) == 1
    assert _main(["health"]) == 2


def test_health_probe_sends_the_token(running_server, monkeypatch: pytest.MonkeyPatch):
    from medagent.docker_fhir import _main

    server = running_server(token="s3cret-token")
    url = f"{server.base_url}/metadata"
    monkeypatch.delenv("MEDAGENT_TOKEN", raising=False)
    assert healthy(url) == (False, "HTTP 401")
    assert _main(["health", url]) == 1
    # as the container runs it: a fresh interpreter, the token from the environment
    done = _probe(url, {"MEDAGENT_TOKEN": "s3cret-token"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{url}: HTTP 200"


def test_health_probe_of_nothing():
    ok, why = healthy("http://127.0.0.1:9/fhir/metadata", timeout=1)
    assert not ok and why == "ConnectError"


# --- no engine --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "cause"),
    [("unix:///nonexistent/docker.sock", "no engine socket"), ("tcp://127.0.0.1:9", "connection refused")],
)
def test_no_engine_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, host: str, cause: str):
    monkeypatch.setenv("DOCKER_HOST", host)
    with pytest.raises(ConfigError) as info:
        with docker_fhir():
            pytest.fail("no container can start without an engine")
    message = str(info.value)
    assert message == (
        f"no Docker engine reachable at {host} ({cause}); start Docker, or run the server yourself "
        "(`docker compose up` or `medagent serve`) and pass --fhir-url URL"
    )


def test_bad_port_is_refused_before_contacting_docker():
    with pytest.raises(ConfigError, match="port 70000 is not a TCP port"):
        with docker_fhir(port=70000):
            pass


# --- with a Docker engine ---------------------------------------------------------------
# These build TEST_IMAGE from the Dockerfile with the small test cohort baked in (the build
# arguments; a few seconds once the layers are cached). The base image is local: see
# docs/docker.md for how it was made on a machine without an image registry.

TEST_IMAGE = "medagent-fhir:test-small"


def _engine_or_skip():
    try:
        return engine(timeout=3)
    except ConfigError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def test_image():
    """(engine, tag): the image of this checkout, seeded with the small mab-v1 cohort."""
    from tests.fixtures_cohort import SMALL_N, SMALL_SEED

    client = _engine_or_skip()
    client.images.build(path=str(ROOT), dockerfile=DOCKERFILE, tag=TEST_IMAGE, rm=True,
                        buildargs={"COHORT_PROFILE": "mab-v1", "COHORT_SEED": str(SMALL_SEED),
                                   "COHORT_PATIENTS": str(SMALL_N)})
    yield client, TEST_IMAGE
    client.close()


def _size_rw(client, cid: str) -> int:
    """The container's writable layer in bytes (``docker ps --size``)."""
    (row,) = client.api.containers(all=True, size=True, filters={"id": cid})
    assert row["SizeRootFs"] > 0  # sizes were computed (SizeRw is left out when it is 0)
    return row.get("SizeRw", 0)


def _fhir_containers(client):
    return client.containers.list(all=True, filters={"label": "org.medagent.role=fhir"})


@pytest.mark.docker
def test_container_serves_the_seeded_cohort_and_is_removed(test_image):
    from tests.fixtures_cohort import SMALL_N

    client, image = test_image
    lines: list[str] = []
    with docker_fhir(image, port=0, build=False, on_status=lines.append) as base_url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/fhir", base_url)
        meta = httpx.get(f"{base_url}/metadata", timeout=10)
        assert meta.status_code == 200 and meta.json()["resourceType"] == "CapabilityStatement"
        bundle = httpx.get(f"{base_url}/Patient", params={"_summary": "count"}, timeout=10).json()
        assert bundle["total"] == SMALL_N  # the cohort seeded at build time
        running = [c for c in _fhir_containers(client) if c.status == "running"]
        assert running
        assert client.api.inspect_container(running[0].id)["Config"]["User"] == "medagent"
    assert not client.containers.list(all=True, filters={"id": running[0].id})
    assert any("waiting for" in line for line in lines)


@pytest.mark.docker
def test_container_is_removed_after_an_error_inside(test_image):
    client, image = test_image
    with pytest.raises(RuntimeError, match="boom"):
        with docker_fhir(image, port=0, build=False):
            before = _fhir_containers(client)
            raise RuntimeError("boom")
    assert not client.containers.list(all=True, filters={"id": before[0].id})


@pytest.mark.docker
def test_session_writes_do_not_grow_the_writable_layer(test_image):
    """Sessions write to the /data volume: the baseline database (140 MB for the small
    cohort, 1.4 GB for the default one) is never copied into the container's writable layer."""
    client, image = test_image
    with docker_fhir(image, port=0, build=False) as base_url:
        root = base_url.removesuffix("/fhir")
        (container,) = [c for c in _fhir_containers(client) if c.status == "running"]
        before = _size_rw(client, container.id)
        session = httpx.post(f"{root}/sessions", timeout=10).json()
        fhir = f"{root}/sessions/{session['id']}/fhir"
        patient = httpx.get(f"{base_url}/Patient", params={"_count": 1}, timeout=10).json()["entry"][0]["resource"]
        for n in range(20):
            obs = {"resourceType": "Observation", "status": "final", "code": {"text": f"x{n}"},
                   "subject": {"reference": f"Patient/{patient['id']}"}}
            assert httpx.post(f"{fhir}/Observation", json=obs, timeout=30).status_code == 201
        assert len(httpx.get(f"{root}/sessions/{session['id']}/log", timeout=10).json()) == 20
        assert httpx.delete(f"{root}/sessions/{session['id']}", timeout=10).status_code == 204
        after = _size_rw(client, container.id)
        assert after < 50 * 1024 * 1024, f"the writable layer grew to {after:,} bytes (from {before:,})"
        container.reload()
        (data,) = [m for m in container.attrs["Mounts"] if m["Destination"] == "/data"]
        assert data["Type"] == "volume" and data["RW"]
        # the baseline is in the volume, so a write that landed there cannot have grown the layer
        listing = container.exec_run(["sh", "-c", "stat -c '%s %n' /data/medagent.db"]).output.decode()
        assert int(listing.split()[0]) > 50 * 1024 * 1024  # large enough that a copy would show
    assert not client.volumes.list(filters={"name": data["Name"]})  # removed with the container


@pytest.mark.docker
def test_bench_against_the_container(test_image, small_suite, tmp_path):
    """The oracle through the session API of the container (its cohort recognised by the marker)."""
    from medagent import tasks

    from medagent.cli import main
    from medagent.runfolder import read_run

    _client, image = test_image
    jsonl, _ = tasks.write_suite(small_suite, tmp_path / "suite")
    with docker_fhir(image, port=0, build=False) as base_url:
        assert main(["bench", "--suite", str(jsonl), "--out", str(tmp_path / "run"),
                     "--agent", "oracle", "--fhir-url", base_url, "--quiet"]) == 0
    folder = read_run(tmp_path / "run", need_summary=True)
    assert folder.summary["overall"] == 1.0
    assert any(t["writes"] for t in folder.trials)


def test_serve_command_per_cohort():
    from medagent import patients

    from medagent.docker_fhir import serve_command

    assert serve_command(None, None) is None  # the image's own cohort, seeded at build
    assert serve_command(patients.DEFAULT_SEED, patients.DEFAULT_PATIENTS, "edge-v1") is None
    command = serve_command(7, 5, "mab-v1")
    assert command[:6] == ["medagent", "serve", "--host", "0.0.0.0", "--port", "8080"]
    assert command[6:] == ["--db", "/data/cohort-7-5.db", "--seed", "7", "--patients", "5"]
    assert serve_command(patients.DEFAULT_SEED, patients.DEFAULT_PATIENTS, "mab-v1")[-2:] == ["--patients", "100"]
    assert serve_command(7, 5, "edge-v1")[6:] == [
        "--db", "/data/cohort-edge-v1-7-5.db", "--seed", "7", "--patients", "5", "--profile", "edge-v1"]


def test_bench_with_docker_and_no_engine_is_one_line(small_suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]):
    from medagent import tasks

    from medagent.cli import main

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    jsonl, _ = tasks.write_suite(small_suite, tmp_path / "suite")
    rc = main(["bench", "--suite", str(jsonl), "--agent", "oracle", "--fhir-url", "docker",
               "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err == (
        "medagent: error: no Docker engine reachable at unix:///nonexistent/docker.sock (no engine socket); "
        "start Docker, or run the server yourself (`docker compose up` or `medagent serve`) and pass --fhir-url URL"
    )
