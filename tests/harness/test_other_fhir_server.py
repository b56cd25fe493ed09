"""`medagent seed` and `medagent bench` against an independent FHIR R4 server from PyPI:
sekmet-fhir (pure Python, FastAPI + SQLite; not a dependency of medagent — install it with
`pip install sekmet-fhir`). Slow: loading even the 5-patient cohort (~37k resources) over
HTTP takes minutes on 2 cores. The shared-server mode is chosen automatically (sekmet has
no /sessions), the oracle scores 100 %, and the server ends the run holding exactly the
cohort (same counts per type)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.slow

PROFILE, SEED, N = "mab-v1", 1, 5


@pytest.fixture(scope="module")
def sekmet(tmp_path_factory):
    pytest.importorskip("sekmet", reason="sekmet-fhir is not installed (pip install sekmet-fhir)")
    from medagent.fhir_server.process import free_port

    home = tmp_path_factory.mktemp("sekmet")
    port = free_port()
    config = home / "settings.yaml"
    # the simulator would fulfil created orders with resources of its own: off for a plain store
    config.write_text(f"base_url: http://127.0.0.1:{port}/fhir\nhost: 127.0.0.1\nport: {port}\n"
                      f"data_dir: {home / 'data'}\nsimulator:\n  enabled: false\nlog_inbound: false\n")
    exe = shutil.which("sekmet") or f"{sys.executable} -m sekmet.cli"
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen([*exe.split(), "serve", "--config", str(config)], stdout=log, stderr=log,
                            env={**os.environ, "SEKMET_CONFIG": str(config)})
    base = f"http://127.0.0.1:{port}/fhir"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/metadata", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"sekmet did not start: {(home / 'serve.log').read_text()[-400:]}")
        time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(20)
    log.close()


def _counts(base, types):
    return {t: httpx.get(f"{base}/{t}", params={"_summary": "count"}, timeout=60).json()["total"] for t in types}


def test_seed_then_bench_the_oracle_on_sekmet(sekmet, tmp_path, capsys):
    from medagent import patients
    from medagent import tasks
    from medagent.cli import main
    from medagent.runfolder import read_run
    from medagent.tasks._suite_io import write_suite

    assert main(["seed", "--profile", PROFILE, "--seed", str(SEED), "--patients", str(N), "--fhir-url", sekmet]) == 0
    assert "loaded" in capsys.readouterr().out
    assert main(["seed", "--profile", PROFILE, "--seed", str(SEED), "--patients", str(N), "--fhir-url", sekmet]) == 0
    assert "nothing loaded" in capsys.readouterr().out  # recognised by its marker and counts

    cohort = patients.cohort_dir(SEED, N, PROFILE)
    suite_path, _ = write_suite(tasks.build_suite("sekmet", 3, cohort, per_category=2), tmp_path / "suite")
    types = sorted(patients.Manifest.load(cohort).files) + ["Basic", "ServiceRequest"]
    before = _counts(sekmet, types)
    assert main(["bench", "--suite", str(suite_path), "--agent", "oracle", "--fhir-url", sekmet,
                 "--out", str(tmp_path / "run"), "--quiet"]) == 0
    folder = read_run(tmp_path / "run", need_summary=True)
    assert folder.run["fhir_mode"] == "shared"
    assert folder.summary["overall"] == 1.0 and folder.summary["n_trials"] == 20
    assert any(t["writes"] for t in folder.trials)
    assert _counts(sekmet, types) == before
